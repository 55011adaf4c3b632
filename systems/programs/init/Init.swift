/// The generic root: runs a system from its compiled plan (the last boot module, `plan.bin`;
/// Sources/SprigABI/SystemPlan.swift) instead of hand-written policy.
///
/// It checks the plan (magic, version, size, every index) and refuses one that fails with one
/// console line; builds each of its children from the boot module of its program with the
/// memory the plan gives it and a console page of its own; installs its handlers (the timer at
/// VIDT[32], children's lines at VIDT[0x80], children's exceptions at VIDT[0…31]); sets the timer
/// to the plan's rate and runs its cyclic plan: each minor frame's partition runs until the
/// frame's last tick, when the timer preempts it wherever it is (an overrunning partition
/// never delays the next frame by more than the tick it is preempted at), and the next frame's
/// partition is resumed where it was saved. A child that faults is reported and, if the plan
/// says so, deleted and built again from its image; its frames go on. Every frame start, fault
/// and restart is printed (`init: …`); after `majorFramesToRun` major frames it powers off.
import SprigABI
import SprigUser

/// Root's slots: handler contexts in its initial-context page.
let timerSlot = RootLayout.contextSlot(1)
let consoleSlot = RootLayout.contextSlot(2)
let faultSlot = RootLayout.contextSlot(3)

/// What init knows of one child.
struct Running {
    var name: UInt64 = 0
    var plan: Int = 0
    var console: UInt64 = 0
    var image: UInt64 = 0
    var imageBytes: UInt64 = 0
    /// Where the kernel last saved it (`VIDTIndex.cliSave`/`stiSave`); `VIDTIndex.main` before it ran.
    var resumeAt: UInt64 = VIDTIndex.main
}

enum Init {
    static let majorFramesToRun: UInt64 = 3
    static let maxChildren = 16

    nonisolated(unsafe) static var plan = PlanView(base: UnsafeRawPointer(bitPattern: 1)!, bytes: 0)
    nonisolated(unsafe) static var children: InlineArray<16, Running> = .init(repeating: Running())
    nonisolated(unsafe) static var childCount = 0
    nonisolated(unsafe) static var pages = PageSource(start: 0, pages: 0)
    nonisolated(unsafe) static var tick: UInt64 = 0
    nonisolated(unsafe) static var frame = 0
    nonisolated(unsafe) static var ticksLeft: UInt64 = 0
    nonisolated(unsafe) static var majorFrames: UInt64 = 0
    nonisolated(unsafe) static var failures: UInt64 = 0

    /// The child running the current minor frame.
    static var current: Int {
        let root = plan.partition(0)
        let p = Int(plan.frame(Int(root.firstFrame) + frame).partition)
        var k = 0
        while k < childCount { if children[k].plan == p { return k }; k += 1 }
        return 0
    }

    static func child(named name: UInt64) -> Int? {
        var k = 0
        while k < childCount { if children[k].name == name { return k }; k += 1 }
        return nil
    }

    /// Writes the plan's name of partition `p`.
    static func name(_ out: inout Output, _ p: Int) {
        let r = plan.partition(p)
        var k: UInt64 = 0
        while k < 16 {
            let w = k < 8 ? r.name0 : r.name1
            let c = UInt8(truncatingIfNeeded: w >> ((k % 8) * 8))
            if c == 0 { break }
            out.byte(c)
            k += 1
        }
    }

    /// Starts the frame `frame`: prints it, and resets its tick count.
    static func announceFrame() {
        ticksLeft = plan.frame(Int(plan.partition(0).firstFrame) + frame).ticks
        var out = Output()
        out.write("init: tick ")
        out.decimal(tick)
        out.write(" major ")
        out.decimal(majorFrames)
        out.write(" frame ")
        out.decimal(UInt64(frame))
        out.write(": ")
        name(&out, children[current].plan)
        out.byte(10)
    }

    /// Runs child `k` where it was saved; never returns (if the kernel refuses, init stops).
    static func resume(_ k: Int) -> Never {
        let at = children[k].resumeAt
        children[k].resumeAt = VIDTIndex.stiSave
        let r = Sprig.yield(children[k].name, target: at, save: Sprig.noSave)
        var out = Output()
        out.write("init: could not resume ")
        name(&out, children[k].plan)
        out.write(": ")
        out.line(statusName(r.raw))
        Sprig.powerOff(5)
    }

