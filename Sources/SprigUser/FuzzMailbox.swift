/// The page the `fuzz` system's root (systems/fuzz/fuzz) shares with each of its children
/// (systems/fuzz/fuzzchild) at `ChildLayout.extraBase`: the command root wants run, and what came
/// of it. Root writes a command and enters the child at `FuzzMailbox.commandIndex`; the child
/// runs it, writes `done` = `sequence` and the result, and yields back to root's
/// `FuzzMailbox.rootResume` (or `rootFallback` when that is refused). Root trusts nothing it
/// reads here: a child may have been resumed anywhere, or its context saved over this page.
import SprigABI

public enum FuzzMailbox {
    /// Word offsets in the page.
    public static let sequence: UInt64 = 0
    public static let command: UInt64 = 8
    /// Arguments 0…5 at `arguments + 8 * i`.
    public static let arguments: UInt64 = 16
    public static let started: UInt64 = 64
    public static let done: UInt64 = 72
    public static let resultRaw: UInt64 = 80
    public static let resultValue: UInt64 = 88
    public static let ready: UInt64 = 96
    public static let grandchild: UInt64 = 104
    /// The child's `ReportBlock` (Faults.swift): the child writes it, root never does.
    public static let reportBlock: UInt64 = 0x100

    /// Commands (`command` word).
    public static let report: UInt64 = 0
    /// fault(kind, operand): `sprigFaultThenReport`.
    public static let fault: UInt64 = 1
    /// int(vector): `sprigIntThenReport`.
    public static let softwareInterrupt: UInt64 = 2
    /// service(number, a0…a4): any system call but yield.
    public static let service: UInt64 = 3
    /// yield(callee, target, save, flagsOnYield, flagsOnWake).
    public static let yield: UInt64 = 4
    /// Builds a grandchild with no image (entered, it page-faults at once) from pool pages 0…47.
    public static let buildGrandchild: UInt64 = 5
    /// Enters the grandchild at VIDT[argument 0], saving at `grandchildSave`.
    public static let runGrandchild: UInt64 = 6
    public static let deleteGrandchild: UInt64 = 7
    public static let commandCount: UInt64 = 8

    /// `resultRaw` when a fault command returned without faulting.
    public static let noFault: UInt64 = 0xFFFF_FFFF

    /// The child's VIDT indices: its command handler (a resume index, never masked: a child
    /// may be left masked by a context root wrote), where it waits (its report loop saves
    /// there), and its save slot while a grandchild runs.
    public static let commandIndex: UInt64 = 302
    public static let park: UInt64 = 300
    public static let grandchildSave: UInt64 = 301
    /// Root's VIDT indices a child reports to.
    public static let rootResume: UInt64 = 300
    public static let rootFallback: UInt64 = 0xB0

    /// Pool pages (at `ChildLayout.poolBase`) of each child: the first `grandchildPages` for
    /// its grandchild, the rest for the services root has it call.
    public static let poolPages: UInt64 = 64
    public static let grandchildPages: UInt64 = 48
}
