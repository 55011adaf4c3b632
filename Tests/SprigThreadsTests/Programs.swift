/// Small programs for the host exploration, each with the invariants it checks at every tick
/// and `sti` (the library's `onCheck`) and at its end.
@testable import SprigThreads

/// The teeter-totter of the AIM talk, small: left = right = 3; thread 1 moves one unit from
/// right to left under cli/sti until right is empty ("left wins"); the timer handler moves one
/// from left to right until left is empty ("right wins"). left + right = 6 at every tick and
/// every sti.
enum SmallTeeter: ThreadProgram {
    nonisolated(unsafe) static var left = 0, right = 0, winner = ""
    /// The broken variant: the main loop moves without cli/sti.
    nonisolated(unsafe) static var withoutCLI = false

    static func setUp() {
        left = 3; right = 3; winner = ""
        Threads.onCheck = { if SmallTeeter.left + SmallTeeter.right != 6 { violation("left + right != 6") } }
        Threads.onTick = {
            if SmallTeeter.left == 0 {
                if SmallTeeter.winner.isEmpty { SmallTeeter.winner = "right" }
            } else {
                SmallTeeter.left -= 1
                SmallTeeter.right += 1
            }
        }
    }

    static func main() {
        while true {
            if !withoutCLI { Threads.cli() }
            if right == 0 {
                if !withoutCLI { Threads.sti() }
                if winner.isEmpty { winner = "left" }
                return
            }
            right -= 1
            Threads.point()
            left += 1
            if !withoutCLI { Threads.sti() } else { Threads.point() }
        }
    }

    static func finalCheck() -> [String] {
        var f: [String] = []
        if left + right != 6 { f.append("final left + right = \(left + right)") }
        if winner.isEmpty { f.append("no winner") }
        return f
    }
}

/// Two workers each add 1 twice to a counter under a lock, reading and writing it with a
/// point between: mutual exclusion checked at every point inside, the total at the end.
protocol LockedCounter: ThreadProgram {
    static func makeLock()
    static func acquire()
    static func release()
}

enum CounterState {
    nonisolated(unsafe) static var counter = 0
    nonisolated(unsafe) static var inside = 0
    nonisolated(unsafe) static var finished = 0
    static let rounds = 2
    static let workers = 2
}

extension LockedCounter {
    static func setUp() {
        CounterState.counter = 0; CounterState.inside = 0; CounterState.finished = 0
        makeLock()
        let worker: ThreadEntry = { _ in CurrentCounter.work() }
        CurrentCounter.program = self
        for _ in 1..<CounterState.workers { _ = Threads.create(worker) }
    }

    static func main() { work() }

    static func work() {
        for _ in 0..<CounterState.rounds {
            acquire()
            CounterState.inside += 1
            if CounterState.inside > 1 { violation("two threads inside the lock") }
            let v = CounterState.counter
            Threads.point()
            CounterState.counter = v + 1
            CounterState.inside -= 1
            release()
        }
    }

    static func finalCheck() -> [String] {
        let want = CounterState.rounds * CounterState.workers
        return CounterState.counter == want ? [] : ["counter \(CounterState.counter), want \(want)"]
    }
}

/// The `LockedCounter` being run (thread entries are C functions: they find it here).
enum CurrentCounter {
    nonisolated(unsafe) static var program: LockedCounter.Type = SpinCounter.self
    static func work() { program.work() }
}

enum SpinCounter: LockedCounter {
    nonisolated(unsafe) static var lock: SpinLock?
    static func makeLock() { lock = SpinLock() }
    static func acquire() { lock!.acquire() }
    static func release() { lock!.release() }
}

enum MesaCounter: LockedCounter {
    nonisolated(unsafe) static var lock: MesaLock?
    static func makeLock() { lock = MesaLock() }
    static func acquire() { lock!.acquire() }
    static func release() { lock!.release() }
}