    /// Builds child `k` from its image (again, after a restart).
    static func build(_ k: Int) -> Bool {
        var p = ChildBuilder.Plan(image: children[k].image, imageBytes: children[k].imageBytes)
        word(children[k].console + SharedConsole.lengthWord).pointee = 0
        p.console = children[k].console
        p.poolPages = plan.partition(children[k].plan).memoryPages
        guard case .success(let c) = ChildBuilder.build(p, pages: &pages) else { return false }
        children[k].name = c.name
        children[k].resumeAt = VIDTIndex.main
        return true
    }

    static func finish() -> Never {
        var out = Output()
        out.write("init: ")
        out.decimal(majorFrames)
        out.write(" major frames, ")
        out.decimal(tick)
        out.write(" ticks, ")
        out.decimal(failures)
        out.line(" failures; powering off")
        _ = Sprig.setTimer(0)
        Sprig.powerOff(failures == 0 ? 0 : 3)
    }
}

/// VIDT[32]: a tick. Counts it; at the end of a minor frame moves to the next; resumes the
/// frame's partition (the one interrupted, if it is still its frame).
@_cdecl("init_tick")
func initTick(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Init.tick += 1
    if let k = Init.child(named: source), savedAt != Delivery.notSaved { Init.children[k].resumeAt = savedAt }
    if Init.ticksLeft > 0 { Init.ticksLeft -= 1 }
    if Init.ticksLeft == 0 {
        Init.frame += 1
        if Init.frame == Int(Init.plan.partition(0).frameCount) {
            Init.frame = 0
            Init.majorFrames += 1
            if Init.majorFrames == Init.majorFramesToRun { Init.finish() }
        }
        Init.announceFrame()
    }
    Init.resume(Init.current)
}

/// VIDT[0x80]: a child's line waits on its console page.
@_cdecl("init_console")
func initConsole(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    guard let k = Init.child(named: source) else {
        var out = Output()
        out.write("init: a line from an unknown partition ")
        out.hex(source)
        out.byte(10)
        Init.failures += 1
        Init.resume(Init.current)
    }
    SharedConsole.drain(Init.children[k].console)
    Init.children[k].resumeAt = savedAt
    Init.resume(k)
}

/// VIDT[0…31]: a child's exception. Reported; restarted from its image when the plan says so.
@_cdecl("init_fault")
func initFault(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    var out = Output()
    guard let k = Init.child(named: source) else {
        out.write("init: exception ")
        out.decimal(vector)
        out.write(" of an unknown partition ")
        out.hex(source)
        out.byte(10)
        Sprig.powerOff(4)
    }
    out.write("init: ")
    Init.name(&out, Init.children[k].plan)
    out.write(" faulted: exception ")
    out.decimal(vector)
    out.write(" at address ")
    out.hex(faultAddress)
    out.byte(10)
    if Init.plan.partition(Init.children[k].plan).flags & PlanLayout.restart != 0 {
        let d = Sprig.call(.deletePartition, Init.children[k].name)
        if !d.succeeded || !Init.build(k) {
            out.write("init: could not restart ")
            Init.name(&out, Init.children[k].plan)
            out.byte(10)
            Sprig.powerOff(6)
        }
        out.write("init: restarted ")
        Init.name(&out, Init.children[k].plan)
        out.line(" from its image")
    } else {
        Init.failures += 1
    }
    // The rest of the faulting child's frame is its own: a restarted child starts over in it,
    // one that is not restarted leaves it idle until the next tick.
    if Init.current == k && Init.plan.partition(Init.children[k].plan).flags & PlanLayout.restart != 0 { Init.resume(k) }
    idle()
}

/// Waits for the next tick with nothing to run (the tick interrupts this loop).
func idle() -> Never {
    _ = Sprig.call(.setIntState, InterruptFlags.enabled)
    while true {}
}

/// The words of `<program>.bin`, the boot module's name for a program name given as two words.
func moduleName(_ p0: UInt64, _ p1: UInt64) -> (UInt64, UInt64) {
    var w = (p0, p1)
    var length: UInt64 = 0
    while length < 16 && UInt8(truncatingIfNeeded: (length < 8 ? p0 : p1) >> ((length % 8) * 8)) != 0 { length += 1 }
    let suffix: UInt64 = 0x6E69_622E  // ".bin", little-endian
    var i: UInt64 = 0
    while i < 4 && length + i < 16 {
        let c = (suffix >> (i * 8)) & 0xFF
        let at = length + i
        if at < 8 { w.0 |= c << (at * 8) } else { w.1 |= c << ((at - 8) * 8) }
        i += 1
    }
    return w
}

