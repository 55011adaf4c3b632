/// Four classic programs on the threads library at once, in a partition whose virtual timer is
/// its parent's: a bounded buffer with Mesa conditions, one with Hoare conditions,
/// readers/writers and dining philosophers (docs/threads.md). Each runs until the partition
/// has seen `ticksWanted` ticks and every program was preempted inside (`Demo.running`); each checks its invariant at every tick and every sti (every
/// point where another thread may run next) and counts the ticks that preempted one of its
/// threads inside its critical section (the tick rate is set so that they do).
import SprigABI
import SprigUser
import SprigThreads

/// Per-program counters: invariant checks, breaks, preemptions inside a critical section.
struct Tally {
    var checks: UInt64 = 0
    var broken: UInt64 = 0
    var preemptedInside: UInt64 = 0
    var done: UInt64 = 0
}

enum Demo {
    nonisolated(unsafe) static var wanted: UInt64 = 0
    nonisolated(unsafe) static var exited: UInt64 = 0
    nonisolated(unsafe) static var tallies: InlineArray<4, Tally> = .init(repeating: Tally())
    /// The programs run for `wanted` ticks and then until each has been preempted inside its
    /// critical section at least once: where a tick lands depends on the host's speed, so the run
    /// waits for that condition rather than trusting a count, up to four times `wanted` (never
    /// seen by then is reported as a failure).
    static var running: Bool {
        Threads.ticks < wanted || (Threads.ticks < wanted &* 4 && !everyProgramPreemptedInside)
    }
    static var everyProgramPreemptedInside: Bool {
        tallies[0].preemptedInside != 0 && tallies[1].preemptedInside != 0
            && tallies[2].preemptedInside != 0 && tallies[3].preemptedInside != 0
    }
}

@inline(never) func work(_ n: UInt64) -> UInt64 {
    var x: UInt64 = n
    var k: UInt64 = 0
    while k < n { x = x &* 6364136223846793005 &+ 1442695040888963407; k += 1 }
    return x
}

// MARK: Bounded buffers

let capacity: UInt64 = 4

/// A ring of `capacity` values; `holder` is the thread inside its monitor (-1: none).
struct Ring {
    var items: InlineArray<4, UInt64> = .init(repeating: 0)
    var head: UInt64 = 0
    var count: UInt64 = 0
    var produced: UInt64 = 0
    var consumed: UInt64 = 0
    var lastTaken: InlineArray<2, UInt64> = .init(repeating: 0)
    var outOfOrder: UInt64 = 0
    var inside: Int = -1

    mutating func put(_ v: UInt64) {
        items[Int((head + count) % capacity)] = v
        count += 1
    }
    mutating func take() -> UInt64 {
        let v = items[Int(head)]
        head = (head + 1) % capacity
        count -= 1
        return v
    }
    /// Invariant: count within bounds; values in the ring are `consumed + sentinels … produced`.
    var holds: Bool { count <= capacity }
}

enum MesaRing {
    nonisolated(unsafe) static var ring = Ring()
    nonisolated(unsafe) static var lock: MesaLock? = nil
    nonisolated(unsafe) static var notEmpty: MesaCondition? = nil
    nonisolated(unsafe) static var notFull: MesaCondition? = nil
}

enum HoareRing {
    nonisolated(unsafe) static var ring = Ring()
    nonisolated(unsafe) static var lock: HoareLock? = nil
    nonisolated(unsafe) static var notEmpty: HoareCondition? = nil
    nonisolated(unsafe) static var notFull: HoareCondition? = nil
}

/// Every `holdEvery`-th item (the first included), the producer stays inside its monitor until
/// a tick has come, so that each bounded buffer is preempted inside its critical section however
/// the host's speed places the ticks: its short section is otherwise rarely where a tick lands
/// (the Hoare buffer's, tens of instructions between hand-offs, went 40,000 ticks without one).
let holdEvery: UInt64 = 128

