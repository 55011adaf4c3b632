/// Eve's stages: her endless loop, then her attacks one at a time, each checked against what
/// must stop it, then a polite Eve for as long as the system runs.
import SprigABI
import SprigUser

/// Eve's argument at each start (systems/alice-eve/eve, `Attack`).
enum Stage {
    static let loop: UInt64 = 0
    static let firstAttack: UInt64 = 1
    static let lastAttack: UInt64 = 9
    static let polite: UInt64 = 100
    /// Alice's lines root waits for while Eve loops before it moves on to the attacks.
    static let aliceLinesWhileLooping: UInt64 = 2
}

/// What must stop an attack: a fault with this vector and error code (and, for the two
/// memory writes, at this address), or, for the refused calls, Eve's report fault (`#UD`)
/// carrying this status.
struct Expected {
    var vector: UInt64
    var errorCode: UInt64 = 0
    /// Error-code bits that must be set instead of an exact error code (0: exact).
    var errorBits: UInt64 = 0
    var address: UInt64 = 0
    /// For a #GP raised by an IDT gate: the gate's vector, which the error code names.
    var idtVector: UInt64 = 0
    var status: Status? = nil
}

enum Stages {
    static func what(_ attack: UInt64) -> StaticString {
        switch attack {
        case 1: return "write to the kernel's syscall entry"
        case 2: return "write to Alice's page by its address"
        case 3: return "cli"
        case 4: return "out 0xf4 (power off)"
        case 5: return "mov to cr3"
        case 6: return "int 32 (a fake timer tick)"
        case 7: return "sgdt"
        case 8: return "createPartition with kernel-half pointers"
        case 9: return "yield to Alice's descriptor"
        default: return "(none)"
        }
    }

    static func expected(_ attack: UInt64) -> Expected {
        switch attack {
        // A user-mode write (error bits W|U) at the entry; present when the entry window maps it.
        case 1: return Expected(vector: 14, errorBits: 6, address: Root.syscallEntry)
        // Not present in Eve at all (W|U).
        case 2: return Expected(vector: 14, errorCode: 6, address: Root.aliceModule.vaddr)
        case 3, 4, 5, 7: return Expected(vector: 13)
        // An IRQ gate has DPL 0: #GP with an error code naming the gate in the IDT.
        case 6: return Expected(vector: 13, idtVector: VIDTIndex.timer)
        case 8: return Expected(vector: 6, status: .kernelHalfAddress)
        case 9: return Expected(vector: 6, status: .invalidChild)
        default: return Expected(vector: ~0)
        }
    }

    static func vectorName(_ v: UInt64) -> StaticString {
        switch v {
        case 6: return "#UD"
        case 13: return "#GP"
        case 14: return "#PF"
        case 8: return "#DF"
        default: return "exception"
        }
    }

    /// Starts Eve with `stage` from a fresh copy of her image.
    static func startEve(_ stage: UInt64) {
        let m = Root.eveModule
        copy(from: Root.evePristine, to: Root.eveImage, bytes: m.bytes)
        Root.stage = stage
        // Her argument: the stage, and how often she prints from bit 16 up.
        start(&Root.eve, image: Root.eveImage, bytes: m.bytes, argument: stage | Root.every << 16, label: "building Eve")
        // What she knows, read-only at her extra region.
        let name = Root.eve.name
        let need = Sprig.call(.countToMap, name, ChildLayout.extraBase)
        var pages = PageSource(start: Root.eve.pagesStart + Root.eve.pagesUsed * AddressSpace.pageSize,
                               pages: childPages - Root.eve.pagesUsed)
        if need.value > 0 {
            let prep = Sprig.call(.prepare, name, ChildLayout.extraBase, pages.freeList(need.value))
            if !prep.succeeded { fail("preparing Eve's clue page", prep.raw) }
        }
        Root.eve.pagesUsed += pages.taken
        let add = Sprig.call(.addVAddr, Root.clue, name, ChildLayout.extraBase, Rights.read)
        if !add.succeeded { fail("sharing Eve's clue page", add.raw) }
    }

    /// Deletes Eve and starts her at the next stage.
    static func restartEve() {
        let d = Sprig.call(.deletePartition, Root.eve.name)
        if !d.succeeded { fail("deletePartition(Eve)", d.raw) }
        Root.restarts += 1
        let next: UInt64 = Root.stage >= Stage.lastAttack ? Stage.polite : Root.stage + 1
        startEve(next)
        var out = Output()
        out.write("root: Eve restarted from her image (restart ")
        out.decimal(Root.restarts)
        if next == Stage.polite {
            out.line("), polite from now on")
            out.write("root: Eve's attacks done: ")
            out.decimal(Root.contained)
            out.write(" of ")
            out.decimal(Stage.lastAttack)
            out.write(" contained, failures ")
            out.decimal(Root.failures)
            out.write("; Alice printed ")
            out.decimal(Root.aliceLines)
            out.line(" lines all along")
            if Root.exitAfterAttacks {
                MemoryViewer.physical()
                Keys.key(UInt8(ascii: "q"))
            }
        } else {
            out.write("), attack ")
            out.decimal(next)
            out.line(" next")
        }
    }

