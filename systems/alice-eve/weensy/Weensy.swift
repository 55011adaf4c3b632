/// The `alice-eve` system's root: WeensyOS's Alice and Eve lecture on Sprig
/// (docs/alice-eve.md).
///
/// Root starts Alice and Eve from their boot modules and schedules them round-robin: a child
/// that yields (to root's `VIDT[300]`, saving itself at its own `VIDT[300]`) or that the timer
/// interrupts (root's `VIDT[32]`, the child saved at its STI slot) hands the CPU to the other,
/// resumed where it was saved (`Root.next`). Alice counts, prints every 1024 iterations and yields. Eve does
/// the same up to her first line, then loops forever: the timer takes the CPU back from her and
/// Alice keeps printing. Then, one at a time, Eve's attacks (`Stage`, systems/alice-eve/eve): each
/// ends in a fault root takes at `VIDT[vector]` from Eve; root prints what stopped her (the
/// vector, the error code, the address, or the status a refused call returned), checks it is
/// the expected one, deletes Eve (every page comes back) and starts her again from her image.
///
/// Keys on the serial port (root's `VIDT[36]`, and polled at every tick): `m` draws the
/// physical memory map, `a` and `e` Alice's and Eve's address spaces, `r` turns the last of
/// these again every `alice-eve.refresh` ticks on and off, `q` powers off (status 0 when every attack was
/// contained and nothing failed, 3 otherwise). MemoryViewer.swift draws and checks the map.
/// With `alice-eve.exit=1` on the command line root draws the map and powers off by itself
/// once the attacks are done; `alice-eve.every=N` makes Alice and Eve print every N
/// iterations; `alice-eve.hz=H` sets the timer; `alice-eve.record=1` (what `sprig memmap`
/// passes) is exit, N = 16 and H = 100;
/// `alice-eve.weight=W` gives Alice W turns for each of Eve's (docs/labs, lab 1).
///
/// Root runs masked (`setIntState(masked)`), and so do its handlers; it leaves for a child with
/// interrupts enabled, so ticks, keys and `int 0x80` reach it only while a child runs. Every
/// handler ends by yielding to a child with its own context dropped: the next event enters root
/// afresh.
import SprigABI
import SprigUser

/// Root's `VIDT[300]`: a child yields here; children save themselves at their own `VIDT[300]`.
let yieldIndex: UInt64 = 300
/// Pages set aside for each child (its structures, tables, stacks, VIDT, contexts).
let childPages: UInt64 = 96

/// A child of root.
struct Kid {
    /// Its name (descriptor vaddr in root) and root's vaddrs of its VIDT and context pages.
    var name: UInt64 = 0
    var vidt: UInt64 = 0
    var contexts: UInt64 = 0
    /// Root's vaddr of the child's console page.
    var console: UInt64 = 0
    /// The child's VIDT index root resumes it at next: 0 (its first context), `yieldIndex`, or
    /// the slot the kernel saved it at.
    var resumeAt: UInt64 = 0
    /// Where the child's pages come from, set aside once (`pagesStart`, `childPages` pages).
    var pagesStart: UInt64 = 0
    var pagesUsed: UInt64 = 0
    /// Root's vaddr of the context the kernel saves the child in when it faults or is interrupted.
    var savedContext: UInt64 { contexts + UInt64(ContextLayout.size) }
}

enum Who { case alice, eve }