/// Stays (inside the caller's critical section, the flag set) until the tick count moves. A tick
/// during the `cli` window that reads the count is held and taken at its `sti`, still inside.
/// The count is read between `cli` and `sti` (library calls that write the scheduler's state),
/// so the compiler cannot keep it in a register across the loop.
func holdAcrossTick() {
    Threads.cli()
    let before = Threads.ticks
    Threads.sti()
    while true {
        _ = work(20)
        Threads.cli()
        let now = Threads.ticks
        Threads.sti()
        if now != before { return }
    }
}

/// Producer of program `p` (0 Mesa, 1 Hoare): 1, 2, 3, … while running, then a 0 per consumer.
func producer(_ p: UInt64) {
    var v: UInt64 = 1
    var sentinels: UInt64 = 0
    while sentinels < 2 {
        let value = Demo.running ? v : 0
        if p == 0 {
            MesaRing.lock!.acquire()
            MesaRing.ring.inside = Threads.current
            MesaRing.notFull!.wait(MesaRing.lock!) { MesaRing.ring.count < capacity }
            MesaRing.ring.inside = Threads.current
            MesaRing.ring.put(value)
            _ = work(40)
            if value % holdEvery == 1 { holdAcrossTick() }
            MesaRing.notEmpty!.signal()
            MesaRing.ring.inside = -1
            MesaRing.lock!.release()
        } else {
            HoareRing.lock!.acquire()
            HoareRing.ring.inside = Threads.current
            HoareRing.notFull!.wait(HoareRing.lock!) { HoareRing.ring.count < capacity }
            HoareRing.ring.inside = Threads.current
            HoareRing.ring.put(value)
            _ = work(40)
            if value % holdEvery == 1 { holdAcrossTick() }
            HoareRing.notEmpty!.signal(HoareRing.lock!)
            HoareRing.ring.inside = -1
            HoareRing.lock!.release()
        }
        if value == 0 { sentinels += 1 } else { v += 1 }
        _ = work(300)
    }
    if p == 0 { MesaRing.ring.produced = v - 1 } else { HoareRing.ring.produced = v - 1 }
}

/// Consumer `c` (0 or 1) of program `p`: takes values until a 0; each value larger than its
/// previous one (one producer, FIFO).
func consumer(_ p: UInt64, _ c: Int) {
    while true {
        var v: UInt64 = 0
        if p == 0 {
            MesaRing.lock!.acquire()
            MesaRing.ring.inside = Threads.current
            MesaRing.notEmpty!.wait(MesaRing.lock!) { MesaRing.ring.count > 0 }
            MesaRing.ring.inside = Threads.current
            v = MesaRing.ring.take()
            _ = work(40)
            if v != 0 {
                MesaRing.ring.consumed += 1
                if v <= MesaRing.ring.lastTaken[c] { MesaRing.ring.outOfOrder += 1 }
                MesaRing.ring.lastTaken[c] = v
            }
            MesaRing.notFull!.signal()
            MesaRing.ring.inside = -1
            MesaRing.lock!.release()
        } else {
            HoareRing.lock!.acquire()
            HoareRing.ring.inside = Threads.current
            HoareRing.notEmpty!.wait(HoareRing.lock!) { HoareRing.ring.count > 0 }
            HoareRing.ring.inside = Threads.current
            // Hoare: woken holding the lock with the condition true; no second test.
            if HoareRing.ring.count == 0 { Demo.tallies[1].broken += 1 }
            v = HoareRing.ring.take()
            _ = work(40)
            if v != 0 {
                HoareRing.ring.consumed += 1
                if v <= HoareRing.ring.lastTaken[c] { HoareRing.ring.outOfOrder += 1 }
                HoareRing.ring.lastTaken[c] = v
            }
            HoareRing.notFull!.signal(HoareRing.lock!)
            HoareRing.ring.inside = -1
            HoareRing.lock!.release()
        }
        if v == 0 { return }
        _ = work(200)
    }
}

// MARK: Readers and writers (a Mesa monitor; writers wait for no reader, readers for no writer)

enum RW {
    nonisolated(unsafe) static var lock: MesaLock? = nil
    nonisolated(unsafe) static var changed: MesaCondition? = nil
    nonisolated(unsafe) static var readers: UInt64 = 0
    nonisolated(unsafe) static var writers: UInt64 = 0
    nonisolated(unsafe) static var reads: UInt64 = 0
    nonisolated(unsafe) static var writes: UInt64 = 0
    /// The shared record: two words a writer keeps equal; a reader checks them.
    nonisolated(unsafe) static var a: UInt64 = 0
    nonisolated(unsafe) static var b: UInt64 = 0
    nonisolated(unsafe) static var torn: UInt64 = 0
}

