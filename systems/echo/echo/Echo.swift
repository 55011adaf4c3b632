/// The `echo` system's root: serial input reaching the multiplexer through the kernel's
/// interrupt routing (DESIGN.md §6).
///
/// Root starts one child from the `attacker` image in its `spin` mode (it adds 1 to a counter in
/// a page root shares with it, forever, and never yields), turns the serial port's receive
/// interrupt on (`setConsoleInterrupt`), prints `echo: ready` and runs the child with interrupts
/// enabled. Every byte typed (or written to QEMU's standard input) makes the UART raise IRQ 4;
/// the kernel saves the spinning child at its STI slot and enters root at `VIDT[36]`, telling it
/// which partition was interrupted. Root's handler:
///
/// 1. checks the delivery: vector 36, from the child, saved at `VIDTIndex.stiSave`, and the
///    saved rip inside the child's image (it was interrupted in its loop);
/// 2. *drains* the UART: `consoleRead` into a buffer until a call returns fewer bytes than it
///    asked for (the interrupt line stays up until the FIFO is read empty; the PIC takes its
///    rising edge, so a root that stopped early would hear of no further input);
/// 3. prints one line: the delivery, how far the child had counted since the previous one,
///    and the bytes read (`\xNN` for bytes outside printable ASCII, `\\` for a backslash);
/// 4. resumes the child where the kernel saved it, or, when the bytes held Ctrl-D (0x04),
///    returns to root's main flow.
///
/// Root then turns the interrupt off, deletes the child, checks that every page came back and
/// prints a summary; it powers off with 0 when every delivery was as expected, 3 otherwise.
/// `sprig run --system echo` connects the terminal to the serial port; the boot test
/// (`Tests/BootTests/EchoBootTests.swift`) writes a script to it.
import SprigABI
import SprigUser

/// Root's resume slot: where its main flow waits while the child spins.
let resumeSlot: UInt64 = 300
/// `systems/programs/attacker`'s spin mode and its mailbox's counter word (`Mode.spin`,
/// `Mailbox.counter`).
let spinMode: UInt64 = 2
let counterWord: UInt64 = 24
/// Bytes asked for per `consoleRead`: more than the UART's 16-byte FIFO holds.
let readSize: UInt64 = 64
let endOfInput: UInt8 = 0x04

enum Echo {
    /// What root's registers hold when it yields to the spinning child (`pattern ^ k`).
    static let marker: UInt64 = 0xEC40_5EED_0000_0000
    nonisolated(unsafe) static var child: UInt64 = 0
    /// Root's vaddrs of the child's counter and of its STI save slot.
    nonisolated(unsafe) static var counter: UInt64 = 0
    nonisolated(unsafe) static var savedContext: UInt64 = 0
    nonisolated(unsafe) static var imageEnd: UInt64 = 0
    nonisolated(unsafe) static var buffer: UInt64 = 0
    nonisolated(unsafe) static var lastCount: UInt64 = 0
    nonisolated(unsafe) static var deliveries: UInt64 = 0
    /// Deliveries that found the FIFO already empty (their byte was read by an earlier drain).
    nonisolated(unsafe) static var empty: UInt64 = 0
    nonisolated(unsafe) static var reads: UInt64 = 0
    nonisolated(unsafe) static var bytes: UInt64 = 0
    /// Deliveries after which the child had counted further than at the previous one.
    nonisolated(unsafe) static var progressed: UInt64 = 0
    /// Deliveries that were not vector 36 from the child saved at its STI slot in its loop.
    nonisolated(unsafe) static var strays: UInt64 = 0
    nonisolated(unsafe) static var failures: UInt64 = 0
}

/// Prints `what` failed with `raw` and counts it.
func fail(_ what: StaticString, _ raw: UInt64) {
    Echo.failures += 1
    var out = Output()
    out.write("echo: FAILED ")
    out.write(what)
    out.write(": ")
    out.line(statusName(raw))
}

