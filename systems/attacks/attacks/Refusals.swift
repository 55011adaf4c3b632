/// Attack 1: every code of yield's check chain (DESIGN.md §5) from ring 3, in chain order, each
/// refused call checked to change nothing root can see, then round trips that must still work.
///
/// The callee is the victim child (systems/programs/attacker), masked while it waits (so that check 9
/// can be shown last); root writes the child's VIDT entries itself through its own mapping of
/// the child's VIDT page, as a parent may.
import SprigABI
import SprigUser

/// A child made from an attacker module, with the mailbox page root shares with it.
struct Started {
    var child: Child
    /// Root's vaddr of the mailbox (`ChildLayout.extraBase` in the child).
    var mailbox: UInt64
}

/// Builds a child of the attacker image `module` in `mode` with `pool` pool pages and, if
/// `console`, the shared console page (one child only: a page goes to one child), and shares a
/// zeroed mailbox page with it at `ChildLayout.extraBase`.
func startAttacker(_ module: (vaddr: UInt64, bytes: UInt64), mode: UInt64, pool: UInt64, console: Bool = true,
                   pages: inout PageSource) -> Started {
    var plan = ChildBuilder.Plan(image: module.vaddr, imageBytes: module.bytes)
    plan.console = console ? Root.consolePage : 0
    plan.poolPages = pool
    plan.argument = mode
    let child: Child
    switch ChildBuilder.build(plan, pages: &pages) {
    case .success(let c): child = c
    case .failure(let s):
        status("building an attacker child", s.rawValue, .success)
        Sprig.powerOff(3)
    }
    let mailbox = pages.takeZeroed()
    let need = Sprig.call(.countToMap, child.name, ChildLayout.extraBase)
    if need.value > 0 { _ = Sprig.call(.prepare, child.name, ChildLayout.extraBase, pages.freeList(need.value)) }
    let add = Sprig.call(.addVAddr, mailbox, child.name, ChildLayout.extraBase, Rights.read | Rights.write)
    require("sharing the mailbox page with an attacker child", add.succeeded)
    return Started(child: child, mailbox: mailbox)
}

/// The victim child and what root learned about it.
struct Victim {
    var child: Child
    var mailbox: UInt64
    /// The victim's vaddr of its grandchild's descriptor: a kernel structure page mapped in it.
    var grandchild: UInt64
    /// A child with no VIDT (check 6), deleted at the end.
    var bare: UInt64 = 0

    /// Starts the victim and lets it run until it yields back masked.
    static func start(_ module: (vaddr: UInt64, bytes: UInt64), pages: inout PageSource) -> Victim {
        let s = startAttacker(module, mode: Attacker.victim, pool: Attacker.poolPages, pages: &pages)
        let r = Root.enter(s.child.name, at: VIDTIndex.main)
        require("the victim child starts and yields back", r.status == Status.success.rawValue && r.events == 0)
        let masked = Sprig.call(.getIntState, s.child.name)
        status("the victim waits masked: getIntState", masked.raw, .success)
        require("the victim's interrupt state is masked", masked.value == InterruptFlags.masked)
        return Victim(child: s.child, mailbox: s.mailbox, grandchild: word(s.mailbox + Attacker.grandchildWord).pointee)
    }
}

