/// The trace build's recorder: every kernel entry, with every request the kernel made of the
/// machine, written to the debug port for `sprig replay` (docs/replay.md, format in
/// `SprigABI/TraceFormat.swift`).
///
/// Only a kernel built with `-D SPRIG_TRACE` (`sprig build --variant trace`) records anything.
/// In every other build `KernelPlatform` is `X86Platform` itself and the `Trace` hooks are empty
/// inline functions, so the normal kernel has no tracing code and its bench numbers do not move.
///
/// How it records: `sprig_trap` runs `Kernel.trap` (and the console's page walk) on a
/// `KernelPlatform`. In the trace build that is `TracingPlatform`, which forwards each request to
/// `X86Platform` and writes it out with its result: the word a `load` read, the words a context
/// save wrote and a context load read. The hooks around it write the event and the registers
/// ring 3 trapped with, the outcome, and the registers ring 3 resumes with. The boot hooks write
/// what `RootBuilder` was given and a digest of what it built.
///
/// The writes go to port 0xE9 one byte at a time (QEMU's `-debugcon`); on a machine without that
/// device they go nowhere. Nothing here allocates or reads a lazy global.
import SprigABI
import SprigCore

#if SPRIG_TRACE

/// The platform `sprig_trap` gives the kernel: the recording one in the trace build.
typealias KernelPlatform = TracingPlatform

/// The debug-port writer.
enum TraceOut {
    static func byte(_ b: UInt8) { outb(TraceFormat.port, b) }

    /// Unsigned LEB128.
    static func number(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            byte(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        byte(UInt8(truncatingIfNeeded: v))
    }

    static func tag(_ t: TraceFormat.Tag) { byte(t.rawValue) }

    static func flag(_ b: Bool) { byte(b ? 1 : 0) }

    /// A length, then that many bytes of physical memory.
    static func bytes(_ start: PhysicalAddress, _ count: UInt64) {
        number(count)
        let p = X86Platform.bytePointer(start)
        var i: UInt64 = 0
        while i < count { byte(p[Int(i)]); i += 1 }
    }

    static func location(_ l: ContextLocation) {
        number(l.first.raw); number(l.firstBytes); number(l.second.raw)
    }

    /// rip, rsp, rflags, the general registers, then the FPU/SSE image as FXSAVE reports it:
    /// a 0 byte when it is the image the previous register state carried, else a 1 and its words.
    /// The general registers come from the context the exit path (entry.S `EXIT_PATH`) will load them
    /// from when a load left them there (`exitContext`), as in the release build: the recorder
    /// does not change the exit path.
    static func registers(_ f: TrapFrame) {
        let fromContext = exitContext != 0
        // rip, rflags and rsp: in the iretq words when a context load left the registers to the
        // exit path, else in the frame (the same five words in the same order).
        let iret = fromContext ? ExitWords.words : f.words + TrapFrame.rip
        number(iret[ExitWords.rip]); number(iret[ExitWords.rsp]); number(iret[ExitWords.rflags])
        var r = 0
        while r < ContextLayout.gprCount { number(fromContext ? ExitContext.register(r, f) : f[r]); r += 1 }
        // The recorder's own area (not the kernel's staging area, which must hold what it holds
        // in the release build), zeroed first so that bytes FXSAVE leaves unwritten read as 0.
        let a = withUnsafeMutablePointer(to: &traceFPUSymbol) { $0 }
        a.initialize(repeating: 0, count: FPU.words)
        fxsave(a)
        var w = 0
        while w < TraceFormat.fpuWords && a[w] == lastFPU[w] { w += 1 }
        guard w < TraceFormat.fpuWords else { byte(0); return }
        byte(1)
        w = 0
        while w < TraceFormat.fpuWords { number(a[w]); lastFPU[w] = a[w]; w += 1 }
    }
}

/// The FXSAVE image the trace last carried (`trace.c`: zero at boot, like the reader's start).
@_extern(c, "sprig_trace_last_fpu") nonisolated(unsafe) private var lastFPUSymbol: UInt64
@_extern(c, "sprig_trace_fpu") nonisolated(unsafe) private var traceFPUSymbol: UInt64
private var lastFPU: UnsafeMutablePointer<UInt64> { withUnsafeMutablePointer(to: &lastFPUSymbol) { $0 } }

enum Trace {
    /// What `RootBuilder` is about to be given. Returns the allocator as it is now, for `built`.
    static func boot(_ boot: MultibootInfo, kernelPML4: UInt64, kernelStart: UInt64, kernelEnd: UInt64) -> BootAllocator {
        var m = TraceFormat.magic
        var i = 0
        while i < 8 { TraceOut.byte(UInt8(truncatingIfNeeded: m)); m >>= 8; i += 1 }
        TraceOut.number(TraceFormat.version)
        TraceOut.number(TraceFormat.assertionsEnabled ? TraceFormat.assertionsFlag : 0)
        TraceOut.tag(.boot)
        TraceOut.number(boot.totalPages)
        TraceOut.number(kernelStart)
        TraceOut.number(kernelEnd)
        TraceOut.number(kernelPML4)
        TraceOut.number(mxcsrMask)
        TraceOut.number(UInt64(boot.allocator.count))
        i = 0
        while i < boot.allocator.count {
            let r = boot.allocator.range(i)
            TraceOut.number(r.start); TraceOut.number(r.end)
            i += 1
        }
        TraceOut.number(UInt64(boot.moduleCount))
        i = 0
        while i < boot.moduleCount {
            let mod = boot.modules[i]
            TraceOut.number(mod.start.raw); TraceOut.number(mod.name0); TraceOut.number(mod.name1)
            TraceOut.bytes(mod.start, mod.bytes)
            i += 1
        }
        // The command line RootBuilder copies to root's boot-info page.
        TraceOut.number(UInt64(boot.commandLine.count))
        i = 0
        while i < boot.commandLine.count { TraceOut.byte(boot.commandLine.bytes[i]); i += 1 }
        var e: UInt64 = 256
        while e < 512 { TraceOut.number(X86Platform().load(PhysicalAddress(kernelPML4 + e * 8))); e += 1 }
        return boot.allocator
    }

