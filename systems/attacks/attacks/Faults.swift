/// Attack 2 and the event stress tests: the paper's Fig. 4 through the fault path, a child
/// that faults in a loop, a child that never yields.
///
/// Fig. 4 (Pip's context-switching paper): a child names kernel memory where the kernel will
/// write (its CLI/STI save slot) or read (a handler context), then makes the kernel act on it
/// by faulting. The kernel must check those addresses like any yield's (checks 7 and 8): a
/// save slot it cannot use means the parent is told `Delivery.notSaved` in r8 and nothing is
/// written; a handler it cannot use means the fault goes up as a double fault.
import SprigABI
import SprigUser

enum Faults {
    static func fig4(_ v: Victim) {
        let a = v.child.name
        let g = v.grandchild
        // The victim's usual save slot (its context slot 1), which must stay untouched.
        let usual = v.child.contexts + UInt64(ContextLayout.size)
        func saveAttack(_ label: StaticString, _ slot: UInt64) {
            word(v.mailbox + Attacker.operandWord).pointee = slot
            var k: UInt64 = 0
            while k < UInt64(ContextLayout.size / 8) { word(usual + 8 * k).pointee = 0x5AFE_0000 | k; k += 1 }
            let r = Root.enter(a, at: Attacker.saveSlotAttack)
            let e = Root.last
            var untouched = true
            k = 0
            while k < UInt64(ContextLayout.size / 8) { untouched = untouched && word(usual + 8 * k).pointee == 0x5AFE_0000 | k; k += 1 }
            eventLine("Fig. 4, the child points its save slots at ", label, " and faults", e,
                      r.status == 0 && r.events == 1 && e.source == a && e.vector == 6
                      && e.savedAt == Delivery.notSaved && untouched)
        }
        saveAttack("the kernel half", 0xFFFF_8000_0000_0000)
        saveAttack("the kernel image", 0xFFFF_FFFF_8010_0000)
        saveAttack("its grandchild's descriptor (a kernel structure page)", g)
        saveAttack("a slot straddling into that structure page", g - 256)
        saveAttack("an unmapped page", 0x3000_0000)
        saveAttack("its own VIDT", AddressSpace.vidt)
        word(v.child.vidt + 8 * VIDTIndex.cliSave).pointee = ChildLayout.contextSlot(1)
        word(v.child.vidt + 8 * VIDTIndex.stiSave).pointee = ChildLayout.contextSlot(1)

        func handlerAttack(_ label: StaticString, _ handler: UInt64) {
            word(v.mailbox + Attacker.operandWord).pointee = handler
            let r = Root.enter(a, at: Attacker.handlerAttack)
            let e = Root.last
            eventLine("Fig. 4, the child's page-fault handler is ", label, "; its child faults; root gets (from the child)", e,
                      r.status == 0 && r.events == 1 && e.source == a && e.vector == VIDTIndex.doubleFault
                      && e.errorCode == 0 && e.savedAt == Delivery.notSaved)
        }
        handlerAttack("in the kernel half", 0xFFFF_8000_0000_0000)
        handlerAttack("its grandchild's descriptor (a kernel structure page)", g)
        handlerAttack("straddling into that structure page", g - 256)
        handlerAttack("its own VIDT", AddressSpace.vidt)
        word(v.child.vidt + 8 * Delivery.pageFaultVector).pointee = 0
        let r = Root.enter(a, at: Attacker.park)
        status("after Fig. 4, a round trip with the victim", r.status, .success)
    }

    /// sgdt, sidt, sldt, str and smsw in a child are each a #GP(0) (CR4.UMIP)
    /// that root takes from the child; none goes on to show where the kernel's tables are.
    static func descriptorTables(_ v: Victim) {
        func probe(_ label: StaticString, _ kind: UInt64) {
            word(v.mailbox + Attacker.operandWord).pointee = kind
            let r = Root.enter(v.child.name, at: Attacker.descriptorTables)
            let e = Root.last
            let faulted = r.status == 0 && r.events == 1 && e.source == v.child.name && e.vector == 13 && e.errorCode == 0
            var out = Output()
            out.write("root: the child executes ")
            out.write(label)
            if faulted {
                out.write(": #GP(0) taken from the child, vector ")
                out.decimal(e.vector)
            } else {
                out.write(": went on, read ")
                out.hex(word(v.mailbox + Attacker.operandWord).pointee)
            }
            finish(&out, faulted)
        }
        probe("sgdt", 0)
        probe("sidt", 1)
        probe("sldt", 2)
        probe("str", 3)
        probe("smsw", 4)
    }

