/// What the explorer checks after every step: the oracle.
///
/// * **Properties** — every isolation property of DESIGN.md §7 (`Properties.all`, the same as
///   `ModelMachine.checkAllProperties()`) on each *new* state. Properties depend on the state
///   only, so a state reached again was already checked.
/// * **Register hygiene** — before each step the running partition holds its `RegisterMarks`.
///   After a step that switched from A to B, a register of B holding one of A's marks is a leak
///   unless B could read that very value in its memory before the step (B resumed a context
///   saved there earlier, which it could read anyway). Also: a non-root partition runs with
///   `rflags.IF` set, no FXSAVE byte the CPU holds no register for is set, and after every kernel exit
///   `Properties.resumedState`: null data selectors (the marks load user selectors), rip in
///   the lower half, and no CPU rule broken on the way out (an `iretq` to a non-canonical rip).
/// * **Refusals change nothing** — a service that returned an error, a refused `int n` or
///   machine service, and a kernel crash leave memory, the current partition and CR3 as they
///   were (DESIGN.md §4: check everything, then change).
/// * **Refinement** — the abstract specification's verdict on every kernel entry
///   (Sources/SprigModel/Spec, `RefinementChecker`): a checker is made from the state just
///   before the entry (registers set, so ring 3's writes are already in it) and steps with the
///   event and the outcome. Pure ring-3 writes do not enter the kernel and are not checked.
/// * **TLB** — after every kernel entry, no translation cached in the CPU's TLB (`ModelTLB`)
///   grants the running partition more than its tables do: the kernel dropped every
///   translation it reduced (`Platform.invalidateTranslation`).
/// * **Dereference** — every load and store the kernel made in the entry landed on a kernel page
///   or on a page the partition it was made for can reach (`Properties.dereference`, from the
///   requests the model CPU recorded).
/// * **Extra** — a caller-supplied predicate (`Explorer.Configuration.extraCheck`), for tests
///   that plant a violation and for experiments.
import SprigABI
import SprigCore

/// One thing the oracle found wrong after a step.
public struct Finding: Equatable, Sendable, CustomStringConvertible {
    /// Which check found it.
    public enum Check: String, Sendable, CaseIterable {
        case property, registerHygiene, refusalChangedState, refinement, staleTLB, dereference, extra
    }
    public var check: Check
    public var detail: String

    /// A finding of `check`.
    public init(_ check: Check, _ detail: String) { self.check = check; self.detail = detail }

    /// `check: detail`.
    public var description: String { "\(check.rawValue): \(detail)" }
}

/// Which checks run; all by default.
public struct OracleConfiguration: Equatable, Sendable {
    public var properties = true
    public var registerHygiene = true
    public var refusals = true
    public var refinement = true
    public var tlb = true
    public var dereference = true
    /// Every check on.
    public init() {}
}

/// A predicate run after every step, besides the built-in checks: the step, what it did, the
/// system after it. Returns what it found wrong (empty when fine).
package typealias ExtraCheck = (ExplorationStep, StepOutcome, ModelSystem) -> [String]

/// The checks around one step, given the state before it.
struct Oracle {
    var configuration: OracleConfiguration
    var extra: ExtraCheck?

    /// What the oracle remembers from just before a step (after its registers are set).
    struct Before {
        var partition: PhysicalAddress
        var image: StateImage
        var refinement: RefinementChecker?
        /// The partition tree of the state (for the dereference property).
        var tree: PartitionTree
    }

    /// `abstraction`, when given, is the abstraction of the memory as it is (the state's, taken
    /// once for all the steps from it): only the CPU's part is taken again.
    func before(_ system: ModelSystem, image: StateImage, tree: PartitionTree, abstraction: AbstractState? = nil) -> Before {
        // A write step enters the kernel only when it faults; its checker starts from the state
        // as it is, which is the state the fault is taken in (a faulting write writes nothing).
        var checker: RefinementChecker?
        if configuration.refinement {
            checker = abstraction.map { RefinementChecker(state: Abstraction.of(system, sameMemoryAs: $0)) } ?? RefinementChecker(system)
        }
        return Before(partition: system.current, image: image, refinement: checker, tree: tree)
    }

    /// The per-step checks (not the properties, which are per state: `properties`).
    /// `memoryChanged` false says no word was stored since `before` (the abstraction and the
    /// tree of memory are then taken from it); `tree`, when given, is the tree of the memory
    /// after the step. `abstraction` is set to the abstraction of the state after the step when
    /// the refinement check took one (nil otherwise).
    func after(_ before: Before, _ step: ExplorationStep, _ outcome: StepOutcome, _ system: ModelSystem,
               image after: StateImage, store: StateStore, memoryChanged: Bool = true, tree: PartitionTree? = nil,
               abstraction: inout AbstractState?) -> [Finding] {
        var out: [Finding] = []
        abstraction = nil
        if configuration.refusals, let trap = outcome.trap, Self.isRefusal(trap.outcome, system),
           after.hash != before.image.hash {
            out.append(Finding(.refusalChangedState,
                "\(ExplorationStep.render(trap.event)) was refused (\(outcome)) but the state changed: "
                + Self.difference(before.image, after, store: store)))
        }
        if var checker = before.refinement, let trap = outcome.trap {
            let concrete = memoryChanged ? Abstraction.of(system) : Abstraction.of(system, sameMemoryAs: checker.state)
            abstraction = concrete
            out += checker.step(trap.event, outcome: trap.outcome, concrete: concrete).map { Finding(.refinement, $0.detail) }
        }
        if configuration.registerHygiene { out += hygiene(before, entered: outcome.trap != nil, system, store: store) }
        if configuration.tlb, outcome.trap != nil, !system.crashed { out += Self.staleTLB(system) }
        if configuration.dereference, outcome.trap != nil, let accesses = system.cpu.accesses {
            out += Properties.dereference(accesses, before: before.tree, after: { tree ?? (memoryChanged ? system.machine.tree() : before.tree) },
                                          kernelPages: system.machine.kernelPages, firmwarePages: ModelMachine.firmwarePages)
                .map { Finding(.dereference, String($0.description.dropFirst("dereference: ".count))) }
        }
        if let extra { out += extra(step, outcome, system).map { Finding(.extra, $0) } }
        return out
    }

