/// Preemptive threads inside one partition, after AIM (Feng, Shao, Dong, Guo, PLDI 2008):
/// the thread table, the ready queue, wait queues, and the primitives every lock and condition
/// variable is built from — `cli`/`sti`, `switchThread`, `block`, `unblock` — plus `create`,
/// `exit`, `yield`, `sleep` and the timer handler that preempts (docs/threads.md).
///
/// The invariant this file owns: **the scheduler's state is touched only with the partition's
/// virtual interrupt flag set** (AIM's `ie = 0`). A timer tick is the only other flow of control
/// (the parent delivers it at `VIDT[32]`); it cannot enter while the flag is set, so `cli`
/// makes the caller the owner of this state until `sti` (AIM's ownership transfer). Every
/// primitive that changes queues checks it holds the flag and reports a misuse as a
/// `ThreadFault` through the machine.
///
/// The same source runs in a partition (Embedded Swift, `Partition/` supplies the machine: the
/// VCLI system calls, contexts, the real handler) and on the host, where a test scheduler drives
/// the machine hooks and fires the tick at every preemption point (Tests/SprigThreadsTests).
/// A thread is a slot in a fixed table; a queue links threads through their `next` field (a
/// thread is on at most one queue: ready, a wait queue or the sleepers).
public enum ThreadState: UInt8, Sendable {
    case free, ready, running, blocked, sleeping, exited
}

/// A thread's slot in the table (`Threads.maxThreads` of them).
public struct ThreadRecord {
    public var state: ThreadState = .free
    /// The next thread on the queue this one is on, or -1.
    var next: Int16 = -1
    /// For a sleeping thread: the tick count at which it becomes ready.
    var wakeTick: UInt64 = 0
    /// Times this thread was switched to.
    public var runs: UInt64 = 0
}

/// A FIFO of threads (AIM's wait queue `w`), linked through `ThreadRecord.next`.
struct QueueRecord {
    var head: Int16 = -1
    var tail: Int16 = -1
}

/// A wait queue: a handle into the scheduler's queue table, made with `Threads.makeQueue()`.
public struct WaitQueue: Equatable, Sendable {
    let index: Int16
}

/// What the scheduler needs from the machine it runs on: a partition (`Partition/`) or the
/// host's test scheduler. C function pointers, so that Embedded Swift calls them directly.
public struct ThreadMachine: @unchecked Sendable {
    /// Sets the virtual interrupt flag (AIM's `cli`).
    public var mask: @convention(c) () -> Void
    /// Clears it (AIM's `sti`); returns true when a tick arrived while it was set: the flag is
    /// then set again and the caller takes that tick now, so no tick is lost.
    public var unmask: @convention(c) () -> Bool
    /// Stops running thread `from` and runs `to`. With `save` true `from` is saved here (its
    /// flag set) and continues after this call when switched to again; with `save` false its
    /// context was already saved by the interrupt (the real handler) and this never returns.
    public var transfer: @convention(c) (Int, Int, Bool) -> Void
    /// Prepares thread `id` to start in `Threads.threadMain` with its flag set when first run.
    public var prepare: @convention(c) (Int) -> Void
    /// What the idle thread does between ticks (on the host: fire one).
    public var idle: @convention(c) () -> Void
    /// No thread can ever run again: every live thread is blocked, none sleeps. Never returns.
    public var deadlock: @convention(c) () -> Void
    /// Every thread but idle has exited. Never returns.
    public var finished: @convention(c) () -> Void
    /// A primitive was misused (a `ThreadFault` raw value): a lock released by a thread that
    /// does not hold it, a `block` with the flag clear. Never returns.
    public var fault: @convention(c) (UInt8) -> Void
    /// A point where the host's test scheduler may fire the tick; nil in a partition, where
    /// ticks arrive on their own.
    public var point: (@convention(c) () -> Void)?
    /// A thread spins waiting for another (a spin lock): on the host the test scheduler fires a
    /// tick so that the holder runs; nil in a partition.
    public var spinning: (@convention(c) () -> Void)?

