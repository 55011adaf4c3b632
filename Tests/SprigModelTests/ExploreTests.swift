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

    /// A planted violation ("the grandchild never runs") is found, with the shortest sequence:
    /// root yields to A, A yields to B.
    @Test func plantedViolationHasTheShortestSequence() {
        var c = Explorer.Configuration()
        c.depth = 3
        c.oracle.properties = false
        c.extraCheck = { _, _, system in
            Partition.depth(system.memory, system.current) == 2 ? ["the grandchild runs"] : []
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
