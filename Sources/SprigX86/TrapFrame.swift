/// The registers of ring 3 as `entry.S` saved them, at the top of the kernel stack.
///
/// Word indices into the frame; the layout is fixed by `entry.S`. Whatever these words hold when
/// `sprig_trap` returns is what ring 3 resumes with, so a context switch is a rewrite of the frame.
struct TrapFrame {
    let words: UnsafeMutablePointer<UInt64>

    static let rax = 0, rbx = 1, rcx = 2, rdx = 3, rsi = 4, rdi = 5, rbp = 6
    static let r8 = 7, r9 = 8, r10 = 9, r11 = 10, r12 = 11, r13 = 12, r14 = 13, r15 = 14
    static let vector = 15, errorCode = 16, rip = 17, cs = 18, rflags = 19, rsp = 20, ss = 21
    static let wordCount = 22

    /// Vector number `entry.S` gives a `syscall`.
    static let syscallVector: UInt64 = 0x100
    static let userCS: UInt64 = 0x20 | 3
    static let userSS: UInt64 = 0x18 | 3

    subscript(_ i: Int) -> UInt64 {
        get { words[i] }
        nonmutating set { words[i] = newValue }
    }

    var fromUser: Bool { self[TrapFrame.cs] & 3 == 3 }
}
