/// The `signal` system's root: the multiplexer under the paper's signal scenario (Pip §6).
///
/// Root starts the mini-OS from its boot module, gives it the server's image to start a child
/// of its own, a pool of pages and the shared console page, and yields to it. While the
/// scenario runs, root is only the console: every line a partition prints arrives as `int 0x80`
/// at root's `VIDT[0x80]`, is written out, and the writer is resumed where the kernel saved it.
/// When the mini-OS is done it yields back to root's resume slot; root deletes it, checks that
/// every page it handed out is its own again, and powers off with 0 when nothing failed.
import SprigABI
import SprigUser

/// Root's resume slot: where root's main flow waits while the mini-OS runs.
let resumeSlot: UInt64 = 300

nonisolated(unsafe) var consolePage: UInt64 = 0
nonisolated(unsafe) var miniOS: UInt64 = 0

/// `int 0x80` from the mini-OS (itself printing, or forwarding its server's line).
@_cdecl("root_console")
func rootConsole(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    SharedConsole.drain(consolePage)
    let r = Sprig.yield(source, target: savedAt, save: Sprig.noSave)
    var out = Output()
    out.write("root: could not resume the printing partition: ")
    out.line(statusName(r.raw))
    Sprig.powerOff(4)
}

/// Any exception of the mini-OS: report it and stop (the scenario never faults).
@_cdecl("root_child_fault")
func rootChildFault(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    SharedConsole.drain(consolePage)
    var out = Output()
    out.write("root: the mini-OS took exception ")
    out.decimal(vector)
    out.write(" (error ")
    out.hex(errorCode)
    out.write(", address ")
    out.hex(faultAddress)
    out.line(")")
    Sprig.powerOff(5)
}

@_cdecl("sprig_partition_main")
func signalRoot(_ bootInfoAddress: UInt64) {
    var out = Output()
    let info = BootInfo(address: bootInfoAddress)
    guard let minios = info.module(named: "minios.bin"), let server = info.module(named: "server.bin") else {
        out.line("root: the signal system needs the minios and server modules")
        Sprig.powerOff(1)
    }
    var pages = PageSource(largestRangeOf: info)
    let scanStart = pages.next
    let scanned: UInt64 = 512
    let freeBefore = freePages(from: scanStart, count: scanned)

    // Root's handlers, on a stack of their own.
    let handlerStack = pages.take()
    _ = pages.take()
    let handlerStackTop = handlerStack + 2 * AddressSpace.pageSize
    Contexts.setHandler(SharedConsole.vector, rootConsole, slot: RootLayout.contextSlot(1), stackTop: handlerStackTop)
    // Every exception vector of the mini-OS (0…31; VIDT[0] was root's boot context, done with).
    Contexts.setHandler(0, rootChildFault, slot: RootLayout.contextSlot(2), stackTop: handlerStackTop)
    var v: UInt64 = 1
    while v < 32 { Contexts.setVIDT(v, RootLayout.contextSlot(2)); v += 1 }
    Contexts.setVIDT(resumeSlot, RootLayout.contextSlot(3))

    consolePage = pages.takeZeroed()
    var plan = ChildBuilder.Plan(image: minios.vaddr, imageBytes: minios.bytes)
    plan.console = consolePage
    plan.poolPages = 96
    plan.extra = server.vaddr
    plan.extraBytes = server.bytes
    plan.argument = server.bytes
    out.line("root: starting the mini-OS")
    guard case .success(let child) = ChildBuilder.build(plan, pages: &pages) else {
        out.line("root: could not build the mini-OS")
        Sprig.powerOff(6)
    }
    miniOS = child.name
    let r = Sprig.yield(child.name, target: VIDTIndex.main, save: resumeSlot)
    SharedConsole.drain(consolePage)
    guard r.succeeded else {
        out.write("root: could not enter the mini-OS: ")
        out.line(statusName(r.raw))
        Sprig.powerOff(7)
    }
    var failures = word(consolePage + SharedConsole.failuresWord).pointee
    out.line("root: the mini-OS is done; deleting it")
    let d = Sprig.call(.deletePartition, child.name)
    if !d.succeeded {
        out.write("root: deletePartition(mini-OS): ")
        out.line(statusName(d.raw))
        failures += 1
    }
    let freeAfter = freePages(from: scanStart, count: scanned)
    out.write("root: free pages among the first ")
    out.decimal(scanned)
    out.write(" of my range: before ")
    out.decimal(freeBefore)
    out.write(", after ")
    out.decimal(freeAfter)
    out.write(" (")
    out.decimal(pages.taken)
    out.line(" handed out and back)")
    if freeAfter != freeBefore { failures += 1 }
    out.write("root: signal scenario done, ")
    out.decimal(failures)
    out.line(" failures")
    Sprig.powerOff(failures == 0 ? 0 : 3)
}
