/// The explorer (`sprig check`'s engine): a bounded exhaustive run with every check on finds no
/// violation; a planted violation is found with its shortest step sequence; a random walk is
/// determined by its seed; the domain reaches every kind of step.
import SprigABI
import SprigCore
import SprigModel
import Testing

@Suite struct ExploreTests {
    /// The bounded run of `make test`: every step sequence of length 2 from the tree start,
    /// every check on. Prints its numbers (docs/check.md quotes them).
    @Test func boundedExhaustiveRunFindsNoViolation() {
        var c = Explorer.Configuration()
        c.depth = 2
        let report = Explorer(c).run()
        print("explore: depth \(report.depthReached), \(report.states) states, \(report.transitions) transitions, "
              + "\(report.terminalTransitions) terminal, \(String(format: "%.1f", report.elapsed)) s, "
              + "\(Int(report.statesPerSecond)) states/s, \(Int(report.transitionsPerSecond)) transitions/s")
        #expect(report.counterexample == nil, "\(report.counterexample.map { ($0.lines + $0.findings.map(\.description)).joined(separator: "\n") } ?? "")")
        #expect(report.depthReached == 2)
        #expect(report.states > 100)
        // The domain reaches the successes that matter, not only refusals.
        for key in ["yield → resume", "createPartition → success", "addVAddr → success", "prepare → success",
                    "removeVAddr → success", "deletePartition → success", "hardware interrupt → resume",
                    "addVAddr → rightsExceedCaller", "yield → calleeContextUnavailable", "write → written"] {
            #expect(report.outcomes[key, default: 0] > 0, "never: \(key)")
        }
    }

    /// The bounded depth-3 run of `make test`: every sequence of three steps from the tree
    /// start over yields, VIDT writes, one table change and the events, one VIDT index of the
    /// tree (32) beside the unused classes, at most 3 live partitions; every check on.
    @Test func boundedDepthThreeRunFindsNoViolation() {
        var c = Explorer.Configuration()
        c.depth = 3
        c.domain = DomainConfiguration(vidtSlots: 1, maxPartitions: 3, menu: [.yields, .vidtWrites, .tableChange, .events])
        let report = Explorer(c).run()
        print("explore depth 3 (bounded): \(report.states) states, \(report.transitions) transitions, "
              + "\(String(format: "%.1f", report.elapsed)) s, \(Int(report.statesPerSecond)) states/s")
        #expect(report.counterexample == nil, "\(report.counterexample.map { ($0.lines + $0.findings.map(\.description)).joined(separator: "\n") } ?? "")")
        #expect(report.depthReached == 3)
        for key in ["yield → resume", "removeVAddr → success", "addVAddr → success", "write → written",
                    "yield → invalidInterruptIndex", "yield → invalidSaveIndex", "hardware interrupt → resume"] {
            #expect(report.outcomes[key, default: 0] > 0, "never: \(key)")
        }
    }

    /// A planted violation ("the grandchild never runs") is found, with the shortest sequence:
    /// root yields to A, A yields to B.
    @Test func plantedViolationHasTheShortestSequence() {
        var c = Explorer.Configuration()
        c.depth = 3
        c.oracle.properties = false
        c.extraCheck = { _, _, system in
            system.cpu.currentPartition.depth(system.memory) == 2 ? ["the grandchild runs"] : []
        }
        let report = Explorer(c).run()
        guard let cex = report.counterexample else {
            Issue.record("the planted violation was not found")
            return
        }
        print((cex.lines + cex.findings.map { "✗ \($0)" }).joined(separator: "\n"))
        #expect(cex.steps.count == 2)
        #expect(cex.findings == [Finding(.extra, "the grandchild runs")])
        #expect(cex.lines.count == 2)
        #expect(cex.lines.allSatisfy { $0.contains("yield(callee: ") }, "\(cex.lines)")
        #expect(cex.lines[0].hasPrefix("root: "))
        #expect(report.depthReached == 1)
    }

