/// The explorer's scenario starts (`Scenario`, Sources/SprigModel/Oracles/Scenarios.swift): each
/// is what its description says, and the kernel passes every check from it at depth 1.
import SprigABI
import SprigCore
@testable import SprigModel
import Testing

@Suite struct ScenarioTests {
    @Test func reclaimHasTwoConfigurationPagesAndEdgeEntries() {
        let system = Scenario.reclaim.makeSystem()
        let t = system.machine.tree()
        #expect(t.violations.isEmpty)
        let a = try! #require(t.partitions.first { $0.parent == 0 })
        #expect(a.configPages.count == 2, "\(a.configPages.count) configuration pages")
        #expect(a.byVA[0] != nil && a.byVA[AddressSpace.vidt] != nil)
        // The head page records the three pages of childBase's page table only.
        let head = DescriptorLayout.read(system.memory, PhysicalAddress(a.descriptor), DescriptorLayout.configList)
        #expect(system.memory.load(PhysicalAddress(head + 16)) == 3)
        #expect(system.machine.checkAllProperties().isEmpty)
    }

    @Test func kernelPassesFromTheReclaimStart() {
        var c = Explorer.Configuration()
        c.startSystem = { Scenario.reclaim.makeSystem() }
        c.pages = Scenario.reclaim.pages
        c.depth = 1
        let report = Explorer(c).run()
        #expect(report.counterexample == nil, "\(report.counterexample?.lines ?? []) \(report.counterexample?.findings ?? [])")
        #expect(report.transitions > 50)
    }
}
