/// `sprig check --system` (SystemCheck.swift): the explorer's start is the state the system's
/// own root built, replayed in the model from the booted kernel's recording up to its first
/// timer tick.
import Foundation
import SprigModel
@testable import SprigTool
import Testing

@Suite("sprig check --system: the start is what the system's root built", .serialized)
struct SystemCheckTests {
    @Test("muen-demo's start holds root and the three partitions it builds before it sets the timer")
    func muenDemoStart() throws {
        let start = try SystemCheck.start(system: "muen-demo", project: Boot.project)
        #expect(start.partitions == 4, "init, producer, nest, console")
        #expect(start.events > 100)
        // The start is made again for every restart of the search: the same state each time.
        let a = start.make(), b = start.make()
        #expect(a.memory.words == b.memory.words)
        #expect(a.machine.tree().partitions.count == 4)
    }

    /// What `sprig check --system muen-demo` does, at depth 1: every property, the refinement
    /// and register hygiene hold from the state the real root built and after every step from
    /// it. (Its partitions' copies of the kernel half carry the accessed bits the CPU set while
    /// the system ran: `Properties.kernelHalf` must not take those for a kernel mapping.)
    @Test("the explorer from muen-demo's start, depth 1: no violation")
    func muenDemoExploredAtDepthOne() throws {
        let start = try SystemCheck.start(system: "muen-demo", project: Boot.project)
        #expect(start.make().machine.checkAllProperties().isEmpty)
        var c = Explorer.Configuration()
        c.startSystem = start.make
        c.pages = start.pages
        c.depth = 1
        c.domain = DomainConfiguration(vidtSlots: 3, maxPartitions: start.partitions + 1)
        let report = Explorer(c).run()
        #expect(report.counterexample == nil, "\(report.counterexample.map { $0.lines + $0.findings.map(String.init(describing:)) } ?? [])")
        #expect(report.transitions > 50 && report.depthReached == 1)
    }

    @Test("a system whose root never sets the timer has no setup to start from: one clear error")
    func noTickRefused() throws {
        #expect(throws: ToolError.self) { try SystemCheck.start(system: "hello", project: Boot.project) }
    }
}