    public init(mask: @convention(c) () -> Void, unmask: @convention(c) () -> Bool,
                transfer: @convention(c) (Int, Int, Bool) -> Void, prepare: @convention(c) (Int) -> Void,
                idle: @convention(c) () -> Void, deadlock: @convention(c) () -> Void,
                finished: @convention(c) () -> Void, fault: @convention(c) (UInt8) -> Void,
                point: (@convention(c) () -> Void)? = nil, spinning: (@convention(c) () -> Void)? = nil) {
        self.mask = mask; self.unmask = unmask; self.transfer = transfer; self.prepare = prepare
        self.idle = idle; self.deadlock = deadlock; self.finished = finished
        self.fault = fault
        self.point = point; self.spinning = spinning
    }
}

/// A thread's entry: called with the argument given to `Threads.create`.
public typealias ThreadEntry = @convention(c) (UInt64) -> Void

/// The whole scheduler state, in memory the partition (or the host test) provides.
public struct SchedulerState {
    public var threads: InlineArray<16, ThreadRecord> = .init(repeating: ThreadRecord())
    var entries: InlineArray<16, ThreadEntry?> = .init(repeating: nil)
    var arguments: InlineArray<16, UInt64> = .init(repeating: 0)
    var queues: InlineArray<48, QueueRecord> = .init(repeating: QueueRecord())
    var queueCount: Int16 = 0
    var locks: InlineArray<16, LockRecord> = .init(repeating: LockRecord())
    var lockCount: Int16 = 0
    /// The running thread.
    public internal(set) var current: Int = 0
    /// The mirror of the virtual interrupt flag as the running flow of control holds it.
    public internal(set) var masked = true
    public internal(set) var ticks: UInt64 = 0
    /// Ticks that ran another thread than the one they interrupted.
    public internal(set) var preemptions: UInt64 = 0
    /// Ticks taken late at `sti` because they arrived while the flag was set.
    public internal(set) var deferredTicks: UInt64 = 0
    /// Switches of any kind (preemption, yield, block, exit).
    public internal(set) var switches: UInt64 = 0
    public init() {}
}

public enum Threads {
    public static let maxThreads = 16
    /// Thread 0 runs when no other can: it waits for the next tick.
    public static let idleThread = 0
    /// The flow that called `start` becomes thread 1.
    public static let mainThread = 1
    static let readyQueue = WaitQueue(index: 0)
    static let sleepQueue = WaitQueue(index: 1)

    nonisolated(unsafe) static var storage: UnsafeMutablePointer<SchedulerState>? = nil
    nonisolated(unsafe) static var machine: ThreadMachine? = nil
    /// Called at every tick and every `sti` with the flag set: the program checks its invariants.
    nonisolated(unsafe) public static var onCheck: (@convention(c) () -> Void)? = nil
    /// The program's part of the timer handler (AIM's `timer:` code), run at every tick with
    /// the flag set, before the scheduler picks the next thread.
    nonisolated(unsafe) public static var onTick: (@convention(c) () -> Void)? = nil
    /// Test hook: a deliberately broken primitive (host exploration only).
    nonisolated(unsafe) static var mutant: ThreadMutant? = nil

    @inline(__always) static var s: UnsafeMutablePointer<SchedulerState> { storage.unsafelyUnwrapped }
    @inline(__always) static var m: ThreadMachine { machine.unsafelyUnwrapped }

    /// The scheduler's state (read-only use: counters, the running thread).
    public static var state: SchedulerState { s.pointee }
    public static var current: Int { s.pointee.current }
    public static var ticks: UInt64 { s.pointee.ticks }
    public static var interruptsMasked: Bool { s.pointee.masked }

    /// Makes the calling flow thread 1 (running, flag set) and thread 0 the idle thread, in
    /// `state` (zeroed by this call). Call with the flag set, before any tick can arrive.
    public static func start(state: UnsafeMutablePointer<SchedulerState>, machine: ThreadMachine) {
        state.initialize(to: SchedulerState())
        storage = state
        self.machine = machine
        onCheck = nil
        onTick = nil
        _ = makeQueue()  // ready
        _ = makeQueue()  // sleepers
        s.pointee.threads[idleThread].state = .ready  // never on the ready queue: chosen when it is empty
        s.pointee.entries[idleThread] = idleMain
        m.prepare(idleThread)
        s.pointee.threads[mainThread].state = .running
        s.pointee.current = mainThread
        s.pointee.masked = true
    }

