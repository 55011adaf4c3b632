/// The `faulty` system's root: faults nobody can take.
///
/// By default root reads an unmapped address. Root has no parent to take the page fault, so the
/// kernel's exception routing must end it with the crash report (status 0x70) naming root,
/// vector 14 and the address, instead of looping or resetting.
///
/// With `faulty.child=1` on the command line root instead starts a child (the `attacker` image
/// in its fault-loop mode: ud2, #UD) with no handler of its own at `VIDT[6]` nor at `VIDT[8]`:
/// the crash report must name that child (as root names it) and vector 6. With `faulty.child=2`
/// root has a handler at `VIDT[8]` only: the kernel, which cannot give root the #UD at
/// `VIDT[6]`, gives it a double fault about the child there, with the child's context saved.
/// With `faulty.nmi=1` root spins with a handler at `VIDT[2]`: an NMI must come to it as a
/// hardware event, not as root's own exception 2 (which would end in the crash report).
import SprigABI
import SprigUser

/// Root's NMI handler (`faulty.nmi=1`): told it was interrupted itself (source 0) at vector 2,
/// its context saved at its own STI slot.
@_cdecl("faulty_nmi")
func nmi(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    var out = Output()
    out.write("root: NMI at my VIDT[2]: source ")
    out.hex(source)
    out.write(", vector ")
    out.decimal(vector)
    out.write(", r8 ")
    out.hex(savedAt)
    out.byte(10)
    let ok = source == 0 && vector == VIDTIndex.nmi && savedAt == VIDTIndex.stiSave
    out.line(ok ? "root: the NMI came to me as a hardware event" : "root: not the NMI delivery expected (FAILED)")
    Sprig.powerOff(ok ? 0 : 3)
}

/// Root spins with a handler at VIDT[2] until an NMI (QEMU's monitor `nmi`) reaches it.
func waitForNMI(_ info: BootInfo) -> Never {
    var out = Output()
    var pages = PageSource(largestRangeOf: info)
    _ = pages.take()
    let stackTop = pages.take() + AddressSpace.pageSize
    // Root's own interrupted state goes to its STI slot.
    Contexts.setVIDT(VIDTIndex.stiSave, RootLayout.contextSlot(2))
    Contexts.setHandler(VIDTIndex.nmi, nmi, slot: RootLayout.contextSlot(1), stackTop: stackTop)
    out.line("root: waiting for an NMI")
    while true {}
}

/// What the double-fault handler checks against.
nonisolated(unsafe) var childName: UInt64 = 0

@_cdecl("faulty_double_fault")
func doubleFault(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    var out = Output()
    out.write("root: double fault at my VIDT[8]: source ")
    out.hex(source)
    out.write(", vector ")
    out.decimal(vector)
    out.write(", error code ")
    out.decimal(errorCode)
    out.write(", r8 ")
    out.hex(savedAt)
    out.byte(10)
    let ok = source == childName && vector == VIDTIndex.doubleFault && errorCode == 0 && savedAt == VIDTIndex.stiSave
    out.line(ok ? "root: it names my child, its context saved at its STI slot" : "root: not the double fault expected (FAILED)")
    Sprig.powerOff(ok ? 0 : 3)
}

func childFault(_ info: BootInfo, doubleFaultHandler: Bool) -> Never {
    var out = Output()
    guard let image = info.module(named: "attacker.bin") else {
        out.line("root: no attacker.bin module (FAILED)")
        Sprig.powerOff(3)
    }
    var pages = PageSource(largestRangeOf: info)
    var plan = ChildBuilder.Plan(image: image.vaddr, imageBytes: image.bytes)
    plan.argument = 1  // the attacker's fault loop: ud2
    switch ChildBuilder.build(plan, pages: &pages) {
    case .success(let c): childName = c.name
    case .failure(let s):
        out.write("root: building the child failed: ")
        out.line(statusName(s.rawValue))
        Sprig.powerOff(3)
    }
    if doubleFaultHandler {
        _ = pages.take()
        let stackTop = pages.take() + AddressSpace.pageSize
        Contexts.setHandler(VIDTIndex.doubleFault, doubleFault, slot: RootLayout.contextSlot(1), stackTop: stackTop)
    }
    out.write("root: entering my child ")
    out.hex(childName)
    out.line(doubleFaultHandler ? "; I have a handler at VIDT[8] only" : "; I have no handler at VIDT[6] nor VIDT[8]")
    let r = Sprig.yield(childName, target: VIDTIndex.main, save: Sprig.noSave)
    out.write("root: yield to the child returned ")
    out.line(statusName(r.raw))
    Sprig.powerOff(4)
}

@_cdecl("sprig_partition_main")
func faultyMain(_ bootInfoAddress: UInt64) {
    var out = Output()
    let info = BootInfo(address: bootInfoAddress)
    if case .value(let mode) = info.argument("faulty.child"), mode == 1 || mode == 2 {
        childFault(info, doubleFaultHandler: mode == 2)
    }
    if case .value(1) = info.argument("faulty.nmi") { waitForNMI(info) }
    out.line("root: reading 0x7000_0000_0000, which nobody mapped")
    let p = UnsafeMutablePointer<UInt64>(bitPattern: UInt(0x7000_0000_0000))!
    out.hex(p.pointee)
    out.line("root: still running after the fault (wrong)")
    Sprig.powerOff(4)
}
