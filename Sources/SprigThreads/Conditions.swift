/// Condition variables with AIM's three semantics (docs/threads.md, "Condition variables").
/// They differ in what the waiter holds when it wakes and in who runs after `signal`:
///
/// * **Mesa** (with a `MesaLock`): `signal` makes one waiter ready and the signaller carries on
///   holding the lock. The waiter re-acquires the lock like anyone else, so the condition may
///   be false again by then: it must test it again (`wait(until:)` loops). AIM: the waiter's
///   queue carries no resource (R = emp).
/// * **Hoare** (with a `HoareLock`): `signal` hands the lock to the waiter and runs it at once;
///   the signaller waits on the lock's urgent queue and gets the lock back, before any thread
///   waiting to enter, when the waiter releases it or waits again. The waiter wakes holding the
///   lock with the condition true. AIM: the queue carries the lock and the condition.
/// * **Brinch Hansen** (with a `HoareLock`): `signal` is the signaller's last act in the
///   monitor — it hands the lock to the waiter, runs it at once and is itself only made ready,
///   no longer holding the lock. The waiter wakes as under Hoare's.

/// A Mesa condition variable.
public struct MesaCondition: Equatable, Sendable {
    let queue: WaitQueue
    public init() { queue = Threads.makeQueue() }

    /// Releases `lock`, waits for a `signal`, re-acquires `lock`. The condition waited for may
    /// be false on return: call it in a loop (or use `wait(until:)`).
    public func wait(_ lock: MesaLock) {
        Threads.cli()
        lock.releaseMasked()
        Threads.block(queue)
        lock.acquireMasked()
        Threads.sti()
    }

    /// Waits until `condition()` holds, testing it after every wake-up (Mesa's rule).
    public func wait(_ lock: MesaLock, until condition: () -> Bool) {
        if Threads.mutant == .mesaWaitWithoutRecheck {
            // Broken on purpose: tests once, as if the waiter were guaranteed the condition.
            if !condition() { wait(lock) }
            return
        }
        while !condition() { wait(lock) }
    }

    /// Makes one waiter ready; the caller keeps the lock and runs on.
    public func signal() {
        Threads.cli()
        Threads.unblock(queue)
        Threads.sti()
    }

    /// Makes every waiter ready.
    public func broadcast() {
        Threads.cli()
        while Threads.unblock(queue) != nil {}
        Threads.sti()
    }
}

/// A Hoare condition variable.
public struct HoareCondition: Equatable, Sendable {
    let queue: WaitQueue
    public init() { queue = Threads.makeQueue() }

    /// Releases `lock` (to the urgent or an entering thread), waits for a `signal`; returns
    /// holding `lock`, the condition the signaller established still true.
    public func wait(_ lock: HoareLock) { Threads.monitorWait(lock, queue) }

    /// Waits until `condition()` holds: one test, none after waking (Hoare's rule: the
    /// signaller hands over the condition with the lock).
    public func wait(_ lock: HoareLock, until condition: () -> Bool) {
        if !condition() { wait(lock) }
    }

    /// If a thread waits: hands it `lock` and runs it now; returns when the lock comes back
    /// (before any thread waiting to enter). Otherwise does nothing.
    public func signal(_ lock: HoareLock) {
        Threads.cli()
        Threads.require(lock.holder == Threads.current, .signalWithoutLock)
        if let waiter = Threads.takeWaiter(queue) {
            Threads.lock(lock.id).pointee.owner = Int16(waiter)
            Threads.block(Threads.lock(lock.id).pointee.urgent, handingTo: waiter)
            Threads.require(lock.holder == Threads.current, .wokenWithoutLock)
        }
        Threads.sti()
    }
}

/// A Brinch Hansen condition variable: signal-and-exit.
public struct BrinchHansenCondition: Equatable, Sendable {
    let queue: WaitQueue
    public init() { queue = Threads.makeQueue() }

    /// As `HoareCondition.wait`.
    public func wait(_ lock: HoareLock) { Threads.monitorWait(lock, queue) }

    /// As `HoareCondition.wait(_:until:)`: one test.
    public func wait(_ lock: HoareLock, until condition: () -> Bool) {
        if !condition() { wait(lock) }
    }

    /// Leaves the monitor: with a waiter, hands it `lock` and runs it now, the caller only made
    /// ready; with none, releases `lock`. The caller no longer holds `lock` on return.
    public func signalAndExit(_ lock: HoareLock) {
        Threads.cli()
        Threads.require(lock.holder == Threads.current, .signalWithoutLock)
        if let waiter = Threads.takeWaiter(queue) {
            Threads.lock(lock.id).pointee.owner = Int16(waiter)
            Threads.block(Threads.readyQueue, handingTo: waiter, readyNotBlocked: true)
        } else {
            Threads.handOver(lock.id)
        }
        Threads.sti()
    }
}

extension Threads {
    /// A Hoare or Brinch Hansen wait: hands `lock` on, blocks on `queue`, wakes holding it.
    static func monitorWait(_ lock: HoareLock, _ queue: WaitQueue) {
        cli()
        require(lock.holder == current, .waitWithoutLock)
        handOver(lock.id)
        block(queue)
        require(lock.holder == current, .wokenWithoutLock)
        sti()
    }
}
