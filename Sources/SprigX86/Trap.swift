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
        // An NMI while the kernel runs (on its own IST stack): kept for the end of this or the
        // next entry, the kernel goes on where it was (entry.S returns to ring 0 as it was).
        if frame[TrapFrame.vector] == VIDTIndex.nmi { nmiPending = 1; return }
        CrashReport.report(frame, reason: "fault in the kernel")
    }
    assert(words == trappedFrame, "an entry from ring 3 off sprig_kernel_frame")
    let event = decode(frame)
    Trace.entered(event, frame)
    finish(Kernel.trap(KernelPlatform(), event), frame)
}

/// `sprig_trap_syscall`: a `syscall` from ring 3 (`sprig_syscall_entry` stored its registers in the
/// frame at `sprig_kernel_frame`; a0, a1 and a2 are in the registers of a three-argument call,
/// rdi, rsi and rdx, as ring 3 passed them; the number (rax), a3 (r10) and a4 (r8) are read
/// from the frame where they are used: the number by the one compare here, a3 and a4 by yield
/// last, after the cache probe). The same `Kernel.trap` as every entry, without the decode, in
/// steps that run apart, each reached by a jump (a call in tail position): yield to
/// `sprigYield` (its number is below the table's end, so `Kernel.unknownNumber` would pass it),
/// every other number to `sprigService`. Named for entry.S without a C thunk (`@_cdecl` adds
/// one of four instructions): it returns nothing, and the exit path reloads every register it
/// does not keep from memory, so the Swift calling convention is the C one here. The arguments
/// go on as words: a struct of them is passed by address.
@_silgen_name("sprig_trap_syscall")
func sprigSyscall(_ a0: UInt64, _ a1: UInt64, _ a2: UInt64) {
    guard TrapFrame(words: trappedFrame)[TrapFrame.rax] == Service.yield.rawValue else { return sprigService(a0, a1, a2) }
    return sprigYield(a0, a1, a2)
}

/// yield's fastpath (`Kernel.yieldFastpath`), the hot path. It makes no call: a yield it leaves
/// to the chain goes on by a jump to `sprigYieldChain`, and it commits only plans on one page,
/// whose save and load make no call either (`sprig hygiene` checks that neither this function
/// nor `sprig_trap_syscall` calls). So no value has to outlive a call; and the flags arguments
/// (a3, a4), read from the frame where the switch uses them, take no register across the probe.
@inline(never)
func sprigYield(_ a0: UInt64, _ a1: UInt64, _ a2: UInt64) {
    let frame = TrapFrame(words: trappedFrame)
    Trace.entered(.systemCall(number: Service.yield.rawValue, systemCallArguments(frame)), frame)
    switch Kernel.yieldFastpath(KernelPlatform(), a0, a1, a2, flags: { (frame[TrapFrame.r10], frame[TrapFrame.r8]) }) {
    case .decided(let outcome): finish(outcome, frame)
    case .chain(let set): return sprigYieldChain(set)
    }
}

/// The rest of a yield `sprigYield` did not decide (`Kernel.yieldChain`). The arguments come
/// again from the frame, which holds them as ring 3 passed them: passed on, they would stay in
/// registers across the whole fastpath.
@inline(never)
func sprigYieldChain(_ set: Int) {
    let frame = TrapFrame(words: trappedFrame)
    finish(Kernel.yieldChain(KernelPlatform(), systemCallArguments(frame), set: set), frame)
}

/// Every system call but yield: a number past the service table is refused here
/// (`Kernel.unknownNumber`), in a function that saves no register; every other one goes on by a
/// jump to `sprigSyscallKnown`. Both take a0, a1 and a2 in the registers they came in (so that
/// `sprig_trap_syscall`'s jump moves none) and read the rest from the frame.
@inline(never)
func sprigService(_ a0: UInt64, _ a1: UInt64, _ a2: UInt64) {
    let frame = TrapFrame(words: trappedFrame)
    let number = frame[TrapFrame.rax]
    Trace.entered(.systemCall(number: number, systemCallArguments(frame)), frame)
    guard let refusal = Kernel.unknownNumber(KernelPlatform(), number) else { return sprigSyscallKnown(a0, a1, a2, number) }
    finish(refusal, frame)
}

/// The rest of `Kernel.trap` for a system call `Kernel.unknownNumber` did not refuse; a3 and
/// a4 from the frame.
@inline(never)
func sprigSyscallKnown(_ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ number: UInt64) {
    let frame = TrapFrame(words: trappedFrame)
    let a = SystemCallArguments(a0, a1, a2, frame[TrapFrame.r10], frame[TrapFrame.r8])
    finish(Kernel.knownSystemCall(KernelPlatform(), number: number, a), frame)
}

/// The system call in `frame`: the number (rax) and the five argument registers.
@inline(__always)
func systemCallEvent(_ number: UInt64, _ frame: TrapFrame) -> TrapEvent {
    .systemCall(number: number, systemCallArguments(frame))
}

@inline(__always)
func systemCallArguments(_ frame: TrapFrame) -> SystemCallArguments {
    SystemCallArguments(frame[TrapFrame.rdi], frame[TrapFrame.rsi], frame[TrapFrame.rdx], frame[TrapFrame.r10], frame[TrapFrame.r8])
}

/// `sprig_trap_irq`: a hardware interrupt of the legacy PICs (vectors 32…47) taken in ring 3,
/// its frame at `sprig_kernel_frame` as for every interrupt (entry.S `sprig_irq_common`). The
/// same `Kernel.trap` as `sprig_trap`'s, without the decode of the vector's kind.
@_silgen_name("sprig_trap_irq")
func sprigIRQ() {
    let frame = TrapFrame(words: trappedFrame)
    let event = acknowledge(frame[TrapFrame.vector])
    Trace.entered(event, frame)
    finish(Kernel.trap(KernelPlatform(), event), frame)
}

