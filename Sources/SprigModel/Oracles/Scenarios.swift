/// Start states for the explorer that the tree start (`ExplorationStart.tree`) cannot reach in a
/// few steps, built through the real services (and yields) the way partitions would build them: the
/// explorer then runs its usual steps and every check from there (`sprig-check --scenario NAME`,
/// a stage of `sprig mutate`).
///
/// * `reclaim` — root and one child A whose configuration list spans **three pages**: the oldest
///   full, holding among others the three structure pages of the page table that maps
///   `DomainAddress.childBase`; the second full too (252 entries: page tables come three
///   entries at a time); the newest (the head) holding only the three of the table that maps
///   `DomainAddress.newRegion` (both prepared, nothing mapped there); A holds pages at the
///   **first and last entries** of its tables: a page at vaddr 0 (entry 0 at every level) and its
///   VIDT page (the last lower-half entry at every level). The domain's `collect(A, newRegion)`
///   then empties and gives back the head; `collect(A, childBase)` removes entries of the oldest
///   page, each hole filled with the head's last entry, so that it too empties the head; and
///   `deletePartition(A)` walks every configuration page and every table from its first entry
///   to its last.
/// * `faults` — a chain of five partitions, root → A → B → C → D (one level deeper than the
///   generated start trees), each with the tree start's VIDT entries, root's `VIDT[8]` (the
///   double fault) set as well, and **D running**, reached by yields down the chain. A fault of D
///   at a vector nobody above has set goes up as a double fault through C, B and A to root's
///   `VIDT[8]`: every step of the ancestor walk the routing bounds by the tree depth. D was
///   entered from a context on its read-only page (`VIDT[32]`), so the kernel has just read that
///   page: saving D there must still be refused. C's `VIDT[255]`, where D's `int 255` goes,
///   names a context one byte past a 16-byte boundary.
/// * `deliveries` — the tree start (root → A → B) with root's `VIDT[8]` set as well, and **B
///   running** with a **warm yield cache**: root yielded to A **masking interrupts** while
///   away, A to B, B to its parent at its own STI slot (`yield(0, 2, stiSave)` to a context at
///   A's `VIDT[2]`, kept by the yield cache for B), and A to B again. An NMI while B runs goes
///   to root (which has no `VIDT[2]`: dropped), though the cache holds B's plan for the same
///   `yield(0, 2, stiSave)` to A; a timer interrupt is dropped, root having masked it; after B
///   yields to A, a fault of A at a vector root has not set is root's double fault at
///   `VIDT[8]`, the second chance of a child of root, without the error code and CR2 of the
///   fault.
import SprigABI
import SprigCore

/// See the file overview.
public enum Scenario: String, CaseIterable, Sendable {
    case reclaim
    case faults
    case deliveries

    /// Physical pages of the scenario's machine.
    public var pages: Int {
        switch self {
        case .reclaim: return 800
        case .faults, .deliveries: return TreeShape.pages
        }
    }

    /// A fresh system in the scenario's state (root running, but D in `faults`, B in `deliveries`).
    public func makeSystem() -> ModelSystem {
        let system: ModelSystem
        switch self {
        case .reclaim:
            system = ModelSystem(pages: pages, kernelImagePages: 1)
            Self.buildReclaim(system.machine)
        case .faults:
            system = TreeShape(parents: [0, 1, 2, 3]).makeSystem(pages: pages)
            Self.buildFaults(system)
        case .deliveries:
            system = TreeShape(parents: [0, 1]).makeSystem(pages: pages)
            Self.buildDeliveries(system)
        }
        system.cpu.registers = RegisterMarks.registers(of: system.current, interruptsEnabled:
            system.cpu.currentPartition.interruptState(system.memory).isEnabled)
        return system
    }