    /// Every class of VIDT index is a yield target and a save slot in the menu: the indices
    /// the tree uses, an unused interrupt vector, an unused free slot, the last index, the first
    /// out of range and the one whose byte offset wraps to 32's. The kernel refuses the last two
    /// and takes 511 for an index (its entry is empty).
    @Test func everyClassOfVIDTIndexIsOffered() {
        let system = ExplorationStart.tree.makeSystem(pages: 160)
        let domain = Domain(DomainConfiguration(vidtSlots: 3, maxPartitions: 4, menu: [.yields]))
        let calls: [SystemCallArguments] = domain.steps(for: system).compactMap {
            guard case .trap(.systemCall(Service.yield.rawValue, let a)) = $0 else { return nil }
            return a
        }
        let classes = domain.configuration.vidtIndices + Domain.unusedVIDTIndices
        #expect(Set(Domain.unusedVIDTIndices).isSuperset(of: [100, 300, 511, 512, 1 << 61 | 32]))
        for index in classes {
            #expect(calls.contains { $0.a1 == index }, "no yield with target \(index)")
            #expect(calls.contains { $0.a2 == index }, "no yield with save slot \(index)")
        }
        let child = calls[0].a0
        let wrap: UInt64 = 1 << 61 | 32
        #expect(system.call(.yield, child, wrap, 0) == .returned(.invalidInterruptIndex, value: 0))
        #expect(system.call(.yield, child, 32, wrap) == .returned(.invalidSaveIndex, value: 0))
        #expect(system.call(.yield, child, 511, 0) == .returned(.calleeContextUnavailable, value: 0))
    }

    /// A focused menu offers only its groups: `yields` is yields alone, and fewer steps.
    @Test func focusedMenuOffersOnlyItsGroups() {
        let system = ExplorationStart.tree.makeSystem(pages: 160)
        let full = Domain(DomainConfiguration(vidtSlots: 3, maxPartitions: 4)).steps(for: system)
        let yields = Domain(DomainConfiguration(vidtSlots: 3, maxPartitions: 4, menu: [.yields])).steps(for: system)
        #expect(!yields.isEmpty && yields.count < full.count)
        #expect(yields.allSatisfy { if case .trap(.systemCall(Service.yield.rawValue, _)) = $0 { return true } else { return false } })
        let writes = Domain(DomainConfiguration(vidtSlots: 3, maxPartitions: 4, menu: [.vidtWrites])).steps(for: system)
        #expect(!writes.isEmpty && writes.allSatisfy { if case .write = $0 { return true } else { return false } })
        #expect(StepGroup.parse("yields,vidt-writes").groups == [.yields, .vidtWrites])
        #expect(StepGroup.parse("yields,bogus").unknown == "bogus")
    }

    /// The generated start trees: every rooted tree of up to 6 partitions and depth at most 3
    /// once up to the order of siblings (1, 1, 2, 4, 8, 15 of 1…6 partitions), each built
    /// through the services with the shape it says.
    @Test func generatedStartTreesAreEveryShapeOnce() {
        let shapes = TreeShape.all(maxPartitions: 6)
        #expect((1...6).map { n in shapes.filter { $0.partitions == n }.count } == [1, 1, 2, 4, 8, 15])
        #expect(Set(shapes).count == shapes.count)
        #expect(shapes.allSatisfy { $0.depths.max()! <= 3 })
        #expect(TreeShape("0,0,1") == TreeShape(parents: [0, 0, 1]) && TreeShape("0,2") == nil)
        for shape in shapes {
            let system = shape.makeSystem()
            let tree = system.machine.tree()
            #expect(tree.partitions.count == shape.partitions, "\(shape)")
            let depths = tree.partitions.map { system.machine.descriptor(PhysicalAddress($0.descriptor)).depth(system.memory) }.sorted()
            #expect(depths == shape.depths.map(UInt64.init).sorted(), "\(shape)")
            #expect(system.machine.checkAllProperties().isEmpty, "\(shape)")
        }
    }

