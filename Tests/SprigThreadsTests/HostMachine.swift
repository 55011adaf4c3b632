/// The threads library's machine on the host: each thread of the library is a host thread, and
/// exactly one of them runs at a time (a baton passed with semaphores), so the library's own
/// code runs unchanged. The timer tick fires only at the library's and the program's
/// preemption points (`Threads.point`), where a *schedule* says: the schedule is the set of
/// point numbers at which a tick arrives. With the flag set the tick is held (pending) and the
/// library takes it at `sti`, as in a partition; with it clear the handler runs at once.
/// Spinning and idling fire extra ticks that the schedule does not count (forced ticks, bounded).
import Foundation
import Glibc
@testable import SprigThreads

/// How one execution ended.
enum RunOutcome: Equatable, CustomStringConvertible {
    /// Every thread exited.
    case finished
    /// Every live thread blocked, none sleeping: a lost wake-up or a deadlock.
    case deadlock
    /// More points or forced ticks than the bound (a livelock, or a program too big).
    case boundExceeded
    /// The run did not end in time (a host-side hang).
    case hung
    /// A primitive reported a misuse (`ThreadFault`).
    case fault(ThreadFault)

    var description: String {
        switch self {
        case .finished: return "finished"
        case .deadlock: return "deadlock (every live thread blocked: a lost wake-up)"
        case .boundExceeded: return "bound exceeded"
        case .hung: return "hung"
        case .fault(let f): return "fault: \(f.message)"
        }
    }
}

/// One execution of a program under one schedule.
final class HostRun: @unchecked Sendable {
    nonisolated(unsafe) static var active: HostRun?

    let schedule: [Int]
    var nextFiring = 0
    /// Points reached so far (the next point's number).
    var points = 0
    var forcedTicks = 0
    /// Ticks that found the flag set (held until `sti`).
    var firedWhileMasked = 0
    let maxPoints: Int
    let maxForcedTicks: Int
    var pending = false
    var masked = true
    var aborted = false
    var outcome: RunOutcome = .hung
    var failures: [String] = []
    let done = DispatchSemaphore(value: 0)
    var batons: [DispatchSemaphore] = (0..<Threads.maxThreads).map { _ in DispatchSemaphore(value: 0) }
    var hostThreads: [pthread_t] = []
    let state = UnsafeMutablePointer<SchedulerState>.allocate(capacity: 1)

    init(schedule: [Int], maxPoints: Int, maxForcedTicks: Int) {
        self.schedule = schedule
        self.maxPoints = maxPoints
        self.maxForcedTicks = maxForcedTicks
    }

    deinit { state.deallocate() }

    func fail(_ what: String) {
        if failures.count < 8 { failures.append(what) }
    }

    /// Ends the run with `outcome` from the running host thread, which never returns.
    func end(_ outcome: RunOutcome) -> Never {
        self.outcome = outcome
        done.signal()
        pthread_exit(nil)
    }

    /// Parks the running host thread until it is `id`'s turn again; a thread woken after the
    /// run ended exits.
    func park(_ id: Int) {
        batons[id].wait()
        if aborted { pthread_exit(nil) }
    }

    func spawn(_ body: @escaping () -> Void) {
        final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var tid = pthread_t()
        let r = pthread_create(&tid, nil, { raw in
            let b = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            b.body()
            return nil
        }, box)
        precondition(r == 0, "pthread_create failed")
        hostThreads.append(tid)
    }

    /// A tick fired at a point: held while the flag is set, else the handler runs now.
    func fire(forced: Bool) {
        if forced {
            forcedTicks += 1
            if forcedTicks > maxForcedTicks { end(.boundExceeded) }
        }
        if masked { pending = true; firedWhileMasked += 1; return }
        masked = true
        Threads.interrupt()
        masked = false
    }