    /// A new wait queue. Queues live as long as the scheduler (48 in all, 2 of them its own).
    public static func makeQueue() -> WaitQueue {
        let k = s.pointee.queueCount
        precondition(Int(k) < 48, "threads: out of wait queues")
        s.pointee.queueCount = k + 1
        s.pointee.queues[Int(k)] = QueueRecord()
        return WaitQueue(index: k)
    }

    // MARK: cli / sti

    /// AIM's `cli`: the caller takes the memory the timer handler shares (INV) until `sti`.
    public static func cli() {
        point()
        m.mask()
        s.pointee.masked = true
        point()
    }

    /// AIM's `sti`: INV goes back to the handler. The invariant hook runs first (INV must hold
    /// here); a tick that arrived while the flag was set is taken now, as a preemption at this
    /// instruction.
    public static func sti() {
        require(s.pointee.masked, .stiWithoutCLI)
        onCheck?()
        while true {
            s.pointee.masked = false
            if !m.unmask() { break }
            s.pointee.masked = true
            s.pointee.deferredTicks += 1
            tick(contextSaved: false)
        }
        point()
    }

    /// A place where a tick may arrive (the host's test scheduler chooses; in a partition, any
    /// instruction is one and this does nothing).
    @inline(__always) public static func point() {
        if let p = m.point { p() }
    }

    /// A spin-wait step: lets the host's test scheduler run the thread being waited for.
    @inline(__always) static func relax() {
        if let p = m.spinning { p() } else { point() }
    }

    // MARK: queues (flag set)

    static func enqueue(_ q: WaitQueue, _ t: Int) {
        let i = Int(q.index)
        s.pointee.threads[t].next = -1
        let tail = s.pointee.queues[i].tail
        if tail < 0 { s.pointee.queues[i].head = Int16(t) } else { s.pointee.threads[Int(tail)].next = Int16(t) }
        s.pointee.queues[i].tail = Int16(t)
    }

    static func pushFront(_ q: WaitQueue, _ t: Int) {
        let i = Int(q.index)
        s.pointee.threads[t].next = s.pointee.queues[i].head
        s.pointee.queues[i].head = Int16(t)
        if s.pointee.queues[i].tail < 0 { s.pointee.queues[i].tail = Int16(t) }
    }

    static func dequeue(_ q: WaitQueue) -> Int? {
        let i = Int(q.index)
        let h = s.pointee.queues[i].head
        guard h >= 0 else { return nil }
        s.pointee.queues[i].head = s.pointee.threads[Int(h)].next
        if s.pointee.queues[i].head < 0 { s.pointee.queues[i].tail = -1 }
        s.pointee.threads[Int(h)].next = -1
        return Int(h)
    }

    /// Whether `q` has a waiter.
    public static func isEmpty(_ q: WaitQueue) -> Bool { s.pointee.queues[Int(q.index)].head < 0 }

    /// Makes `t` ready (at the tail of the ready queue, or its head with `first`).
    static func makeReady(_ t: Int, first: Bool = false) {
        s.pointee.threads[t].state = .ready
        if first { pushFront(readyQueue, t) } else { enqueue(readyQueue, t) }
    }

    // MARK: switch, block, unblock

    /// Runs `to` in place of the current thread (which is already on some queue, or exited).
    /// Returns when the current thread runs again, its flag set.
    static func run(_ to: Int) {
        let from = s.pointee.current
        guard to != from else {
            s.pointee.threads[from].state = .running
            return
        }
        s.pointee.switches += 1
        s.pointee.threads[to].state = .running
        s.pointee.threads[to].runs += 1
        s.pointee.current = to
        m.transfer(from, to, true)
        // Back in `from`, switched to by someone who set `current`.
    }

