/// The `attacks` system's child: a partition that attacks the kernel on its parent's orders
/// (docs/yield.md, "Attacks on the booted kernel"). Its argument picks what it is:
///
/// * `victim` (0): builds a grandchild with no image (entered, it takes a page fault at once),
///   publishes in the mailbox page its parent shares at `ChildLayout.extraBase` the grandchild's
///   descriptor (a kernel structure page mapped in this partition) and the address of its
///   register probe, installs one command handler per attack, masks interrupts and yields to
///   root. Resumed at its slot 300 it unmasks and parks: each time it is resumed there, it
///   yields straight back to root's slot 300 (a yield round trip). The commands, entered fresh
///   by root's yield at their index, with their operand in the mailbox:
///     0xC1  point my CLI/STI save slots at the operand and fault (Fig. 4 through the fault path)
///     0xC2  point my #PF handler at the operand and run the grandchild, which faults at once
///     0xC3  fill every register with `marker` and fault (ud2)
///     0xC4  fill every register with `marker` and yield to root's VIDT[400]
///     0xC6  execute sgdt, sidt, sldt, str or smsw (the operand, 0…4): each a #GP under UMIP;
///           should one go on, report it to root's slot 300 with the value it read
///     0xC5  (a context root writes) the register probe: it records what it was entered with
///           in the mailbox, then yields back to root's slot 300
///     0xC6  with operand 5: write five pool pages (the CPU caches their translations), make them a new
///           grandchild's structures with createPartition, then read the new PML4's copy of
///           the kernel half through the old vaddr: the kernel must have dropped the stale
///           translation, so the read is a page fault delivered to root (the mailbox's operand
///           says at which address)
/// * `faultLoop` (1): fills its registers with `marker` and executes ud2; resumed where it was
///   saved, it faults again, forever.
/// * `spin` (2): adds 1 to the mailbox's counter word forever and never yields.
///
/// Page order is part of the contract with root: the victim's first pool page is a data page,
/// the grandchild's descriptor is the next one, so a context at `descriptor - 256` runs from an
/// accessible page into a kernel structure page.
import SprigABI
import SprigUser

enum Mode {
    static let victim: UInt64 = 0
    static let faultLoop: UInt64 = 1
    static let spin: UInt64 = 2
}

/// The page root shares at `ChildLayout.extraBase`: words root and this partition agree on.
enum Mailbox {
    static let base = ChildLayout.extraBase
    static let grandchild = base + 0
    static let probeEntry = base + 8
    static let operand = base + 16
    static let counter = base + 24
    static let probeArea = base + 0x400
}

/// This partition's marker: what must never show up in another partition's registers.
let marker: UInt64 = 0xBAD0_C0DE_5EC0_0000
let parkIndex: UInt64 = 300
let rootResume: UInt64 = 300
let rootProbeIndex: UInt64 = 400
/// A VIDT entry this partition leaves 0: saving there drops the context.
let dropIndex: UInt64 = Sprig.noSave
let poolPages: UInt64 = 48
/// What this partition loads into DS, ES, FS and GS before it prints, faults, yields or spins:
/// the user data selector, which root must never see in its handlers.
let dataSelector: UInt64 = 0x1B

nonisolated(unsafe) var grandchild: UInt64 = 0
/// The pool pages not used by the first grandchild (the stale-TLB command takes five).
nonisolated(unsafe) var pool = PageSource(start: ChildLayout.poolBase, pages: poolPages)

/// Reports that `what` was refused with `status` and goes back to root's main flow.
func giveUp(_ what: StaticString, _ status: UInt64) -> Never {
    SharedConsole.countFailure()
    sprigLoadDataSelectors(dataSelector)
    var out = Output()
    out.write("attacker: FAILED, refused (")
    out.write(statusName(status))
    out.write("): ")
    out.line(what)
    while true { Sprig.yield(0, target: rootResume, save: dropIndex) }
}

@_cdecl("attacker_save_slot_attack")
func saveSlotAttack(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    let slot = word(Mailbox.operand).pointee
    Contexts.setVIDT(VIDTIndex.cliSave, slot)
    Contexts.setVIDT(VIDTIndex.stiSave, slot)
    sprigFillRegistersAndFault(marker)
}

@_cdecl("attacker_handler_attack")
func handlerAttack(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Contexts.setVIDT(Delivery.pageFaultVector, word(Mailbox.operand).pointee)
    // Saved at 301 (a slot of its own), the grandchild's first context is loaded; it faults.
    sprigLoadDataSelectors(dataSelector)
    let r = Sprig.yield(grandchild, target: VIDTIndex.main, save: 301)
    giveUp("entering the grandchild", r.raw)
}

@_cdecl("attacker_fault_with_marker")
func faultWithMarker(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    sprigFillRegistersAndFault(marker)
}