enum HoareCounter: LockedCounter {
    nonisolated(unsafe) static var lock: HoareLock?
    static func makeLock() { lock = HoareLock() }
    static func acquire() { lock!.acquire() }
    static func release() { lock!.release() }
}

enum MesaCounterBlockWithoutCLI: LockedCounter {
    static var mutant: ThreadMutant? { .blockWithoutCLI }
    static func makeLock() { MesaCounter.makeLock() }
    static func acquire() { MesaCounter.acquire() }
    static func release() { MesaCounter.release() }
}

enum MesaCounterUnblockDrops: LockedCounter {
    static var mutant: ThreadMutant? { .unblockDropsWaiter }
    static func makeLock() { MesaCounter.makeLock() }
    static func acquire() { MesaCounter.acquire() }
    static func release() { MesaCounter.release() }
}

/// A bounded buffer of capacity 1: thread 1 produces `items` values 1, 2, …; two consumers take
/// `items / 2` each. Invariant at every point: 0 <= count <= 1; at the end every value taken
/// once, in order.
enum BufferState {
    nonisolated(unsafe) static var slot = 0
    nonisolated(unsafe) static var count = 0
    nonisolated(unsafe) static var taken: [Int] = []
    static let items = 2
    static func reset() { slot = 0; count = 0; taken = [] }
    static func check() {
        if count < 0 || count > 1 { violation("buffer count \(count)") }
    }
    static func put(_ v: Int) {
        if count != 0 { violation("put into a full buffer") }
        slot = v
        Threads.point()
        count += 1
    }
    static func take() {
        if count != 1 { violation("take from an empty buffer") }
        taken.append(slot)
        Threads.point()
        count -= 1
    }
    static func finalCheck() -> [String] {
        taken.sorted() == Array(1...items) ? [] : ["values taken \(taken)"]
    }
}

/// A monitor around the buffer: the producer's and the consumers' steps, and the program that
/// runs them (thread 1 produces, two consumers take half each).
protocol BufferMonitor: ThreadProgram {
    static func makeMonitor()
    static func produce(_ v: Int)
    static func consumeOne()
}

extension BufferMonitor {
    static func setUp() {
        BufferState.reset()
        makeMonitor()
        Threads.onCheck = { BufferState.check() }
        CurrentBuffer.program = self
        for _ in 0..<2 { _ = Threads.create({ _ in CurrentBuffer.consume(BufferState.items / 2) }) }
    }

    static func main() {
        for v in 1...BufferState.items { produce(v) }
    }

    static func finalCheck() -> [String] { BufferState.finalCheck() }
}

enum CurrentBuffer {
    nonisolated(unsafe) static var program: BufferMonitor.Type = MesaBuffer.self
    static func consume(_ n: Int) { for _ in 0..<n { program.consumeOne() } }
}

enum MesaBuffer: BufferMonitor {
    nonisolated(unsafe) static var lock: MesaLock?
    nonisolated(unsafe) static var notEmpty: MesaCondition?
    nonisolated(unsafe) static var notFull: MesaCondition?

    static func makeMonitor() { lock = MesaLock(); notEmpty = MesaCondition(); notFull = MesaCondition() }

    static func produce(_ v: Int) {
        lock!.acquire()
        notFull!.wait(lock!) { BufferState.count == 0 }
        BufferState.put(v)
        notEmpty!.signal()
        lock!.release()
    }

    static func consumeOne() {
        lock!.acquire()
        notEmpty!.wait(lock!) { BufferState.count == 1 }
        BufferState.take()
        notFull!.signal()
        lock!.release()
    }
}

enum MesaBufferWithoutRecheck: BufferMonitor {
    static var mutant: ThreadMutant? { .mesaWaitWithoutRecheck }
    static func makeMonitor() { MesaBuffer.makeMonitor() }
    static func produce(_ v: Int) { MesaBuffer.produce(v) }
    static func consumeOne() { MesaBuffer.consumeOne() }
}

