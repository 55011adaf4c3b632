/// `sprig_trap`: every entry into the kernel after boot lands here.
///
/// From ring 0 it can only be a kernel fault: crash report. From ring 3 it is a system call
/// (vector 0x100, built by `sprig_syscall_entry`), a CPU exception, a software interrupt or a
/// hardware interrupt. Whatever the frame holds on return is what ring 3 resumes with.
import SprigABI
import SprigCore

@_cdecl("sprig_trap")
func sprigTrap(_ words: UnsafeMutablePointer<UInt64>) {
    let frame = TrapFrame(words: words)
    guard frame.fromUser else {
        CrashReport.report(frame, reason: "fault in the kernel")
    }
    if frame[TrapFrame.vector] == TrapFrame.syscallVector {
        Syscalls.handle(frame)
        return
    }
    // Exceptions and interrupts from ring 3: a partition with no parent to take them is root.
    CrashReport.report(frame, reason: "fault in the root partition")
}

/// The system-call dispatcher: decodes the registers (convention in `SprigABI.Service`), serves
/// the root-only machine services here, and hands Pip's services to SprigCore.
enum Syscalls {
    static func handle(_ frame: TrapFrame) {
        let number = frame[TrapFrame.rax]
        let a0 = frame[TrapFrame.rdi], a1 = frame[TrapFrame.rsi]  // the others go to SprigCore
        var status = Status.unknownService
        var value: UInt64 = 0
        switch number {
        case Service.consoleWrite.rawValue:
            status = consoleWrite(UserAddress(a0), length: a1)
        case Service.powerOff.rawValue:
            guard currentDescriptor == rootDescriptor else { status = .rootOnly; break }
            guard a0 <= Limits.partitionExitStatusMax else { status = .invalidArgument; break }
            Machine.powerOff(status: a0)
        default:
            (status, value) = coreService(number, frame)
        }
        frame[TrapFrame.rax] = status.rawValue
        frame[TrapFrame.rdx] = value
    }

    /// Writes `length` bytes of the caller's memory at `start` to the console, after checking
    /// that every byte is in the caller's accessible memory.
    static func consoleWrite(_ start: UserAddress, length: UInt64) -> Status {
        guard currentDescriptor == rootDescriptor else { return .rootOnly }
        guard length <= Limits.consoleWriteMax else { return .invalidArgument }
        let platform = X86Platform()
        let pml4 = DescriptorLayout.pml4(platform, descriptor: PhysicalAddress(currentDescriptor))
        let check = PageTableWalk.checkUserRange(platform, pml4: pml4, start: start, length: length, write: false)
        guard check == .success else { return check }
        var va = start.raw
        let end = start.raw + length
        while va < end {
            guard case .success(let pa) = PageTableWalk.userTranslate(platform, pml4: pml4, va: VirtualAddress(va), write: false)
            else { return .rangeNotAccessible }
            let chunk = min(end - va, AddressSpace.pageSize - (va & (AddressSpace.pageSize - 1)))
            let bytes = X86Platform.bytePointer(pa)
            var i = 0
            while i < Int(chunk) { serialPutC(bytes[i]); i += 1 }
            va += chunk
        }
        return .success
    }
}
