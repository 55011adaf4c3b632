/// Attack 3: no register of one partition is ever visible to another (DESIGN.md §5, register
/// hygiene), general registers, flags and FPU/SSE state alike.
///
/// A partition fills every register with a marker (Sources/SprigUser/Registers.S) and leaves:
/// by a fault, by a yield. The partition entered next starts at a context whose rip is the
/// register probe, which records every register it was entered with. Each context is written
/// with values of its owner's own (`writePatterned`), so "what the probe saw" must equal "what
/// the context says" — except the five delivery registers of a fault — and no word may carry
/// the marker. Both directions: child → root (fault, yield) and root → child (yield). The
/// marker includes the data selectors (the child loads 0x1B into DS, ES, FS and GS, root 3):
/// the probe records them too, and each must be null, as after every way out of the kernel
/// (a service's return included).
import SprigABI
import SprigUser

enum Hygiene {
    static let rootPattern: UInt64 = 0x1111_2222_0000_0000
    static let childPattern: UInt64 = 0x3333_4444_0000_0000
    static let rootMarker: UInt64 = 0xDEAD_BEEF_0000_0000
    /// Registers.S's marker FPU values, and the x87 mantissa of pi (fldpi).
    static let markFCW: UInt64 = 0x0E7F
    static let markMXCSR: UInt64 = 0xFF80
    static let piMantissa: UInt64 = 0xC90F_DAA2_2168_C235
    /// The owners' own FPU control values (neither the reset values nor the marker's).
    static let ownFCW: UInt64 = 0x027F
    static let ownMXCSR: UInt64 = 0x3F80
    /// FXSAVE bytes compared: up to the end of xmm15.
    static let fxsaveCompared = 416
    /// Where the probe records DS, ES, FS and GS (ContextLayout's reserved words).
    static let selectorWords: [Int] = [160, 168, 176, 184]
    /// Root's marker selector (the child's is Registers.S's default, 0x1B, the user data one).
    static let rootSelector: UInt64 = 3

    static func fpu(_ va: UInt64, _ byte: Int) -> UnsafeMutablePointer<UInt64> { word(va + UInt64(ContextLayout.fpu + byte)) }

    /// A fresh context at `va` whose general register i is `pattern ^ (i + 1)`, xmm n is
    /// `pattern ^ (0x100 + n)` in both halves, FCW `ownFCW`, MXCSR `ownMXCSR`.
    static func writePatterned(at va: UInt64, rip: UInt64, rsp: UInt64, pattern: UInt64, flags: UInt64) {
        Contexts.write(at: va, rip: rip, rsp: rsp, flags: flags)
        var i: UInt64 = 0
        while i < UInt64(ContextLayout.gprCount) {
            word(va + UInt64(ContextLayout.gprs) + 8 * i).pointee = pattern ^ (i + 1)
            i += 1
        }
        fpu(va, 0).pointee = ownFCW
        fpu(va, 24).pointee = ownMXCSR
        var n = 0
        while n < 16 {
            fpu(va, 160 + 16 * n).pointee = pattern ^ (0x100 + UInt64(n))
            fpu(va, 168 + 16 * n).pointee = pattern ^ (0x100 + UInt64(n))
            n += 1
        }
    }

