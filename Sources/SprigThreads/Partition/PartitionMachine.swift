/// The threads library's machine in a partition: the virtual interrupt flag is the partition's
/// VCLI (`setIntState`), the timer is the virtual tick its parent delivers at `VIDT[32]`, and
/// a thread's context is a `ContextLayout` slot (Switch.S switches and resumes them).
///
/// How a tick reaches a thread (docs/threads.md):
/// * flag clear: the kernel saves the running thread at the partition's STI slot, the parent
///   enters `VIDT[32]`, the handler (`threadsTimer`) copies the saved context into the thread's
///   slot and runs the scheduler's tick, which resumes some thread;
/// * flag set: the parent's `yield` at 32 is refused (`interruptMasked`), so it resumes the
///   partition at its CLI slot instead, where the kernel saved it — that save's valid word is
///   the held tick, which `sti` (and the resume sequence) looks for and takes.
/// The parent's side is one rule: deliver at 32, or resume at the slot the kernel named.
import SprigABI
import SprigUser

@_extern(c, "sprig_threads_switch") func threadsSwitchC(_ from: UInt64, _ to: UInt64)
@_extern(c, "sprig_threads_resume") func threadsResumeC(_ context: UInt64)
@_extern(c, "sprig_threads_configure") func threadsConfigureC(_ cliSlot: UInt64, _ handlerStackTop: UInt64)
@_extern(c, "sprig_threads_window") func threadsWindowC(_ end: UInt64) -> UInt64

/// Where a threaded partition keeps things: every page from its pool.
public struct ThreadsMemory {
    /// The first page of a run the library may use, and how many pages.
    public var base: UInt64
    public var pages: UInt64
    public init(base: UInt64, pages: UInt64) { self.base = base; self.pages = pages }

    /// Pages the library needs: the scheduler's state, the slots, a stack per thread.
    public static let stackPages: UInt64 = 4
    public static var required: UInt64 { 2 + 3 + UInt64(Threads.maxThreads) * stackPages + 1 }
}

public enum PartitionThreads {
    nonisolated(unsafe) static var slots: UInt64 = 0
    nonisolated(unsafe) static var stacks: UInt64 = 0
    nonisolated(unsafe) static var cliSlot: UInt64 = 0
    nonisolated(unsafe) static var stiSlot: UInt64 = 0
    /// What the partition's exit does (yield to the parent's exit vector): set by `start`.
    nonisolated(unsafe) static var exitVector: UInt64 = 0
    /// Failures the library found (a deadlock, a misused primitive).
    nonisolated(unsafe) public static var failures: UInt64 = 0
    /// Ticks that found the running thread inside the resume sequence.
    nonisolated(unsafe) public static var restartedResumes: UInt64 = 0
    /// Held ticks found by the resume sequence itself.
    nonisolated(unsafe) public static var heldAtResume: UInt64 = 0

    @inline(__always) static func slot(_ t: Int) -> UInt64 { slots + UInt64(t) * UInt64(ContextLayout.size) }