/// Root's state, shared by its handlers (one runs at a time).
enum Root {
    nonisolated(unsafe) static var alice = Kid()
    nonisolated(unsafe) static var eve = Kid()
    nonisolated(unsafe) static var current = Who.alice
    nonisolated(unsafe) static var failures: UInt64 = 0
    nonisolated(unsafe) static var aliceLines: UInt64 = 0
    /// Eve's stage: what she was started with (`Stage`).
    nonisolated(unsafe) static var stage: UInt64 = 0
    nonisolated(unsafe) static var restarts: UInt64 = 0
    nonisolated(unsafe) static var contained: UInt64 = 0
    /// Stage 0: whether Eve has said hello (and loops since), the ticks that took the CPU back
    /// from her since, the rip of the last (how many found her at the one before, how many
    /// elsewhere), and Alice's lines meanwhile.
    nonisolated(unsafe) static var eveLooping = false
    nonisolated(unsafe) static var loopTicks: UInt64 = 0
    nonisolated(unsafe) static var loopRIP: UInt64 = 0
    nonisolated(unsafe) static var loopSame: UInt64 = 0
    nonisolated(unsafe) static var loopMoves: UInt64 = 0
    nonisolated(unsafe) static var loopStrays: UInt64 = 0
    nonisolated(unsafe) static var aliceLinesAtLoop: UInt64 = 0
    nonisolated(unsafe) static var ticks: UInt64 = 0
    /// Eve's image: her module's pages (given to her), and root's copy of the module.
    nonisolated(unsafe) static var eveModule: (vaddr: UInt64, bytes: UInt64) = (0, 0)
    nonisolated(unsafe) static var eveImage: UInt64 = 0
    nonisolated(unsafe) static var evePristine: UInt64 = 0
    nonisolated(unsafe) static var aliceModule: (vaddr: UInt64, bytes: UInt64) = (0, 0)
    /// The page root shares read-only with Eve: what she knows (systems/alice-eve/eve, `Clue`).
    nonisolated(unsafe) static var clue: UInt64 = 0
    nonisolated(unsafe) static var syscallEntry: UInt64 = 0
    nonisolated(unsafe) static var keyBuffer: UInt64 = 0
    /// Ticks between maps while `r` has them on (0: off), and the tick of the last one.
    nonisolated(unsafe) static var refreshTicks: UInt64 = 0
    nonisolated(unsafe) static var refreshing = false
    nonisolated(unsafe) static var lastMap: UInt64 = 0
    /// The view `r` refreshes: the key of the last one drawn (`m`, `a` or `e`).
    nonisolated(unsafe) static var view = UInt8(ascii: "m")
    /// `alice-eve.exit=1`: once Eve's attacks are done, draw the map and power off (tests,
    /// `sprig memmap`), instead of running until `q`.
    nonisolated(unsafe) static var exitAfterAttacks = false
    /// Iterations between Alice's and Eve's lines (`alice-eve.every`, default 1024 as in
    /// WeensyOS); they get it in their argument.
    nonisolated(unsafe) static var every: UInt64 = 1024
    /// The timer's rate (`alice-eve.hz`, default 1000).
    nonisolated(unsafe) static var timerHz: UInt64 = 1000

    /// The plan: Alice's turns for each of Eve's (`alice-eve.weight`, default 1: round-robin),
    /// and how many in a row Alice has had.
    nonisolated(unsafe) static var weight: UInt64 = 1
    nonisolated(unsafe) static var aliceStreak: UInt64 = 0
    /// Lab 3 (`alice-eve.lab3=1`): root also tries to give Alice's console page to Eve, and
    /// its ledger says Eve holds it whatever the kernel answered; the map's checker disagrees.
    nonisolated(unsafe) static var labDoubleGrant = false

    /// Who runs after `w`'s turn ended (it yielded or a tick took the CPU back).
    static func next(after w: Who) -> Who {
        if w == .alice {
            aliceStreak += 1
            if aliceStreak < weight { return .alice }
        }
        aliceStreak = 0
        return other(w)
    }

    static func kid(_ w: Who) -> Kid { w == .alice ? alice : eve }
    static func other(_ w: Who) -> Who { w == .alice ? .eve : .alice }
    static func who(_ name: UInt64) -> Who? {
        if name == alice.name { return .alice }
        if name == eve.name { return .eve }
        return nil
    }
    static func setResume(_ w: Who, _ index: UInt64) {
        if w == .alice { alice.resumeAt = index } else { eve.resumeAt = index }
    }

    /// Runs `w` where it was left; never returns (the next event enters root afresh).
    static func run(_ w: Who) -> Never {
        current = w
        let k = kid(w)
        let r = Sprig.yield(k.name, target: k.resumeAt, save: Sprig.noSave,
                            flagsOnYield: InterruptFlags.enabled, flagsOnWake: InterruptFlags.masked)
        fail(w == .alice ? "resuming Alice" : "resuming Eve", r.raw)
        Sprig.powerOff(3)
    }
}

/// `root: FAILED <what>: <status>`, counted.
func fail(_ what: StaticString, _ raw: UInt64) {
    Root.failures += 1
    var out = Output()
    out.write("root: FAILED ")
    out.write(what)
    out.write(": ")
    out.line(statusName(raw))
}

/// Stops with `root: FAILED <what>` unless `ok`: what follows depends on it.
func require(_ what: StaticString, _ ok: Bool) {
    guard !ok else { return }
    var out = Output()
    out.write("root: FAILED ")
    out.line(what)
    Sprig.powerOff(3)
}

// MARK: Handlers

/// `VIDT[300]`: the running child yielded (saved at its own `VIDT[300]`).
@_cdecl("weensy_yield")
func weensyYield(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    let w = Root.current
    Root.setResume(w, yieldIndex)
    Root.run(Root.next(after: w))
}

/// `VIDT[32]`: a tick; the interrupted child was saved at its STI slot. The other child runs.
@_cdecl("weensy_tick")
func weensyTick(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Root.ticks += 1
    guard let w = Root.who(source) else {
        // Not a child of root's (root itself is never interrupted: it runs masked).
        fail("a tick naming no child", Status.invalidChild.rawValue)
        Root.run(Root.current)
    }
    Root.setResume(w, savedAt)
    if w == .eve && Root.stage == Stage.loop && Root.eveLooping { Stages.loopTick(savedAt) }
    Keys.poll()
    if Root.refreshing && Root.ticks - Root.lastMap >= Root.refreshTicks {
        Root.lastMap = Root.ticks
        MemoryViewer.draw(Root.view)
    }
    Root.run(Root.next(after: w))
}