enum HoareBuffer: BufferMonitor {
    nonisolated(unsafe) static var lock: HoareLock?
    nonisolated(unsafe) static var notEmpty: HoareCondition?
    nonisolated(unsafe) static var notFull: HoareCondition?

    static func makeMonitor() { lock = HoareLock(); notEmpty = HoareCondition(); notFull = HoareCondition() }

    static func produce(_ v: Int) {
        lock!.acquire()
        notFull!.wait(lock!) { BufferState.count == 0 }
        BufferState.put(v)
        notEmpty!.signal(lock!)
        lock!.release()
    }

    static func consumeOne() {
        lock!.acquire()
        notEmpty!.wait(lock!) { BufferState.count == 1 }
        BufferState.take()
        notFull!.signal(lock!)
        lock!.release()
    }
}

enum BrinchHansenBuffer: BufferMonitor {
    nonisolated(unsafe) static var lock: HoareLock?
    nonisolated(unsafe) static var notEmpty: BrinchHansenCondition?
    nonisolated(unsafe) static var notFull: BrinchHansenCondition?

    static func makeMonitor() {
        lock = HoareLock(); notEmpty = BrinchHansenCondition(); notFull = BrinchHansenCondition()
    }

    static func produce(_ v: Int) {
        lock!.acquire()
        notFull!.wait(lock!) { BufferState.count == 0 }
        BufferState.put(v)
        notEmpty!.signalAndExit(lock!)
    }

    static func consumeOne() {
        lock!.acquire()
        notEmpty!.wait(lock!) { BufferState.count == 1 }
        BufferState.take()
        notFull!.signalAndExit(lock!)
    }
}

/// One thread sleeps 2 ticks while another counts: the sleeper wakes no earlier than 2 ticks
/// later and the run ends (a sleeper is never forgotten).
enum Sleeper: ThreadProgram {
    nonisolated(unsafe) static var sleptAt: UInt64 = 0
    nonisolated(unsafe) static var wokeAt: UInt64 = 0
    static func setUp() {
        sleptAt = 0; wokeAt = 0
        _ = Threads.create({ _ in
            Sleeper.sleptAt = Threads.ticks
            Threads.sleep(2)
            Sleeper.wokeAt = Threads.ticks
        })
    }
    static func main() {
        for _ in 0..<3 { Threads.point() }
    }
    static func finalCheck() -> [String] {
        wokeAt >= sleptAt + 2 ? [] : ["slept at tick \(sleptAt), woke at \(wokeAt)"]
    }
}

/// Three dining philosophers, one meal each, forks as Mesa locks: taking the lower-numbered
/// fork first never deadlocks; taking the left one first can (every philosopher holding one).
enum Philosophers: ThreadProgram {
    nonisolated(unsafe) static var forks: [MesaLock] = []
    nonisolated(unsafe) static var eating: [Bool] = []
    nonisolated(unsafe) static var meals = 0
    nonisolated(unsafe) static var leftFirst = false
    static let count = 3

    static func setUp() {
        forks = (0..<count).map { _ in MesaLock() }
        eating = Array(repeating: false, count: count)
        meals = 0
        Threads.onCheck = {
            for i in 0..<Philosophers.count where Philosophers.eating[i] && Philosophers.eating[(i + 1) % Philosophers.count] {
                violation("neighbours \(i) and \((i + 1) % Philosophers.count) eat together")
            }
        }
        for i in 1..<count { _ = Threads.create({ Philosophers.dine(Int($0)) }, argument: UInt64(i)) }
    }

    static func main() { dine(0) }

    static func dine(_ i: Int) {
        let left = i, right = (i + 1) % count
        let first = leftFirst ? left : min(left, right), second = leftFirst ? right : max(left, right)
        forks[first].acquire()
        Threads.point()
        forks[second].acquire()
        eating[i] = true
        Threads.point()
        meals += 1
        eating[i] = false
        forks[second].release()
        forks[first].release()
    }

    static func finalCheck() -> [String] { meals == count ? [] : ["meals \(meals)"] }
}