    /// What `RootBuilder` built: root's descriptor and PML4, and a digest of each page the boot
    /// allocator handed out (taken again, in the same order, from a copy of `before`).
    static func built(_ root: RootBuildResult, before: BootAllocator, after: BootAllocator) {
        TraceOut.tag(.built)
        TraceOut.number(root.descriptor.paddr.raw)
        TraceOut.number(root.rootTable.paddr.raw)
        let count = after.allocated - before.allocated
        TraceOut.number(count)
        var probe = before
        var n: UInt64 = 0
        while n < count, let page = probe.allocatePage() {
            let words = X86Platform.pointer(page)
            var h = TraceFormat.digestSeed
            var w = 0
            while w < 512 { h = TraceFormat.digest(h, words[w]); w += 1 }
            TraceOut.number(page.raw); TraceOut.number(h)
            n += 1
        }
    }

    /// An entry from ring 3, before the kernel decides anything.
    static func entered(_ event: TrapEvent, _ f: TrapFrame) {
        WindowCheck.verify(f)
        TraceOut.tag(.enter)
        TraceOut.number(currentDescriptor)
        TraceOut.number(partitionCR3())
        switch event {
        case .systemCall(let number, let a):
            TraceOut.byte(TraceFormat.EventKind.systemCall.rawValue)
            TraceOut.number(number)
            TraceOut.number(a.a0); TraceOut.number(a.a1); TraceOut.number(a.a2); TraceOut.number(a.a3); TraceOut.number(a.a4)
        case .exception(let vector, let errorCode, let faultAddress):
            TraceOut.byte(TraceFormat.EventKind.exception.rawValue)
            TraceOut.number(vector); TraceOut.number(errorCode); TraceOut.number(faultAddress)
        case .hardwareInterrupt(let vector):
            TraceOut.byte(TraceFormat.EventKind.hardwareInterrupt.rawValue)
            TraceOut.number(vector)
        case .softwareInterrupt(let vector):
            TraceOut.byte(TraceFormat.EventKind.softwareInterrupt.rawValue)
            TraceOut.number(vector)
        }
        TraceOut.registers(f)
    }

