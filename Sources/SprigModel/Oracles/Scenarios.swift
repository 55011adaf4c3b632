/// Start states for the explorer that the tree start (`ExplorationStart.tree`) cannot reach in a
/// few steps, built through the real services the way a partition would build them: the
/// explorer then runs its usual steps and every check from there (`sprig-check --scenario NAME`,
/// a stage of `sprig mutate`).
///
/// * `reclaim` — root and one child A whose configuration list spans **two pages**, the newest
///   (the head) holding only the three structure pages of the table that maps
///   `DomainAddress.childBase` (prepared, nothing mapped there), and A holding pages at the
///   **first and last entries** of its tables: a page at vaddr 0 (entry 0 at every level) and its
///   VIDT page (the last lower-half entry at every level). The domain's `collect(A, childBase)`
///   then empties and gives back the second configuration page, and `deletePartition(A)` walks
///   both configuration pages and every table from its first entry to its last.
import SprigABI
import SprigCore

/// See the file overview.
public enum Scenario: String, CaseIterable, Sendable {
    case reclaim

    /// Physical pages of the scenario's machine.
    public var pages: Int { 480 }

    /// A fresh system in the scenario's state, root running.
    public func makeSystem() -> ModelSystem {
        let system = ModelSystem(pages: pages, kernelImagePages: 1)
        switch self {
        case .reclaim: Self.buildReclaim(system.machine)
        }
        system.cpu.registers = RegisterMarks.registers(of: system.current, interruptsEnabled:
            system.cpu.currentPartition.interruptState(system.memory).isEnabled)
        return system
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
        // Fill the first configuration page with page tables under root-table entry 1 until the
        // table for childBase (its directory exists: vaddr 0's) no longer fits in it.
        var filler: UInt64 = 0
        while true {
            let need = m.call(root, .countToMap, s[0], DomainAddress.childBase)
            precondition(need.status == .success && need.value >= 3, "scenario: countToMap \(need)")
            if need.value > 3 { break }
            m.prepare(root, child: s[0], va: (1 << 39) | filler << 21)
            filler += 1
            precondition(filler < 256, "scenario: the configuration page never filled")
        }
        m.prepare(root, child: s[0], va: DomainAddress.childBase)
    }
}
