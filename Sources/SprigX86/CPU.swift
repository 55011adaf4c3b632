/// `CPUPlatform` on the real machine: the trapped state is the `TrapFrame` at the top of the
/// kernel stack plus the FPU/SSE registers, which the kernel never uses and so still hold the
/// trapped partition's values. Contexts are read and written through the direct map, word by
/// word with `ContextLocation.word(at:)`, because a context may straddle two physical pages.
import SprigABI
import SprigCore
import SprigFPUInstructions

/// The frame of every entry from ring 3 (and of the first entry into root): always the one at
/// `sprig_kernel_frame`, so its words are read at fixed addresses, with no pointer to load.
var trappedFrame: UnsafeMutablePointer<UInt64> {
    @inline(__always) get { withUnsafeMutablePointer(to: &sprig_initial_frame) { $0 } }
}
/// The five words `iretq` pops on the way back to ring 3 (rip, cs, rflags, rsp, ss), at the top of
/// the entry stack. A context load that leaves the general registers to the exit path
/// (`exitContext`) writes rip, rflags and rsp here directly; every other way back copies them
/// from the frame (entry.S `EXIT_PATH`). The frame keeps the same five words in the same order
/// from `TrapFrame.rip` on.
enum ExitWords {
    static let rip = 0, rflags = 2, rsp = 3
    static var words: UnsafeMutablePointer<UInt64> {
        @inline(__always) get { withUnsafeMutablePointer(to: &sprig_entry_stack_top) { $0 } - 5 }
    }
}

/// `sprig_exit_context`: nonzero when the last context load left the general registers to the
/// exit path (entry.S `EXIT_PATH`), which loads them from the context at that direct-map
/// address. Bit 0 set (contexts are 16-aligned): the load was a delivery, whose five registers
/// (`SprigABI.Delivery`: rdi, rsi, rdx, rcx, r8) the exit takes from the frame instead.
enum ExitContext {
    static let deliveryInFrame: UInt64 = 1

    /// The value general register `r` (frame order) resumes with, while `exitContext` is set.
    static func register(_ r: Int, _ f: TrapFrame) -> UInt64 {
        let delivered = r == TrapFrame.rdi || r == TrapFrame.rsi || r == TrapFrame.rdx || r == TrapFrame.rcx || r == TrapFrame.r8
        if delivered && exitContext & deliveryInFrame != 0 { return f[r] }
        let c = UnsafeMutablePointer<UInt64>(bitPattern: UInt(exitContext & ~deliveryInFrame)).unsafelyUnwrapped
        return c[ContextLayout.gprs / 8 + r]
    }
}

/// MXCSR bits FXRSTOR accepts (from FXSAVE's MXCSR_MASK at boot).
nonisolated(unsafe) var mxcsrMask: UInt64 = 0xFFBF

enum FPU {
    static var area: UnsafeMutablePointer<UInt64> { withUnsafeMutablePointer(to: &fpuAreaSymbol) { $0 } }
    static let words = ContextLayout.fpuSize / 8
    /// FXSAVE bytes 416…511 are not written by FXSAVE: they must not carry stale data.
    static let firstUnwrittenWord = UserRegisters.fxsaveFirstUnwrittenWord

    /// Zeroes the bytes of the FXSAVE image at `fpu` that FXSAVE does not write (the ST/MM
    /// slots' padding and bytes 416…511; `UserRegisters.fxsaveWrittenBytes`).
    @inline(__always)
    static func clearUnwritten(_ fpu: UnsafeMutablePointer<UInt64>) {
        fpu[5] &= 0xFFFF; fpu[7] &= 0xFFFF; fpu[9] &= 0xFFFF; fpu[11] &= 0xFFFF
        fpu[13] &= 0xFFFF; fpu[15] &= 0xFFFF; fpu[17] &= 0xFFFF; fpu[19] &= 0xFFFF
        fpu[52] = 0; fpu[53] = 0; fpu[54] = 0; fpu[55] = 0; fpu[56] = 0; fpu[57] = 0
        fpu[58] = 0; fpu[59] = 0; fpu[60] = 0; fpu[61] = 0; fpu[62] = 0; fpu[63] = 0
    }

    /// Loads a partition's FPU/SSE image, the x87 pointers cleared first: AMD's and Hygon's
    /// FXRSTOR leaves FIP, FDP and FOP as they were unless an exception is pending, so the last
    /// x87 instruction and operand addresses of one partition would survive into the next one's
    /// FXSAVE image. FNINIT sets the three to 0; FXRSTOR then loads everything else. On every
    /// CPU: on Intel the FNINIT changes nothing, and costs less than a vendor test would
    /// (`sprig hygiene` checks that every FXRSTOR follows an FNINIT).
    @inline(__always)
    static func restore(_ image: UnsafeMutablePointer<UInt64>) {
        fninit()
        fxrstor(image)
    }

