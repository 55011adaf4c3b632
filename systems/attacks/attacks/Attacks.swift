/// The `attacks` system's root: the yield and delivery attacks on the booted
/// kernel, one printed line each, checked by Tests/BootTests/YieldBootTests.swift.
///
/// 1. `Refusals.swift` — every code of yield's check chain (1–9), each refusal changing nothing
///    root can see (its VIDT and contexts, the child's VIDT, contexts and mailbox, the child's
///    interrupt state), then working round trips.
/// 2. `Faults.swift` — the paper's Fig. 4 through the fault path (save slots and a #PF handler
///    in kernel pages), sgdt/sidt/sldt/str/smsw in a child (each a #GP under UMIP), a child
///    that faults 1000 times, a child that never yields.
/// 3. `Hygiene.swift` — registers and FPU state of one partition never seen by another.
///
/// Root runs masked (`setIntState(masked)`) and so do its handlers; it yields to a child with
/// interrupts enabled, so ticks and `int 0x80` reach it only while a child runs. Root's main flow
/// waits at its `VIDT[300]` (`resumeSlot`): a child yields back there, or one of root's handlers
/// records the event it was entered for and resumes the main flow from that saved context with
/// `sprig_resume_context` (root cannot yield to itself). Children are the `attacker` image,
/// one boot module each. At the end root deletes them and checks that every page came back.
import SprigABI
import SprigUser


/// Where root's main flow waits while a child runs.
let resumeSlot: UInt64 = 300
/// A save index root points at bad slots (check 8).
let badSaveIndex: UInt64 = 310
/// Root's probe target for a child's marked yield (a resume index: never masked).
let probeIndex: UInt64 = 400
/// A VIDT entry root leaves 0: a yield saving "at" it drops root's context. (Index 0 is not
/// that: root's VIDT[0] is its #DE handler, which a save at 0 would overwrite.)
let dropIndex: UInt64 = Sprig.noSave

/// The attacker's conventions (systems/programs/attacker/Attacker.swift).
enum Attacker {
    static let victim: UInt64 = 0
    static let faultLoop: UInt64 = 1
    static let spin: UInt64 = 2
    static let park: UInt64 = 300
    static let saveSlotAttack: UInt64 = 0xC1
    static let handlerAttack: UInt64 = 0xC2
    static let faultWithMarker: UInt64 = 0xC3
    static let yieldWithMarker: UInt64 = 0xC4
    static let probe: UInt64 = 0xC5
    static let descriptorTables: UInt64 = 0xC6
    /// The operand of 0xC6 that makes it the stale-translation read instead of an instruction.
    static let staleTLBOperand: UInt64 = 5
    static let marker: UInt64 = 0xBAD0_C0DE_5EC0_0000
    static let poolPages: UInt64 = 48
    /// Mailbox words (offsets in the page root shares at `ChildLayout.extraBase`).
    static let grandchildWord: UInt64 = 0
    static let probeEntryWord: UInt64 = 8
    static let operandWord: UInt64 = 16
    static let counterWord: UInt64 = 24
    static let probeArea: UInt64 = 0x400
}

/// An event one of root's handlers was entered for: the delivery registers.
struct Event: Equatable {
    var source: UInt64 = 0
    var vector: UInt64 = 0
    var errorCode: UInt64 = 0
    var faultAddress: UInt64 = 0
    var savedAt: UInt64 = 0
}

/// What root's event handler does with an event (set by the main flow before it enters a child).
enum Phase {
    /// Record it and resume the main flow.
    case record
    /// A child faulting in a loop: resume it where it was saved until `loopTarget` faults.
    case faultLoop
    /// Count ticks naming the spinning child and resume it until `tickTarget` ticks.
    case ticks
}

/// Root's state shared by its main flow and its handlers (one runs at a time).
enum Root {
    nonisolated(unsafe) static var failures: UInt64 = 0
    nonisolated(unsafe) static var consolePage: UInt64 = 0
    nonisolated(unsafe) static var contextArea: UInt64 = 0
    nonisolated(unsafe) static var phase = Phase.record
    nonisolated(unsafe) static var events: UInt64 = 0
    nonisolated(unsafe) static var last = Event()
    /// Ticks or faults counted in the current phase, and how many of them were not as expected.
    nonisolated(unsafe) static var counted: UInt64 = 0
    nonisolated(unsafe) static var strays: UInt64 = 0
    nonisolated(unsafe) static var loopChild: UInt64 = 0
    /// Root's vaddr of the looping child's saved rip, and its value at the first fault.
    nonisolated(unsafe) static var loopSavedRIP: UInt64 = 0
    nonisolated(unsafe) static var loopFirstRIP: UInt64 = 0
    nonisolated(unsafe) static var loopTarget: UInt64 = 0
    nonisolated(unsafe) static var spinCounter: UInt64 = 0
    nonisolated(unsafe) static var spinLast: UInt64 = 0
    nonisolated(unsafe) static var spinProgress: UInt64 = 0
    nonisolated(unsafe) static var tickTarget: UInt64 = 0
    /// Handler entries, and those entered with a data selector that is not null.
    nonisolated(unsafe) static var handlerEntries: UInt64 = 0
    nonisolated(unsafe) static var selectorLeaks: UInt64 = 0

