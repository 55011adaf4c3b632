/// The threads library on the host: every schedule of up to a few ticks over every preemption
/// point of small programs (CHESS-style), invariants at every tick and sti, no lost wake-up
/// (a run that ends with a thread blocked forever) and no deadlock; each deliberately broken
/// primitive is found (docs/threads.md, "Exploring every interleaving").
import Testing
@testable import SprigThreads

@Suite("Threads: every interleaving up to a bound", .serialized)
struct ExplorationTests {
    func expectClean(_ p: ThreadProgram.Type, ticks: Int, minimumRuns: Int) {
        let e = explore(p, ticks: ticks)
        if let c = e.counterexample {
            Issue.record("\(p): schedule \(c.schedule) ended \(c.outcome): \(c.failures)")
        }
        #expect(e.runs >= minimumRuns, "\(p): only \(e.runs) runs")
    }

    func expectCaught(_ p: ThreadProgram.Type, ticks: Int) -> Exploration {
        let e = explore(p, ticks: ticks)
        #expect(e.counterexample != nil, "\(p): no schedule of \(e.runs) found the broken primitive")
        return e
    }

    @Test("teeter-totter: left + right = 6 at every tick and sti, a winner, under every schedule of 3 ticks")
    func teeter() {
        SmallTeeter.withoutCLI = false
        expectClean(SmallTeeter.self, ticks: 3, minimumRuns: 500)
    }

    @Test("teeter-totter without cli/sti: a tick between the two moves breaks left + right")
    func teeterWithoutCLI() {
        SmallTeeter.withoutCLI = true
        defer { SmallTeeter.withoutCLI = false }
        let e = expectCaught(SmallTeeter.self, ticks: 1)
        #expect(e.counterexample?.failures.contains("left + right != 6") == true)
    }

    @Test("a tick arriving while the flag is set is taken at sti, not lost: one tick at each point in turn")
    func tickWhileMasked() {
        SmallTeeter.withoutCLI = false
        let points = HostRun(schedule: [], maxPoints: 400, maxForcedTicks: 10)
        #expect(points.execute(SmallTeeter.self) == .finished)
        var heldAndTaken = 0
        // The last point is the one inside thread 1's final `exit` (flag set, no sti follows:
        // the program is over).
        for i in 0..<(points.points - 1) {
            let run = HostRun(schedule: [i], maxPoints: 400, maxForcedTicks: 10)
            #expect(run.execute(SmallTeeter.self) == .finished)
            #expect(Threads.state.ticks == 1, "tick at point \(i) lost")
            #expect(Threads.state.deferredTicks == UInt64(run.firedWhileMasked))
            if run.firedWhileMasked == 1 { heldAndTaken += 1 }
        }
        #expect(heldAndTaken >= 3, "ticks at cli'd points: \(heldAndTaken)")
    }

    @Test("spin, Mesa and Hoare locks: mutual exclusion and every increment, every schedule of 2 ticks")
    func locks() {
        expectClean(SpinCounter.self, ticks: 2, minimumRuns: 200)
        expectClean(MesaCounter.self, ticks: 2, minimumRuns: 200)
        expectClean(HoareCounter.self, ticks: 2, minimumRuns: 200)
    }

    @Test("bounded buffer with Mesa (re-checking), Hoare and Brinch Hansen conditions, every schedule of 2 ticks")
    func buffers() {
        expectClean(MesaBuffer.self, ticks: 2, minimumRuns: 200)
        expectClean(HoareBuffer.self, ticks: 2, minimumRuns: 200)
        expectClean(BrinchHansenBuffer.self, ticks: 2, minimumRuns: 200)
    }

    @Test("dining philosophers, forks taken in order: no deadlock, neighbours never eat together, every schedule of 2 ticks")
    func philosophers() {
        Philosophers.leftFirst = false
        expectClean(Philosophers.self, ticks: 2, minimumRuns: 100)
    }

    @Test("dining philosophers, left fork first: the explorer finds the deadlock")
    func philosophersDeadlock() {
        Philosophers.leftFirst = true
        defer { Philosophers.leftFirst = false }
        let e = expectCaught(Philosophers.self, ticks: 2)
        #expect(e.counterexample?.outcome == .deadlock)
    }

    @Test("sleep: the sleeper wakes after its ticks and is never forgotten")
    func sleeper() { expectClean(Sleeper.self, ticks: 2, minimumRuns: 10) }

    @Test("broken: a Mesa wait without its re-check loop takes from an empty buffer")
    func mesaWithoutRecheck() {
        let e = expectCaught(MesaBufferWithoutRecheck.self, ticks: 2)
        #expect(e.counterexample?.failures.contains("take from an empty buffer") == true)
    }

    @Test("broken: a Mesa lock that tests before cli and blocks on what it saw")
    func blockWithoutCLI() { _ = expectCaught(MesaCounterBlockWithoutCLI.self, ticks: 2) }

    @Test("broken: an unblock that drops its waiter leaves it blocked forever (a lost wake-up)")
    func unblockDrops() {
        let e = expectCaught(MesaCounterUnblockDrops.self, ticks: 2)
        #expect(e.counterexample?.outcome == .deadlock)
    }

    @Test("Mesa, Hoare and Brinch Hansen: who runs after signal, and who holds the lock")
    func conditionSemantics() {
        var traces: [ConditionKind: [String]] = [:]
        for kind in [ConditionKind.mesa, .hoare, .brinchHansen] {
            ConditionTrace.kind = kind
            let run = HostRun(schedule: [], maxPoints: 400, maxForcedTicks: 10)
            #expect(run.execute(ConditionTrace.self) == .finished)
            traces[kind] = TraceLog.events
        }
        #expect(traces[.mesa] == ["W waits", "S signals", "S after, holding the lock", "W wakes", "T enters"])
        #expect(traces[.hoare] == ["W waits", "S signals", "W wakes", "S after, holding the lock", "T enters"])
        #expect(traces[.brinchHansen] == ["W waits", "S signals", "W wakes", "S after, outside the monitor", "T enters"])
    }
}