    /// Reads MXCSR_MASK and puts the FPU in its initial state (`InitialRegisters`).
    static func initialize() {
        let a = area
        a.initialize(repeating: 0, count: words)
        fxsave(a)
        let mask = a[3] >> 32
        mxcsrMask = mask == 0 ? UInt64(UserRegisters.defaultMXCSRMask) : mask
        a.initialize(repeating: 0, count: words)
        a[0] = InitialRegisters.fcw
        a[3] = InitialRegisters.mxcsr
        restore(a)
    }
}

extension X86Platform: CPUPlatform {
    var rootPartition: Descriptor { .keptByPlatform(rootDescriptor) }
    var currentPartition: Descriptor { .keptByPlatform(currentDescriptor) }
    func setCurrentPartition(_ descriptor: Descriptor) { currentDescriptor = descriptor.paddr.raw }
    /// With the entry window on, the kernel runs on its own tables and the exit path loads the
    /// partition's (`userCR3`); with it off, the partition's tables are the kernel's too.
    func switchAddressSpace(_ rootTable: RootTable) {
        if kernelCR3 != 0 { userCR3 = rootTable.paddr.raw } else { writeCR3(rootTable.paddr.raw) }
    }

    /// Inlined into every path that saves (the yield's fastpath among them); a context over two
    /// pages goes out of line (`saveStraddling`).
    @inline(__always)
    func saveCPUState(to location: ContextLocation, flags: UInt64, returnValue: UInt64?) {
        let f = TrapFrame(words: trappedFrame)
        // Every path saves before it loads (one load per entry, last), so the frame still holds
        // the trapped general registers.
        assert(exitContext == 0, "a context save after a context load in one kernel entry")
        if location.isOnOnePage {
            // The common case, the context on one page: plain stores through the direct map and
            // FXSAVE straight into the context (its FPU area is 16-aligned since the context is).
            let c = X86Platform.pointer(location.first)
            // The FPU/SSE image first: then rbx…r15 go 16 bytes at a time through SSE registers
            // whose values that image now holds (`sprig_copy_saved_registers`; the load that
            // follows every save restores them).
            fxsave(c + ContextLayout.fpu / 8)
            copySavedRegisters(c, f.words)
            c[ContextLayout.rip / 8] = f[TrapFrame.rip]
            c[ContextLayout.rsp / 8] = f[TrapFrame.rsp]
            c[ContextLayout.rflags / 8] = f[TrapFrame.rflags]
            // rax (the frame's first word) once: the return value when there is one.
            c[ContextLayout.rax / 8] = returnValue ?? f[TrapFrame.rax]
            c[ContextLayout.flags / 8] = flags
            c[ContextLayout.valid / 8] = 1
            // The reserved words and the bytes FXSAVE does not write (the ST slots' padding,
            // bytes 416…511) keep what this partition's own slot held: nothing of another
            // partition (`ContextLayout.reserved`, `fpuAvailable`).
            return
        }
        saveStraddling(to: location, flags: flags, returnValue: returnValue)
    }

    /// `saveCPUState` for a context over two pages: word by word, FXSAVE through the staging area.
    @inline(never)
    private func saveStraddling(to location: ContextLocation, flags: UInt64, returnValue: UInt64?) {
        let f = TrapFrame(words: trappedFrame)
        func put(_ offset: Int, _ v: UInt64) { store(location.word(at: offset), v) }
        put(ContextLayout.rip, f[TrapFrame.rip])
        put(ContextLayout.rsp, f[TrapFrame.rsp])
        put(ContextLayout.rflags, f[TrapFrame.rflags])
        // The frame and the context keep the general registers in the same order.
        var r = 0
        while r < ContextLayout.gprCount {
            put(ContextLayout.gprs + 8 * r, f[r])
            r += 1
        }
        if let rv = returnValue { put(ContextLayout.rax, rv) }
        put(ContextLayout.flags, flags)
        put(ContextLayout.valid, 1)
        // Through the staging area, which holds the last image loaded through it (possibly
        // another partition's): what FXSAVE does not write is zeroed, not copied, and the
        // owner's words (the reserved words, FXSAVE bytes 464…511) are not written at all.
        let a = FPU.area
        fxsave(a)
        FPU.clearUnwritten(a)
        var w = 0
        while w < ContextLayout.fpuAvailable / 8 {
            put(ContextLayout.fpu + 8 * w, a[w])
            w += 1
        }
    }

    var trappedRIP: UInt64 { TrapFrame(words: trappedFrame)[TrapFrame.rip] }
    func setTrappedRIP(_ rip: UInt64) { TrapFrame(words: trappedFrame)[TrapFrame.rip] = rip }

    func setTrappedInterruptFlag(_ enabled: Bool) {
        let f = TrapFrame(words: trappedFrame)
        let flags = f[TrapFrame.rflags]
        f[TrapFrame.rflags] = enabled ? flags | UserRegisters.interruptFlag : flags & ~UserRegisters.interruptFlag
    }