@_cdecl("attacker_yield_with_marker")
func yieldWithMarker(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    let r = sprigFillRegistersAndYield(marker, 0, rootProbeIndex, dropIndex, InterruptFlags.enabled, InterruptFlags.enabled)
    giveUp("yielding to root's probe", r)
}

@_cdecl("attacker_descriptor_tables")
func descriptorTables(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    // One command for both attacks: the child has ten context slots and every one is in use.
    if word(Mailbox.operand).pointee == staleTLBOperand { staleTLB() }
    let read = sprigDescriptorTableRead(word(Mailbox.operand).pointee)
    word(Mailbox.operand).pointee = read
    let r = Sprig.yield(0, target: rootResume, save: dropIndex)
    giveUp("returning after a descriptor-table instruction went on", r.raw)
}

/// Where the probe continues: the registers are recorded in the mailbox; back to root.
@_cdecl("attacker_probed")
func probed(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    sprigLoadDataSelectors(dataSelector)
    let r = Sprig.yield(0, target: rootResume, save: dropIndex)
    giveUp("returning from the probe", r.raw)
}

/// The operand of command 0xC6 that asks for this read instead of an instruction.
let staleTLBOperand: UInt64 = 5

/// Pages given as structures stay reachable only through a translation the CPU cached before.
func staleTLB() -> Never {
    var s: InlineArray<5, UInt64> = .init(repeating: 0)
    var k = 0
    while k < 5 { s[k] = pool.take(); word(s[k]).pointee = UInt64(k) + 1; k += 1 }
    let r = Sprig.call(.createPartition, s[0], s[1], s[2], s[3], s[4])
    if !r.succeeded { giveUp("createPartition over five written pages", r.raw) }
    // Word 256 of the new PML4: the first kernel-half entry the kernel copied there.
    let probe = s[1] + 256 * 8
    word(Mailbox.operand).pointee = probe
    let seen = word(probe).pointee
    SharedConsole.countFailure()
    var out = Output()
    out.write("attacker: FAILED, read my grandchild's PML4 through a stale translation: ")
    out.hex(seen)
    out.byte(10)
    while true { Sprig.yield(0, target: rootResume, save: dropIndex) }
}

func victim() -> Never {
    var out = Output()
    _ = pool.takeZeroed()  // the data page right below the grandchild's descriptor
    // No image: the grandchild's first instruction fetch at imageBase is a page fault.
    switch ChildBuilder.build(ChildBuilder.Plan(image: 0, imageBytes: 0), pages: &pool) {
    case .failure(let s): giveUp("building the grandchild", s.rawValue)
    case .success(let g): grandchild = g.name
    }
    word(Mailbox.grandchild).pointee = grandchild
    word(Mailbox.probeEntry).pointee = sprigRegisterProbeAddress()
    sprigProbeConfigure(Mailbox.probeArea, probed)
    let stack = ChildLayout.handlerStackTop
    Contexts.setHandler(0xC1, saveSlotAttack, slot: ChildLayout.contextSlot(4), stackTop: stack)
    Contexts.setHandler(0xC2, handlerAttack, slot: ChildLayout.contextSlot(5), stackTop: stack)
    Contexts.setHandler(0xC3, faultWithMarker, slot: ChildLayout.contextSlot(6), stackTop: stack)
    Contexts.setHandler(0xC4, yieldWithMarker, slot: ChildLayout.contextSlot(7), stackTop: stack)
    Contexts.setHandler(0xC6, descriptorTables, slot: ChildLayout.contextSlot(9), stackTop: stack)
    Contexts.setVIDT(parkIndex, ChildLayout.contextSlot(2))
    Contexts.setVIDT(301, ChildLayout.contextSlot(8))
    sprigLoadDataSelectors(dataSelector)
    out.line("attacker: grandchild built, commands 0xC1-0xC4 and 0xC6 installed; masking interrupts and yielding to root")
    var r = Sprig.yield(0, target: rootResume, save: parkIndex,
                        flagsOnYield: InterruptFlags.masked, flagsOnWake: InterruptFlags.enabled)
    if !r.succeeded { giveUp("first yield to root", r.raw) }
    sprigLoadDataSelectors(dataSelector)
    out.line("attacker: resumed at my slot 300, interrupts unmasked; parking")
    while true {
        sprigLoadDataSelectors(dataSelector)
        r = Sprig.yield(0, target: rootResume, save: parkIndex)
        if !r.succeeded { giveUp("parking", r.raw) }
    }
}

@_cdecl("sprig_partition_main")
func attackerMain(_ mode: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    switch mode {
    case Mode.faultLoop: sprigFillRegistersAndFault(marker)
    case Mode.spin:
        sprigLoadDataSelectors(dataSelector)
        sprigSpinCounting(word(Mailbox.counter))  // never returns
    default: victim()
    }
}
