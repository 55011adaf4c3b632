/// The `fuzz` system's child: runs whatever its parent (systems/fuzz/fuzz) writes in the mailbox
/// (`FuzzMailbox`): a fault, an `int n`, a system call or a yield with the parent's arguments, or
/// building, entering and deleting a grandchild of its own. It checks nothing itself: the
/// parent decides what each outcome must be.
///
/// At its first start it installs its command handler at `VIDT[FuzzMailbox.commandIndex]` (a
/// fresh context on the handler stack each time it is entered), its wait slot and grandchild
/// slot, says it is ready and reports. Whatever may leave for the parent in the middle — a
/// fault, an `int n`, a yield — runs in Faults.S's *ThenReport routines, which after it read
/// nothing from the stack and end in the stackless `sprigYieldLoop`: root may resume a context
/// saved there much later, when the handler stack holds another command's frames, and it still
/// only reports.
import SprigABI
import SprigUser

nonisolated(unsafe) var started = false
/// Where the *ThenReport routines report (in the mailbox page: read again by a context resumed late).
let block = ChildLayout.extraBase + FuzzMailbox.reportBlock

func mailbox(_ offset: UInt64) -> UnsafeMutablePointer<UInt64> { word(ChildLayout.extraBase + offset) }
func argument(_ i: UInt64) -> UInt64 { mailbox(FuzzMailbox.arguments + 8 * i).pointee }

func report() -> Never {
    sprigYieldLoop(FuzzMailbox.rootResume, save: FuzzMailbox.park, fallback: FuzzMailbox.rootFallback)
}

func finish(_ sequence: UInt64, _ raw: UInt64, _ value: UInt64) -> Never {
    mailbox(FuzzMailbox.resultRaw).pointee = raw
    mailbox(FuzzMailbox.resultValue).pointee = value
    mailbox(FuzzMailbox.done).pointee = sequence
    report()
}

@_cdecl("fuzzchild_command")
func command(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    let sequence = mailbox(FuzzMailbox.sequence).pointee
    mailbox(FuzzMailbox.started).pointee = sequence
    let grandchild = mailbox(FuzzMailbox.grandchild).pointee
    UnsafeMutablePointer<ReportBlock>(bitPattern: UInt(block))!.pointee = ReportBlock(resultAt: ChildLayout.extraBase + FuzzMailbox.resultRaw, valueAt: ChildLayout.extraBase + FuzzMailbox.resultValue,
                        doneAt: ChildLayout.extraBase + FuzzMailbox.done, sequence: sequence, target: FuzzMailbox.rootResume,
                        save: FuzzMailbox.park, fallback: FuzzMailbox.rootFallback)
    switch mailbox(FuzzMailbox.command).pointee {
    case FuzzMailbox.fault:
        sprigFaultThenReport(argument(0), argument(1), block)
    case FuzzMailbox.softwareInterrupt:
        sprigIntThenReport(argument(0), block)
    case FuzzMailbox.service where argument(0) != Service.yield.rawValue:
        let r = Sprig.callRaw(argument(0), argument(1), argument(2), argument(3), argument(4), argument(5))
        if r.succeeded && argument(0) == Service.deletePartition.rawValue && argument(1) == grandchild {
            mailbox(FuzzMailbox.grandchild).pointee = 0
        }
        finish(sequence, r.raw, r.value)
    case FuzzMailbox.yield:
        sprigSyscallThenReport(Service.yield.rawValue, argument(0), argument(1), argument(2), argument(3), argument(4), block)
    case FuzzMailbox.buildGrandchild where grandchild == 0:
        var pages = PageSource(start: ChildLayout.poolBase, pages: FuzzMailbox.grandchildPages)
        switch ChildBuilder.build(ChildBuilder.Plan(image: 0, imageBytes: 0), pages: &pages) {
        case .success(let g):
            mailbox(FuzzMailbox.grandchild).pointee = g.name
            finish(sequence, Status.success.rawValue, g.name)
        case .failure(let s):
            // Whatever part was made goes (its descriptor is the first page taken).
            _ = Sprig.call(.deletePartition, ChildLayout.poolBase)
            finish(sequence, s.rawValue, 0)
        }
    case FuzzMailbox.runGrandchild where grandchild != 0:
        sprigSyscallThenReport(Service.yield.rawValue, grandchild, argument(0), FuzzMailbox.grandchildSave,
                               InterruptFlags.enabled, InterruptFlags.enabled, block)
    case FuzzMailbox.deleteGrandchild where grandchild != 0:
        let r = Sprig.call(.deletePartition, grandchild)
        if r.succeeded { mailbox(FuzzMailbox.grandchild).pointee = 0 }
        finish(sequence, r.raw, 0)
    default:
        finish(sequence, Status.invalidArgument.rawValue, 0)
    }
}

@_cdecl("sprig_partition_main")
func fuzzChildMain(_ argument: UInt64) {
    if !started {
        started = true
        Contexts.setHandler(FuzzMailbox.commandIndex, command, slot: ChildLayout.contextSlot(4),
                            stackTop: ChildLayout.handlerStackTop)
        Contexts.setVIDT(FuzzMailbox.park, ChildLayout.contextSlot(2))
        Contexts.setVIDT(FuzzMailbox.grandchildSave, ChildLayout.contextSlot(3))
        mailbox(FuzzMailbox.grandchild).pointee = 0
        mailbox(FuzzMailbox.ready).pointee = 1
    }
    report()
}