    private static func buildFaults(_ system: ModelSystem) {
        let m = system.machine
        let rootView = CallerView(m.tree(), 0, m)
        setVIDTEntry(m, m.root, VIDTIndex.doubleFault, Domain.vidtValues(rootView, slot: 0)[1])
        // Down the chain: each partition yields to its one child at VIDT[32], saving itself at
        // its STI slot.
        for level in 0..<4 {
            let t = m.tree()
            guard let me = t.partitions.firstIndex(where: { $0.descriptor == system.current.raw }),
                  let childIndex = t.partitions[me].children.first,
                  let child = CallerView(t, me, m).children.first else { preconditionFailure("scenario: no child to yield to") }
            if level == 3 {
                // D: its VIDT[32] on its read-only page; C: its VIDT[255] misaligned.
                let d = CallerView(t, childIndex, m)
                guard let readOnly = d.readOnly else { preconditionFailure("scenario: D has no read-only page") }
                setVIDTEntry(m, PhysicalAddress(t.partitions[childIndex].descriptor), 32, readOnly)
                setVIDTEntry(m, system.current, 255, Domain.vidtValues(CallerView(t, me, m), slot: 0)[1] + 1)
            }
            let outcome = ExplorationStep.call(.yield, child, 32, VIDTIndex.stiSave, 0, 0).apply(to: system)
            guard case .trapped(_, .resume) = outcome else { preconditionFailure("scenario: yield \(outcome)") }
        }
    }

    private static func buildDeliveries(_ system: ModelSystem) {
        let m = system.machine
        setVIDTEntry(m, m.root, VIDTIndex.doubleFault, Domain.vidtValues(CallerView(m.tree(), 0, m), slot: 0)[1])
        func yield(toChild: Bool, target: UInt64 = 32, masked: Bool = false) {
            let t = m.tree()
            guard let me = t.partitions.firstIndex(where: { $0.descriptor == system.current.raw }) else {
                preconditionFailure("scenario: the current partition is not in the tree")
            }
            let callee = toChild ? CallerView(t, me, m).children.first : 0
            guard let callee else { preconditionFailure("scenario: no child to yield to") }
            let step = ExplorationStep.call(.yield, callee, target, VIDTIndex.stiSave, masked ? 1 : 0, 0)
            guard case .trapped(_, .resume) = step.apply(to: system) else { preconditionFailure("scenario: \(step)") }
        }
        // root → A, root masking interrupts while away; A's VIDT[2] a context of A's.
        yield(toChild: true, masked: true)
        let t = m.tree()
        guard let a = t.partitions.firstIndex(where: { $0.descriptor == system.current.raw }) else {
            preconditionFailure("scenario: A is not in the tree")
        }
        setVIDTEntry(m, system.current, VIDTIndex.nmi, Domain.vidtValues(CallerView(t, a, m), slot: 0)[1])
        // A → B, B back to A at VIDT[2] (kept in the yield cache), A → B.
        yield(toChild: true)
        yield(toChild: false, target: VIDTIndex.nmi)
        yield(toChild: true)
    }

    /// Writes `partition`'s VIDT entry `index` as ring 3 would.
    private static func setVIDTEntry(_ m: ModelMachine, _ partition: PhysicalAddress, _ index: UInt64, _ value: UInt64) {
        guard let pa = m.translate(partition, AddressSpace.vidt + 8 * index, write: true) else {
            preconditionFailure("scenario: VIDT entry \(index)")
        }
        m.memory.store(pa, value)
    }

    private static func buildReclaim(_ m: ModelMachine) {
        let root = m.root
        let s = (0..<5).map { _ in m.takePage(root) }
        let created = m.call(root, .createPartition, s[0], s[1], s[2], s[3], s[4])
        precondition(created.status == .success, "scenario: createPartition \(created.status)")
        let rw = Rights.read | Rights.write
        for va in [AddressSpace.vidt, 0] {
            m.prepare(root, child: s[0], va: va)
            let r = m.call(root, .addVAddr, m.takePage(root), s[0], va, rw)
            precondition(r.status == .success, "scenario: addVAddr \(r.status)")
        }
        m.prepare(root, child: s[0], va: DomainAddress.childBase)
        // Fill the head configuration page with page tables under root-table entry 1 until the
        // table for newRegion (its directory exists: vaddr 0's) no longer fits in it: the first
        // page, then a second one (which a page table's three entries at a time fill to 252).
        var filler: UInt64 = 0
        func fillHead() {
            while true {
                let need = m.call(root, .countToMap, s[0], DomainAddress.newRegion)
                precondition(need.status == .success && need.value >= 3, "scenario: countToMap \(need)")
                if need.value > 3 { return }
                m.prepare(root, child: s[0], va: (1 << 39) | filler << 21)
                filler += 1
                precondition(filler < 512, "scenario: the configuration page never filled")
            }
        }
        fillHead()
        m.prepare(root, child: s[0], va: (1 << 39) | filler << 21)
        filler += 1
        fillHead()
        m.prepare(root, child: s[0], va: DomainAddress.newRegion)
    }
}