enum Refusals {
    /// A hash of what a refused yield must leave alone: root's VIDT (unless it is not root's
    /// to read) and context pages, the victim's VIDT, first context page and mailbox, and its
    /// interrupt state.
    static func fingerprint(_ v: Victim, ownVIDT: Bool) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ w: UInt64) { h = (h ^ w) &* 0x0000_0100_0000_01B3 }
        func page(_ va: UInt64) {
            var i: UInt64 = 0
            while i < 512 { mix(word(va + 8 * i).pointee); i += 1 }
        }
        if ownVIDT { page(AddressSpace.vidt) }
        page(Root.contextArea)
        page(Root.contextArea + AddressSpace.pageSize)
        page(v.child.vidt)
        page(v.child.contexts)
        page(v.mailbox)
        mix(Sprig.call(.getIntState, v.child.name).value)
        return h
    }

    /// `yield(callee, target, save)` must return `expected` and change nothing:
    /// `root: <label>: <status>, nothing changed`.
    static func refuse(_ label: StaticString, _ v: Victim, _ expected: Status,
                       _ callee: UInt64, _ target: UInt64, _ save: UInt64, ownVIDT: Bool = true) {
        let before = fingerprint(v, ownVIDT: ownVIDT)
        let r = Sprig.yield(callee, target: target, save: save,
                            flagsOnYield: InterruptFlags.enabled, flagsOnWake: InterruptFlags.masked)
        SharedConsole.drain(Root.consolePage)
        let unchanged = fingerprint(v, ownVIDT: ownVIDT) == before
        var out = Output()
        out.write("root: ")
        out.write(label)
        out.write(": ")
        out.write(statusName(r.raw))
        out.write(unchanged ? ", nothing changed" : ", something changed")
        finish(&out, r.raw == expected.rawValue && unchanged)
    }

    static func run(_ v: inout Victim, pages: inout PageSource) {
        let a = v.child.name
        let park = Attacker.park
        out("root: yield's check chain, in order")

        // 1–3, and the chain's order when several checks fail.
        refuse("yield to VIDT index 512", v, .invalidInterruptIndex, a, 512, resumeSlot)
        refuse("yield saving at VIDT index 512", v, .invalidSaveIndex, a, park, 512)
        refuse("yield to index 512 saving at 512 to no parent (check 1 first)", v, .invalidInterruptIndex, 0, 512, 512)
        refuse("yield saving at 512 to no parent (check 2 before 3)", v, .invalidSaveIndex, 0, park, 512)
        refuse("root yields to its parent", v, .rootHasNoParent, 0, park, resumeSlot)

        // 4: names that are not a live child.
        refuse("yield to a made-up name", v, .invalidChild, 0x1234_5000, park, resumeSlot)
        refuse("yield to a non-canonical name", v, .invalidChild, 0x0000_8000_0000_0000, park, resumeSlot)
        refuse("yield to a kernel-half name", v, .invalidChild, 0xFFFF_8000_0000_0000, park, resumeSlot)
        let d = pages.take(), d1 = pages.take(), d2 = pages.take(), d3 = pages.take(), d4 = pages.take()
        status("createPartition(a child to delete)", Sprig.call(.createPartition, d, d1, d2, d3, d4).raw, .success)
        status("deletePartition(that child)", Sprig.call(.deletePartition, d).raw, .success)
        refuse("yield to a deleted child", v, .invalidChild, d, park, resumeSlot)
        // A child without a VIDT, its descriptor right above a page root keeps (check 8 below).
        let below = pages.takeZeroed()
        let b = pages.take(), b1 = pages.take(), b2 = pages.take(), b3 = pages.take(), b4 = pages.take()
        status("createPartition(a child without a VIDT)", Sprig.call(.createPartition, b, b1, b2, b3, b4).raw, .success)
        v.bare = b
        refuse("yield to a child's PML4 page (not a descriptor)", v, .invalidChild, b1, park, resumeSlot)

        // 5: root hands its own VIDT page to the kernel as a child's descriptor, then takes it back.
        let backup = pages.take()
        UnsafeMutableRawPointer(bitPattern: UInt(backup))!.copyMemory(
            from: UnsafeRawPointer(bitPattern: UInt(AddressSpace.vidt))!, byteCount: Int(AddressSpace.pageSize))
        let e1 = pages.take(), e2 = pages.take(), e3 = pages.take(), e4 = pages.take()
        let given = Sprig.call(.createPartition, AddressSpace.vidt, e1, e2, e3, e4)
        status("createPartition with my own VIDT page as the descriptor", given.raw, .success)
        if given.succeeded {
            refuse("yield while my VIDT page is a kernel structure", v, .callerVIDTUnavailable, a, park, resumeSlot, ownVIDT: false)
            status("deletePartition gives my VIDT page back", Sprig.call(.deletePartition, AddressSpace.vidt).raw, .success)
            UnsafeMutableRawPointer(bitPattern: UInt(AddressSpace.vidt))!.copyMemory(
                from: UnsafeRawPointer(bitPattern: UInt(backup))!, byteCount: Int(AddressSpace.pageSize))
        }

        // 6.
        refuse("yield to a child without a VIDT", v, .calleeVIDTUnavailable, b, VIDTIndex.main, resumeSlot)

        // 7: the victim's VIDT[200], as root writes it.
        let target: UInt64 = 200
        let g = v.grandchild
        func callee(_ label: StaticString, _ context: UInt64) {
            word(v.child.vidt + 8 * target).pointee = context
            refuse(label, v, .calleeContextUnavailable, a, target, resumeSlot)
        }
        callee("callee's VIDT entry 0", 0)
        callee("callee's context misaligned", ChildLayout.contextSlot(2) + 8)
        callee("callee's context in the kernel half (direct map)", 0xFFFF_8000_0010_0000)
        callee("callee's context in the kernel image", 0xFFFF_FFFF_8010_0000)
        callee("callee's context at a non-canonical address", 0x0000_8000_0000_0000)
        callee("callee's context in an unmapped page", 0x3000_0000)
        // Past the top of its stack the next virtual page is unmapped; past the end of its
        // pool too (there the next physical page happens to be its VIDT).
        callee("callee's context straddling past its stack top into an unmapped page", ChildLayout.stackTop - 256)
        callee("callee's context straddling past its pool into an unmapped page",
               ChildLayout.poolBase + Attacker.poolPages * AddressSpace.pageSize - 256)
        callee("callee's context on a kernel structure page mapped in it (Fig. 4)", g)
        callee("callee's context straddling into a kernel structure page", g - 256)
        callee("callee's VIDT entry pointing at its VIDT itself", AddressSpace.vidt)
        callee("callee's context inside its VIDT", AddressSpace.vidt + 0x800)
        callee("callee's context straddling into its VIDT", AddressSpace.vidt - 256)
        word(v.child.vidt + 8 * target).pointee = 0

        // 8: root's VIDT[310], against the victim's park context.
        func saveSlot(_ label: StaticString, _ slot: UInt64) {
            Contexts.setVIDT(badSaveIndex, slot)
            refuse(label, v, .callerContextUnavailable, a, park, badSaveIndex)
        }
        saveSlot("saving over my own VIDT", AddressSpace.vidt)
        saveSlot("save slot inside my VIDT", AddressSpace.vidt + 0x100)
        saveSlot("save slot straddling into my VIDT", AddressSpace.vidt - 256)
        saveSlot("save slot in an unmapped page", 0x5000_0000_0000)
        saveSlot("save slot in the kernel half", 0xFFFF_8000_0000_0000)
        saveSlot("save slot misaligned", Root.slot(5) + 8)
        saveSlot("save slot straddling past my stack top into an unmapped page", AddressSpace.rootStackTop - 256)
        saveSlot("save slot straddling past the end of my memory", pages.end - 256)
        saveSlot("save slot on a kernel structure page", b)
        fact("the page below that structure page is mine", below + AddressSpace.pageSize == b)
        saveSlot("save slot straddling into a kernel structure page", b - 256)
        let parkContext = v.child.contexts + 2 * UInt64(ContextLayout.size)
        saveSlot("save slot over the callee's context", parkContext)
        saveSlot("save slot overlapping the callee's context by 512 bytes", parkContext - 256)
        Contexts.setVIDT(badSaveIndex, 0)

        // 9: the victim waits masked.
        refuse("yield to the masked child at vector 0xC1", v, .interruptMasked, a, Attacker.saveSlotAttack, resumeSlot)
        word(v.child.vidt + 8 * 32).pointee = ChildLayout.contextSlot(4)
        refuse("yield to the masked child at vector 32", v, .interruptMasked, a, 32, resumeSlot)
        word(v.child.vidt + 8 * 32).pointee = 0

        // Nothing was changed: round trips work. A resume index is never masked.
        var r = Root.enter(a, at: park)
        status("round trip: resume the masked child at its slot 300", r.status, .success)
        fact("the child yielded back with no event", r.events == 0)
        let state = Sprig.call(.getIntState, a)
        number("the child's interrupt state after it unmasked", state.value, state.succeeded && state.value == InterruptFlags.enabled)
        // Root's save slot in a page it shares with the callee, on bytes apart from the
        // callee's context: allowed (the victim's first context, used up).
        Contexts.setVIDT(resumeSlot, v.child.contexts)
        r = Root.enter(a, at: park)
        Contexts.setVIDT(resumeSlot, Root.slot(0))
        status("round trip saving root in the callee's context page, apart from its context", r.status, .success)
        r = Root.enter(a, at: park)
        status("round trip after every refusal", r.status, .success)
        fact("no event during the round trips", r.events == 0)
    }

    static func out(_ s: StaticString) {
        var o = Output()
        o.line(s)
    }
}
