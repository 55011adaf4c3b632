/// The host `CPUPlatform`: a simulated x86-64 register file over `SimulatedMemory`.
///
/// `ModelCPU` stands for the machine's trapped state: the registers of the partition that
/// entered the kernel (general registers, rip, rsp, rflags, the 512-byte FXSAVE image), CR3 and
/// the current partition. Tests play ring 3 by writing `registers` and then calling a kernel
/// entry as the current partition; they read back what ring 3 would resume with.
///
/// It implements `saveCPUState`/`loadCPUState` exactly as the core requires of every platform
/// (see `Platform.swift`): every register is written, the owner's reserved words kept; loading
/// defines every register and sanitizes with `UserRegisters`. Memory requests go to the
/// `SimulatedMemory` it wraps, so it can serve as the one platform a test passes to SprigCore.
///
/// Around the kernel it plays the CPU's own part, as the Intel SDM describes it, so that a
/// kernel relying on a hardware rule it breaks is caught in the model: `enterKernel` is SYSCALL
/// (rcx := the return rip, r11 := rflags), `returnToUser` is `entry.S`'s exit path (DS, ES, FS
/// and GS nulled) and its `iretq` (a non-canonical return rip is #GP at CPL 0, a kernel crash:
/// `exitFault`; a data selector whose descriptor has DPL < 3 is nulled).
import SprigABI
import SprigCore

/// One partition's register state as ring 3 sees it.
public struct RegisterFile: Equatable, Sendable {
    public var rip: UInt64 = 0
    public var rsp: UInt64 = 0
    public var rflags: UInt64 = UserRegisters.reservedOne
    /// rax … r15 in `ContextLayout` order.
    public var gprs = [UInt64](repeating: 0, count: ContextLayout.gprCount)
    /// The FXSAVE image, 64 little-endian words.
    public var fpu = [UInt64](repeating: 0, count: ContextLayout.fpuSize / 8)
    /// DS, ES, FS, GS: what ring 3 loaded, or what the kernel's exit path left. No context
    /// holds them.
    public var dataSelectors: [UInt64] = [0, 0, 0, 0]

    public init() {}

    /// The general register at `ContextLayout` offset `offset` (`ContextLayout.rax` …).
    public subscript(offset: Int) -> UInt64 {
        get { gprs[(offset - ContextLayout.gprs) / 8] }
        set { gprs[(offset - ContextLayout.gprs) / 8] = newValue }
    }

    /// Every word of the state, for "nothing of A is in B" comparisons.
    public var allWords: [UInt64] { [rip, rsp, rflags] + gprs + fpu }
}

public final class ModelCPU: CPUPlatform {
    public let memory: SimulatedMemory
    package let rootPartition: Descriptor
    package private(set) var currentPartition: Descriptor
    package private(set) var cr3: PhysicalAddress
    /// The trapped state; a test writes it to play ring 3.
    public var registers = RegisterFile()
    /// The CPU's MXCSR_MASK (what FXSAVE reports).
    public var mxcsrMask: UInt32 = UserRegisters.defaultMXCSRMask
    /// The memory requests of the kernel entry under way, each with the partition current when
    /// it was made (`Properties.dereference`); nil: not recorded. `ModelSystem.trap` starts a
    /// new record for every entry.
    public var accesses: KernelAccesses?
    /// Translations ring 3's accesses cached (`ModelTLB`): dropped by `invalidateTranslation`
    /// and by every CR3 load, nothing else.
    public var tlb = ModelTLB()

    /// Watches every platform request the kernel makes (trace replay, `Replay/PlatformTap.swift`);
    /// nil everywhere else.
    package var tap: (any PlatformTap)?

    /// What the last `returnToUser` would have faulted on in the kernel (the CPU's rule it
    /// broke), or nil. A kernel crash on the machine.
    public private(set) var exitFault: String?
    /// Where `saveCPUState` wrote since the last `enterKernel` (`Properties.savedContexts`).
    package private(set) var savedSinceEntry: [ContextLocation] = []

    /// Number of `saveCPUState` / `loadCPUState` calls, to tell "nothing happened" in tests.
    public private(set) var saves = 0
    public private(set) var loads = 0

    /// A CPU running `root` on its own tables, as the kernel enters it at boot.
    package init(memory: SimulatedMemory, root: Descriptor) {
        self.memory = memory
        rootPartition = root
        currentPartition = root
        cr3 = root.rootTable(memory).paddr
    }

    /// Everything this CPU holds, for before/after comparisons of a refused call.
    public struct State: Equatable {
        public var registers: RegisterFile
        package var currentPartition: PhysicalAddress
        package var cr3: PhysicalAddress
    }
    public var state: State { State(registers: registers, currentPartition: currentPartition.paddr, cr3: cr3) }

