/// The root of the `teeter` and `threads-demo` systems: it starts one child from the boot
/// module after its own image, a partition running the threads library (SprigThreads), and
/// gives it the virtual timer (DESIGN.md §8, docs/threads.md).
///
/// Root turns the hardware timer on and runs the child with interrupts enabled. At each tick
/// (root's `VIDT[32]`, the child saved by the kernel) root does one thing: it delivers the
/// tick at the child's `VIDT[32]` when the kernel saved the child at its STI slot, and
/// otherwise (the child had its flag set: saved at its CLI slot) resumes it where it was
/// saved — the child finds the held tick there itself. Root also prints the child's lines
/// (`int 0x80`) and, when the child yields to its `VIDT[0xB7]`, stops the timer, prints what
/// it delivered, deletes the child and powers off: 0 when nobody counted a failure, 3
/// otherwise.
import SprigABI
import SprigUser

let exitVector: UInt64 = 0xB7
/// Fast enough that ticks land inside critical sections; 10,000 ticks take about 10 s.
let timerHz: UInt64 = 1000
let poolPages: UInt64 = 96
/// The child's argument: how many ticks it runs its programs for.
let ticksWanted: UInt64 = 10_000

enum Root {
    nonisolated(unsafe) static var child: UInt64 = 0
    /// Root's vaddr of the child's context page (slot 1: its STI/CLI save slot).
    nonisolated(unsafe) static var childContexts: UInt64 = 0
    nonisolated(unsafe) static var console: UInt64 = 0
    nonisolated(unsafe) static var delivered: UInt64 = 0
    nonisolated(unsafe) static var held: UInt64 = 0
    nonisolated(unsafe) static var refused: UInt64 = 0
    nonisolated(unsafe) static var failures: UInt64 = 0
}

func fail(_ what: StaticString, _ raw: UInt64) -> Never {
    var out = Output()
    out.write("threads root: FAILED ")
    out.write(what)
    out.write(": ")
    out.line(statusName(raw))
    Sprig.powerOff(3)
}

/// `VIDT[32]`: the hardware tick. Deliver it to the child, or resume the child if it masked.
@_cdecl("threads_root_timer")
func rootTimer(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    guard source == Root.child, savedAt != Delivery.notSaved else { fail("a tick that did not interrupt the child", savedAt) }
    if savedAt == VIDTIndex.stiSave {
        Root.delivered += 1
        let r = Sprig.yield(source, target: VIDTIndex.timer, save: Sprig.noSave)
        // Refused (the child has no usable handler): resume it instead.
        Root.refused += 1
        var out = Output()
        out.write("threads root: the child refused its tick: ")
        out.write(statusName(r.raw))
        out.write(" at rip ")
        out.hex(word(Root.childContexts + UInt64(ContextLayout.size) + UInt64(ContextLayout.rip)).pointee)
        out.byte(10)
    } else {
        Root.held += 1
    }
    let r = Sprig.yield(source, target: savedAt, save: Sprig.noSave)
    fail("resuming the child", r.raw)
}

/// `VIDT[0x80]`: print the child's lines, resume it.
@_cdecl("threads_root_console")
func rootConsole(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    SharedConsole.drain(Root.console)
    let r = Sprig.yield(source, target: savedAt, save: Sprig.noSave)
    fail("resuming the child after its line", r.raw)
}

/// An exception of the child: it never faults when its library works.
@_cdecl("threads_root_fault")
func rootFault(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    _ = Sprig.setTimer(0)
    SharedConsole.drain(Root.console)
    var out = Output()
    out.write("threads root: FAILED: the child took exception ")
    out.decimal(vector)
    out.write(", address ")
    out.hex(faultAddress)
    out.write(", rip ")
    out.hex(word(Root.childContexts + UInt64(ContextLayout.size) + UInt64(ContextLayout.rip)).pointee)
    out.byte(10)
    Sprig.powerOff(3)
}

/// `VIDT[0xB7]`: the child is done.
@_cdecl("threads_root_exit")
func rootExit(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    _ = Sprig.setTimer(0)
    SharedConsole.drain(Root.console)
    let childFailures = word(Root.console + SharedConsole.failuresWord).pointee
    var out = Output()
    out.write("threads root: ")
    out.decimal(Root.delivered)
    out.write(" ticks delivered at the child's VIDT[32], ")
    out.decimal(Root.held)
    out.write(" held (the child had its flag set: resumed at its CLI slot), ")
    out.decimal(Root.refused)
    out.write(" refused; child failures ")
    out.decimal(childFailures)
    out.byte(10)
    let deleted = Sprig.call(.deletePartition, Root.child)
    if !deleted.succeeded { fail("deleting the child", deleted.raw) }
    out.line(childFailures == 0 && Root.refused == 0 ? "threads root: PASS" : "threads root: FAIL")
    Sprig.powerOff(childFailures == 0 && Root.refused == 0 ? 0 : 3)
}

@_cdecl("sprig_partition_main")
func threadsRootMain(_ bootInfoAddress: UInt64) {
    var out = Output()
    let info = BootInfo(address: bootInfoAddress)
    guard info.moduleCount >= 1 else {
        out.line("threads root: no child image (the system lists root, then the threaded child)")
        Sprig.powerOff(1)
    }
    _ = Sprig.call(.setIntState, InterruptFlags.masked)
    // The child's image: the last boot module (root's own comes first).
    let module = info.module(info.moduleCount - 1)
    var pages = PageSource(largestRangeOf: info)
    let contexts = pages.takeZeroed()
    let handlerStack = pages.take()
    _ = pages.take()
    let stackTop = handlerStack + 2 * AddressSpace.pageSize
    let size = UInt64(ContextLayout.size)
    Contexts.setHandler(VIDTIndex.timer, rootTimer, slot: contexts, stackTop: stackTop, flags: InterruptFlags.masked)
    Contexts.setHandler(SharedConsole.vector, rootConsole, slot: contexts + size, stackTop: stackTop, flags: InterruptFlags.masked)
    Contexts.setHandler(exitVector, rootExit, slot: contexts + 2 * size, stackTop: stackTop, flags: InterruptFlags.masked)
    Contexts.setHandler(0, rootFault, slot: contexts + 3 * size, stackTop: stackTop, flags: InterruptFlags.masked)
    var v: UInt64 = 1
    while v < VIDTIndex.firstInterrupt { Contexts.setVIDT(v, contexts + 3 * size); v += 1 }
    Root.console = pages.takeZeroed()

    var plan = ChildBuilder.Plan(image: module.vaddr, imageBytes: (module.bytes + 0xFFF) & ~0xFFF)
    plan.console = Root.console
    plan.poolPages = poolPages
    plan.argument = ticksWanted
    switch ChildBuilder.build(plan, pages: &pages) {
    case .success(let c): Root.child = c.name; Root.childContexts = c.contexts
    case .failure(let s): fail("building the threaded child", s.rawValue)
    }
    // The child starts with its flag set: ticks before its library runs are held, not refused.
    word(Root.childContexts + UInt64(ContextLayout.flags)).pointee = InterruptFlags.masked
    let timer = Sprig.setTimer(timerHz)
    if !timer.succeeded { fail("setTimer", timer.raw) }
    out.line("threads root: the child runs; its virtual timer is root's")
    let r = Sprig.yield(Root.child, target: VIDTIndex.main, save: Sprig.noSave)
    fail("entering the child", r.raw)
}
