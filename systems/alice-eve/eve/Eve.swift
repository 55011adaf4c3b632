/// Eve of the `alice-eve` system (WeensyOS's p-eve): she counts and yields like Alice, says
/// hello at 1024 (or the count in bits 16 and up of her argument), and then, depending on the
/// low 16 bits of the argument root started her with, loops forever (0), carries out one attack
/// on the kernel or on Alice (1…9, `Attack`), or goes on counting and yielding politely
/// (`polite`).
///
/// An attack that works goes on to the line after it: Eve then faults with `wentOn` in every
/// register, which root reports as a failure of containment. An attack the kernel refuses with a
/// status (a service call, a yield) is reported to root by faulting with that status in every
/// register: root reads it from the context the kernel saved (`sprigFillRegistersAndFault`).
///
/// What Eve knows, root shares read-only at `ChildLayout.extraBase` (`Clue`): the kernel's
/// syscall entry from the kernel's symbol table, the address of one of Alice's pages, and
/// Alice's name as root knows her. Knowing them does not help.
import SprigABI
import SprigUser

let resumeIndex: UInt64 = 300

/// Eve's arguments (root's `Stage`).
enum Attack {
    static let loop: UInt64 = 0
    static let syscallEntry: UInt64 = 1
    static let alicePage: UInt64 = 2
    static let cli: UInt64 = 3
    static let powerOff: UInt64 = 4
    static let cr3: UInt64 = 5
    static let fakeTimer: UInt64 = 6
    static let sgdt: UInt64 = 7
    static let kernelPointer: UInt64 = 8
    static let yieldToAlice: UInt64 = 9
    static let polite: UInt64 = 100
}

/// The page root shares with what Eve knows (root's `EveClue`).
enum Clue {
    static let syscallEntry = ChildLayout.extraBase + 0
    static let alicePage = ChildLayout.extraBase + 8
    static let aliceName = ChildLayout.extraBase + 16
}

/// What Eve's registers hold when an attack went on instead of being stopped.
let wentOn: UInt64 = 0xE7E0_0000_0000_0B0E

/// A report block for the *ThenReport routines: they fault before they report, and Eve is never
/// resumed after a fault (root restarts her), so the block is never written.
nonisolated(unsafe) var unusedReport = ReportBlock(resultAt: 0, valueAt: 0, doneAt: 0, sequence: 0, target: 0, save: 0, fallback: 0)

func say(_ attack: UInt64, _ what: StaticString, _ value: UInt64 = 0, hex: Bool = false) {
    var out = Output()
    out.write("Eve: attack ")
    out.decimal(attack)
    out.write(": ")
    out.write(what)
    if hex { out.hex(value) }
    out.byte(10)
}

func attack(_ k: UInt64) -> Never {
    let block = UInt64(UInt(bitPattern: withUnsafeMutablePointer(to: &unusedReport) { $0 }))
    switch k {
    case Attack.syscallEntry:
        let entry = word(Clue.syscallEntry).pointee
        say(k, "writing jmp . (eb fe) over the kernel's syscall entry at ", entry, hex: true)
        UnsafeMutablePointer<UInt16>(bitPattern: UInt(entry))!.pointee = 0xFEEB
    case Attack.alicePage:
        let page = word(Clue.alicePage).pointee
        say(k, "writing over Alice's code at its address in root's memory window, ", page, hex: true)
        word(page).pointee = 0xFEEB_FEEB_FEEB_FEEB
    case Attack.cli:
        say(k, "cli: turning interrupts off so that the timer never takes the CPU back")
        sprigFaultThenReport(FaultKind.clearInterrupts, 0, block)
    case Attack.powerOff:
        say(k, "out to port 0xf4: powering the machine off")
        sprigPortOut(0xF4, 0)
    case Attack.cr3:
        say(k, "mov to cr3: switching to page tables of my own")
        sprigFaultThenReport(FaultKind.writeCR3, 0x1000, block)
    case Attack.fakeTimer:
        say(k, "int 32: a fake timer tick")
        sprigIntThenReport(VIDTIndex.timer, block)
    case Attack.sgdt:
        say(k, "sgdt: where is the kernel's GDT?")
        _ = sprigDescriptorTableRead(0)
    case Attack.kernelPointer:
        let entry = word(Clue.syscallEntry).pointee & ~(AddressSpace.pageSize - 1)
        say(k, "createPartition with the kernel's syscall entry page as my child's descriptor, ", entry, hex: true)
        let r = Sprig.call(.createPartition, entry, entry + 0x1000, entry + 0x2000, entry + 0x3000, entry + 0x4000)
        sprigFillRegistersAndFault(r.raw)
    case Attack.yieldToAlice:
        let alice = word(Clue.aliceName).pointee
        say(k, "yield to Alice by her name in root, ", alice, hex: true)
        let r = Sprig.yield(alice, target: VIDTIndex.main, save: Sprig.noSave)
        sprigFillRegistersAndFault(r.raw)
    default:
        break
    }
    sprigFillRegistersAndFault(wentOn)
    while true {}
}

@_cdecl("sprig_partition_main")
func eveMain(_ word0: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    Contexts.setVIDT(resumeIndex, ChildLayout.contextSlot(2))
    let argument = word0 & 0xFFFF
    let every = word0 >> 16 == 0 ? 1024 : word0 >> 16
    var n: UInt64 = 0
    while true {
        n += 1
        if n % every == 0 {
            var out = Output()
            out.write("Hi, I'm Eve! #")
            out.decimal(n)
            out.byte(10)
            if argument == Attack.loop {
                while true {}
            }
            if argument != Attack.polite { attack(argument) }
        }
        Sprig.yield(0, target: resumeIndex, save: resumeIndex)
    }
}