    /// The thread to run next: the ready queue's head; idle when it is empty and a thread
    /// sleeps; the machine's `deadlock` or `finished` when nothing can ever run.
    static func next() -> Int {
        if let t = dequeue(readyQueue) { return t }
        var live = 0, blocked = 0
        var t = 1
        while t < maxThreads {
            switch s.pointee.threads[t].state {
            case .free, .exited: break
            case .blocked: live += 1; blocked += 1
            default: live += 1
            }
            t += 1
        }
        if live == 0 { m.finished() }
        if !isEmpty(sleepQueue) { return idleThread }
        if live == blocked { m.deadlock() }
        return idleThread
    }

    /// AIM's `switch`: the current thread stays ready and another ready thread (if any) runs;
    /// returns when this one runs again. Requires the flag set; INV is untouched by it.
    public static func switchThread() {
        require(s.pointee.masked, .switchWithoutCLI)
        let me = s.pointee.current
        if me != idleThread { makeReady(me) }
        run(next())
    }

    /// AIM's `block w`: the current thread waits on `q` until some `unblock(q)` makes it ready.
    /// Requires the flag set (else a wake-up between the caller's test and the wait is lost);
    /// returns with it set.
    public static func block(_ q: WaitQueue) {
        require(s.pointee.masked, .blockWithoutCLI)
        let me = s.pointee.current
        s.pointee.threads[me].state = .blocked
        enqueue(q, me)
        run(next())
    }

    /// Blocks the current thread on `q` and runs `to` at once (Hoare's hand-over): `to` must be
    /// a thread just taken off a wait queue.
    static func block(_ q: WaitQueue, handingTo to: Int, readyNotBlocked: Bool = false) {
        require(s.pointee.masked, .blockWithoutCLI)
        let me = s.pointee.current
        if readyNotBlocked { makeReady(me) } else {
            s.pointee.threads[me].state = .blocked
            enqueue(q, me)
        }
        run(to)
    }

    /// AIM's `unblock w`: moves the first waiter of `q` to the ready queue; returns it, or nil
    /// when none waits. Requires the flag set. The caller keeps running.
    @discardableResult
    public static func unblock(_ q: WaitQueue) -> Int? {
        require(s.pointee.masked, .unblockWithoutCLI)
        guard let t = dequeue(q) else { return nil }
        if mutant == .unblockDropsWaiter { return t }
        makeReady(t)
        return t
    }

    /// Takes the first waiter of `q` off it without making it ready (for a hand-over).
    static func takeWaiter(_ q: WaitQueue) -> Int? {
        require(s.pointee.masked, .unblockWithoutCLI)
        return dequeue(q)
    }

    // MARK: threads

    /// A new thread that will run `entry(argument)` with the flag clear, then exit. Returns its
    /// id, or nil when the table is full. Leaves the caller's flag as it was.
    public static func create(_ entry: ThreadEntry, argument: UInt64 = 0) -> Int? {
        let wasMasked = s.pointee.masked
        if !wasMasked { cli() }
        var t = 2
        while t < maxThreads && s.pointee.threads[t].state != .free { t += 1 }
        if t < maxThreads {
            s.pointee.entries[t] = entry
            s.pointee.arguments[t] = argument
            m.prepare(t)
            makeReady(t)
        }
        if !wasMasked { sti() }
        return t < maxThreads ? t : nil
    }

    /// Where every thread starts (the machine's `prepare` points it here), flag set.
    public static func threadMain() {
        let me = s.pointee.current
        let entry = s.pointee.entries[me].unsafelyUnwrapped
        let argument = s.pointee.arguments[me]
        sti()
        entry(argument)
        exit()
    }

    /// Ends the current thread. Never returns.
    public static func exit() -> Never {
        cli()
        let me = s.pointee.current
        s.pointee.threads[me].state = .exited
        run(next())
        preconditionFailure("threads: an exited thread ran")
    }

    /// Gives the CPU to the next ready thread, if any (`cli; switch; sti`).
    public static func yield() {
        cli()
        switchThread()
        sti()
    }