    @inline(__always)
    func loadCPUState(from location: ContextLocation, interruptsEnabled: Bool, delivery: DeliveryInfo?) {
        let f = TrapFrame(words: trappedFrame)
        // The general registers: `sprig_trap_return` loads them from the context itself, or for
        // a context over two pages from their copy in kernel memory (but the five a delivery
        // sets, from the frame: `ExitContext`), and rip, rflags and rsp go straight to the iretq
        // words. The frame's general registers are never rewritten (the syscall exit relies on it).
        let registers: UnsafeMutablePointer<UInt64>
        if location.isOnOnePage {
            registers = X86Platform.pointer(location.first)
            loadOnePage(registers, ExitWords.words, interruptsEnabled: interruptsEnabled)
        } else {
            registers = loadStraddling(location, ExitWords.words, interruptsEnabled: interruptsEnabled)
        }
        exitContext = UInt64(UInt(bitPattern: registers)) | (delivery == nil ? 0 : ExitContext.deliveryInFrame)
        // cs and ss are the user selectors for good (entry.S: the exit path never reads them).
        if let d = delivery {
            f[TrapFrame.rdi] = d.source
            f[TrapFrame.rsi] = d.vector
            f[TrapFrame.rdx] = d.errorCode
            f[TrapFrame.rcx] = d.faultAddress
            f[TrapFrame.r8] = d.savedAt
        }
    }

    /// Makes the frame hold every register ring 3 resumes with: if a context load left the
    /// general registers to `sprig_trap_return` (`exitContext`) and rip, rflags and rsp in the
    /// iretq words (`ExitWords`), copies them into the frame now. For an entry made on the way
    /// out (`sprig_deliver_pending_nmi`), which routes the frame.
    static func settleExit(_ f: TrapFrame) {
        guard exitContext != 0 else { return }
        let iret = ExitWords.words
        f[TrapFrame.rip] = iret[ExitWords.rip]
        f[TrapFrame.rflags] = iret[ExitWords.rflags]
        f[TrapFrame.rsp] = iret[ExitWords.rsp]
        var r = 0
        while r < ContextLayout.gprCount { f[r] = ExitContext.register(r, f); r += 1 }
        exitContext = 0
    }

    /// The common case: plain loads through the direct map, and FXRSTOR straight from the
    /// context when its MXCSR has no reserved bit (else from the staging area, sanitized).
    /// The general registers are left in the context (`exitContext`).
    @inline(__always)
    private func loadOnePage(_ c: UnsafeMutablePointer<UInt64>, _ iret: UnsafeMutablePointer<UInt64>, interruptsEnabled: Bool) {
        iret[ExitWords.rip] = UserRegisters.rip(c[ContextLayout.rip / 8])
        iret[ExitWords.rsp] = c[ContextLayout.rsp / 8]
        iret[ExitWords.rflags] = UserRegisters.rflags(c[ContextLayout.rflags / 8], interruptsEnabled: interruptsEnabled)
        let fpu = c + ContextLayout.fpu / 8
        let mxcsr = UInt32(truncatingIfNeeded: fpu[3])
        let mask = UInt32(truncatingIfNeeded: mxcsrMask)
        if UserRegisters.mxcsr(mxcsr, mask: mask) == mxcsr {
            FPU.restore(fpu)
            return
        }
        let a = FPU.area
        var w = 0
        while w < FPU.words { a[w] = fpu[w]; w += 1 }
        a[3] = UInt64(UserRegisters.mxcsr(mxcsr, mask: mask))
        FPU.restore(a)
    }

    /// A context over two pages: word by word through `ContextLocation`, the general registers
    /// into `sprig_exit_registers` (returned, for `exitContext`), FPU via the staging area.
    private func loadStraddling(_ location: ContextLocation, _ iret: UnsafeMutablePointer<UInt64>,
                                interruptsEnabled: Bool) -> UnsafeMutablePointer<UInt64> {
        func get(_ offset: Int) -> UInt64 { load(location.word(at: offset)) }
        let registers = withUnsafeMutablePointer(to: &exitRegistersSymbol) { $0 }
        var r = 0
        while r < ContextLayout.gprCount {
            registers[ContextLayout.gprs / 8 + r] = get(ContextLayout.gprs + 8 * r)
            r += 1
        }
        iret[ExitWords.rip] = UserRegisters.rip(get(ContextLayout.rip))
        iret[ExitWords.rsp] = get(ContextLayout.rsp)
        iret[ExitWords.rflags] = UserRegisters.rflags(get(ContextLayout.rflags), interruptsEnabled: interruptsEnabled)
        let a = FPU.area
        var w = 0
        while w < FPU.words {
            a[w] = get(ContextLayout.fpu + 8 * w)
            w += 1
        }
        // MXCSR is bytes 24…27 (low half of word 3); MXCSR_MASK (high half) is ignored by FXRSTOR.
        a[3] = UInt64(UserRegisters.mxcsr(UInt32(truncatingIfNeeded: a[3]), mask: UInt32(truncatingIfNeeded: mxcsrMask)))
        FPU.restore(a)
        return registers
    }
}