    /// The child writes five pages, gives them as a grandchild's structures and reads one
    /// through its old vaddr: the kernel dropped the CPU's cached translations of pages it took
    /// from the running partition, so the read faults and root is told (from the child, #PF at
    /// the word the child names in the mailbox) instead of the child reading a kernel page.
    static func staleTranslation(_ v: Victim) {
        let a = v.child.name
        word(v.mailbox + Attacker.operandWord).pointee = Attacker.staleTLBOperand
        // The child's fault is saved at its usual slot, which Fig. 4 left filled with a
        // pattern: cleared, so that the saved context holds nothing of Fig. 4's.
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(v.child.contexts + UInt64(ContextLayout.size)))!
            .initialize(repeating: 0, count: ContextLayout.size / 8)
        let r = Root.enter(a, at: Attacker.descriptorTables)
        let e = Root.last
        let probe = word(v.mailbox + Attacker.operandWord).pointee
        eventLine("a child reads a page it just gave as a structure", "", ", root gets (from the child)", e,
                  r.status == 0 && r.events == 1 && e.source == a && e.vector == Delivery.pageFaultVector
                  && probe != 0 && e.faultAddress == probe && e.errorCode & 1 == 1)
        let back = Root.enter(a, at: Attacker.park)
        status("after the stale-translation read, a round trip with the victim", back.status, .success)
    }

    /// A child that executes ud2 forever: root resumes it at its saved slot 1000 times, deletes
    /// it, and gets every page back.
    static func faultLoop(_ module: (vaddr: UInt64, bytes: UInt64), pages: inout PageSource, scanStart: UInt64, scanned: UInt64) {
        let before = freePages(from: scanStart, count: scanned)
        let c = startAttacker(module, mode: Attacker.faultLoop, pool: 0, console: false, pages: &pages).child
        Root.phase = .faultLoop
        Root.loopChild = c.name
        Root.loopTarget = 1000
        Root.loopSavedRIP = c.contexts + UInt64(ContextLayout.size) + UInt64(ContextLayout.rip)
        Root.counted = 0
        Root.strays = 0
        let r = Root.enter(c.name, at: VIDTIndex.main)
        Root.phase = .record
        number("a child faulting in a loop: #UD faults taken and resumed at the same saved rip",
               Root.counted, r.status == 0 && Root.counted == Root.loopTarget && Root.strays == 0)
        status("deletePartition(the faulting child)", Sprig.call(.deletePartition, c.name).raw, .success)
        beforeAfter("free pages around the faulting child", before, freePages(from: scanStart, count: scanned))
    }

    /// A child that spins and never yields: the timer still reaches root, naming it.
    static func neverYields(_ module: (vaddr: UInt64, bytes: UInt64), pages: inout PageSource) {
        let s = startAttacker(module, mode: Attacker.spin, pool: 0, console: false, pages: &pages)
        Root.phase = .ticks
        Root.loopChild = s.child.name
        Root.spinCounter = s.mailbox + Attacker.counterWord
        Root.spinLast = 0
        Root.spinProgress = 0
        Root.tickTarget = 200
        Root.counted = 0
        Root.strays = 0
        status("setTimer(1000)", Sprig.setTimer(1000).raw, .success)
        let r = Root.enter(s.child.name, at: VIDTIndex.main)
        Root.phase = .record
        number("a child that never yields: timer ticks that named it", Root.counted,
               r.status == 0 && Root.counted == Root.tickTarget && Root.strays == 0)
        // A tick pending when root resumes the child may come before its first instruction.
        number("ticks after which the child had counted further", Root.spinProgress,
               Root.spinProgress >= Root.tickTarget / 2)
        status("deletePartition(the spinning child)", Sprig.call(.deletePartition, s.child.name).raw, .success)
    }
}
