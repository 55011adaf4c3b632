/// Locks built on AIM's primitives: a spin lock (`cli`/`sti` only), a Mesa lock (`block` /
/// `unblock`, the woken thread competes again) and a Hoare lock (the releaser hands the lock to
/// the first waiter). Each lock's state lives in the scheduler's lock table and is touched only
/// with the flag set; a lock value is a handle (docs/threads.md, "Locks").

/// One lock's state: who holds it, who waits for it.
struct LockRecord {
    /// The holder's thread id, or -1.
    var owner: Int16 = -1
    /// Threads waiting to acquire it.
    var entry = WaitQueue(index: -1)
    /// Hoare monitors: signallers waiting to get the lock back; served before `entry`.
    var urgent = WaitQueue(index: -1)
}

/// A handle to a lock in the scheduler's table.
public struct LockID: Equatable, Sendable {
    let index: Int16
}

extension Threads {
    static func makeLock() -> LockID {
        let k = s.pointee.lockCount
        precondition(Int(k) < 16, "threads: out of locks")
        s.pointee.lockCount = k + 1
        s.pointee.locks[Int(k)] = LockRecord(owner: -1, entry: makeQueue(), urgent: makeQueue())
        return LockID(index: k)
    }

    @inline(__always) static func lock(_ l: LockID) -> UnsafeMutablePointer<LockRecord> {
        withUnsafeMutablePointer(to: &s.pointee.locks) { p in
            UnsafeMutableRawPointer(p).assumingMemoryBound(to: LockRecord.self) + Int(l.index)
        }
    }

    /// The thread holding `l`, or nil.
    public static func owner(_ l: LockID) -> Int? {
        let o = lock(l).pointee.owner
        return o < 0 ? nil : Int(o)
    }

    /// Hands `l` to its next waiter (urgent first), made ready; or frees it. Flag set.
    static func handOver(_ l: LockID) {
        let r = lock(l)
        if let t = unblock(r.pointee.urgent) ?? unblock(r.pointee.entry) {
            r.pointee.owner = Int16(t)
        } else {
            r.pointee.owner = -1
        }
    }
}

/// A lock whose waiters block: its steps with the flag already set, which condition variables
/// compose, and the plain operations around them.
public protocol BlockingLock {
    /// Acquires with the flag set (it stays set).
    func acquireMasked()
    /// Releases with the flag set (it stays set).
    func releaseMasked()
}

extension BlockingLock {
    public func acquire() {
        Threads.cli()
        acquireMasked()
        Threads.sti()
    }

    public func release() {
        Threads.cli()
        releaseMasked()
        Threads.sti()
    }
}

/// A spin lock: `acquire` tests and sets under `cli` and spins with the flag clear between
/// tries, so that a tick can run the holder (AIM's spin lock: nothing but `cli`/`sti`).
public struct SpinLock: Equatable, Sendable {
    public let id: LockID
    public init() { id = Threads.makeLock() }

    public func acquire() {
        while true {
            Threads.cli()
            if Threads.lock(id).pointee.owner < 0 {
                Threads.lock(id).pointee.owner = Int16(Threads.current)
                Threads.sti()
                return
            }
            Threads.sti()
            Threads.relax()
        }
    }

    public func release() {
        Threads.cli()
        Threads.require(Int(Threads.lock(id).pointee.owner) == Threads.current, .releaseNotHeld)
        Threads.lock(id).pointee.owner = -1
        Threads.sti()
    }
}

/// A Mesa lock: a waiter blocks on the lock's queue; `release` frees the lock and makes one
/// waiter ready, which must test the lock again when it runs (another thread may have taken it
/// in between): AIM's Mesa-style lock, whose wait queue carries no resource (R = emp).
public struct MesaLock: BlockingLock, Equatable, Sendable {
    public let id: LockID
    public init() { id = Threads.makeLock() }

    public func acquire() {
        if Threads.mutant == .blockWithoutCLI {
            // Broken on purpose: the test is made with the flag clear, so the holder may release
            // (waking nobody) between it and the block, or another thread take it too.
            while true {
                let held = Threads.lock(id).pointee.owner >= 0
                Threads.point()
                if !held { break }
                Threads.cli()
                Threads.block(Threads.lock(id).pointee.entry)
                Threads.sti()
            }
            Threads.cli()
            Threads.lock(id).pointee.owner = Int16(Threads.current)
            Threads.sti()
            return
        }
        Threads.cli()
        acquireMasked()
        Threads.sti()
    }

    public func acquireMasked() {
        while Threads.lock(id).pointee.owner >= 0 { Threads.block(Threads.lock(id).pointee.entry) }
        Threads.lock(id).pointee.owner = Int16(Threads.current)
    }

    public func releaseMasked() {
        Threads.require(Int(Threads.lock(id).pointee.owner) == Threads.current, .releaseNotHeld)
        Threads.lock(id).pointee.owner = -1
        Threads.unblock(Threads.lock(id).pointee.entry)
    }

    public var holder: Int? { Threads.owner(id) }
}

/// A Hoare lock: `release` hands the lock straight to the first waiter, which owns it when it
/// wakes and tests nothing (AIM's Hoare-style lock: the wait queue carries the lock).
public struct HoareLock: BlockingLock, Equatable, Sendable {
    public let id: LockID
    public init() { id = Threads.makeLock() }

    public func acquireMasked() {
        let r = Threads.lock(id)
        if r.pointee.owner >= 0 {
            Threads.block(r.pointee.entry)
            Threads.require(Int(Threads.lock(id).pointee.owner) == Threads.current, .wokenWithoutLock)
        } else {
            r.pointee.owner = Int16(Threads.current)
        }
    }

    public func releaseMasked() {
        Threads.require(Int(Threads.lock(id).pointee.owner) == Threads.current, .releaseNotHeld)
        Threads.handOver(id)
    }

    public var holder: Int? { Threads.owner(id) }
}