func reader() {
    while Demo.running {
        RW.lock!.acquire()
        RW.changed!.wait(RW.lock!) { RW.writers == 0 }
        RW.readers += 1
        RW.lock!.release()
        let x = RW.a
        _ = work(60)  // reading: a writer here would tear the record
        if RW.b != x { RW.torn += 1 }
        RW.reads += 1
        RW.lock!.acquire()
        RW.readers -= 1
        if RW.readers == 0 { RW.changed!.broadcast() }
        RW.lock!.release()
        _ = work(150)
    }
}

func writer() {
    while Demo.running {
        RW.lock!.acquire()
        RW.changed!.wait(RW.lock!) { RW.writers == 0 && RW.readers == 0 }
        RW.writers += 1
        RW.lock!.release()
        RW.a += 1
        _ = work(60)  // writing: the record is torn in between
        RW.b = RW.a
        RW.writes += 1
        RW.lock!.acquire()
        RW.writers -= 1
        RW.changed!.broadcast()
        RW.lock!.release()
        _ = work(400)
    }
}

// MARK: Dining philosophers (forks are Mesa locks, taken lower number first)

let philosophers = 4

enum Table {
    nonisolated(unsafe) static var forks: InlineArray<4, MesaLock?> = .init(repeating: nil)
    nonisolated(unsafe) static var eating: InlineArray<4, Bool> = .init(repeating: false)
    nonisolated(unsafe) static var meals: InlineArray<4, UInt64> = .init(repeating: 0)
}

func philosopher(_ i: Int) {
    let left = i, right = (i + 1) % philosophers
    let first = min(left, right), second = max(left, right)
    while Demo.running {
        Table.forks[first]!.acquire()
        Table.forks[second]!.acquire()
        Table.eating[i] = true
        _ = work(80)
        Table.meals[i] += 1
        Table.eating[i] = false
        Table.forks[second]!.release()
        Table.forks[first]!.release()
        _ = work(250)
    }
}

// MARK: Checks at every tick and sti

func demoCheck() {
    let me = Threads.current
    // Mesa buffer.
    Demo.tallies[0].checks += 1
    if !MesaRing.ring.holds { Demo.tallies[0].broken += 1 }
    // Hoare buffer.
    Demo.tallies[1].checks += 1
    if !HoareRing.ring.holds { Demo.tallies[1].broken += 1 }
    // Readers/writers: never a writer with anyone else inside.
    Demo.tallies[2].checks += 1
    if RW.writers > 1 || (RW.writers == 1 && RW.readers > 0) { Demo.tallies[2].broken += 1 }
    // Philosophers: neighbours never eat together; an eater holds both forks.
    Demo.tallies[3].checks += 1
    var i = 0
    while i < philosophers {
        let j = (i + 1) % philosophers
        if Table.eating[i] && Table.eating[j] { Demo.tallies[3].broken += 1 }
        if Table.eating[i] && (Table.forks[i]!.holder != i + 11 || Table.forks[j]!.holder != i + 11) {
            Demo.tallies[3].broken += 1
        }
        i += 1
    }
    _ = me
}

/// At every tick: which program's critical section the interrupted thread was in.
func demoTick() {
    let me = Threads.current
    if MesaRing.ring.inside == me { Demo.tallies[0].preemptedInside += 1 }
    if HoareRing.ring.inside == me { Demo.tallies[1].preemptedInside += 1 }
    if RW.writers > 0 || RW.readers > 0 { Demo.tallies[2].preemptedInside += 1 }
    var i = 0
    while i < philosophers {
        if Table.eating[i] && me == i + 11 { Demo.tallies[3].preemptedInside += 1 }
        i += 1
    }
}

// MARK: Threads