    /// The start with a pre-filled configuration list: A holds two configuration pages; root's
    /// `collect` of the newest page table gives the second back, and a `prepare` there (a
    /// four-page free list) takes one again. Depth 1 from it: no violation.
    @Test func preFilledConfigurationListHasTwoPages() {
        let shape = TreeShape(parents: [0, 1], fillConfiguration: true)
        let system = shape.makeSystem()
        let m = system.machine
        let tree = m.tree()
        let a = tree.partitions.first { $0.parent == 0 }!
        let name = AddressSpace.rootWindowBase + a.descriptor
        func configPages() -> UInt64 { m.descriptor(PhysicalAddress(a.descriptor)).configPages(m.memory) }
        #expect(configPages() == 2)
        #expect(m.call(m.root, .collect, name, DomainAddress.newRegion).status == .success)
        #expect(configPages() == 1)
        let need = m.call(m.root, .countToMap, name, DomainAddress.newRegion)
        #expect(need.status == .success && need.value == 4, "a page table and a configuration page: \(need)")
        var c = Explorer.Configuration()
        c.shape = shape
        c.depth = 1
        let report = Explorer(c).run()
        #expect(report.counterexample == nil, "\(report.counterexample.map { $0.lines + $0.findings.map(\.description) } ?? [])")
        #expect(report.outcomes["collect → success", default: 0] > 0)
    }

    /// The search on several threads is the search on one: the same states, transitions,
    /// outcomes and frontier (a depth of several batches, with states reached from more than
    /// one batch), and the same shortest counterexample.
    @Test func searchIsTheSameOnEveryThreadCount() {
        var c = Explorer.Configuration()
        c.depth = 3
        c.domain = DomainConfiguration(vidtSlots: 1, maxPartitions: 3, menu: [.yields, .vidtWrites])
        let one = Explorer(c).run()
        c.threads = 3
        let three = Explorer(c).run()
        print("explore on 1 and 3 threads: \(one.states) states, \(one.transitions) transitions; "
              + "\(String(format: "%.1f", one.elapsed)) s and \(String(format: "%.1f", three.elapsed)) s")
        #expect(one.counterexample == nil && three.counterexample == nil)
        #expect(one.depthReached == 3 && three.depthReached == 3)
        #expect(three.states == one.states && three.transitions == one.transitions)
        #expect(three.terminalTransitions == one.terminalTransitions && three.frontier == one.frontier)
        #expect(three.outcomes == one.outcomes)

        var planted = Explorer.Configuration()
        planted.depth = 3
        planted.domain.menu = [.yields]
        planted.oracle.properties = false
        planted.extraCheck = { _, _, system in
            system.cpu.currentPartition.depth(system.memory) == 2 ? ["the grandchild runs"] : []
        }
        let alone = Explorer(planted).run()
        planted.threads = 2
        let paired = Explorer(planted).run()
        #expect(alone.counterexample != nil)
        #expect(paired.counterexample?.steps == alone.counterexample?.steps)
        #expect(paired.states == alone.states && paired.transitions == alone.transitions)
    }

    /// Same seed, same walk; another seed, another walk.
    @Test func randomWalkIsDeterminedByItsSeed() {
        var c = Explorer.Configuration()
        c.recordTrace = true
        let a = Explorer(c).randomWalk(steps: 60, seed: 7)
        let b = Explorer(c).randomWalk(steps: 60, seed: 7)
        let other = Explorer(c).randomWalk(steps: 60, seed: 8)
        #expect(a.counterexample == nil, "\(a.counterexample?.lines ?? [])")
        #expect(a.trace.count == 60)
        #expect(a.trace == b.trace)
        #expect(a.traceDigest == b.traceDigest && a.finalState == b.finalState)
        #expect(a.traceDigest != other.traceDigest)
    }

    /// A ring-3 write the MMU refuses is the page fault it would be on the machine.
    @Test func writeToAnUnwritablePageFaults() {
        let system = ExplorationStart.tree.makeSystem(pages: 160)
        let before = system.memory.snapshot()
        let outcome = ExplorationStep.write([WordWrite(ModelMachine.kernelBase, 1)]).apply(to: system)
        #expect(outcome == .trapped(.exception(vector: 14, errorCode: 6, faultAddress: ModelMachine.kernelBase), .kernelCrash))
        #expect(system.memory.snapshot() == before)
    }
}