    /// Waits `ticks` timer ticks (at least one), other threads running meanwhile.
    public static func sleep(_ ticks: UInt64) {
        cli()
        let me = s.pointee.current
        s.pointee.threads[me].wakeTick = s.pointee.ticks + max(ticks, 1)
        s.pointee.threads[me].state = .sleeping
        enqueue(sleepQueue, me)
        run(next())
        sti()
    }

    static let idleMain: ThreadEntry = { _ in
        while true { Threads.m.idle() }
    }

    // MARK: the timer handler

    /// AIM's timer handler with preemption, entered with the flag set: counts the tick, runs
    /// the invariant check and the program's handler, wakes the sleepers whose time came, puts
    /// the interrupted thread at the ready queue's tail and runs the queue's head (the same
    /// thread when no other is ready).
    /// `contextSaved`: the interrupted thread's registers are already in its slot (the real
    /// handler) and the machine resumes whichever thread runs next; otherwise (a tick taken at
    /// `sti`, or on the host) this returns when the interrupted thread runs again.
    public static func tick(contextSaved: Bool) {
        require(s.pointee.masked, .tickWithFlagClear)
        s.pointee.ticks += 1
        onCheck?()
        onTick?()
        wakeSleepers()
        let me = s.pointee.current
        if me != idleThread { makeReady(me) }
        let to = next()
        if to != me { s.pointee.preemptions += 1 }
        if contextSaved {
            s.pointee.switches += to != me ? 1 : 0
            s.pointee.threads[to].state = .running
            s.pointee.threads[to].runs += to != me ? 1 : 0
            s.pointee.current = to
            m.transfer(me, to, false)
        }
        run(to)
    }

    /// The tick as the host's test scheduler fires it at a point with the flag clear: the
    /// machine's interrupt entry (flag set), the handler, and the return (flag clear again).
    public static func interrupt() {
        precondition(!s.pointee.masked)
        s.pointee.masked = true
        tick(contextSaved: false)
        s.pointee.masked = false
    }

    static func wakeSleepers() {
        var n = 0
        var kept: InlineArray<16, Int16> = .init(repeating: -1)
        while let t = dequeue(sleepQueue) {
            if s.pointee.threads[t].wakeTick <= s.pointee.ticks { makeReady(t) } else { kept[n] = Int16(t); n += 1 }
        }
        var k = 0
        while k < n { enqueue(sleepQueue, Int(kept[k])); k += 1 }
    }
}

/// A misuse of a primitive, reported through the machine's `fault`.
public enum ThreadFault: UInt8, Sendable {
    case stiWithoutCLI = 1, switchWithoutCLI, blockWithoutCLI, unblockWithoutCLI, tickWithFlagClear
    case releaseNotHeld, wokenWithoutLock, waitWithoutLock, signalWithoutLock

    /// What went wrong, for a partition's console.
    public var message: StaticString {
        switch self {
        case .stiWithoutCLI: return "sti with the flag already clear"
        case .switchWithoutCLI: return "switch with the flag clear"
        case .blockWithoutCLI: return "block with the flag clear"
        case .unblockWithoutCLI: return "unblock with the flag clear"
        case .tickWithFlagClear: return "the timer handler ran with the flag clear"
        case .releaseNotHeld: return "a lock released by a thread that does not hold it"
        case .wokenWithoutLock: return "a thread woke without the lock handed to it"
        case .waitWithoutLock: return "a condition wait without the lock"
        case .signalWithoutLock: return "a condition signal without the lock"
        }
    }
}

extension Threads {
    /// Reports `fault` through the machine unless `ok`.
    @inline(__always) static func require(_ ok: Bool, _ fault: ThreadFault) {
        if !ok { m.fault(fault.rawValue) }
    }
}

/// Deliberately broken primitives, for the host exploration to find (Tests/SprigThreadsTests).
enum ThreadMutant: Sendable {
    /// A Mesa condition wait that does not re-check its condition after waking.
    case mesaWaitWithoutRecheck
    /// A Mesa lock that tests the lock before `cli` and blocks on what it saw.
    case blockWithoutCLI
    /// `unblock` takes the waiter off the queue but never makes it ready.
    case unblockDropsWaiter
}