/// `VIDT[0x80]`: a child's line waits on its console page.
@_cdecl("weensy_console")
func weensyConsole(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    guard let w = Root.who(source) else {
        fail("a console line from no child", Status.invalidChild.rawValue)
        Root.run(Root.current)
    }
    SharedConsole.drain(Root.kid(w).console)
    if w == .alice { Root.aliceLines += 1 } else if Root.stage == Stage.loop { Root.eveLooping = true; Root.aliceLinesAtLoop = Root.aliceLines }
    if w == .alice && Root.stage == Stage.loop && Root.eveLooping { Stages.loopAliceLine() }
    let r = Sprig.yield(source, target: savedAt, save: Sprig.noSave,
                        flagsOnYield: InterruptFlags.enabled, flagsOnWake: InterruptFlags.masked)
    fail("resuming a child after its line", r.raw)
    Sprig.powerOff(3)
}

/// `VIDT[0…31]`: a child faulted. From Eve, the end of her attack; from Alice, a failure.
@_cdecl("weensy_fault")
func weensyFault(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    guard let w = Root.who(source), w == .eve else {
        var out = Output()
        out.write("root: FAILED: a fault from ")
        out.write(source == Root.alice.name ? "Alice" : "no child of mine")
        out.write(", vector ")
        out.decimal(vector)
        out.byte(10)
        Root.failures += 1
        Sprig.powerOff(3)
    }
    Stages.attackEnded(vector: vector, errorCode: errorCode, faultAddress: faultAddress, savedAt: savedAt)
    Stages.restartEve()
    Root.run(.alice)
}

/// `VIDT[36]`: keys arrived on the serial port.
@_cdecl("weensy_serial")
func weensySerial(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    guard let w = Root.who(source) else { Keys.poll(); Root.run(Root.current) }
    Root.setResume(w, savedAt)
    Keys.poll()
    Root.run(w)
}

// MARK: Starting

/// Sets aside `count` consecutive pages of `pages`: a run that a boot module interrupts (the
/// page source steps over modules) starts again after it, the pages before it left unused.
func setAside(_ count: UInt64, from pages: inout PageSource) -> UInt64 {
    var first = pages.take()
    var k: UInt64 = 1
    while k < count {
        let p = pages.take()
        if p != first + k * AddressSpace.pageSize {
            first = p
            k = 1
        } else {
            k += 1
        }
    }
    return first
}

func copy(from: UInt64, to: UInt64, bytes: UInt64) {
    let src = UnsafePointer<UInt8>(bitPattern: UInt(from))!
    let dst = UnsafeMutablePointer<UInt8>(bitPattern: UInt(to))!
    var i = 0
    while i < Int(bytes) { dst[i] = src[i]; i += 1 }
}

/// Builds a child from `image` with its own console page; its pages from its set-aside run.
func start(_ kid: inout Kid, image: UInt64, bytes: UInt64, argument: UInt64, label: StaticString) {
    var pages = PageSource(start: kid.pagesStart, pages: childPages)
    var plan = ChildBuilder.Plan(image: image, imageBytes: bytes)
    plan.console = kid.console
    plan.argument = argument
    switch ChildBuilder.build(plan, pages: &pages) {
    case .success(let c): kid.name = c.name; kid.vidt = c.vidt; kid.contexts = c.contexts
    case .failure(let s):
        fail(label, s.rawValue)
        Sprig.powerOff(3)
    }
    kid.resumeAt = VIDTIndex.main
    kid.pagesUsed = pages.taken
}

