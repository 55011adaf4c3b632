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
    /// The memory requests of the kernel entry under way, each with the partition current when
    /// it was made (`Properties.dereference`); nil: not recorded. `ModelSystem.trap` starts a
    /// new record for every entry.
    public var accesses: KernelAccesses?
    /// Translations ring 3's accesses cached (`ModelTLB`): dropped by `invalidateTranslation`
    /// and by every CR3 load, nothing else.
    public var tlb = ModelTLB()

    /// Watches every platform request the kernel makes (trace replay, `Replay/PlatformTap.swift`);
    /// nil everywhere else.
    public var tap: (any PlatformTap)?

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
        tlb.flush()
        self.registers = registers
    }

    /// A ring-3 access by the running partition to `va`, as the MMU makes it: through the TLB,
    /// else a walk of the tables at CR3 (`ModelTLB.access`).
    public func userAccess(_ va: UInt64, write: Bool) -> Result<PhysicalAddress, Status> {
        tlb.access(memory, pml4: cr3, va: VirtualAddress(va), write: write)
    }

    // MARK: Platform (memory)

    public func load(_ paddr: PhysicalAddress) -> UInt64 {
        accesses?.note(.load, paddr.raw, by: currentPartition.raw)
        tap?.willLoad(paddr)
        return memory.load(paddr)
    }
    public func store(_ paddr: PhysicalAddress, _ value: UInt64) {
        accesses?.note(.store, paddr.raw, by: currentPartition.raw)
        memory.store(paddr, value)
        tap?.didStore(paddr, value)
    }
    public func zeroPage(_ page: PhysicalAddress) {
        accesses?.note(.store, page.raw, by: currentPartition.raw)
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
        accesses?.note(.load, range: source.raw, bytes: bytes, by: currentPartition.raw)
        accesses?.note(.store, range: destination.raw, bytes: bytes, by: currentPartition.raw)
        memory.copy(from: source, to: destination, bytes: bytes)
        tap?.didCopy(from: source, to: destination, bytes: bytes)
    }
    public func invalidateTranslation(_ va: VirtualAddress) {
        tlb.invalidate(va)
        tap?.didInvalidateTranslation(va)
    }

    // MARK: CPUPlatform

    public func setCurrentPartition(_ descriptor: PhysicalAddress) {
        currentPartition = descriptor
        tap?.didSetCurrentPartition(descriptor)
    }
    public func switchAddressSpace(_ pml4: PhysicalAddress) {
        cr3 = pml4
        tlb.flush()
        tap?.didSwitchAddressSpace(pml4)
    }

    /// FXSAVE leaves bytes 464…511 of its image unwritten; the model, like the machine, stores
    /// zeros there.
    static let fxsaveWrittenWords = 464 / 8

    public func saveCPUState(to location: ContextLocation, flags: UInt64, returnValue: UInt64?) {
        saves += 1
        accesses?.note(.contextSave, location, by: currentPartition.raw)
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

    public func setTrappedInterruptFlag(_ enabled: Bool) {
        registers.rflags = enabled ? registers.rflags | UserRegisters.interruptFlag : registers.rflags & ~UserRegisters.interruptFlag
        tap?.didSetTrappedInterruptFlag(enabled)
    }

    public func loadCPUState(from location: ContextLocation, interruptsEnabled: Bool, delivery: DeliveryInfo?) {
        loads += 1
        accesses?.note(.contextLoad, location, by: currentPartition.raw)
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
