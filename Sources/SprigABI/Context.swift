/// The layout of a saved CPU context in partition memory (DESIGN.md §5).
///
/// A context holds every register a partition can use: the general registers, `rip`, `rsp`,
/// `rflags`, and the FPU/SSE state in FXSAVE format. `yield` saves the caller here and loads the
/// callee from here; the kernel checks that every byte lies in the owning partition's accessible
/// memory before it reads or writes one. Offsets are in bytes from the context's start.
public enum ContextLayout {
    public static let rip = 0
    public static let rsp = 8
    public static let rflags = 16
    /// General registers in this order, 8 bytes each, starting at `gprs`.
    public static let gprs = 24
    public static let gprCount = 15
    public static let rax = 24, rbx = 32, rcx = 40, rdx = 48, rsi = 56, rdi = 64, rbp = 72
    public static let r8 = 80, r9 = 88, r10 = 96, r11 = 104, r12 = 112, r13 = 120, r14 = 128, r15 = 136
    /// Virtual interrupt flags restored into the partition when this context is loaded.
    public static let flags = 144
    /// Nonzero when the kernel saved this context (set by yield and fault delivery).
    public static let valid = 152
    /// Bytes `reserved..<fpu` are the context owner's: no save writes them, no load reads them.
    public static let reserved = 160
    /// 512 bytes of FXSAVE image (x87/SSE state), 16-byte aligned relative to the context start.
    public static let fpu = 256
    public static let fpuSize = 512
    /// FXSAVE bytes `fpuAvailable..<fpuSize` (of the image, "available to software") are the
    /// owner's too: no save writes them, no load gives them to a register.
    public static let fpuAvailable = 464
    /// Total size of a context.
    public static let size = 768
}
