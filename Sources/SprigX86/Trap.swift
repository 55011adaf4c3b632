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
    trappedFrame = words
    let vector = frame[TrapFrame.vector]
    let platform = X86Platform()
    if vector == TrapFrame.syscallVector {
        Syscalls.handle(frame)
        return
    }
    if vector < VIDTIndex.firstInterrupt {
        // A CPU exception in ring 3: to the faulting partition's parent (DESIGN.md §6).
        let outcome = InterruptRouting.exception(
            platform, vector: vector,
            errorCode: Delivery.hasErrorCode(vector: vector) ? frame[TrapFrame.errorCode] : 0,
            faultAddress: vector == Delivery.pageFaultVector ? readCR2() : 0)
        if outcome == .kernelCrash {
            CrashReport.report(frame, reason: "a partition fault no ancestor could take (root's own fault ends here)")
        }
        return
    }
    if vector < 48 {
        // A hardware interrupt through the legacy PIC: acknowledge it, then to root.
        if vector >= 40 { outb(0xA0, 0x20) }
        outb(0x20, 0x20)
        _ = InterruptRouting.hardwareInterrupt(platform, vector: vector)
        return
    }
    // int n (n = 3 or 48…255; the others are DPL 0 and arrive as #GP): to the parent.
    let status = InterruptRouting.softwareInterrupt(platform, vector: vector)
    if status != .success { frame[TrapFrame.rax] = status.rawValue }
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
        case Service.yield.rawValue:
            status = Yield.yield(
                X86Platform(), callee: UserAddress(a0), targetInterrupt: a1, saveIndex: frame[TrapFrame.rdx],
                flagsOnYield: frame[TrapFrame.r10], flagsOnWake: frame[TrapFrame.r8])
            // On success the frame already holds the callee's context: leave its rax/rdx alone.
            if status == .success { return }
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