    /// Words where the probe's record at `capture` differs from the context at `context`
    /// (with `delivery`'s five registers in place of the context's, when given).
    static func differences(_ capture: UInt64, _ context: UInt64, delivery: Event?, interruptsEnabled: Bool) -> UInt64 {
        var bad: UInt64 = 0
        func expect(_ got: UInt64, _ want: UInt64) { if got != want { bad += 1 } }
        expect(word(capture + UInt64(ContextLayout.rsp)).pointee, word(context + UInt64(ContextLayout.rsp)).pointee)
        expect(word(capture + UInt64(ContextLayout.rflags)).pointee, interruptsEnabled ? InitialRegisters.flags : 0x2)
        var o = ContextLayout.gprs
        while o < ContextLayout.gprs + 8 * ContextLayout.gprCount {
            var want = word(context + UInt64(o)).pointee
            if let d = delivery {
                switch o {
                case Delivery.sourceRegister: want = d.source
                case Delivery.vectorRegister: want = d.vector
                case Delivery.errorCodeRegister: want = d.errorCode
                case Delivery.faultAddressRegister: want = d.faultAddress
                case Delivery.savedAtRegister: want = d.savedAt
                default: break
                }
            }
            expect(word(capture + UInt64(o)).pointee, want)
            o += 8
        }
        var b = 0
        while b < fxsaveCompared {
            // Bytes 28…31 are MXCSR_MASK, the CPU's constant, not state.
            let mask: UInt64 = b == 24 ? 0xFFFF_FFFF : ~0
            expect(fpu(capture, b).pointee & mask, fpu(context, b).pointee & mask)
            b += 8
        }
        // The data selectors are no context's: null, whatever the previous partition had.
        for o in selectorWords { expect(word(capture + UInt64(o)).pointee, 0) }
        return bad
    }

    /// Words of the probe's record that carry a value derived from `marker`.
    static func traces(_ capture: UInt64, marker: UInt64) -> UInt64 {
        var found: UInt64 = 0
        func look(_ w: UInt64) { if (w ^ marker) < 0x200 || w == piMantissa { found += 1 } }
        var o = ContextLayout.rsp
        while o < ContextLayout.gprs + 8 * ContextLayout.gprCount { look(word(capture + UInt64(o)).pointee); o += 8 }
        var b = 0
        while b < fxsaveCompared { look(fpu(capture, b).pointee); b += 8 }
        if fpu(capture, 0).pointee & 0xFFFF == markFCW { found += 1 }
        if fpu(capture, 24).pointee & 0xFFFF_FFFF == markMXCSR { found += 1 }
        return found
    }

    static func report(_ what: StaticString, _ capture: UInt64, _ context: UInt64, delivery: Event?,
                       interruptsEnabled: Bool, marker: UInt64, _ ok: Bool) {
        let diff = differences(capture, context, delivery: delivery, interruptsEnabled: interruptsEnabled)
        let seen = traces(capture, marker: marker)
        var out = Output()
        out.write("root: ")
        out.write(what)
        out.write(": differences ")
        out.decimal(diff)
        out.write(", marker traces ")
        out.decimal(seen)
        finish(&out, ok && diff == 0 && seen == 0)
    }