@_cdecl("sprig_partition_main")
func initMain(_ bootInfoAddress: UInt64) {
    var out = Output()
    let info = BootInfo(address: bootInfoAddress)
    guard let module = info.module(named: "plan.bin") else {
        out.line("init: no plan module (plan.bin): build the system with `sprig build --system`")
        Sprig.powerOff(1)
    }
    Init.plan = PlanView(base: UnsafeRawPointer(bitPattern: UInt(module.vaddr))!, bytes: module.bytes)
    if let refusal = Init.plan.check() {
        out.write("init: plan refused: ")
        switch refusal {
        case .tooSmall: out.write("the module is smaller than a plan header")
        case .badMagic: out.write("not a plan (bad magic)")
        case .wrongVersion:
            out.write("version ")
            out.decimal(Init.plan.version)
            out.write(", this init reads version ")
            out.decimal(PlanLayout.version)
        case .sizeMismatch:
            out.write("the module has ")
            out.decimal(module.bytes)
            out.write(" bytes, its counts give another size")
        case .tooMany: out.write("more records than a plan may hold")
        case .badIndex: out.write("an index out of range")
        }
        out.line("; rebuild it with `sprig build --system`")
        Sprig.powerOff(2)
    }
    let root = Init.plan.partition(0)
    guard root.schedule == PlanLayout.cyclic, root.frameCount > 0, Init.plan.tickHz > 0 else {
        out.line("init: the plan gives root no cyclic plan and tick rate; this init runs cyclic plans")
        Sprig.powerOff(2)
    }
    Init.pages = PageSource(largestRangeOf: info)
    let handlerStack = Init.pages.take()
    _ = Init.pages.take()
    let stackTop = handlerStack + 2 * AddressSpace.pageSize
    // Handlers run with interrupts masked: a tick during one is dropped, never nested.
    Contexts.setHandler(VIDTIndex.timer, initTick, slot: timerSlot, stackTop: stackTop, flags: InterruptFlags.masked)
    Contexts.setHandler(SharedConsole.vector, initConsole, slot: consoleSlot, stackTop: stackTop, flags: InterruptFlags.masked)
    Contexts.setHandler(0, initFault, slot: faultSlot, stackTop: stackTop, flags: InterruptFlags.masked)
    var v: UInt64 = 1
    while v < 32 { Contexts.setVIDT(v, faultSlot); v += 1 }

    var p = 1
    while p < Init.plan.partitionCount && Init.childCount < Init.maxChildren {
        let r = Init.plan.partition(p)
        if r.parent == 0 {
            let want = moduleName(r.program0, r.program1)
            var found = false
            var m = 0
            while m < info.moduleCount {
                let mod = info.module(m)
                if mod.name0 == want.0 && mod.name1 == want.1 {
                    let k = Init.childCount
                    Init.children[k].plan = p
                    Init.children[k].image = mod.vaddr
                    Init.children[k].imageBytes = mod.bytes
                    Init.children[k].console = Init.pages.takeZeroed()
                    Init.childCount += 1
                    found = Init.build(k)
                    break
                }
                m += 1
            }
            if !found {
                out.write("init: could not start ")
                Init.name(&out, p)
                out.line(" (no boot module of its program, or not enough memory)")
                Sprig.powerOff(6)
            }
            if r.flags & PlanLayout.generic != 0 {
                out.write("init: ")
                Init.name(&out, p)
                out.line(" runs init: nested plans are not run yet; it gets its frames and idles")
            }
        }
        p += 1
    }
    out.write("init: ")
    out.decimal(UInt64(Init.childCount))
    out.write(" partitions, ")
    out.decimal(root.frameCount)
    out.write(" minor frames at ")
    out.decimal(Init.plan.tickHz)
    out.line(" Hz")
    Init.announceFrame()
    let t = Sprig.setTimer(Init.plan.tickHz)
    if !t.succeeded {
        out.write("init: setTimer: ")
        out.line(statusName(t.raw))
        Sprig.powerOff(5)
    }
    Init.resume(Init.current)
}