    /// `rflags.IF` of the trapped state.
    public var interruptsEnabled: Bool { registers.rflags & UserRegisters.interruptFlag != 0 }

    /// Test harness, not a kernel path: makes `descriptor` (with tables `pml4`) the partition
    /// trapped in the kernel with `registers`, as if it had been running in ring 3.
    package func trap(as descriptor: Descriptor, pml4: PhysicalAddress, registers: RegisterFile) {
        currentPartition = descriptor
        cr3 = pml4
        tlb.flush()
        self.registers = registers
    }

    // MARK: The CPU's part of a kernel entry and exit

    /// The CPU entering the kernel for `event` from ring 3 (the trapped state is ring 3's as it
    /// executed the instruction): SYSCALL puts the return rip in rcx and rflags in r11, which
    /// the kernel's frame then holds as ring 3's rcx and r11.
    package func enterKernel(_ event: TrapEvent) {
        exitFault = nil
        savedSinceEntry = []
        if case .systemCall = event {
            registers[ContextLayout.rcx] = registers.rip
            registers[ContextLayout.r11] = registers.rflags
        }
    }

    /// The way back to ring 3 after a kernel entry that did not end in the crash report:
    /// `sprig_trap_return` nulls DS, ES, FS and GS, then `iretq` (SDM Vol. 2A, IRET, IA-32e
    /// mode, return to outer privilege level): a return rip that is not canonical is #GP(0)
    /// raised by the `iretq` itself, at CPL 0 (the model records it in `exitFault`; the machine
    /// would print the kernel crash report); a data segment register whose descriptor is not
    /// usable at CPL 3 is nulled.
    public func returnToUser() {
        registers.dataSelectors = [0, 0, 0, 0]
        if !Segments.isCanonical(registers.rip) {
            exitFault = "iretq to the non-canonical rip \(Domain.hex(registers.rip)): #GP(0) at CPL 0, a kernel crash"
        }
        for i in registers.dataSelectors.indices where !Segments.keptByIRETToRing3(registers.dataSelectors[i]) {
            registers.dataSelectors[i] = 0
        }
    }

    /// A ring-3 access by the running partition to `va`, as the MMU makes it: through the TLB,
    /// else a walk of the tables at CR3 (`ModelTLB.access`).
    package func userAccess(_ va: UInt64, write: Bool) -> Result<PhysicalAddress, Status> {
        tlb.access(memory, pml4: cr3, va: VirtualAddress(va), write: write)
    }

    // MARK: Platform (memory)