/// Root's `VIDT[36]`: the serial port has input.
@_cdecl("echo_serial")
func echoSerial(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Echo.deliveries += 1
    let savedRIP = word(Echo.savedContext + UInt64(ContextLayout.rip)).pointee
    let inLoop = savedRIP >= AddressSpace.imageBase && savedRIP < Echo.imageEnd
    if vector != VIDTIndex.serial || source != Echo.child || savedAt != VIDTIndex.stiSave || !inLoop { Echo.strays += 1 }
    let now = word(Echo.counter).pointee
    let counted = now &- Echo.lastCount
    if now != Echo.lastCount { Echo.progressed += 1 }
    Echo.lastCount = now

    var out = Output()
    out.write("echo: delivery ")
    out.decimal(Echo.deliveries)
    out.write(" at VIDT[")
    out.decimal(vector)
    out.write("] from ")
    if source == Echo.child { out.write("the spinning child") } else { out.hex(source) }
    out.write(", saved at ")
    out.decimal(savedAt)
    out.write(inLoop ? " in its loop" : " OUTSIDE its image")
    out.write(", it counted +")
    out.decimal(counted)
    out.write("; read ")
    // Drain: read until a call returns fewer bytes than asked, printing as the buffer fills.
    var total: UInt64 = 0
    var ended = false
    var full = true
    while full {
        var n: UInt64 = 0
        while full && n + readSize <= AddressSpace.pageSize {
            let r = Sprig.consoleRead(Echo.buffer + n, readSize)
            Echo.reads += 1
            guard r.succeeded else { fail("consoleRead", r.raw); Sprig.powerOff(3) }
            n += r.value
            full = r.value == readSize
        }
        var k: UInt64 = 0
        while k < n {
            let b = UnsafeMutablePointer<UInt8>(bitPattern: UInt(Echo.buffer + k))!.pointee
            if b == endOfInput { ended = true }
            if b == 92 {
                out.write("\\\\")
            } else if b >= 0x20 && b < 0x7F {
                out.byte(b)
            } else {
                out.write("\\x")
                out.byte(hexDigit(b >> 4)); out.byte(hexDigit(b & 0xF))
            }
            k += 1
        }
        total += n
    }
    out.write(" (")
    out.decimal(total)
    out.line(" bytes)")
    if total == 0 { Echo.empty += 1 }
    Echo.bytes += total
    if ended {
        sprigResumeContext(word(AddressSpace.vidt + 8 * resumeSlot).pointee)
    }
    let r = Sprig.yield(source, target: savedAt, save: Sprig.noSave)
    fail("resuming the interrupted child", r.raw)
    Sprig.powerOff(3)
}

func hexDigit(_ d: UInt8) -> UInt8 { d < 10 ? 48 + d : 87 + d }