    static func clear(_ area: UInt64) {
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(area))!.initialize(repeating: 0, count: ContextLayout.size / 8)
    }

    static func run(_ v: Victim, probeArea: UInt64, handlerStackTop: UInt64) {
        let a = v.child.name
        let marker = Attacker.marker
        sprigProbeConfigure(probeArea, attacksProbed)
        let probeContext = Root.slot(3)
        writePatterned(at: probeContext, rip: sprigRegisterProbeAddress(), rsp: handlerStackTop - 8,
                       pattern: rootPattern, flags: InterruptFlags.masked)

        // Child → root by a fault: root's #UD handler is the probe.
        Contexts.setVIDT(6, probeContext)
        clear(probeArea)
        var r = Root.enter(a, at: Attacker.faultWithMarker)
        Contexts.setVIDT(6, Root.slot(2))
        let e = Root.last
        let expected = Event(source: a, vector: 6, errorCode: 0, faultAddress: 0, savedAt: VIDTIndex.stiSave)
        report("a child fills every register with its marker and faults; root's #UD handler sees its own context and the delivery registers",
               probeArea, probeContext, delivery: expected, interruptsEnabled: false, marker: marker,
               r.status == 0 && r.events == 1 && e == expected)
        // The marker was really there: the kernel saved it in the child's slot.
        let saved = v.child.contexts + UInt64(ContextLayout.size)
        let flags = word(saved + UInt64(ContextLayout.rflags)).pointee
        fact("the child's saved context holds its marker (rsp, rbx, rdi, r15, xmm0, xmm15, FCW, MXCSR, DF, CF)",
             word(saved + UInt64(ContextLayout.rsp)).pointee == marker ^ 0x10
             && word(saved + UInt64(ContextLayout.rbx)).pointee == marker ^ 2
             && word(saved + UInt64(ContextLayout.rdi)).pointee == marker ^ 6
             && word(saved + UInt64(ContextLayout.r15)).pointee == marker ^ 15
             && fpu(saved, 160).pointee == marker ^ 0x100 && fpu(saved, 160 + 16 * 15 + 8).pointee == marker ^ 0x10F
             && fpu(saved, 0).pointee & 0xFFFF == markFCW && fpu(saved, 24).pointee & 0xFFFF_FFFF == markMXCSR
             && flags & 0x401 == 0x401)

        // Child → root by a yield: nothing is delivered, root's context must come back exactly.
        Contexts.setVIDT(probeIndex, probeContext)
        clear(probeArea)
        r = Root.enter(a, at: Attacker.yieldWithMarker)
        Contexts.setVIDT(probeIndex, 0)
        report("a child fills its registers with its marker and yields to root's VIDT[400]; root sees its own context",
               probeArea, probeContext, delivery: nil, interruptsEnabled: false, marker: marker,
               r.status == 0 && r.events == 1)

        // Root → child: root yields with its marker to a fresh context of the child's.
        let childContext = v.child.contexts + 3 * UInt64(ContextLayout.size)
        writePatterned(at: childContext, rip: word(v.mailbox + Attacker.probeEntryWord).pointee,
                       rsp: ChildLayout.handlerStackTop - 8, pattern: childPattern, flags: InterruptFlags.enabled)
        word(v.child.vidt + 8 * Attacker.probe).pointee = ChildLayout.contextSlot(3)
        let childCapture = v.mailbox + Attacker.probeArea
        clear(childCapture)
        Root.events = 0
        sprigSetMarkerSelector(rootSelector)
        let s = sprigFillRegistersAndYield(rootMarker, a, Attacker.probe, resumeSlot,
                                           InterruptFlags.enabled, InterruptFlags.masked)
        SharedConsole.drain(Root.consolePage)
        report("root fills its registers with its marker and enters the child fresh; the child sees its own context",
               childCapture, childContext, delivery: nil, interruptsEnabled: true, marker: rootMarker,
               s == 0 && Root.events == 0)

        // A service's return: the caller's own selectors do not survive the kernel either.
        sprigLoadDataSelectors(rootSelector)
        let loaded = sprigDataSelectors()
        let st = Sprig.call(.getIntState, a)
        let after = sprigDataSelectors()
        var out = Output()
        out.write("root: root loads 3 into DS, ES, FS and GS and calls getIntState; it resumes with data selectors ")
        out.hex(after)
        finish(&out, loaded == 0x0003_0003_0003_0003 && st.succeeded && after == 0)
    }
}

extension Hygiene {
    /// The child's marker in the FXSAVE bytes the CPU never writes (416…511) of a context that
    /// straddles two pages: loading it goes through the kernel's staging area.
    static let stagingMarker: UInt64 = 0x5A5A_0000_0000_0000
    /// Root's own words in its resume slot's owner words (reserved bytes, FXSAVE 464…511).
    static let ownerMarker: UInt64 = 0x0A0A_0000_0000_0000