    package func load(_ paddr: PhysicalAddress) -> UInt64 {
        accesses?.note(.load, paddr.raw, by: currentPartition.paddr.raw)
        tap?.willLoad(paddr)
        return memory.load(paddr)
    }
    package func store(_ paddr: PhysicalAddress, _ value: UInt64) {
        accesses?.note(.store, paddr.raw, by: currentPartition.paddr.raw)
        memory.store(paddr, value)
        tap?.didStore(paddr, value)
    }
    package func zeroPage(_ page: PhysicalAddress) {
        accesses?.note(.store, page.raw, by: currentPartition.paddr.raw)
        memory.zeroPage(page)
        tap?.didZeroPage(page)
    }
    public func translationCacheLoad(_ index: Int) -> UInt64 {
        let v = memory.translationCacheLoad(index)
        tap?.didLoadTranslationCache(index, v)
        return v
    }
    public func translationCacheStore(_ index: Int, _ value: UInt64) {
        memory.translationCacheStore(index, value)
        tap?.didStoreTranslationCache(index, value)
    }
    package func copy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64) {
        accesses?.note(.load, range: source.raw, bytes: bytes, by: currentPartition.paddr.raw)
        accesses?.note(.store, range: destination.raw, bytes: bytes, by: currentPartition.paddr.raw)
        memory.copy(from: source, to: destination, bytes: bytes)
        tap?.didCopy(from: source, to: destination, bytes: bytes)
    }
    // The writers SprigCore calls (with the `WriteAccess` only its KernelWrites.swift makes);
    // the model's own code and the tests write through the ones above.
    package func store(_ paddr: PhysicalAddress, _ value: UInt64, _ access: WriteAccess) { store(paddr, value) }
    package func zeroPage(_ page: PhysicalAddress, _ access: WriteAccess) { zeroPage(page) }
    package func copy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64, _ access: WriteAccess) {
        copy(from: source, to: destination, bytes: bytes)
    }
    package func invalidateTranslation(_ va: VirtualAddress) {
        tlb.invalidate(va)
        tap?.didInvalidateTranslation(va)
    }

    // MARK: CPUPlatform

    package func setCurrentPartition(_ descriptor: Descriptor) {
        currentPartition = descriptor
        tap?.didSetCurrentPartition(descriptor.paddr)
    }
    package func switchAddressSpace(_ rootTable: RootTable) {
        cr3 = rootTable.paddr
        tlb.flush()
        tap?.didSwitchAddressSpace(rootTable.paddr)
    }

    // MARK: FXSAVE and FXRSTOR, as the CPU does them

    /// Whether FXSAVE writes the x87 last-instruction state (FOP, 11 bits at bytes 6…7; FIP,
    /// FDP: words 1 and 2) as the last x87 instruction left it and FXRSTOR loads it: no on QEMU's
    /// TCG, the machine the trace replays, which writes zeros there and loads nothing.
    public static let keepsX87Pointers = false

    /// The bytes of FXSAVE word `w` the CPU holds as state: the bytes FXSAVE writes
    /// (`SpecFXSAVE`, the SDM's layout) but the reserved byte 5 (written as 0), FOP's five
    /// reserved bits and, unless `keepsX87Pointers`, FOP, FIP and FDP (written as 0).
    public static func heldBytes(word w: Int) -> UInt64 {
        switch w {
        case 0: return keepsX87Pointers ? 0x07FF_00FF_FFFF_FFFF : 0x0000_00FF_FFFF_FFFF
        case 1, 2: return keepsX87Pointers ? ~0 : 0
        default: return SpecFXSAVE.writtenMask(word: w)
        }
    }

    /// FXSAVE over the 64 words `image` held: the bytes it writes from the registers, the others
    /// as they were (the ST slots' padding, bytes 416…511).
    func fxsave(over image: [UInt64]) -> [UInt64] {
        (0..<image.count).map { w in
            let written = UserRegisters.fxsaveWrittenBytes(word: w)
            return image[w] & ~written | registers.fpu[w] & written
        }
    }

    /// FXRSTOR from `image` (MXCSR already acceptable): the FXSAVE-form registers it defines,
    /// zero in every byte the CPU does not hold, the status word's B bit (15) a copy of its ES
    /// bit (7) as on every x87 since the 387, MXCSR_MASK the CPU's.
    func fxrstor(_ image: [UInt64]) -> [UInt64] {
        var fpu = (0..<image.count).map { image[$0] & Self.heldBytes(word: $0) }
        fpu[0] = fpu[0] & ~(1 << 31) | (fpu[0] >> 23 & 1) << 31
        fpu[3] = fpu[3] & 0xFFFF_FFFF | UInt64(mxcsrMask) << 32
        return fpu
    }

    /// The kernel's FXSAVE staging area (`sprig_fpu_area`), kernel memory outside RAM: a context
    /// that straddles two pages is saved and loaded through it, and so is one whose MXCSR must be
    /// sanitized. It keeps the last image that went through it.
    public private(set) var stagingArea = [UInt64](repeating: 0, count: ContextLayout.fpuSize / 8)

    /// As the machine (`X86Platform.saveCPUState`): on one page, FXSAVE straight into the
    /// context (the bytes it does not write keep the slot's own bytes); over two pages, FXSAVE
    /// into the staging area, the bytes it does not write zeroed there, then copied. Either way
    /// the owner's words (`ContextLayout.reserved..<fpu`, FXSAVE bytes `fpuAvailable…`) are not
    /// written.
    package func saveCPUState(to location: ContextLocation, flags: UInt64, returnValue: UInt64?) {
        saves += 1
        accesses?.note(.contextSave, location, by: currentPartition.paddr.raw)
        savedSinceEntry.append(location)
        let fpuWords = ContextLayout.fpuSize / 8
        var image: [UInt64]
        if location.isOnOnePage {
            image = fxsave(over: (0..<fpuWords).map { memory.load(location.word(at: ContextLayout.fpu + 8 * $0)) })
        } else {
            stagingArea = fxsave(over: stagingArea)
            for w in 0..<fpuWords { stagingArea[w] &= UserRegisters.fxsaveWrittenBytes(word: w) }
            image = stagingArea
        }
        var offset = 0
        while offset < ContextLayout.size {
            defer { offset += 8 }
            guard !Self.isOwners(offset) else { continue }
            let value = offset >= ContextLayout.fpu ? image[(offset - ContextLayout.fpu) / 8]
                : savedWord(at: offset, flags: flags, returnValue: returnValue)
            memory.store(location.word(at: offset), value)
        }
        tap?.didSaveCPUState(to: location, flags: flags, returnValue: returnValue)
    }

    /// Whether the context word at `offset` is the owner's, which no save writes: a reserved
    /// word, or FXSAVE bytes `ContextLayout.fpuAvailable…`.
    package static func isOwners(_ offset: Int) -> Bool {
        (ContextLayout.reserved..<ContextLayout.fpu).contains(offset) || offset >= ContextLayout.fpu + ContextLayout.fpuAvailable
    }

    private func savedWord(at offset: Int, flags: UInt64, returnValue: UInt64?) -> UInt64 {
        switch offset {
        case ContextLayout.rip: return registers.rip
        case ContextLayout.rsp: return registers.rsp
        case ContextLayout.rflags: return registers.rflags
        case ContextLayout.rax: return returnValue ?? registers[ContextLayout.rax]
        case ContextLayout.gprs..<(ContextLayout.gprs + 8 * ContextLayout.gprCount): return registers[offset]
        case ContextLayout.flags: return flags
        case ContextLayout.valid: return 1
        default: preconditionFailure("no other word is saved")
        }
    }

    public var trappedRIP: UInt64 { registers.rip }
    public func setTrappedRIP(_ rip: UInt64) { registers.rip = rip }

    public func setTrappedInterruptFlag(_ enabled: Bool) {
        registers.rflags = enabled ? registers.rflags | UserRegisters.interruptFlag : registers.rflags & ~UserRegisters.interruptFlag
        tap?.didSetTrappedInterruptFlag(enabled)
    }

    package func loadCPUState(from location: ContextLocation, interruptsEnabled: Bool, delivery: DeliveryInfo?) {
        loads += 1
        accesses?.note(.contextLoad, location, by: currentPartition.paddr.raw)
        tap?.willLoadCPUState(from: location, interruptsEnabled: interruptsEnabled, delivery: delivery)
        var r = RegisterFile()
        // The data selectors are the exit path's business (`returnToUser`), as on the machine.
        r.dataSelectors = registers.dataSelectors
        func word(_ offset: Int) -> UInt64 { memory.load(location.word(at: offset)) }
        r.rip = UserRegisters.rip(word(ContextLayout.rip))
        r.rsp = word(ContextLayout.rsp)
        r.rflags = UserRegisters.rflags(word(ContextLayout.rflags), interruptsEnabled: interruptsEnabled)
        for i in 0..<ContextLayout.gprCount { r.gprs[i] = word(ContextLayout.gprs + 8 * i) }
        // As the machine: FXRSTOR straight from a one-page context whose MXCSR is acceptable,
        // else from the staging area, the context copied there with MXCSR sanitized (MXCSR_MASK,
        // bytes 28…31, is read-only CPU information FXRSTOR ignores: the copy has 0 there).
        let image = (0..<(ContextLayout.fpuSize / 8)).map { word(ContextLayout.fpu + 8 * $0) }
        let mxcsr = UInt32(truncatingIfNeeded: image[3])
        let sane = UserRegisters.mxcsr(mxcsr, mask: mxcsrMask)
        if location.isOnOnePage && sane == mxcsr {
            r.fpu = fxrstor(image)
        } else {
            stagingArea = image
            stagingArea[3] = UInt64(sane)
            r.fpu = fxrstor(stagingArea)
        }
        if let d = delivery {
            r[Delivery.sourceRegister] = d.source
            r[Delivery.vectorRegister] = d.vector
            r[Delivery.errorCodeRegister] = d.errorCode
            r[Delivery.faultAddressRegister] = d.faultAddress
            r[Delivery.savedAtRegister] = d.savedAt
        }
        registers = r
    }
}

