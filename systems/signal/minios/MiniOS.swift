/// The `signal` system's mini-OS (Pip §6): a partition that starts a server child and signals it.
///
/// 1. It starts the server from the image its parent mapped at `ChildLayout.extraBase` (the
///    size comes as its argument) and lets it run; the server masks 0xA3 and yields back.
/// 2. It sends SIGINT (yield to the server at 0xA3): refused with `interruptMasked`.
/// 3. It resumes the server, which unmasks 0xA3 and yields back; SIGINT again: the server's
///    handler runs, closes up and calls the mini-OS's `VIDT[0xB7]` (exit) through the default
///    address (yield to its parent).
/// 4. The exit handler takes the server's image pages back, collects the tables they used,
///    deletes the server, checks that every page of its pool is its own again, and yields back
///    to root's resume slot.
///
/// The mini-OS also relays its server's console lines to root (`SharedConsole`).
import SprigABI
import SprigUser

let sigint: UInt64 = 0xA3
let exitVector: UInt64 = 0xB7
/// Where the mini-OS's main flow waits while the server runs.
let resumeSlot: UInt64 = 300
/// Where the server's main flow waits (the server's own choice; the mini-OS resumes it there).
let serverResumeSlot: UInt64 = 301
let rootResumeSlot: UInt64 = 300

nonisolated(unsafe) var server: UInt64 = 0
nonisolated(unsafe) var serverImageBytes: UInt64 = 0
nonisolated(unsafe) var freeBefore: UInt64 = 0
nonisolated(unsafe) var pagesTaken: UInt64 = 0
let poolPages: UInt64 = 96

func fail(_ out: inout Output, _ what: StaticString, _ status: UInt64) {
    out.write("minios: ")
    out.write(what)
    out.write(": ")
    out.write(statusName(status))
    out.line("  <-- FAILED")
    SharedConsole.countFailure()
}

/// `int 0x80` from the server: forward the line to root, then resume the server where the
/// kernel saved it.
@_cdecl("minios_console")
func miniOSConsole(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    SharedConsole.forward()
    let r = Sprig.yield(source, target: savedAt, save: Sprig.noSave)
    var out = Output()
    fail(&out, "resuming the server after its line", r.raw)
    Sprig.yield(0, target: rootResumeSlot, save: Sprig.noSave)
}

/// An exception of the server: report it and give up (the scenario never faults).
@_cdecl("minios_child_fault")
func miniOSChildFault(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    var out = Output()
    out.write("minios: the server took exception ")
    out.decimal(vector)
    out.write(" at address ")
    out.hex(faultAddress)
    out.line("  <-- FAILED")
    SharedConsole.countFailure()
    Sprig.yield(0, target: rootResumeSlot, save: Sprig.noSave)
}

/// The server called `VIDT[0xB7]`: it has exited. Take its memory back and report to root.
@_cdecl("minios_exit")
func miniOSExit(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    var out = Output()
    out.line("minios: the server exited through 0xB7; reclaiming it")
    // Its image pages first, then the now-empty tables that mapped them.
    var off: UInt64 = 0
    while off < serverImageBytes {
        let r = Sprig.call(.removeVAddr, server, AddressSpace.imageBase + off)
        if !r.succeeded { fail(&out, "removeVAddr of the server's image", r.raw) }
        off += AddressSpace.pageSize
    }
    let c = Sprig.call(.collect, server, AddressSpace.imageBase)
    if !c.succeeded { fail(&out, "collect", c.raw) }
    out.write("minios: collect gave back ")
    out.decimal(c.value)
    out.line(" table pages")
    let d = Sprig.call(.deletePartition, server)
    if !d.succeeded { fail(&out, "deletePartition(server)", d.raw) }
    out.line("minios: server deleted")
    let freeAfter = freePages(from: ChildLayout.poolBase, count: poolPages)
    out.write("minios: free pool pages: before ")
    out.decimal(freeBefore)
    out.write(", after ")
    out.decimal(freeAfter)
    out.write(" (")
    out.decimal(pagesTaken)
    out.line(" handed out and back)")
    if freeAfter != freeBefore || freeAfter != poolPages { fail(&out, "memory came back", 0) }
    out.line("minios: done")
    let r = Sprig.yield(0, target: rootResumeSlot, save: Sprig.noSave)
    fail(&out, "returning to root", r.raw)
    while true {}
}

@_cdecl("sprig_partition_main")
func miniOSMain(_ imageBytes: UInt64) {
    var out = Output()
    SharedConsole.page = ChildLayout.consolePage
    serverImageBytes = imageBytes
    out.line("minios: started; starting the server")
    freeBefore = freePages(from: ChildLayout.poolBase, count: poolPages)
    let handlerStackTop = ChildLayout.handlerStackTop
    Contexts.setHandler(SharedConsole.vector, miniOSConsole, slot: ChildLayout.contextSlot(5), stackTop: handlerStackTop)
    Contexts.setHandler(exitVector, miniOSExit, slot: ChildLayout.contextSlot(6), stackTop: handlerStackTop)
    Contexts.setHandler(0, miniOSChildFault, slot: ChildLayout.contextSlot(7), stackTop: handlerStackTop)
    var v: UInt64 = 1
    while v < 32 { Contexts.setVIDT(v, ChildLayout.contextSlot(7)); v += 1 }
    Contexts.setVIDT(resumeSlot, ChildLayout.contextSlot(2))

    var pages = PageSource(start: ChildLayout.poolBase, pages: poolPages)
    var plan = ChildBuilder.Plan(image: ChildLayout.extraBase, imageBytes: imageBytes)
    plan.console = ChildLayout.consolePage
    guard case .success(let child) = ChildBuilder.build(plan, pages: &pages) else {
        fail(&out, "building the server", 0)
        Sprig.yield(0, target: rootResumeSlot, save: Sprig.noSave)
        while true {}
    }
    server = child.name
    pagesTaken = pages.taken
    // 1. Let the server start; it masks SIGINT and yields back here.
    var r = Sprig.yield(server, target: VIDTIndex.main, save: resumeSlot)
    if !r.succeeded { fail(&out, "entering the server", r.raw) }
    // 2. SIGINT while masked: refused, nothing changes.
    out.line("minios: sending SIGINT (0xA3) while the server masks it")
    r = Sprig.yield(server, target: sigint, save: resumeSlot)
    out.write("minios: SIGINT refused: ")
    out.line(statusName(r.raw))
    if r.status != .interruptMasked { fail(&out, "SIGINT while masked", r.raw) }
    // 3. Resume the server where it waits; it unmasks and yields back.
    r = Sprig.yield(server, target: serverResumeSlot, save: resumeSlot)
    if !r.succeeded { fail(&out, "resuming the server", r.raw) }
    out.line("minios: sending SIGINT (0xA3)")
    r = Sprig.yield(server, target: sigint, save: resumeSlot)
    // Only reached if SIGINT was refused: the server's exit comes in at VIDT[0xB7] instead.
    fail(&out, "SIGINT", r.raw)
    Sprig.yield(0, target: rootResumeSlot, save: Sprig.noSave)
    while true {}
}