    /// A context of the child's is loaded through the kernel's FXSAVE staging area (it straddles
    /// two pages) with the child's marker in FXSAVE bytes 416…511, which FXSAVE never writes;
    /// root comes back by a one-page context (the staging area untouched) and then saves over
    /// two pages (its resume slot): none of the child's bytes may be in root's saved context,
    /// and root's own words in the slot's reserved bytes and FXSAVE bytes 464…511 stay.
    static func stagingArea(_ v: Victim, page: UInt64) {
        let a = v.child.name
        // The page after the mailbox in the child: the context at extraBase + 0xF00 straddles
        // the mailbox (its first 256 bytes) and this page (its FXSAVE image).
        let second = ChildLayout.extraBase + AddressSpace.pageSize
        let need = Sprig.call(.countToMap, a, second)
        require("the page after the mailbox needs no table", need.succeeded && need.value == 0)
        require("sharing a second page after the mailbox",
                Sprig.call(.addVAddr, page, a, second, Rights.read | Rights.write).succeeded)
        let head = v.mailbox + AddressSpace.pageSize - 256
        word(head + UInt64(ContextLayout.rip)).pointee = word(v.mailbox + Attacker.probeEntryWord).pointee
        word(head + UInt64(ContextLayout.rsp)).pointee = ChildLayout.handlerStackTop - 8
        word(head + UInt64(ContextLayout.rflags)).pointee = InitialRegisters.flags
        word(head + UInt64(ContextLayout.flags)).pointee = InterruptFlags.enabled
        word(page).pointee = InitialRegisters.fcw
        word(page + 24).pointee = InitialRegisters.mxcsr
        var o: UInt64 = 416
        while o < 512 { word(page + o).pointee = stagingMarker ^ o; o += 8 }
        let index: UInt64 = 305
        word(v.child.vidt + 8 * index).pointee = ChildLayout.extraBase + AddressSpace.pageSize - 256
        // Root waits in a one-page slot: coming back does not go through the staging area.
        Contexts.setVIDT(resumeSlot, Root.slot(4))
        let r = Root.enter(a, at: index)
        Contexts.setVIDT(resumeSlot, Root.slot(0))
        // The next round trip saves root over two pages (slot 0), through the staging area.
        let owners = forEachOwnerWord(of: Root.slot(0)) { word($0).pointee = ownerMarker ^ $0 }
        let back = Root.enter(a, at: Attacker.park)
        let saved = Root.slot(0) + UInt64(ContextLayout.fpu)
        var found: UInt64 = 0
        o = 416
        while o < 512 { if word(saved + o).pointee & ~0xFFF == stagingMarker { found += 1 }; o += 8 }
        number("a child's context loaded through the FXSAVE staging area, then root saved over two pages: child words in root's FXSAVE bytes 416-511",
               found, r.status == 0 && back.status == 0 && found == 0)
        var kept: UInt64 = 0
        forEachOwnerWord(of: Root.slot(0)) { if word($0).pointee == ownerMarker ^ $0 { kept += 1 } }
        number("root's words in its slot's reserved bytes and FXSAVE bytes 464-511 after a save over two pages, of 18",
               kept, back.status == 0 && kept == owners)
        word(v.child.vidt + 8 * index).pointee = 0
        require("taking the second page back", Sprig.call(.removeVAddr, a, second).succeeded)
    }
}

extension Hygiene {
    /// `body(address)` for each owner word of the context at `va`: the reserved words
    /// (`ContextLayout.reserved..<fpu`) and FXSAVE bytes `fpuAvailable…`; returns how many.
    @discardableResult
    static func forEachOwnerWord(of va: UInt64, _ body: (UInt64) -> Void) -> UInt64 {
        var n: UInt64 = 0
        var o = UInt64(ContextLayout.reserved)
        while o < UInt64(ContextLayout.size) {
            if o < UInt64(ContextLayout.fpu) || o >= UInt64(ContextLayout.fpu + ContextLayout.fpuAvailable) {
                body(va + o)
                n += 1
            }
            o += 8
        }
        return n
    }
}

/// Root's probe continues here: the registers are recorded; back to the main flow.
@_cdecl("attacks_probed")
func attacksProbed(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Root.noteSelectors()
    Root.last = Event(source: source, vector: vector, errorCode: errorCode, faultAddress: faultAddress, savedAt: savedAt)
    Root.events += 1
    Root.resumeMain()
}
