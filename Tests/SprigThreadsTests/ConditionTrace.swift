/// The same monitor program under the three condition-variable semantics, no tick: a waiter W,
/// a signaller S (thread 1) and a thread T that asks for the lock while S holds it. Who runs
/// after `signal`, and whether S still holds the lock after it, tell the semantics apart.
@testable import SprigThreads

enum TraceLog {
    nonisolated(unsafe) static var events: [String] = []
    static func log(_ e: String) { events.append(e) }
}

enum ConditionKind { case mesa, hoare, brinchHansen }

enum ConditionTrace: ThreadProgram {
    nonisolated(unsafe) static var kind = ConditionKind.mesa
    nonisolated(unsafe) static var mesaLock: MesaLock?
    nonisolated(unsafe) static var hoareLock: HoareLock?
    nonisolated(unsafe) static var mesa: MesaCondition?
    nonisolated(unsafe) static var hoare: HoareCondition?
    nonisolated(unsafe) static var brinchHansen: BrinchHansenCondition?

    static func acquire() { if kind == .mesa { mesaLock!.acquire() } else { hoareLock!.acquire() } }
    static func release() { if kind == .mesa { mesaLock!.release() } else { hoareLock!.release() } }
    static func holding() -> Bool {
        (kind == .mesa ? mesaLock!.holder : hoareLock!.holder) == Threads.current
    }

    static func setUp() {
        TraceLog.events = []
        mesaLock = MesaLock(); hoareLock = HoareLock()
        mesa = MesaCondition(); hoare = HoareCondition(); brinchHansen = BrinchHansenCondition()
        _ = Threads.create({ _ in
            ConditionTrace.acquire()
            TraceLog.log("W waits")
            switch ConditionTrace.kind {
            case .mesa: ConditionTrace.mesa!.wait(ConditionTrace.mesaLock!)
            case .hoare: ConditionTrace.hoare!.wait(ConditionTrace.hoareLock!)
            case .brinchHansen: ConditionTrace.brinchHansen!.wait(ConditionTrace.hoareLock!)
            }
            TraceLog.log("W wakes")
            ConditionTrace.release()
        })
    }

    static func main() {
        Threads.yield()  // W runs and waits
        acquire()
        _ = Threads.create({ _ in
            ConditionTrace.acquire()
            TraceLog.log("T enters")
            ConditionTrace.release()
        })
        Threads.yield()  // T runs and waits for the lock
        TraceLog.log("S signals")
        switch kind {
        case .mesa: mesa!.signal()
        case .hoare: hoare!.signal(hoareLock!)
        case .brinchHansen: brinchHansen!.signalAndExit(hoareLock!)
        }
        TraceLog.log(holding() ? "S after, holding the lock" : "S after, outside the monitor")
        if kind != .brinchHansen { release() }
    }

    static func finalCheck() -> [String] { [] }
}