    /// Eve's fault: the end of her attack `Root.stage`.
    static func attackEnded(vector: UInt64, errorCode: UInt64, faultAddress: UInt64, savedAt: UInt64) {
        let attack = Root.stage
        let e = expected(attack)
        // Eve's report fault holds the status in every register, as Registers.S marks them
        // (register k holds the marker ^ k; rax is k = 1).
        let rax = word(Root.eve.savedContext + UInt64(ContextLayout.rax)).pointee ^ 1
        var ok = vector == e.vector && savedAt == VIDTIndex.stiSave
        if e.errorBits != 0 {
            ok = ok && errorCode & e.errorBits == e.errorBits
        } else if e.idtVector != 0 {
            // The SDM's error code names the gate by vector × 8 + 2 (IDT); QEMU's TCG gives
            // vector × 16 + 2 (the gate's byte offset in the 64-bit IDT). Either names it.
            ok = ok && (errorCode == e.idtVector << 3 | 2 || errorCode == e.idtVector << 4 | 2)
        } else {
            ok = ok && errorCode == e.errorCode
        }
        if e.address != 0 { ok = ok && faultAddress == e.address }
        if let s = e.status { ok = ok && rax == s.rawValue }
        let inRange = attack >= Stage.firstAttack && attack <= Stage.lastAttack
        ok = ok && inRange
        var out = Output()
        out.write("root: attack ")
        out.decimal(attack)
        out.write(" (")
        out.write(what(attack))
        out.write(ok ? ") contained: " : ") NOT contained: ")
        if let _ = e.status {
            out.write("refused with ")
            out.write(statusName(rax))
            out.write(" (Eve reported it with ud2: vector ")
            out.decimal(vector)
            out.write(")")
        } else {
            out.write(vectorName(vector))
            out.write(" vector ")
            out.decimal(vector)
            out.write(", error code ")
            out.hex(errorCode)
            if vector == 14 {
                out.write(errorCode & 1 != 0 ? " (present" : " (not present")
                out.write(errorCode & 2 != 0 ? ", write" : ", read")
                out.write(errorCode & 4 != 0 ? ", user)" : ", supervisor)")
                out.write(", address ")
                out.hex(faultAddress)
            }
        }
        if !ok {
            out.write("  <-- FAILED")
            Root.failures += 1
        } else {
            Root.contained += 1
        }
        out.byte(10)
    }

    /// A tick took the CPU back from Eve in her loop (stage 0, after her line).
    static func loopTick(_ savedAt: UInt64) {
        Root.loopTicks += 1
        let rip = word(Root.eve.savedContext + UInt64(ContextLayout.rip)).pointee
        // The first ticks may catch her on her way back from printing into the loop; from
        // then on she is always at the same rip.
        if rip == Root.loopRIP { Root.loopSame += 1 } else { Root.loopRIP = rip; Root.loopMoves += 1 }
        if savedAt != VIDTIndex.stiSave { Root.loopStrays += 1 }
    }

    /// Alice printed while Eve loops: after enough lines, Eve's attacks begin.
    static func loopAliceLine() {
        guard Root.aliceLines - Root.aliceLinesAtLoop >= Stage.aliceLinesWhileLooping else { return }
        var out = Output()
        let ok = Root.loopSame >= Stage.aliceLinesWhileLooping && Root.loopMoves <= 3 && Root.loopStrays == 0
        out.write("root: Eve loops forever at rip ")
        out.hex(Root.loopRIP)
        out.write(": the timer took the CPU back from her ")
        out.decimal(Root.loopTicks)
        out.write(" times, ")
        out.decimal(Root.loopSame)
        out.write(" of them there; Alice printed ")
        out.decimal(Root.aliceLines - Root.aliceLinesAtLoop)
        out.write(" lines meanwhile")
        if !ok { out.write("  <-- FAILED"); Root.failures += 1 }
        out.byte(10)
        // Eve is saved at her STI slot; she is deleted and started at her first attack, and
        // Alice (who printed) goes on from her line.
        restartEve()
    }
}

/// Keys from the serial port.
enum Keys {
    /// Reads every waiting byte and acts on each.
    static func poll() {
        var full = true
        while full {
            let r = Sprig.consoleRead(Root.keyBuffer, 64)
            guard r.succeeded else { fail("consoleRead", r.raw); return }
            full = r.value == 64
            var k: UInt64 = 0
            while k < r.value {
                key(UnsafePointer<UInt8>(bitPattern: UInt(Root.keyBuffer + k))!.pointee)
                k += 1
            }
        }
    }

    static func key(_ c: UInt8) {
        switch c {
        case UInt8(ascii: "m"), UInt8(ascii: "a"), UInt8(ascii: "e"):
            Root.view = c
            MemoryViewer.draw(c)
        case UInt8(ascii: "r"):
            Root.refreshing = !Root.refreshing && Root.refreshTicks > 0
            Root.lastMap = Root.ticks
            var out = Output()
            out.write("root: map refresh ")
            if Root.refreshing {
                out.write("every ")
                out.decimal(Root.refreshTicks)
                out.line(" ticks")
            } else {
                out.line("off")
            }
        case UInt8(ascii: "q"):
            var out = Output()
            out.write("root: q: powering off; attacks contained ")
            out.decimal(Root.contained)
            out.write(", Eve restarts ")
            out.decimal(Root.restarts)
            out.write(", Alice's lines ")
            out.decimal(Root.aliceLines)
            out.write(", failures ")
            out.decimal(Root.failures)
            out.write(", PAGE TABLE ERRORs ")
            out.decimal(MemoryViewer.errors)
            out.byte(10)
            Sprig.powerOff(Root.failures == 0 && MemoryViewer.errors == 0 ? 0 : 3)
        default: break
        }
    }
}
