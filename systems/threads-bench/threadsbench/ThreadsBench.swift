/// The `threads-bench` system's child: guest-instruction counts of the threads library in a
/// partition (`sprig bench`, docs/bench.md), printed as `bench: <key> <median> <min> <max>`.
///
/// * `threads.switch`: two threads pass the CPU back and forth with `Threads.yield()`; from the
///   counter read just before one thread's yield to the one just after the other's returns
///   (its cli and sti: two setIntState calls; the context save and restore in between).
/// * `threads.tick_to_handler`: a thread spins storing the counter; a hardware tick goes to
///   root, root yields at the child's `VIDT[32]`, the library copies the interrupted context
///   into the thread's slot and calls the program's timer code (`Threads.onTick`), which reads
///   the counter: from the spinning thread's last store to that read.
import SprigABI
import SprigUser
import SprigThreads

enum Measure {
    nonisolated(unsafe) static var baseline: UInt64 = 0
    nonisolated(unsafe) static var switches = Samples()
    nonisolated(unsafe) static var ticks = Samples()
    nonisolated(unsafe) static var before: UInt64 = 0
    nonisolated(unsafe) static var lastSpin: UInt64 = 0
    nonisolated(unsafe) static var spinning = false
    nonisolated(unsafe) static var passes = 0
}

/// One side of the ping-pong: yields until 2 × 16 passes are made, timing each arrival.
let pingPong: @convention(c) (UInt64) -> Void = { _ in
    while Measure.passes < 33 {
        if Measure.passes > 0 { Measure.switches.add(readTSC() - Measure.before) }
        Measure.passes += 1
        Measure.before = readTSC()
        Threads.yield()
    }
}

@_cdecl("sprig_partition_main")
func threadsBenchMain(_ argument: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    PartitionThreads.start(ThreadsMemory(base: ChildLayout.poolBase, pages: ThreadsMemory.required),
                           handlerStackTop: ChildLayout.handlerStackTop, exitVector: 0xB7)
    Measure.baseline = Samples.counterBaseline()
    Threads.onTick = {
        let now = readTSC()
        if Measure.spinning && Measure.ticks.count < 16 { Measure.ticks.add(now - Measure.lastSpin) }
    }
    _ = Threads.create(pingPong)
    _ = Threads.create(pingPong)
    Threads.sti()
    // Thread 1 waits with its flag clear while the two play (it is on the ready queue too:
    // its turns are not timed, the players time only arrivals from each other).
    while Measure.passes < 33 { Threads.sleep(1) }
    Measure.spinning = true
    while Measure.ticks.count < 16 { Measure.lastSpin = readTSC() }
    Measure.spinning = false
    Measure.switches.report("threads.switch", baseline: Measure.baseline)
    Measure.ticks.report("threads.tick_to_handler", baseline: Measure.baseline)
    Threads.exit()
}