    /// After the kernel returns to ring 3, no TLB entry lets the running partition reach more
    /// than its tables do (`ModelTLB.stale`): the kernel asked to drop every translation it
    /// reduced. Every later ring-3 access then reaches what the tables allow.
    static func staleTLB(_ system: ModelSystem) -> [Finding] {
        system.cpu.tlb.stale(system.memory, pml4: system.cpu.cr3).map {
            Finding(.staleTLB, "\(Explorer.name(system.current, system)): \($0)")
        }
    }

    /// The isolation properties on a state, from its tree.
    func properties(_ tree: PartitionTree, _ system: ModelSystem) -> [Finding] {
        guard configuration.properties else { return [] }
        let m = system.machine
        return Properties.all(tree, kernelPages: m.kernelPages, kernelPML4: m.kernelPML4, memory: m.memory,
                              kernelWindow: m.kernelWindow)
            .map { Finding(.property, $0.description) }
    }

    /// A refused answer: nothing may have changed.
    static func isRefusal(_ outcome: TrapOutcome, _ system: ModelSystem) -> Bool {
        switch outcome {
        case .returned(let s, _): return s != .success
        case .interruptRefused: return true
        case .machineService: return system.cpu.registers[ContextLayout.rax] != Status.success.rawValue
        case .kernelCrash: return true
        case .resume: return false
        }
    }

    private func hygiene(_ before: Before, entered: Bool, _ system: ModelSystem, store: StateStore) -> [Finding] {
        let a = before.partition, b = system.current
        let r = system.cpu.registers
        var out: [Finding] = []
        if b != system.cpu.rootPartition.paddr && !system.cpu.interruptsEnabled && !system.crashed {
            out.append(Finding(.registerHygiene, "non-root partition \(Explorer.name(b, system)) runs with IF clear"))
        }
        // After a return to ring 3 (not the crash report, unless the return itself faulted).
        if entered && system.poweredOff == nil && (!system.crashed || system.cpu.exitFault != nil) {
            out += Properties.resumedState(system.cpu).map { Finding(.registerHygiene, "\(Explorer.name(b, system)): \($0.detail)") }
        }
        if entered { out += Properties.savedContexts(system.cpu).map { Finding(.registerHygiene, $0.detail) } }
        if let w = r.fpu.indices.first(where: { r.fpu[$0] & ~ModelCPU.heldBytes(word: $0) != 0 }) {
            out.append(Finding(.registerHygiene, "FXSAVE word \(w) holds bytes the CPU has no register for"))
        }
        guard a != b else { return out }
        let leaked = Set(r.allWords.filter { RegisterMarks.isMark($0, of: a) })
        guard !leaked.isEmpty else { return out }
        // Values B could read before the step: words of its accessible pages, as they were.
        let readable = readableWords(of: b, system, before: before.image, store: store)
        for w in leaked.sorted() where !readable.contains(w) {
            out.append(Finding(.registerHygiene,
                "\(Explorer.name(b, system)) holds \(Domain.hex(w)), a register value of \(Explorer.name(a, system)), after the switch"))
        }
        return out
    }

    private func readableWords(of partition: PhysicalAddress, _ system: ModelSystem, before: StateImage,
                               store: StateStore) -> Set<UInt64> {
        var words: Set<UInt64> = []
        let t = system.machine.tree()
        guard let p = t.partitions.first(where: { $0.descriptor == partition.raw }) else { return words }
        for leaf in p.leaves where leaf.accessible {
            let first = Int(leaf.paddr / 8)
            for i in first..<(first + Int(AddressSpace.pageSize / 8)) { words.insert(before.word(i, base: store.base)) }
        }
        return words
    }

    /// The first few words that differ between two states, and the CPU's part.
    static func difference(_ x: StateImage, _ y: StateImage, store: StateStore) -> String {
        var parts: [String] = []
        if x.current != y.current { parts.append("current \(Domain.hex(x.current)) → \(Domain.hex(y.current))") }
        if x.cr3 != y.cr3 { parts.append("CR3 \(Domain.hex(x.cr3)) → \(Domain.hex(y.cr3))") }
        let touched = Set(x.indices).union(y.indices).sorted()
        for i in touched where x.word(Int(i), base: store.base) != y.word(Int(i), base: store.base) {
            parts.append("[paddr \(Domain.hex(UInt64(i) * 8))] \(Domain.hex(x.word(Int(i), base: store.base))) → \(Domain.hex(y.word(Int(i), base: store.base)))")
            if parts.count >= 4 { break }
        }
        return parts.joined(separator: ", ")
    }
}