/// The kernel's GDT (entry.S `sprig_gdt`) as far as ring 3 can touch it, and the CPU's rules
/// for its selectors.
public enum Segments {
    /// Selectors whose descriptor is DPL 3 (index 3 user data, index 4 user code, readable).
    static let userIndices: Set<UInt64> = [3, 4]

    /// Whether a selector in a data segment register survives `iretq` to CPL 3: a null selector
    /// (index 0), or one whose descriptor is DPL 3; the kernel's (DPL 0) are nulled.
    public static func keptByIRETToRing3(_ selector: UInt64) -> Bool {
        let index = selector >> 3
        return index == 0 || (selector & 4 == 0 && userIndices.contains(index))
    }

    /// Whether ring 3 can load `selector` into DS, ES, FS or GS (`mov` to a segment register):
    /// null (any RPL), or a GDT descriptor of DPL 3 with max(CPL, RPL) ≤ DPL. Anything else is
    /// #GP(selector) in ring 3.
    public static func loadableInRing3(_ selector: UInt64) -> Bool {
        selector <= 0xFFFF && keptByIRETToRing3(selector)
    }

    /// Bits 63…47 all equal (48-bit virtual addresses).
    public static func isCanonical(_ va: UInt64) -> Bool {
        let top = va >> 47
        return top == 0 || top == 0x1_FFFF
    }
}