    static let machine = ThreadMachine(
        mask: { HostRun.active!.masked = true },
        unmask: {
            let r = HostRun.active!
            if r.pending { r.pending = false; return true }
            r.masked = false
            return false
        },
        transfer: { from, to, save in
            let r = HostRun.active!
            precondition(save, "the host machine saves every thread it switches from")
            r.batons[to].signal()
            r.park(from)
        },
        prepare: { id in
            let r = HostRun.active!
            r.spawn {
                r.park(id)
                Threads.threadMain()
            }
        },
        idle: { HostRun.active!.fire(forced: true) },
        deadlock: { HostRun.active!.end(.deadlock) },
        finished: { HostRun.active!.end(.finished) },
        fault: { HostRun.active!.end(.fault(ThreadFault(rawValue: $0)!)) },
        point: {
            let r = HostRun.active!
            let n = r.points
            r.points += 1
            if r.points > r.maxPoints { r.end(.boundExceeded) }
            if r.nextFiring < r.schedule.count && r.schedule[r.nextFiring] == n {
                r.nextFiring += 1
                r.fire(forced: false)
            }
        },
        spinning: { HostRun.active!.fire(forced: true) }
    )

    /// Runs `program` to its end under this schedule; returns the outcome.
    func execute(_ program: ThreadProgram.Type) -> RunOutcome {
        HostRun.active = self
        Threads.mutant = program.mutant
        spawn {
            Threads.start(state: self.state, machine: HostRun.machine)
            program.setUp()
            // Thread 1 runs its program with the flag clear, as every other thread does.
            if Threads.interruptsMasked { Threads.sti() }
            program.main()
            Threads.exit()
        }
        if done.wait(timeout: .now() + 10) == .timedOut { outcome = .hung }
        aborted = true
        for b in batons { b.signal() }
        if outcome != .hung { for t in hostThreads { pthread_join(t, nil) } }
        Threads.mutant = nil
        HostRun.active = nil
        return outcome
    }
}

/// A small program for the explorer: its state is static, reset by `setUp`.
protocol ThreadProgram {
    /// The broken primitive the library runs with, if any.
    static var mutant: ThreadMutant? { get }
    /// In thread 1 with the scheduler started: make locks, threads, hooks.
    static func setUp()
    /// Thread 1's own work.
    static func main()
    /// After the run: what is wrong with the final state (empty when nothing).
    static func finalCheck() -> [String]
}

extension ThreadProgram {
    static var mutant: ThreadMutant? { nil }
}

/// Records a violated invariant in the running execution.
func violation(_ what: String) { HostRun.active?.fail(what) }

/// What the exploration found.
struct Exploration {
    var runs = 0
    var longestRun = 0
    /// The first schedule that failed, its outcome and failures.
    var counterexample: (schedule: [Int], outcome: RunOutcome, failures: [String])?
    var outcomes: [String: Int] = [:]
}

/// CHESS-style exploration: every schedule of at most `ticks` tick firings over the points a
/// run reaches (each set of point numbers once), depth first; stops at the first failure.
func explore(_ program: ThreadProgram.Type, ticks: Int, maxPoints: Int = 400, maxForcedTicks: Int = 200,
             maxRuns: Int = 100_000) -> Exploration {
    var result = Exploration()
    var stack: [[Int]] = [[]]
    while let schedule = stack.popLast() {
        let run = HostRun(schedule: schedule, maxPoints: maxPoints, maxForcedTicks: maxForcedTicks)
        let outcome = run.execute(program)
        result.runs += 1
        result.longestRun = max(result.longestRun, run.points)
        result.outcomes[outcome.description, default: 0] += 1
        var failures = run.failures
        if outcome == .finished { failures += program.finalCheck() }
        if outcome != .finished || !failures.isEmpty {
            result.counterexample = (schedule, outcome, failures)
            return result
        }
        guard schedule.count < ticks, result.runs + stack.count < maxRuns else { continue }
        let from = (schedule.last ?? -1) + 1
        var i = run.points - 1
        while i >= from { stack.append(schedule + [i]); i -= 1 }
    }
    return result
}