    /// Starts the library in this partition: the caller becomes thread 1, with the flag set;
    /// `VIDT[32]` becomes the timer handler (on the handler stack `handlerStackTop`), the CLI
    /// slot a context of the library's own. When every thread has exited (or on a deadlock)
    /// the partition yields to its parent at `exitVector`. The caller then creates threads
    /// and calls `Threads.sti()`.
    public static func start(_ memory: ThreadsMemory, handlerStackTop: UInt64, exitVector: UInt64) {
        precondition(memory.pages >= ThreadsMemory.required, "threads: not enough pages")
        _ = Sprig.call(.setIntState, InterruptFlags.masked)
        self.exitVector = exitVector
        let page = AddressSpace.pageSize
        let state = memory.base
        slots = memory.base + 2 * page
        stacks = slots + 3 * page
        cliSlot = stacks + UInt64(Threads.maxThreads) * ThreadsMemory.stackPages * page
        stiSlot = word(AddressSpace.vidt + 8 * VIDTIndex.stiSave).pointee
        precondition(stiSlot != 0, "threads: the partition has no STI slot")
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(cliSlot))!.initialize(repeating: 0, count: ContextLayout.size / 8)
        Contexts.setVIDT(VIDTIndex.cliSave, cliSlot)
        threadsConfigureC(cliSlot, handlerStackTop)
        // The handler context sits in the last slot of the table (thread slots 0..<15 in use).
        let handlerSlot = cliSlot + UInt64(ContextLayout.size)
        Contexts.setHandler(VIDTIndex.timer, threadsTimer, slot: handlerSlot, stackTop: handlerStackTop,
                            flags: InterruptFlags.masked)
        SharedConsole.appendGuard = SharedConsole.Guard(
            enter: {
                let was = Threads.interruptsMasked
                if !was { Threads.cli() }
                return was
            },
            leave: { was in if !was { Threads.sti() } })
        Threads.start(state: UnsafeMutablePointer<SchedulerState>(bitPattern: UInt(state))!, machine: machine)
    }

    static let machine = ThreadMachine(
        mask: { _ = Sprig.call(.setIntState, InterruptFlags.masked) },
        unmask: {
            _ = Sprig.call(.setIntState, InterruptFlags.enabled)
            let valid = word(PartitionThreads.cliSlot + UInt64(ContextLayout.valid))
            guard valid.pointee != 0 else { return false }
            // A tick delivered between the test and this call (flag clear) is taken by the
            // handler, which clears the word too; this one then takes one more (never fewer).
            _ = Sprig.call(.setIntState, InterruptFlags.masked)
            valid.pointee = 0
            return true
        },
        transfer: { from, to, save in
            let target = PartitionThreads.slot(to)
            if word(target + UInt64(ContextLayout.flags)).pointee == InterruptFlags.enabled {
                // The sequence clears the flag before the thread runs again.
                Threads.s.pointee.masked = false
            }
            if save { threadsSwitchC(PartitionThreads.slot(from), target) } else { threadsResumeC(target) }
        },
        prepare: { t in
            let top = PartitionThreads.stacks + UInt64(t + 1) * ThreadsMemory.stackPages * AddressSpace.pageSize
            Contexts.write(at: PartitionThreads.slot(t), rip: UInt64(UInt(bitPattern: unsafeBitCast(threadStart as @convention(c) () -> Void, to: UnsafeRawPointer.self))),
                           rsp: top - 8, flags: InterruptFlags.masked)
        },
        idle: {},
        deadlock: { PartitionThreads.stop("threads: DEADLOCK: every live thread is blocked and none sleeps") },
        finished: { PartitionThreads.stop(nil) },
        fault: { code in
            var out = Output()
            out.write("threads: FAILED: ")
            out.line(ThreadFault(rawValue: code)?.message ?? "an unknown fault")
            PartitionThreads.stop("threads: stopped on a misused primitive")
        })

    /// Reports `failure` (if any) and yields to the parent's exit vector for good.
    static func stop(_ failure: StaticString?) -> Never {
        if let f = failure {
            failures += 1
            SharedConsole.countFailure()
            var out = Output()
            out.line(f)
        }
        while true { _ = Sprig.yield(0, target: exitVector, save: Sprig.noSave) }
    }

    /// Whether `rip` lies in the restartable resume sequence.
    static func inResumeWindow(_ rip: UInt64) -> Bool { rip >= threadsWindowC(0) && rip < threadsWindowC(1) }
}

/// Every thread's first instruction: the scheduler's thread body.
@_cdecl("sprig_threads_start")
func threadStart() { Threads.threadMain() }

/// `VIDT[32]`: the parent delivered a tick while the flag was clear. The kernel saved the
/// running thread at the STI slot, unless it was inside the resume sequence — then its slot
/// still holds it whole and the save is thrown away.
@_cdecl("sprig_threads_timer")
func threadsTimer(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Threads.s.pointee.masked = true
    word(PartitionThreads.cliSlot + UInt64(ContextLayout.valid)).pointee = 0
    let saved = PartitionThreads.stiSlot
    if PartitionThreads.inResumeWindow(word(saved + UInt64(ContextLayout.rip)).pointee) {
        PartitionThreads.restartedResumes += 1
    } else {
        let to = UnsafeMutablePointer<UInt64>(bitPattern: UInt(PartitionThreads.slot(Threads.current)))!
        to.update(from: UnsafePointer<UInt64>(bitPattern: UInt(saved))!, count: ContextLayout.size / 8)
    }
    Threads.tick(contextSaved: true)
}

/// The resume sequence found a held tick: the thread it was resuming is whole in its slot.
@_cdecl("sprig_threads_held_tick")
func threadsHeldTick() {
    PartitionThreads.heldAtResume += 1
    Threads.s.pointee.masked = true
    word(PartitionThreads.cliSlot + UInt64(ContextLayout.valid)).pointee = 0
    Threads.tick(contextSaved: true)
}