    /// At a handler's first line: DS, ES, FS and GS must be null (the child that caused the
    /// event had 0x1B in them).
    static func noteSelectors() {
        let s = sprigDataSelectors()
        handlerEntries += 1
        if s != 0 { selectorLeaks += 1 }
    }

    /// Root's context slot `k` (0…8) in its two context pages. Slot 0, the main flow's resume
    /// context, straddles the two pages (so the kernel saves and loads a straddling context on
    /// every round trip); slots 1…4 lie on the first page, 5…8 on the second.
    static func slot(_ k: UInt64) -> UInt64 {
        let size = UInt64(ContextLayout.size)
        if k == 0 { return contextArea + AddressSpace.pageSize - 256 }
        if k < 5 { return contextArea + (k - 1) * size }
        return contextArea + AddressSpace.pageSize + 512 + (k - 5) * size
    }

    /// Back to the main flow where it waits at `VIDT[resumeSlot]`; its `yield` returns 0.
    static func resumeMain() -> Never {
        SharedConsole.drain(consolePage)
        sprigResumeContext(word(AddressSpace.vidt + 8 * resumeSlot).pointee)
        while true {}  // sprig_resume_context does not return
    }

    /// Enters `child` at `target`, waiting at `resumeSlot` with interrupts enabled while away.
    /// - Returns: yield's status and the number of events root's handlers took meanwhile
    ///   (`Root.last` is the latest).
    static func enter(_ child: UInt64, at target: UInt64) -> (status: UInt64, events: UInt64) {
        events = 0
        let r = Sprig.yield(child, target: target, save: resumeSlot,
                            flagsOnYield: InterruptFlags.enabled, flagsOnWake: InterruptFlags.masked)
        SharedConsole.drain(consolePage)
        return (r.raw, events)
    }
}

// MARK: Reporting

/// `root: <label>` and ` <-- FAILED` (counted) unless `ok`.
func fact(_ label: StaticString, _ ok: Bool) {
    var out = Output()
    out.write("root: ")
    out.write(label)
    finish(&out, ok)
}

func finish(_ out: inout Output, _ ok: Bool) {
    if !ok {
        out.write("  <-- FAILED")
        Root.failures += 1
    }
    out.byte(10)
}

/// `root: <label>: <value>` (decimal), failed unless `ok`.
func number(_ label: StaticString, _ value: UInt64, _ ok: Bool) {
    var out = Output()
    out.write("root: ")
    out.write(label)
    out.write(": ")
    out.decimal(value)
    finish(&out, ok)
}

/// `root: <label>: before <before>, after <after>`, failed unless they are equal.
func beforeAfter(_ label: StaticString, _ before: UInt64, _ after: UInt64) {
    var out = Output()
    out.write("root: ")
    out.write(label)
    out.write(": before ")
    out.decimal(before)
    out.write(", after ")
    out.decimal(after)
    finish(&out, before == after)
}

/// `root: <prefix><label><suffix>: vector <v>, r8 <savedAt>`, failed unless `ok`.
func eventLine(_ prefix: StaticString, _ label: StaticString, _ suffix: StaticString, _ e: Event, _ ok: Bool) {
    var out = Output()
    out.write("root: ")
    out.write(prefix)
    out.write(label)
    out.write(suffix)
    out.write(": vector ")
    out.decimal(e.vector)
    out.write(", r8 ")
    out.hex(e.savedAt)
    finish(&out, ok)
}

/// `root: <label>: <status>`, failed unless it is `expected`.
func status(_ label: StaticString, _ raw: UInt64, _ expected: Status) {
    var out = Output()
    out.write("root: ")
    out.write(label)
    out.write(": ")
    out.write(statusName(raw))
    finish(&out, raw == expected.rawValue)
}

/// Stops with the failures so far when `ok` is false: what follows depends on it.
func require(_ label: StaticString, _ ok: Bool) {
    guard !ok else { return }
    fact(label, false)
    Sprig.powerOff(3)
}

// MARK: Handlers

/// `int 0x80` from a child: print its line, resume it where the kernel saved it.
@_cdecl("attacks_console")
func attacksConsole(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Root.noteSelectors()
    SharedConsole.drain(Root.consolePage)
    let r = Sprig.yield(source, target: savedAt, save: dropIndex)
    status("resuming a child after its line", r.raw, .success)
    Root.resumeMain()
}