    /// What `Kernel.trap` decided; for a `consoleWrite`, also the bytes it will print (ring-3
    /// memory the console reads directly, not through `load`).
    static func decided(_ outcome: TrapOutcome, _ f: TrapFrame) {
        TraceOut.tag(.outcome)
        switch outcome {
        case .returned(let status, let value):
            TraceOut.byte(TraceFormat.OutcomeKind.returned.rawValue)
            TraceOut.number(status.rawValue); TraceOut.number(value); TraceOut.number(0)
        case .interruptRefused(let status):
            TraceOut.byte(TraceFormat.OutcomeKind.interruptRefused.rawValue)
            TraceOut.number(status.rawValue); TraceOut.number(0); TraceOut.number(0)
        case .resume:
            TraceOut.byte(TraceFormat.OutcomeKind.resume.rawValue)
            TraceOut.number(0); TraceOut.number(0); TraceOut.number(0)
        case .machineService(let service):
            TraceOut.byte(TraceFormat.OutcomeKind.machineService.rawValue)
            TraceOut.number(0); TraceOut.number(0); TraceOut.number(service.rawValue)
            if service == .consoleWrite {
                _ = Kernel.consoleBytes(X86Platform(), start: UserAddress(f[TrapFrame.rdi]), length: f[TrapFrame.rsi]) { pa, bytes in
                    TraceOut.tag(.console)
                    TraceOut.number(pa.raw)
                    TraceOut.bytes(pa, bytes)
                }
            }
        case .kernelCrash:
            TraceOut.byte(TraceFormat.OutcomeKind.kernelCrash.rawValue)
            TraceOut.number(0); TraceOut.number(0); TraceOut.number(0)
        }
    }

    /// Bytes a `consoleRead` moved from the UART into ring-3 memory at `pa` (the model cannot
    /// know them: the replay takes them from here). Written after the outcome, as they are read.
    static func consoleInput(_ pa: PhysicalAddress, _ count: UInt64) {
        guard count > 0 else { return }
        TraceOut.tag(.consoleInput)
        TraceOut.number(pa.raw)
        TraceOut.bytes(pa, count)
    }

    /// The state ring 3 resumes with (or, after boot, starts with).
    static func resuming(_ f: TrapFrame) {
        TraceOut.tag(.resume)
        TraceOut.number(currentDescriptor)
        TraceOut.number(partitionCR3())
        TraceOut.registers(f)
    }
}

/// `X86Platform` with every request written to the trace, in the order the kernel makes them.
struct TracingPlatform: CPUPlatform {
    private var machine: X86Platform { X86Platform() }

    func load(_ paddr: PhysicalAddress) -> UInt64 {
        let v = machine.load(paddr)
        TraceOut.tag(.load); TraceOut.number(paddr.raw); TraceOut.number(v)
        return v
    }

    func store(_ paddr: PhysicalAddress, _ value: UInt64, _ access: WriteAccess) {
        machine.store(paddr, value, access)
        TraceOut.tag(.store); TraceOut.number(paddr.raw); TraceOut.number(value)
    }

    func zeroPage(_ page: PhysicalAddress, _ access: WriteAccess) {
        machine.zeroPage(page, access)
        TraceOut.tag(.zeroPage); TraceOut.number(page.raw)
    }

    func copy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64, _ access: WriteAccess) {
        machine.copy(from: source, to: destination, bytes: bytes, access)
        TraceOut.tag(.copy); TraceOut.number(source.raw); TraceOut.number(destination.raw); TraceOut.number(bytes)
    }

    func translationCacheLoad(_ index: Int) -> UInt64 {
        let v = machine.translationCacheLoad(index)
        TraceOut.tag(.translationCacheLoad); TraceOut.number(UInt64(index)); TraceOut.number(v)
        return v
    }

    func translationCacheStore(_ index: Int, _ value: UInt64) {
        machine.translationCacheStore(index, value)
        TraceOut.tag(.translationCacheStore); TraceOut.number(UInt64(index)); TraceOut.number(value)
    }

    func invalidateTranslation(_ va: VirtualAddress) {
        machine.invalidateTranslation(va)
        TraceOut.tag(.invalidateTranslation); TraceOut.number(va.raw)
    }

    var rootPartition: Descriptor { machine.rootPartition }
    var currentPartition: Descriptor { machine.currentPartition }

    func setCurrentPartition(_ descriptor: Descriptor) {
        machine.setCurrentPartition(descriptor)
        TraceOut.tag(.setCurrentPartition); TraceOut.number(descriptor.paddr.raw)
    }

    func switchAddressSpace(_ rootTable: RootTable) {
        machine.switchAddressSpace(rootTable)
        TraceOut.tag(.switchAddressSpace); TraceOut.number(rootTable.paddr.raw)
    }