let demoThread: @convention(c) (UInt64) -> Void = { role in
    switch role {
    case 0: producer(0)
    case 1, 2: consumer(0, Int(role - 1))
    case 3: producer(1)
    case 4, 5: consumer(1, Int(role - 4))
    case 6, 7: reader()
    case 8: writer()
    default: philosopher(Int(role - 9))
    }
    Threads.cli()
    Demo.exited += 1
    Threads.sti()
}

func report(_ out: inout Output, _ name: StaticString, _ t: Tally, _ what: StaticString, _ n: UInt64) {
    out.write("threads-demo: ")
    out.write(name)
    out.write(": ")
    out.write(what)
    out.write(" ")
    out.decimal(n)
    out.write(", invariant checked ")
    out.decimal(t.checks)
    out.write(" times, broken ")
    out.decimal(t.broken)
    out.write(", preempted inside its critical sections ")
    out.decimal(t.preemptedInside)
    out.byte(10)
}

@_cdecl("sprig_partition_main")
func threadsDemoMain(_ ticksWanted: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    PartitionThreads.start(ThreadsMemory(base: ChildLayout.poolBase, pages: ThreadsMemory.required),
                           handlerStackTop: ChildLayout.handlerStackTop, exitVector: 0xB7)
    Demo.wanted = ticksWanted
    MesaRing.lock = MesaLock(); MesaRing.notEmpty = MesaCondition(); MesaRing.notFull = MesaCondition()
    HoareRing.lock = HoareLock(); HoareRing.notEmpty = HoareCondition(); HoareRing.notFull = HoareCondition()
    RW.lock = MesaLock(); RW.changed = MesaCondition()
    var f = 0
    while f < philosophers { Table.forks[f] = MesaLock(); f += 1 }
    Threads.onCheck = { demoCheck() }
    Threads.onTick = { demoTick() }
    // Threads 2...14: the roles in order, so philosopher i is thread i + 11.
    var role: UInt64 = 0
    while role < 9 + UInt64(philosophers) {
        if Threads.create(demoThread, argument: role) == nil { SharedConsole.countFailure() }
        role += 1
    }
    Threads.sti()
    var out = Output()
    out.line("threads-demo: Mesa and Hoare bounded buffers, readers/writers, 4 dining philosophers")
    let total = 9 + UInt64(philosophers)
    while Demo.exited < total { Threads.sleep(50) }
    let s = Threads.state
    report(&out, "bounded buffer (Mesa)", Demo.tallies[0], "items", MesaRing.ring.consumed)
    report(&out, "bounded buffer (Hoare)", Demo.tallies[1], "items", HoareRing.ring.consumed)
    report(&out, "readers/writers", Demo.tallies[2], "reads", RW.reads)
    report(&out, "dining philosophers", Demo.tallies[3], "meals", Table.meals[0] + Table.meals[1] + Table.meals[2] + Table.meals[3])
    out.write("threads-demo: ticks ")
    out.decimal(s.ticks)
    out.write(", preemptions ")
    out.decimal(s.preemptions)
    out.write(", switches ")
    out.decimal(s.switches)
    out.write(", held ticks taken at sti ")
    out.decimal(s.deferredTicks)
    out.write(", inside a resume sequence (restarted) ")
    out.decimal(PartitionThreads.restartedResumes)
    out.write("; writes ")
    out.decimal(RW.writes)
    out.write(", torn reads ")
    out.decimal(RW.torn)
    out.write(", values out of order ")
    out.decimal(MesaRing.ring.outOfOrder + HoareRing.ring.outOfOrder)
    out.byte(10)
    var ok = RW.torn == 0 && MesaRing.ring.outOfOrder == 0 && HoareRing.ring.outOfOrder == 0
    ok = ok && MesaRing.ring.consumed == MesaRing.ring.produced && HoareRing.ring.consumed == HoareRing.ring.produced
    var k = 0
    while k < 4 {
        if Demo.tallies[k].broken != 0 || Demo.tallies[k].preemptedInside == 0 { ok = false }
        k += 1
    }
    if ok { out.line("threads-demo: PASS") } else {
        SharedConsole.countFailure()
        out.line("threads-demo: FAILED (an invariant broke, a value was lost or reordered, or a program was never preempted inside)")
    }
    Threads.exit()
}