@_cdecl("sprig_partition_main")
func weensyMain(_ bootInfoAddress: UInt64) {
    var out = Output()
    require("root masks its interrupts", Sprig.call(.setIntState, InterruptFlags.masked).succeeded)
    let info = BootInfo(address: bootInfoAddress)
    guard let alice = info.module(named: "alice.bin"), let eve = info.module(named: "eve.bin") else {
        out.line("root: the alice-eve system needs the alice and eve modules")
        Sprig.powerOff(1)
    }
    guard case .value(let entry) = info.argument("alice-eve.sprig_syscall_entry"),
          case .value(let kernelStart) = info.argument("alice-eve.sprig_image_start_phys"),
          case .value(let kernelEnd) = info.argument("alice-eve.sprig_image_end_phys") else {
        out.line("root: the kernel's symbols are missing from the command line (sprig run passes them)")
        Sprig.powerOff(1)
    }
    if case .value(let exit) = info.argument("alice-eve.exit") { Root.exitAfterAttacks = exit != 0 }
    // A recording for the model (`sprig memmap`): stop by itself, say hello every 16
    // iterations and tick at 100 Hz, so that the trace stays short.
    if case .value(let record) = info.argument("alice-eve.record"), record != 0 {
        Root.exitAfterAttacks = true
        Root.every = 16
        Root.timerHz = 100
    }
    if case .value(let hz) = info.argument("alice-eve.hz"), hz >= 19 && hz <= 10000 { Root.timerHz = hz }
    if case .value(let lab) = info.argument("alice-eve.lab3") { Root.labDoubleGrant = lab != 0 }
    if case .value(let weight) = info.argument("alice-eve.weight"), weight >= 1 && weight <= 100 { Root.weight = weight }
    if case .value(let every) = info.argument("alice-eve.every"), every >= 1 && every <= 1 << 20 { Root.every = every }
    if case .value(let ticks) = info.argument("alice-eve.refresh") { Root.refreshTicks = ticks } else { Root.refreshTicks = 2 * Root.timerHz }
    Root.syscallEntry = entry
    Root.aliceModule = alice
    Root.eveModule = eve
    var pages = PageSource(largestRangeOf: info)
    let rootStart = pages.next

    // Root's handlers: one context each on the first page, a two-page stack, all masked.
    let contexts = pages.takeZeroed()
    let stack = pages.take()
    _ = pages.take()
    let stackTop = stack + 2 * AddressSpace.pageSize
    let size = UInt64(ContextLayout.size)
    Contexts.setHandler(yieldIndex, weensyYield, slot: contexts, stackTop: stackTop, flags: InterruptFlags.masked)
    Contexts.setHandler(VIDTIndex.timer, weensyTick, slot: contexts + size, stackTop: stackTop, flags: InterruptFlags.masked)
    Contexts.setHandler(SharedConsole.vector, weensyConsole, slot: contexts + 2 * size, stackTop: stackTop, flags: InterruptFlags.masked)
    Contexts.setHandler(0, weensyFault, slot: contexts + 3 * size, stackTop: stackTop, flags: InterruptFlags.masked)
    var v: UInt64 = 1
    while v < VIDTIndex.firstInterrupt { Contexts.setVIDT(v, contexts + 3 * size); v += 1 }
    Contexts.setHandler(VIDTIndex.serial, weensySerial, slot: contexts + 4 * size, stackTop: stackTop, flags: InterruptFlags.masked)
    Root.keyBuffer = pages.takeZeroed()
    Root.alice.console = pages.takeZeroed()
    Root.eve.console = pages.takeZeroed()
    Root.clue = pages.takeZeroed()
    // Eve's image pages are her module's (only module pages are executable, and a child gets
    // no right root lacks); a copy of the module kept here is written back over them before
    // each start, so that what she wrote into her last image is gone.
    let evePages = (eve.bytes + AddressSpace.pageSize - 1) / AddressSpace.pageSize
    Root.eveImage = eve.vaddr
    Root.evePristine = setAside(evePages, from: &pages)
    copy(from: eve.vaddr, to: Root.evePristine, bytes: eve.bytes)
    Root.alice.pagesStart = setAside(childPages, from: &pages)
    Root.eve.pagesStart = setAside(childPages, from: &pages)
    MemoryViewer.setUp(info, rootStart: rootStart, rootEnd: pages.next, kernelStart: kernelStart, kernelEnd: kernelEnd)

    // Alice's image pages are her module's, given, not copied.
    start(&Root.alice, image: alice.vaddr, bytes: alice.bytes, argument: Root.every, label: "building Alice")
    word(Root.clue + 0).pointee = entry
    word(Root.clue + 8).pointee = alice.vaddr
    word(Root.clue + 16).pointee = Root.alice.name
    Stages.startEve(Stage.loop)
    if Root.labDoubleGrant {
        let r = Sprig.call(.addVAddr, Root.alice.console, Root.eve.name, ChildLayout.extraBase + AddressSpace.pageSize,
                           Rights.read | Rights.write)
        out.write("root: lab 3: giving Alice's console page to Eve as well: ")
        out.line(statusName(r.raw))
    }

    out.write("root: Alice and Eve started; the timer at ")
    out.decimal(Root.timerHz)
    out.write(" Hz takes the CPU back; the kernel's syscall entry is at ")
    out.hex(entry)
    out.line(" (kernel.elf's symbol table)")
    out.line("root: keys: m physical map, a/e Alice's/Eve's address space, r map refresh on/off, q power off")
    require("setTimer", Sprig.setTimer(Root.timerHz).succeeded)
    require("setConsoleInterrupt(on)", Sprig.setConsoleInterrupt(true).succeeded)
    Root.run(.alice)
}