    /// The words written, read back after the save.
    func saveCPUState(to location: ContextLocation, flags: UInt64, returnValue: UInt64?) {
        machine.saveCPUState(to: location, flags: flags, returnValue: returnValue)
        TraceOut.tag(.saveContext)
        TraceOut.location(location)
        TraceOut.number(flags)
        TraceOut.flag(returnValue != nil); TraceOut.number(returnValue ?? 0)
        contextWords(location)
    }

    /// The words read, before the load.
    func loadCPUState(from location: ContextLocation, interruptsEnabled: Bool, delivery: DeliveryInfo?) {
        TraceOut.tag(.loadContext)
        TraceOut.location(location)
        TraceOut.flag(interruptsEnabled)
        TraceOut.flag(delivery != nil)
        if let d = delivery {
            TraceOut.number(d.source); TraceOut.number(d.vector); TraceOut.number(d.errorCode)
            TraceOut.number(d.faultAddress); TraceOut.number(d.savedAt)
        }
        contextWords(location)
        machine.loadCPUState(from: location, interruptsEnabled: interruptsEnabled, delivery: delivery)
    }

    var trappedRIP: UInt64 { machine.trappedRIP }
    /// Not recorded: the resumed registers show it.
    func setTrappedRIP(_ rip: UInt64) { machine.setTrappedRIP(rip) }

    func setTrappedInterruptFlag(_ enabled: Bool) {
        machine.setTrappedInterruptFlag(enabled)
        TraceOut.tag(.setInterruptFlag); TraceOut.flag(enabled)
    }

    private func contextWords(_ location: ContextLocation) {
        var offset = 0
        while offset < ContextLayout.size {
            TraceOut.number(machine.load(location.word(at: offset)))
            offset += 8
        }
    }
}

/// The entry window holds nothing of ring 3: checked on every entry from ring 3 in the trace kernel (the replay tests
/// boot it with every system): the entry window's stacks hold nothing of ring 3 but what
/// entry.S allows there. The entry stack: its top words (rax, rip, rflags, rsp of the partition
/// that entered, which ran last), cs and ss the user selectors, zeros below. The NMI and #DF
/// stacks: zeros, but the user cs and ss, or a frame the CPU pushed from ring 0 (cs 0x08, the
/// kernel's own rip and rsp). Anything else is a crash report: the window would show it to the
/// next partition (Meltdown).
enum WindowCheck {
    static let words = 512
    static let rip = 507, cs = 508, rflags = 509, rsp = 510, ss = 511
    static let kernelCS: UInt64 = 0x08

    static func verify(_ f: TrapFrame) {
        if !holdsNothing(symbolAddress(&entryStackGuardSymbol) + 4096, entry: true)
            || !holdsNothing(symbolAddress(&dfStackGuardSymbol) + 4096, entry: false)
            || !holdsNothing(symbolAddress(&nmiStackGuardSymbol) + 4096, entry: false) {
            CrashReport.report(f, reason: "the entry window holds ring-3 registers")
        }
    }

    static func holdsNothing(_ base: UInt64, entry: Bool) -> Bool {
        let w = UnsafePointer<UInt64>(bitPattern: UInt(base)).unsafelyUnwrapped
        var i = 0
        while i < (entry ? rip - 1 : rip) {
            if w[i] != 0 { return false }
            i += 1
        }
        if entry { return w[cs] == TrapFrame.userCS && w[ss] == TrapFrame.userSS }
        if w[cs] == kernelCS { return true }
        return w[rip] == 0 && w[rflags] == 0 && w[rsp] == 0
            && (w[cs] == 0 || w[cs] == TrapFrame.userCS) && (w[ss] == 0 || w[ss] == TrapFrame.userSS)
    }
}

#else

/// The platform `sprig_trap` gives the kernel: the machine itself outside the trace build.
typealias KernelPlatform = X86Platform

/// Outside the trace build every hook is empty and inlined away.
enum Trace {
    @inline(__always)
    static func boot(_ boot: MultibootInfo, kernelPML4: UInt64, kernelStart: UInt64, kernelEnd: UInt64) -> BootAllocator {
        boot.allocator
    }
    @inline(__always) static func built(_ root: RootBuildResult, before: BootAllocator, after: BootAllocator) {}
    @inline(__always) static func entered(_ event: TrapEvent, _ f: TrapFrame) {}
    @inline(__always) static func decided(_ outcome: TrapOutcome, _ f: TrapFrame) {}
    @inline(__always) static func consoleInput(_ pa: PhysicalAddress, _ count: UInt64) {}
    @inline(__always) static func resuming(_ f: TrapFrame) {}
}

#endif
