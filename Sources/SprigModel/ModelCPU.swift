/// The host `CPUPlatform`: a simulated x86-64 register file over `SimulatedMemory`.
///
/// `ModelCPU` stands for the machine's trapped state: the registers of the partition that
/// entered the kernel (general registers, rip, rsp, rflags, the 512-byte FXSAVE image), CR3 and
/// the current partition. Tests play ring 3 by writing `registers` and then calling a kernel
/// entry as the current partition; they read back what ring 3 would resume with.
///
/// It implements `saveCPUState`/`loadCPUState` exactly as the core requires of every platform
/// (see `Platform.swift`): the whole context is written, reserved bytes as zeros; loading
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
    public let rootPartition: PhysicalAddress
    public private(set) var currentPartition: PhysicalAddress
    public private(set) var cr3: PhysicalAddress
    /// The trapped state; a test writes it to play ring 3.
    public var registers = RegisterFile()
    /// The CPU's MXCSR_MASK (what FXSAVE reports).
    public var mxcsrMask: UInt32 = UserRegisters.defaultMXCSRMask

    /// Watches every platform request the kernel makes (trace replay, `Replay/PlatformTap.swift`);
    /// nil everywhere else.
    public var tap: (any PlatformTap)?

    /// What the last `returnToUser` would have faulted on in the kernel (the CPU's rule it
    /// broke), or nil. A kernel crash on the machine.
    public private(set) var exitFault: String?

    /// Number of `saveCPUState` / `loadCPUState` calls, to tell "nothing happened" in tests.
    public private(set) var saves = 0
    public private(set) var loads = 0

    public init(memory: SimulatedMemory, root: PhysicalAddress, rootPML4: PhysicalAddress) {
        self.memory = memory
        rootPartition = root
        currentPartition = root
        cr3 = rootPML4
    }

    /// Everything this CPU holds, for before/after comparisons of a refused call.
    public struct State: Equatable {
        public var registers: RegisterFile
        public var currentPartition: PhysicalAddress
        public var cr3: PhysicalAddress
    }
    public var state: State { State(registers: registers, currentPartition: currentPartition, cr3: cr3) }

    /// `rflags.IF` of the trapped state.
    public var interruptsEnabled: Bool { registers.rflags & UserRegisters.interruptFlag != 0 }

    /// Test harness, not a kernel path: makes `descriptor` (with tables `pml4`) the partition
    /// trapped in the kernel with `registers`, as if it had been running in ring 3.
    public func trap(as descriptor: PhysicalAddress, pml4: PhysicalAddress, registers: RegisterFile) {
        currentPartition = descriptor
        cr3 = pml4
        self.registers = registers
    }

    // MARK: The CPU's part of a kernel entry and exit

    /// The CPU entering the kernel for `event` from ring 3 (the trapped state is ring 3's as it
    /// executed the instruction): SYSCALL puts the return rip in rcx and rflags in r11, which
    /// the kernel's frame then holds as ring 3's rcx and r11.
    public func enterKernel(_ event: TrapEvent) {
        exitFault = nil
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

    // MARK: Platform (memory)

    public func load(_ paddr: PhysicalAddress) -> UInt64 {
        tap?.willLoad(paddr)
        return memory.load(paddr)
    }
    public func store(_ paddr: PhysicalAddress, _ value: UInt64) {
        memory.store(paddr, value)
        tap?.didStore(paddr, value)
    }
    public func zeroPage(_ page: PhysicalAddress) {
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
    public func copy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64) {
        memory.copy(from: source, to: destination, bytes: bytes)
        tap?.didCopy(from: source, to: destination, bytes: bytes)
    }

    // MARK: CPUPlatform

    public func setCurrentPartition(_ descriptor: PhysicalAddress) {
        currentPartition = descriptor
        tap?.didSetCurrentPartition(descriptor)
    }
    public func switchAddressSpace(_ pml4: PhysicalAddress) {
        cr3 = pml4
        tap?.didSwitchAddressSpace(pml4)
    }

    /// FXSAVE leaves bytes 464…511 of its image unwritten; the model, like the machine, stores
    /// zeros there.
    static let fxsaveWrittenWords = 464 / 8

    public func saveCPUState(to location: ContextLocation, flags: UInt64, returnValue: UInt64?) {
        saves += 1
        var offset = 0
        while offset < ContextLayout.size {
            memory.store(location.word(at: offset), savedWord(at: offset, flags: flags, returnValue: returnValue))
            offset += 8
        }
        tap?.didSaveCPUState(to: location, flags: flags, returnValue: returnValue)
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
        case ContextLayout.fpu..<(ContextLayout.fpu + ContextLayout.fpuSize):
            let w = (offset - ContextLayout.fpu) / 8
            return w < Self.fxsaveWrittenWords ? registers.fpu[w] : 0
        default: return 0
        }
    }

    public var trappedRIP: UInt64 { registers.rip }
    public func setTrappedRIP(_ rip: UInt64) { registers.rip = rip }

    public func setTrappedInterruptFlag(_ enabled: Bool) {
        registers.rflags = enabled ? registers.rflags | UserRegisters.interruptFlag : registers.rflags & ~UserRegisters.interruptFlag
        tap?.didSetTrappedInterruptFlag(enabled)
    }

    public func loadCPUState(from location: ContextLocation, interruptsEnabled: Bool, delivery: DeliveryInfo?) {
        loads += 1
        tap?.willLoadCPUState(from: location, interruptsEnabled: interruptsEnabled, delivery: delivery)
        var r = RegisterFile()
        func word(_ offset: Int) -> UInt64 { memory.load(location.word(at: offset)) }
        r.rip = UserRegisters.rip(word(ContextLayout.rip))
        r.rsp = word(ContextLayout.rsp)
        r.rflags = UserRegisters.rflags(word(ContextLayout.rflags), interruptsEnabled: interruptsEnabled)
        for i in 0..<ContextLayout.gprCount { r.gprs[i] = word(ContextLayout.gprs + 8 * i) }
        for w in 0..<Self.fxsaveWrittenWords { r.fpu[w] = word(ContextLayout.fpu + 8 * w) }
        // MXCSR is the low half of FXSAVE word 3 (bytes 24…27); MXCSR_MASK (28…31) is
        // read-only CPU information, so the loaded image shows the CPU's own.
        let mxcsr = UserRegisters.mxcsr(UInt32(truncatingIfNeeded: r.fpu[3]), mask: mxcsrMask)
        r.fpu[3] = UInt64(mxcsr) | (UInt64(mxcsrMask) << 32)
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