@_cdecl("sprig_partition_main")
func echoMain(_ bootInfoAddress: UInt64) {
    var out = Output()
    let info = BootInfo(address: bootInfoAddress)
    guard let image = info.module(named: "attacker.bin") else {
        out.line("echo: the echo system needs the attacker module")
        Sprig.powerOff(1)
    }
    let masked = Sprig.call(.setIntState, InterruptFlags.masked)
    if !masked.succeeded { fail("setIntState(masked)", masked.raw) }
    var pages = PageSource(largestRangeOf: info)
    let scanStart = pages.next
    let scanned: UInt64 = 256
    let freeBefore = freePages(from: scanStart, count: scanned)

    // Root's resume context and its serial handler, on a stack of their own, masked.
    let contexts = pages.takeZeroed()
    let handlerStack = pages.take()
    _ = pages.take()
    Contexts.setVIDT(resumeSlot, contexts)
    Contexts.setHandler(VIDTIndex.serial, echoSerial, slot: contexts + UInt64(ContextLayout.size),
                        stackTop: handlerStack + 2 * AddressSpace.pageSize, flags: InterruptFlags.masked)
    Echo.buffer = pages.takeZeroed()

    var plan = ChildBuilder.Plan(image: image.vaddr, imageBytes: image.bytes)
    plan.argument = spinMode
    let child: Child
    switch ChildBuilder.build(plan, pages: &pages) {
    case .success(let c): child = c
    case .failure(let s):
        fail("building the spinning child", s.rawValue)
        Sprig.powerOff(3)
    }
    let mailbox = pages.takeZeroed()
    let need = Sprig.call(.countToMap, child.name, ChildLayout.extraBase)
    if need.value > 0 { _ = Sprig.call(.prepare, child.name, ChildLayout.extraBase, pages.freeList(need.value)) }
    let shared = Sprig.call(.addVAddr, mailbox, child.name, ChildLayout.extraBase, Rights.read | Rights.write)
    if !shared.succeeded { fail("sharing the counter page", shared.raw); Sprig.powerOff(3) }
    Echo.child = child.name
    Echo.counter = mailbox + counterWord
    Echo.savedContext = child.contexts + UInt64(ContextLayout.size)  // the child's contextSlot(1)
    Echo.imageEnd = AddressSpace.imageBase + image.bytes

    let on = Sprig.setConsoleInterrupt(true)
    if !on.succeeded { fail("setConsoleInterrupt(on)", on.raw) }
    out.line("echo: ready: serial input on at VIDT[36]; type, Ctrl-D ends")
    // With root's registers full of a marker (Registers.S): while the child spins, the kernel's
    // entry window must hold none of them (MonitorProtectionTests reads it).
    let r = sprigFillRegistersAndYield(Echo.marker, child.name, VIDTIndex.main, resumeSlot,
                                       InterruptFlags.enabled, InterruptFlags.masked)
    if r != 0 { fail("entering the spinning child", r) }
    let off = Sprig.setConsoleInterrupt(false)
    if !off.succeeded { fail("setConsoleInterrupt(off)", off.raw) }
    // What a bad call gets: each refused with its own status, nothing read.
    let refusals: InlineArray<4, (UInt64, UInt64, UInt64)> = [
        (Echo.buffer, 0, Status.invalidArgument.rawValue),
        (Echo.buffer, Limits.consoleReadMax + 1, Status.invalidArgument.rawValue),
        (AddressSpace.upperHalfStart, 8, Status.kernelHalfAddress.rawValue),
        (child.name, 8, Status.pageNotAccessible.rawValue),  // a kernel structure page now
    ]
    var k = 0
    while k < 4 {
        let (va, length, expected) = refusals[k]
        let got = Sprig.consoleRead(va, length)
        if got.raw != expected || got.value != 0 { fail("a hostile consoleRead was answered", got.raw) }
        k += 1
    }
    let bad = Sprig.call(.setConsoleInterrupt, 2)
    if bad.raw != Status.invalidArgument.rawValue { fail("setConsoleInterrupt(2) was answered", bad.raw) }

    let deleted = Sprig.call(.deletePartition, child.name)
    if !deleted.succeeded { fail("deletePartition(the spinning child)", deleted.raw) }
    let freeAfter = freePages(from: scanStart, count: scanned)
    if freeAfter != freeBefore { fail("every page back", freeAfter) }

    out.write("echo: done: ")
    out.decimal(Echo.bytes)
    out.write(" bytes in ")
    out.decimal(Echo.deliveries)
    out.write(" deliveries (")
    out.decimal(Echo.empty)
    out.write(" found the FIFO empty), ")
    out.decimal(Echo.reads)
    out.write(" consoleReads; ")
    out.decimal(Echo.strays)
    out.write(" not from the child's loop at its STI slot; the child counted further before ")
    out.decimal(Echo.progressed)
    out.write(" of them, ")
    out.decimal(word(Echo.counter).pointee)
    out.write(" in all; free pages ")
    out.decimal(freeBefore)
    out.write(" -> ")
    out.decimal(freeAfter)
    out.write("; failures ")
    out.decimal(Echo.failures)
    out.byte(10)
    Sprig.powerOff(Echo.failures == 0 && Echo.strays == 0 ? 0 : 3)
}
