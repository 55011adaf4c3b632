/// The dereference property as an oracle (`Properties.dereference`, DESIGN.md §5): which of a
/// kernel entry's recorded requests it accepts and which it reports, and that every kernel entry
/// of the model records them. CheckMutantTests shows it catching a kernel that saves a context
/// on a kernel structure page, with every other check off.
import SprigABI
import SprigCore
import SprigModel
import Testing

@Suite struct DereferenceTests {
    /// The explorer's start: root → A → B, root running.
    let system = ExplorationStart.tree.makeSystem(pages: 160)

    /// Root's first accessible writable page given to nobody, a structure page root maps (a
    /// child's descriptor), and A's descriptor.
    func pages() -> (writable: UInt64, structure: UInt64, a: UInt64) {
        let t = system.machine.tree()
        let root = t.partitions[0]
        let writable = root.leaves.first { $0.accessible && $0.writable && $0.sh1 == 0 }!.paddr
        let structure = root.leaves.first { !$0.accessible }!.paddr
        return (writable, structure, t.partitions[root.children[0]].descriptor)
    }

    func check(_ a: KernelAccesses) -> [Violation] {
        let t = system.machine.tree()
        return Properties.dereference(a, before: t, after: { t }, kernelPages: system.machine.kernelPages)
    }

    @Test("a context saved or loaded on a kernel structure page is reported, even though words there are the kernel's")
    func contextOnAStructurePage() {
        let p = pages(), root = system.machine.root.raw
        var a = KernelAccesses()
        a.note(.store, p.structure, by: root)
        a.note(.load, p.structure, by: root)
        #expect(check(a).isEmpty, "the kernel's own words on a structure page")
        a.note(.contextSave, p.structure, by: root)
        let v = check(a)
        #expect(v.count == 1 && v[0].kind == .dereference && v[0].page == p.structure
                && v[0].detail.contains("saved a context on a page the partition cannot write"), "\(v)")
        var l = KernelAccesses()
        l.note(.contextLoad, p.structure, by: root)
        #expect(check(l).first?.detail.contains("loaded a context from a page the partition cannot read") == true)
    }

    @Test("a store for a partition lands on a page that partition can write; a load on one it or an ancestor can read")
    func wordsForAPartition() {
        let p = pages(), root = system.machine.root.raw
        var ok = KernelAccesses()
        ok.note(.store, p.writable, by: root)
        ok.note(.contextSave, p.writable, by: root)
        ok.note(.load, p.writable, by: p.a)  // root's page, read for A (a yield to its parent reads root's VIDT)
        #expect(check(ok).isEmpty)
        var bad = KernelAccesses()
        bad.note(.store, p.writable, by: p.a)  // A cannot write root's page
        bad.note(.contextLoad, p.writable, by: p.a)
        let v = check(bad)
        #expect(v.count == 2 && v.allSatisfy { $0.partition == p.a && $0.page == p.writable }, "\(v)")
    }

    @Test("a load or store on the firmware's page 0 is reported, though page 0 is no partition's")
    func firmwarePage() {
        let root = system.machine.root.raw
        let t = system.machine.tree()
        for kind in [KernelAccesses.Kind.store, .load] {
            var a = KernelAccesses()
            a.note(kind, 0, by: root)
            #expect(Properties.dereference(a, before: t, after: { t }, kernelPages: system.machine.kernelPages).isEmpty,
                    "page 0 is among the pages not mapped in root")
            let v = Properties.dereference(a, before: t, after: { t }, kernelPages: system.machine.kernelPages,
                                           firmwarePages: ModelMachine.firmwarePages)
            #expect(v.count == 1 && v[0].page == 0 && v[0].detail.contains("firmware"), "\(v)")
        }
    }

    @Test("every kernel entry of the model records its requests, each with the partition current when it was made")
    func entriesAreRecorded() throws {
        let before = system.machine.tree()
        let root = system.machine.root.raw
        // Root's own VIDT entry 32 names a context on one of its pages; a hardware interrupt
        // saves root's state at its STI slot and loads that handler.
        system.cpu.registers.rflags |= UserRegisters.interruptFlag
        system.trap(.hardwareInterrupt(vector: 32))
        let a = try #require(system.cpu.accesses)
        #expect(a.requests.contains { $0.kind == .contextSave && $0.partition == root })
        #expect(a.requests.contains { $0.kind == .contextLoad && $0.partition == root })
        #expect(a.requests.contains { $0.kind == .load })
        #expect(Properties.dereference(a, before: before, after: { system.machine.tree() },
                                       kernelPages: system.machine.kernelPages).isEmpty)
    }
}