/// Every exception vector, the double fault and the timer.
@_cdecl("attacks_event")
func attacksEvent(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Root.noteSelectors()
    let e = Event(source: source, vector: vector, errorCode: errorCode, faultAddress: faultAddress, savedAt: savedAt)
    switch Root.phase {
    case .faultLoop where Root.counted < Root.loopTarget:
        Root.counted += 1
        // The child's saved rip: the same ud2 every time (nothing grows, nothing moves).
        let savedRIP = word(Root.loopSavedRIP).pointee
        if Root.counted == 1 { Root.loopFirstRIP = savedRIP }
        if source != Root.loopChild || vector != 6 || savedAt != VIDTIndex.stiSave || savedRIP != Root.loopFirstRIP {
            Root.strays += 1
        }
        if Root.counted < Root.loopTarget {
            Sprig.yield(source, target: savedAt, save: dropIndex)
            Root.strays += 1
        }
    case .ticks where vector == 32:
        Root.counted += 1
        if source != Root.loopChild || savedAt != VIDTIndex.stiSave { Root.strays += 1 }
        let now = word(Root.spinCounter).pointee
        if now != Root.spinLast { Root.spinProgress += 1 }
        Root.spinLast = now
        if Root.counted < Root.tickTarget {
            Sprig.yield(source, target: savedAt, save: dropIndex)
            Root.strays += 1
        }
        Sprig.setTimer(0)
    case _ where vector == 32:
        // A tick outside the timer test: let the interrupted child go on.
        Root.strays += 1
        Sprig.yield(source, target: savedAt, save: dropIndex)
    default:
        break
    }
    Root.last = e
    Root.events += 1
    Root.resumeMain()
}

@_cdecl("sprig_partition_main")
func attacksMain(_ bootInfoAddress: UInt64) {
    var out = Output()
    let firstSelectors = sprigDataSelectors()
    require("root masks its interrupts", Sprig.call(.setIntState, InterruptFlags.masked).succeeded)
    let info = BootInfo(address: bootInfoAddress)
    // Every module named like the first "attacker.bin" (one per child, since a page goes to
    // one child only).
    var modules: InlineArray<3, (vaddr: UInt64, bytes: UInt64)> = .init(repeating: (0, 0))
    var found = 0
    if let first = info.module(named: "attacker.bin") {
        var name: (UInt64, UInt64) = (0, 0)
        var m = 0
        while m < info.moduleCount {
            if info.module(m).vaddr == first.vaddr { name = (info.module(m).name0, info.module(m).name1) }
            m += 1
        }
        m = 0
        while m < info.moduleCount && found < 3 {
            let mod = info.module(m)
            if mod.name0 == name.0 && mod.name1 == name.1 { modules[found] = (mod.vaddr, mod.bytes); found += 1 }
            m += 1
        }
    }
    require("the attacks system needs three attacker modules", found == 3)
    var pages = PageSource(largestRangeOf: info)
    let scanStart = pages.next
    let scanned: UInt64 = 512  // as printed at the end
    let freeBefore = freePages(from: scanStart, count: scanned)

    // Root's contexts (two pages) and handlers, on a handler stack, masked.
    Root.contextArea = pages.takeZeroed()
    require("root's context pages are contiguous", pages.takeZeroed() == Root.contextArea + AddressSpace.pageSize)
    let handlerStack = pages.take()
    _ = pages.take()
    let handlerStackTop = handlerStack + 2 * AddressSpace.pageSize
    Contexts.setHandler(SharedConsole.vector, attacksConsole, slot: Root.slot(1), stackTop: handlerStackTop,
                        flags: InterruptFlags.masked)
    Contexts.setHandler(0, attacksEvent, slot: Root.slot(2), stackTop: handlerStackTop, flags: InterruptFlags.masked)
    var v: UInt64 = 1
    while v <= 32 { Contexts.setVIDT(v, Root.slot(2)); v += 1 }
    Contexts.setVIDT(resumeSlot, Root.slot(0))
    Root.consolePage = pages.takeZeroed()

    out.line("root: attacks on yield, delivery and register hygiene")
    fact("root starts with null data selectors", firstSelectors == 0)
    var victim = Victim.start(modules[0], pages: &pages)
    Refusals.run(&victim, pages: &pages)
    Faults.descriptorTables(victim)
    Hygiene.run(victim, probeArea: pages.takeZeroed(), handlerStackTop: handlerStackTop)
    Hygiene.stagingArea(victim, page: pages.takeZeroed())
    Faults.fig4(victim)
    Faults.staleTranslation(victim)
    Faults.faultLoop(modules[1], pages: &pages, scanStart: scanStart, scanned: scanned)
    Faults.neverYields(modules[2], pages: &pages)
    // The children load 0x1B into DS, ES, FS and GS before each line they print (int 0x80),
    // each fault, double fault and yield, and while they spin under the timer.
    number("root's handlers entered with a data selector not null (int n, faults, double faults, ticks)",
           Root.selectorLeaks, Root.selectorLeaks == 0 && Root.handlerEntries >= 1000)

    status("deletePartition(victim)", Sprig.call(.deletePartition, victim.child.name).raw, .success)
    status("deletePartition(the child without a VIDT)", Sprig.call(.deletePartition, victim.bare).raw, .success)
    require("the attacks stayed within the scanned pages", pages.next <= scanStart + scanned * AddressSpace.pageSize)
    beforeAfter("free pages among the first 512 of my range", freeBefore, freePages(from: scanStart, count: scanned))
    let failures = Root.failures + word(Root.consolePage + SharedConsole.failuresWord).pointee
    out.write("root: attacks done, ")
    out.decimal(failures)
    out.line(" failures")
    Sprig.powerOff(failures == 0 ? 0 : 3)
}