/// Applies what `Kernel.trap` decided to the frame ring 3 resumes with.
@inline(__always)
func finish(_ outcome: TrapOutcome, _ frame: TrapFrame) {
    Trace.decided(outcome, frame)
    switch outcome {
    case .returned(let status, let value):
        LastServiceCall.record(frame)
        frame[TrapFrame.rax] = status.rawValue
        frame[TrapFrame.rdx] = value
    case .interruptRefused(let status):
        frame[TrapFrame.rax] = status.rawValue
    case .resume:
        break
    case .machineService(let service):
        LastServiceCall.record(frame)
        MachineServices.serve(service, frame)
    case .kernelCrash:
        CrashReport.report(frame, reason: "a partition fault no ancestor could take (root's own fault ends here)",
                           partition: X86Platform().currentPartition)
    }
    Trace.resuming(frame)
}

/// An NMI that arrived while the kernel ran goes to root now (entry.S calls this on the way
/// back to ring 3 while `sprig_nmi_pending` is set), as if it had come at the first instruction
/// ring 3 resumes with: one more entry, recorded as such in the trace.
@_cdecl("sprig_deliver_pending_nmi")
func deliverPendingNMI(_ words: UnsafeMutablePointer<UInt64>) {
    nmiPending = 0
    let frame = TrapFrame(words: words)
    assert(words == trappedFrame, "an entry from ring 3 off sprig_kernel_frame")
    // The resuming general registers into the frame: routing saves the interrupted state.
    X86Platform.settleExit(frame)
    let event = TrapEvent.hardwareInterrupt(vector: VIDTIndex.nmi)
    Trace.entered(event, frame)
    let outcome = Kernel.trap(KernelPlatform(), event)
    Trace.decided(outcome, frame)
    Trace.resuming(frame)
}

/// What trapped, from the frame `entry.S` built; hardware interrupts are acknowledged here.
@inline(__always)
func decode(_ frame: TrapFrame) -> TrapEvent {
    let vector = frame[TrapFrame.vector]
    if vector == TrapFrame.syscallVector { return systemCallEvent(frame[TrapFrame.rax], frame) }
    // The NMI is a hardware event for root, never the interrupted partition's exception 2.
    if vector == VIDTIndex.nmi { return .hardwareInterrupt(vector: vector) }
    if vector < VIDTIndex.firstInterrupt {
        return .exception(vector: vector,
                          errorCode: Delivery.hasErrorCode(vector: vector) ? frame[TrapFrame.errorCode] : 0,
                          faultAddress: vector == Delivery.pageFaultVector ? readCR2() : 0)
    }
    if vector < 48 { return acknowledge(vector) }
    return .softwareInterrupt(vector: vector)
}

/// IRQ `vector` (32…47) of the legacy PICs, acknowledged before routing (the handler may run a
/// long time).
@inline(__always)
func acknowledge(_ vector: UInt64) -> TrapEvent {
    assert(vector >= VIDTIndex.firstInterrupt && vector < 48)
    if vector >= 40 { outb(0xA0, 0x20) }
    outb(0x20, 0x20)
    return .hardwareInterrupt(vector: vector)
}

/// The root-only services `Kernel.trap` hands back (it has checked that root asked).
enum MachineServices {
    static func serve(_ service: Service, _ frame: TrapFrame) {
        let a0 = frame[TrapFrame.rdi], a1 = frame[TrapFrame.rsi]
        var status = Status.unknownService
        var value: UInt64 = 0
        switch service {
        case .consoleWrite:
            status = Kernel.consoleBytes(KernelPlatform(), start: UserAddress(a0), length: a1) { pa, bytes in
                let p = X86Platform.bytePointer(pa)
                var i = 0
                while i < Int(bytes) { serialPutC(p[i]); i += 1 }
            }
        case .powerOff:
            guard a0 <= Limits.partitionExitStatusMax else { status = .invalidArgument; break }
            Machine.powerOff(status: a0)
        case .setTimer:
            status = Timer.set(hz: a0)
        case .consoleRead:
            // The range was checked writable in root's tables; each piece lies on one page.
            (status, value) = Kernel.consoleReadBytes(KernelPlatform(), start: UserAddress(a0), maxLength: a1) { pa, room in
                let p = X86Platform.bytePointer(pa)
                var n: UInt64 = 0
                while n < room, let b = Serial.receive() { p[Int(n)] = b; n += 1 }
                Trace.consoleInput(pa, n)
                return n
            }
        case .setConsoleInterrupt:
            guard a0 <= 1 else { status = .invalidArgument; break }
            Serial.setReceiveInterrupt(a0 == 1)
            status = .success
        default:
            break
        }
        frame[TrapFrame.rax] = status.rawValue
        frame[TrapFrame.rdx] = value
    }
}

/// The periodic timer: the 8254 PIT's channel 0 on IRQ 0 (vector 32, delivered to root).
enum Timer {
    static let inputHz: UInt64 = 1_193_182

    /// Programs channel 0 as a rate generator at `hz` (0 stops it) and (un)masks IRQ 0.
    static func set(hz: UInt64) -> Status {
        guard Limits.isTimerRate(hz) else { return .invalidArgument }
        if hz == 0 {
            outb(0x21, inb(0x21) | 1)
            return .success
        }
        let divisor = inputHz / hz
        outb(0x43, 0x34)  // channel 0, lobyte/hibyte, mode 2 (rate generator)
        outb(0x40, UInt8(truncatingIfNeeded: divisor))
        outb(0x40, UInt8(truncatingIfNeeded: divisor >> 8))
        outb(0x21, inb(0x21) & ~1)
        return .success
    }
}
