/// The campaign's operations: one random call each, with its prediction beside it.
///
/// A prediction is stated only where the rules (DESIGN.md §4–6, docs/yield.md) fix the answer
/// whatever the kernel's internal order of checks: a call naming a page that is not root's to
/// give must be refused, five distinct free pages must make a child, a live child must be
/// deleted, yield's first four checks in their order, the vector a fault instruction raises.
/// Elsewhere the answer is only counted (and must still be a status SprigABI defines).
///
/// Operations that enter a child end in `conclude`: when the yield returns (a refusal, or the
/// child came back to root's resume slot), or when a handler of root's took an event (a
/// fault, `int n`, a yield to a handler index) and the campaign went on from `fuzz_continue`.
import SprigABI
import SprigUser

/// What root expects when control comes back from a child it entered.
enum Expect {
    /// Nothing beyond the checks every event gets.
    static let anything: UInt64 = 0
    /// The child's first run: back at root's resume slot, ready.
    static let ready: UInt64 = 1
    /// The command ran to its end and the child came back to root's resume slot; `status` is
    /// the result it must report (or any known status when `anyStatus`).
    static let reported: UInt64 = 2
    /// Delivered to root at `vector` from the child (error code and fault address when asked).
    static let fault: UInt64 = 3
    /// Either `fault` or reported with `FuzzMailbox.noFault` (a fault this machine may not raise).
    static let faultOrNone: UInt64 = 4
    /// A double fault naming the child, its context not saved (its grandchild faulted).
    static let doubleFault: UInt64 = 5
    /// The child yielded to root's resume slot in the middle of its command.
    static let yieldedToResume: UInt64 = 6
    /// The child yielded to one of root's handler indices.
    static let yieldEntry: UInt64 = 7
    /// The command ran to its end, but root had not saved itself: the child's report came by the
    /// fallback index (root enabled) or as its ud2 (root masked).
    static let reportedByFallback: UInt64 = 8
    /// Root's yield must be refused with `status` (any status when `anyStatus`).
    static let refused: UInt64 = 9
}

enum Pending {
    nonisolated(unsafe) static var expect: UInt64 = Expect.anything
    nonisolated(unsafe) static var slot = 0
    nonisolated(unsafe) static var name: UInt64 = 0
    nonisolated(unsafe) static var sequence: UInt64 = 0
    nonisolated(unsafe) static var status: UInt64 = 0
    nonisolated(unsafe) static var anyStatus = false
    nonisolated(unsafe) static var service: UInt64 = 0
    nonisolated(unsafe) static var vector: UInt64 = 0
    nonisolated(unsafe) static var errorCode: UInt64? = nil
    /// For `int n` through a gate ring 3 may not use: #GP whose error code names IDT entry n.
    /// The SDM's format is n · 8 + 2; QEMU's TCG pushes n · 16 + 2 (the 16-byte entry's
    /// offset): both name the entry, and which one this machine gives is not the kernel's doing.
    nonisolated(unsafe) static var idtError: UInt64? = nil
    /// For a push: #SS (12) by the SDM, #GP (13) under QEMU's TCG.
    nonisolated(unsafe) static var stackFault = false
    /// For an iretq to the kernel's code selector: #GP(8) by the SDM; under QEMU's TCG with
    /// CR4.SMAP (which the kernel sets), a supervisor-mode #PF on the ring-3 stack, because TCG's
    /// IRET pops its frame with a supervisor access before it checks the selector.
    nonisolated(unsafe) static var iretUnderSMAP = false
    nonisolated(unsafe) static var faultAddress: UInt64? = nil
    nonisolated(unsafe) static var savedAt: UInt64? = nil
    nonisolated(unsafe) static var rootMasked = false
    /// Root's own yield, counted when it concludes (its status, or 0 when it was taken).
    nonisolated(unsafe) static var rootYield = false
    /// A child command that is a yield, or an `int n`, counted when it concludes.
    nonisolated(unsafe) static var childYield = false
    nonisolated(unsafe) static var interrupt = false
    nonisolated(unsafe) static var faultCommand = false
    /// A child VIDT entry to put back: (root's vaddr of the entry, its value), or 0.
    nonisolated(unsafe) static var restoreAt: UInt64 = 0
    nonisolated(unsafe) static var restoreValue: UInt64 = 0
    nonisolated(unsafe) static var grandchildBuild = false
    /// Root's hostile save slot 408 named a structure page for this call.
    nonisolated(unsafe) static var restoreRoot408 = false

    static func reset() {
        expect = Expect.anything
        status = 0
        service = 0
        rootMasked = false
        slot = -1
        name = 0
        anyStatus = false
        errorCode = nil
        idtError = nil
        stackFault = false
        iretUnderSMAP = false
        faultAddress = nil
        savedAt = nil
        rootYield = false
        childYield = false
        interrupt = false
        faultCommand = false
        restoreAt = 0
        restoreRoot408 = false
        grandchildBuild = false
    }
}

enum Operations {
    nonisolated(unsafe) static var sequence: UInt64 = 0

    /// One call of the campaign.
    static func runOne(_ r: inout Random) {
        Pending.reset()
        // A built child that was deleted (or broken) is built again now and then.
        var s = 0
        while s < Model.builtSlots {
            let c = Model.child(s).pointee
            if c.name == 0 && r.chance(20) {
                Current.start("building a child", UInt64(s), count: 1)
                Report.require(build(s), "could not build a child in an empty slot", UInt64(s))
                return
            }
            if c.name != 0 && !c.intact && r.chance(10) {
                deleteChild(s)
                return
            }
            s += 1
        }
        switch r.below(100) {
        case 0..<7: createPartition(&r)
        case 7..<11: countToMap(&r)
        case 11..<19: prepare(&r)
        case 19..<28: addVAddr(&r)
        case 28..<33: removeVAddr(&r)
        case 33..<37: mappedInChild(&r)
        case 37..<40: deletePartition(&r)
        case 40..<44: collect(&r)
        case 44..<46: getIntState(&r)
        case 46..<48: setIntState(&r)
        case 48..<51: machineService(&r)
        case 51..<60: rootYield(&r)
        case 60..<66: contextYield(&r)
        case 66..<78: childCommand(&r, FuzzMailbox.fault)
        case 78..<84: childCommand(&r, FuzzMailbox.softwareInterrupt)
        case 84..<91: childCommand(&r, FuzzMailbox.service)
        case 91..<96: childCommand(&r, FuzzMailbox.yield)
        default: childCommand(&r, FuzzMailbox.buildGrandchild + r.below(3))
        }
    }

    /// A service call of root's, counted.
    static func call(_ service: Service, _ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0,
                     _ a4: UInt64 = 0) -> CallResult {
        let r = Sprig.call(service, a0, a1, a2, a3, a4)
        Stats.record(service.rawValue, r.raw)
        return r
    }

    // MARK: Memory services

    static func createPartition(_ r: inout Random) {
        var a: InlineArray<5, UInt64> = [0, 0, 0, 0, 0]
        var cls: InlineArray<5, UInt64> = [0, 0, 0, 0, 0]
        var k = 0
        while k < 5 {
            let p = Domain.page(&r, freePercent: 75)
            a[k] = p.va
            cls[k] = p.cls
            if k > 0 && r.chance(5) { let j = Int(r.below(UInt64(k))); a[k] = a[j]; cls[k] = cls[j] }
            k += 1
        }
        var slot = -1
        var s = Model.builtSlots
        while s < Model.slots { if Model.child(s).pointee.name == 0 { slot = s; break }; s += 1 }
        // Root's vital and image pages never go to the kernel: a definitely bad page goes in too.
        var risky = false
        var allFree = true
        k = 0
        while k < 5 {
            if cls[k] == PageClass.vital || cls[k] == PageClass.module { risky = true }
            if cls[k] != PageClass.free { allFree = false }
            var j = 0
            while j < k { if a[j] == a[k] { allFree = false }; j += 1 }
            k += 1
        }
        if risky || (allFree && slot < 0) {
            let at = Int(r.below(5))
            a[at] = Domain.hostile(&r)
            cls[at] = PageClass.hostile
            allFree = false
        }
        Current.start("createPartition", a[0], a[1], a[2], a[3], a[4], count: 5)
        k = 0
        while k < 5 { Campaign.touch(a[k]); k += 1 }
        let res = call(.createPartition, a[0], a[1], a[2], a[3], a[4])
        if res.succeeded {
            Report.require(allFree, "createPartition took a page that was not mine to give", 0)
            k = 0
            while k < 5 { Model.set(Model.find(a[k]), use: Use.structure, slot: slot); k += 1 }
            Model.child(slot).pointee = ChildSlot()
            Model.child(slot).pointee.name = a[0]
        } else {
            Report.require(!allFree, "createPartition refused five distinct free pages of mine", res.raw)
        }
    }

    static func countToMap(_ r: inout Random) {
        let child = Domain.childName(&r), va = Domain.childVA(&r)
        Current.start("countToMap", child, va, count: 2)
        let res = call(.countToMap, child, va)
        let live = Model.isLiveChild(child)
        Report.require(res.succeeded ? live && res.value <= 10 : true, "countToMap succeeded for a non-child, or above 10", res.value)
        Report.require(live || !res.succeeded, "countToMap succeeded for a name that is not a child", child)
    }

    /// countToMap, a free list of root's pages (well formed or not), prepare.
    static func prepare(_ r: inout Random) {
        let child = Domain.childName(&r), va = Domain.childVA(&r)
        let slot = Model.slot(named: child)
        Current.start("countToMap before prepare", child, va, count: 2)
        let count = call(.countToMap, child, va)
        let need = count.succeeded ? count.value : r.below(4)
        // The list: `length` distinct free pages of the pool; one of five is broken.
        let variant = r.below(10)  // 0 short, 1 loop, 2 bad link, 3 bad head, else good
        var length = need + r.below(3)
        if variant == 0 && need > 0 { length = need - 1 }
        var list: InlineArray<12, UInt64> = .init(repeating: 0)
        var n = 0
        while n < Int(min(length, 12)) {
            let i = Model.random(&r, home: Home.pool, use: Use.mine)
            guard i >= 0 else { break }
            var dup = false
            var j = 0
            while j < n { if list[j] == Model.va(i) { dup = true }; j += 1 }
            if dup { break }
            list[n] = Model.va(i)
            n += 1
        }
        var wellFormed = UInt64(n) >= need && variant >= 4
        var j = 0
        while j < n { word(list[j]).pointee = j + 1 < n ? list[j + 1] : 0; j += 1 }
        var head: UInt64 = n > 0 ? list[0] : 0
        if variant == 1 && n >= 2 && need >= 2 {
            let at = Int(r.below(UInt64(min(Int(need), n) - 1)))
            word(list[at]).pointee = list[Int(r.below(UInt64(at + 1)))]
        } else if variant == 2 && n >= 2 && need >= 2 {
            let at = Int(r.below(UInt64(min(Int(need), n) - 1)))
            let bad = Domain.page(&r, freePercent: 0)
            word(list[at]).pointee = bad.cls == PageClass.vital || bad.cls == PageClass.module ? Domain.hostile(&r) : bad.va
        } else if variant == 3 {
            let bad = Domain.page(&r, freePercent: 0)
            head = bad.cls == PageClass.vital || bad.cls == PageClass.module ? Domain.hostile(&r) : bad.va
        } else if variant < 4 {
            wellFormed = UInt64(n) >= need && variant == 0 && need == 0
        }
        Current.start("prepare", child, va, head, need, count: 4)
        j = 0
        while j < min(n, 6) { Campaign.touch(list[j]); j += 1 }
        // The link prepare must return as `next` (the last page taken is not root's after).
        let lastLink = need > 0 && Int(need) <= n ? word(list[Int(need) - 1]).pointee : 0
        let res = call(.prepare, child, va, head)
        if res.succeeded {
            Report.require(slot >= 0 && count.succeeded, "prepare succeeded for a name that is not a child", child)
            Report.require(need == 0 || (UInt64(n) >= need && head == list[0]), "prepare succeeded on a list too short or not mine", UInt64(n))
            // The first `need` pages are the child's structures now; `next` is the link in the last.
            if need > 0 {
                Report.require(res.value == lastLink, "prepare's next is not the link in the last page taken", res.value)
                var t = 0
                while t < Int(need) { Model.set(Model.find(list[t]), use: Use.structure, slot: slot); t += 1 }
            }
        } else if slot >= 0 && count.succeeded && need > 0 && wellFormed {
            Report.fail("prepare refused a well-formed list of free pages as long as countToMap asked", res.raw)
        }
        Report.require(!(res.succeeded && need > 0 && (variant == 0 || (variant == 1 && need >= 2 && n >= 2))),
                       "prepare succeeded with a short or looping list", variant)
    }

    static func addVAddr(_ r: inout Random) {
        var page = Domain.page(&r, freePercent: 60)
        if page.cls == PageClass.module { page = (va: Domain.hostile(&r), cls: PageClass.hostile) }
        let child = Domain.childName(&r)
        let va = r.chance(50) ? Domain.shareBase + r.below(Domain.shareSlots) * AddressSpace.pageSize : Domain.childVA(&r)
        var rights = Domain.rights(&r)
        // Root's own pages go down read-only (nothing may write where root keeps its state).
        if page.cls == PageClass.vital { rights &= ~Rights.write }
        Current.start("addVAddr", page.va, child, va, rights, count: 4)
        Campaign.touch(page.va)
        let res = call(.addVAddr, page.va, child, va, rights)
        let slot = Model.slot(named: child)
        if res.succeeded {
            Report.require(page.cls == PageClass.free || page.cls == PageClass.vital, "addVAddr gave a page that was not mine to give", page.cls)
            Report.require(slot >= 0, "addVAddr succeeded into a name that is not a child", child)
            Report.require(rights & ~Rights.all == 0, "addVAddr accepted unknown rights bits", rights)
            Report.require(page.cls == PageClass.vital || rights & Rights.execute == 0,
                           "addVAddr gave execute on a no-execute page of mine", rights)
            Model.set(Model.find(page.va), use: Use.given, slot: slot)
        }
    }

    static func removeVAddr(_ r: inout Random) {
        let child = Domain.childName(&r)
        let va = r.chance(70) ? Domain.shareBase + r.below(Domain.shareSlots) * AddressSpace.pageSize : Domain.childVA(&r)
        Current.start("removeVAddr", child, va, count: 2)
        let res = call(.removeVAddr, child, va)
        guard res.succeeded else { return }
        let slot = Model.slot(named: child)
        Report.require(slot >= 0, "removeVAddr succeeded on a name that is not a child", child)
        // Exactly one page root gave that child is root's again.
        var back = 0
        var i = 0
        while i < Model.count {
            if Model.use(i) == Use.given && Model.slot(i) == slot {
                let m = Sprig.callRaw(Service.mappedInChild.rawValue, Model.va(i))
                Stats.probes += 1
                if m.raw == 0 && m.value == 0 {
                    back += 1
                    Model.giveBack(i)
                    Campaign.touch(Model.va(i))
                    if Model.home(i) != Home.pool { Model.child(slot).pointee.intact = false }
                }
            }
            i += 1
        }
        Report.require(back == 1, "removeVAddr did not give back exactly one page I had given", UInt64(back))
    }

    static func mappedInChild(_ r: inout Random) {
        let page: (va: UInt64, cls: UInt64) = r.chance(15) ? (Domain.hostile(&r), PageClass.hostile) : Domain.page(&r, freePercent: 40)
        Current.start("mappedInChild", page.va, count: 1)
        let res = call(.mappedInChild, page.va)
        let i = Model.find(page.va)
        if page.cls == PageClass.hostile {
            Report.require(!res.succeeded || i >= 0, "mappedInChild answered for an address that is not mine", res.raw)
        } else if i >= 0 {
            Report.require(res.succeeded, "mappedInChild refused a page of mine", res.raw)
            let expected = Model.use(i) == Use.given ? Model.child(Model.slot(i)).pointee.name : 0
            Report.require(res.value == expected, "mappedInChild named the wrong child", res.value)
        }
    }

    static func deletePartition(_ r: inout Random) {
        var child = Domain.childName(&r)
        // Built children are deleted (and rebuilt) less often than bare ones.
        let slot0 = Model.slot(named: child)
        if slot0 >= 0 && slot0 < Model.builtSlots && r.chance(60) { child = Domain.hostile(&r) }
        Current.start("deletePartition", child, count: 1)
        let slot = Model.slot(named: child)
        let res = call(.deletePartition, child)
        if slot >= 0 {
            Report.require(res.succeeded, "deletePartition refused a live child", res.raw)
            childDeleted(slot)
        } else {
            Report.require(!res.succeeded, "deletePartition succeeded on a name that is not a child", child)
        }
    }

    static func deleteChild(_ slot: Int) {
        let name = Model.child(slot).pointee.name
        Current.start("deletePartition", name, count: 1)
        let res = call(.deletePartition, name)
        Report.require(res.succeeded, "deletePartition refused a live child", res.raw)
        childDeleted(slot)
    }

    /// Every page root gave the deleted child, or made its structure, is root's again: checked
    /// against the kernel, written and read back.
    static func childDeleted(_ slot: Int) {
        Model.bury(Model.child(slot).pointee.name)
        Model.child(slot).pointee = ChildSlot()
        Stats.childrenDeleted += 1
        var i = 0
        while i < Model.count {
            if Model.use(i) != Use.mine && Model.slot(i) == slot {
                Model.giveBack(i)
                if let why = Model.disagreement(i) { Report.fail(why, Model.va(i)) }
                Report.require(Model.writable(i), "a page that came back from a deleted child is not writable", Model.va(i))
            }
            i += 1
        }
    }

    static func collect(_ r: inout Random) {
        let child = Domain.childName(&r), va = Domain.childVA(&r)
        Current.start("collect", child, va, count: 2)
        let res = call(.collect, child, va)
        guard res.succeeded else { return }
        let slot = Model.slot(named: child)
        Report.require(slot >= 0, "collect succeeded on a name that is not a child", child)
        var back: UInt64 = 0
        var i = 0
        while i < Model.count {
            if Model.use(i) == Use.structure && Model.slot(i) == slot && Model.probe(Model.va(i)) == Status.duplicatePage.rawValue {
                back += 1
                Model.giveBack(i)
                Campaign.touch(Model.va(i))
            }
            i += 1
        }
        // Pages root did not give (a child's own tables from its pool) are not counted here.
        Report.require(back <= res.value, "collect gave back more of my structure pages than it said", back)
        if Model.child(slot).pointee.built == false {
            Report.require(back == res.value, "collect's count is not the structure pages that came back", back)
        }
    }

    static func getIntState(_ r: inout Random) {
        let child = Domain.childName(&r)
        Current.start("getIntState", child, count: 1)
        let res = call(.getIntState, child)
        let live = Model.isLiveChild(child)
        Report.require(res.succeeded == live, "getIntState's answer does not match whether the name is a live child", res.raw)
        Report.require(!res.succeeded || res.value <= 1, "getIntState answered a state other than 0 or 1", res.value)
    }

    static func setIntState(_ r: inout Random) {
        let v = r.chance(70) ? r.below(2) : (r.chance(50) ? 2 : r.next())
        Current.start("setIntState", v, count: 1)
        let res = call(.setIntState, v)
        Report.require(res.succeeded == (v <= 1), "setIntState: only 0 and 1 may be accepted", res.raw)
        Report.require(res.succeeded || res.raw == Status.invalidArgument.rawValue, "setIntState refused with a status other than invalidArgument", res.raw)
        _ = Sprig.call(.setIntState, InterruptFlags.masked)
    }

    /// consoleWrite (successfully only of root's own line: the console is the test's), setTimer
    /// (off or refused: a running timer would make the campaign depend on time), powerOff with
    /// a status partitions may not use, consoleRead into pages of every class with lengths in
    /// and out of range (nothing arrives on the serial port in a campaign, so a read that is
    /// accepted must return 0 bytes), setConsoleInterrupt with 0, 1 and hostile values (left
    /// off), and numbers that are no service.
    static func machineService(_ r: inout Random) {
        guard r.below(6) != 0 else { return unknownNumber(&r) }
        // Every root-only service of the table, each as likely; each needs its prediction here.
        let service = randomService(&r, .machine)
        switch service {
        case .consoleWrite:
            // Only root's own line may be printed; 0 bytes, too many, or bytes not root's are refused.
            var address = Campaign.consoleLine
            var length = Campaign.consoleLineBytes
            switch r.below(6) {
            case 0: length = 0
            case 1: length = Limits.consoleWriteMax + 1 + r.below(1000)
            case 2: address = Domain.notMine(&r); length = 1 + r.below(64)
            case 3: address = AddressSpace.vidt + 4094; length = 3 + r.below(64)
            default: break
            }
            Current.start("consoleWrite", address, length, count: 2)
            let res = call(.consoleWrite, address, length)
            Report.require(res.succeeded == (address == Campaign.consoleLine && length == Campaign.consoleLineBytes),
                           "consoleWrite: only my own line may be written, and it must be", res.raw)
        case .setTimer:
            let hz = r.chance(30) ? 0 : (r.chance(50) ? 1 + r.below(Limits.timerHzMin - 1) : Limits.timerHzMax + 1 + r.below(1 << 40))
            Current.start("setTimer", hz, count: 1)
            let res = call(.setTimer, hz)
            Report.require(res.succeeded == (hz == 0), "setTimer: only rates 0 or 19…10000 may be accepted", res.raw)
        case .powerOff:
            let status = Limits.partitionExitStatusMax + 1 + r.below(1 << 32)
            Current.start("powerOff", status, count: 1)
            let res = call(.powerOff, status)
            Report.require(res.raw == Status.invalidArgument.rawValue, "powerOff with a kernel-reserved status was not refused", res.raw)
        case .consoleRead:
            // One page's bytes at most, from its start: the page's class decides the answer.
            var p = Domain.page(&r, freePercent: 40)
            var length = 1 + r.below(64)
            switch r.below(6) {
            case 0: length = 0
            case 1: length = Limits.consoleReadMax + 1 + (r.chance(50) ? r.below(1000) : r.next() >> 1)
            case 2:
                // A page given to the kernel: mapped in root, never root's to write.
                let i = Model.random(&r, home: nil, use: Use.structure)
                if i >= 0 { p = (Model.va(i), PageClass.structure) }
            default: break
            }
            // A hostile page address may still be a valid byte address (a misaligned one inside
            // a page of mine): consoleRead checks bytes, so the bytes' pages decide.
            if p.cls == PageClass.hostile && length >= 1 && length <= Limits.consoleReadMax {
                p.cls = Model.byteRangeClass(p.va, length)
            }
            Current.start("consoleRead", p.va, length, count: 2)
            let res = call(.consoleRead, p.va, length)
            let inRange = length >= 1 && length <= Limits.consoleReadMax
            let writable = p.cls != PageClass.structure && p.cls != PageClass.hostile
            if inRange && p.cls == PageClass.given {
                // A page given to a child may since be its grandchild's structure (the child's
                // doing, which root does not follow): either answer, no other.
                Report.require(res.succeeded || res.raw == Status.pageNotAccessible.rawValue,
                               "consoleRead into a page I gave: accepted, or pageNotAccessible once the child made it a structure", res.raw)
            } else {
                Report.require(res.succeeded == (inRange && writable),
                               "consoleRead: a page of mine with 1…consoleReadMax bytes must be accepted, anything else refused", res.raw)
            }
            if !inRange { Report.require(res.raw == Status.invalidArgument.rawValue, "consoleRead: a bad length is invalidArgument", res.raw) }
            if inRange && p.cls == PageClass.structure {
                Report.require(res.raw == Status.pageNotAccessible.rawValue, "consoleRead into a kernel structure page", res.raw)
            }
            Report.require(res.value == 0, "consoleRead returned bytes, and nothing was sent to the serial port", res.value)
        case .setConsoleInterrupt:
            let on = r.chance(50) ? r.below(2) : (r.chance(50) ? 2 + r.below(100) : r.next())
            Current.start("setConsoleInterrupt", on, count: 1)
            let res = call(.setConsoleInterrupt, on)
            Report.require(res.succeeded == (on <= 1), "setConsoleInterrupt: only 0 and 1 may be accepted", res.raw)
            Report.require(res.succeeded || res.raw == Status.invalidArgument.rawValue,
                           "setConsoleInterrupt refused with a status other than invalidArgument", res.raw)
            _ = Sprig.setConsoleInterrupt(false)
        default:
            Report.fail("a root-only service of the table has no prediction in the fuzzer (Operations.machineService)", service.rawValue)
        }
    }

    /// A number that is no service: refused with unknownService.
    static func unknownNumber(_ r: inout Random) {
        var number = r.chance(50) ? r.below(0x200) : r.next()
        if Service(rawValue: number) != nil { number = 0 }
        Current.start("an unknown service number", number, r.next(), count: 2)
        let res = Sprig.callRaw(number, r.next(), r.next())
        Stats.record(number, res.raw)
        Report.require(res.raw == Status.unknownService.rawValue, "a number that is no service was not refused with unknownService", res.raw)
    }

    // MARK: Entering children

    /// Builds child slot `slot` from its module with ChildBuilder and runs it until it is ready.
    static func build(_ slot: Int) -> Bool {
        let base = Model.regionStart(slot)
        var i = Model.find(base)
        let end = i + Int(Model.regionPages)
        while i < end { Report.require(Model.use(i) == Use.mine, "a page of an empty child's region is not mine", Model.va(i)); i += 1 }
        var pages = PageSource(start: base, pages: Model.regionPages)
        copyBytes(from: Campaign.imageBackup, to: Campaign.modules[slot], Campaign.imageBytes)
        let mailbox = pages.takeZeroed()
        var plan = ChildBuilder.Plan(image: Campaign.modules[slot], imageBytes: Campaign.imageBytes)
        plan.poolPages = FuzzMailbox.poolPages
        plan.extra = mailbox
        plan.extraBytes = AddressSpace.pageSize
        plan.extraRights = Rights.read | Rights.write
        plan.argument = UInt64(slot)
        guard case .success(let c) = ChildBuilder.build(plan, pages: &pages) else { return false }
        Stats.childrenBuilt += 1
        Model.child(slot).pointee = ChildSlot(name: c.name, built: true, intact: true, mailbox: mailbox, vidt: c.vidt,
                                              contexts: c.contexts, grandchild: false)
        // What ChildBuilder did, as the kernel tells it: given, a structure, or still mine.
        i = Model.find(base)
        while i < end {
            let m = Sprig.callRaw(Service.mappedInChild.rawValue, Model.va(i))
            if m.raw == 0 && m.value == c.name { Model.set(i, use: Use.given, slot: slot) }
            else if Model.probe(Model.va(i)) == Status.pageNotAccessible.rawValue { Model.set(i, use: Use.structure, slot: slot) }
            else { Model.writeCanaries(i) }
            i += 1
        }
        let first = Model.find(Campaign.modules[slot])
        var p = 0
        while p * 4096 < Int(Campaign.imageBytes) { Model.set(first + p, use: Use.given, slot: slot); p += 1 }
        Pending.reset()
        Pending.expect = Expect.ready
        Pending.slot = slot
        Pending.name = c.name
        conclude(returned(Campaign.enter(c.name, target: VIDTIndex.main, save: RootVIDT.resume,
                                         flagsOnYield: InterruptFlags.enabled, flagsOnWake: InterruptFlags.masked)))
        return true
    }

    static func returned(_ status: UInt64) -> Outcome {
        var o = Outcome()
        o.kind = Outcome.returned
        o.status = status
        return o
    }

    /// A live, intact built child, or -1.
    static func intactChild(_ r: inout Random) -> Int {
        var s = Int(r.below(UInt64(Model.builtSlots)))
        var tries = Model.builtSlots
        while tries > 0 {
            let c = Model.child(s).pointee
            if c.name != 0 && c.intact { return s }
            s = (s + 1) % Model.builtSlots
            tries -= 1
        }
        return -1
    }

    /// Root yields with random arguments: a child's name (or not), any target index, a save
    /// slot of root's that is its resume slot, a dropping entry, a hostile one, or out of range.
    static func rootYield(_ r: inout Random) {
        let callee = r.chance(10) ? 0 : Domain.childName(&r)
        var target: UInt64
        switch r.below(8) {
        case 0, 1: target = FuzzMailbox.commandIndex
        case 2: target = FuzzMailbox.park
        case 3: target = VIDTIndex.main
        case 4: target = VIDTIndex.stiSave
        default: target = Domain.vidtIndex(&r)
        }
        var save: UInt64
        switch r.below(8) {
        case 0, 1, 2: save = RootVIDT.resume
        case 3: save = Sprig.noSave
        case 4: save = 200 + r.below(56)
        case 5, 6: save = RootVIDT.hostileFirst + r.below(RootVIDT.hostileCount)
        default: save = 512 &+ r.below(1 << 30)
        }
        let flagsOnYield = Domain.flags(&r), flagsOnWake = Domain.flags(&r)
        let slot = Model.slot(named: callee)
        if slot >= 0, Model.child(slot).pointee.built, Model.child(slot).pointee.intact, target == FuzzMailbox.commandIndex {
            postCommand(slot, FuzzMailbox.report)
        }
        if save == RootVIDT.hostileFirst + 8 {
            // A kernel structure page, for this call only: it may be root's again later.
            let i = Model.random(&r, home: nil, use: Use.structure)
            if i >= 0 { Campaign.setVIDT(save, Model.va(i)); Pending.restoreRoot408 = true }
        }
        Current.start("yield", callee, target, save, flagsOnYield, flagsOnWake, count: 5)
        expectYield(callee: callee, slot: slot, target: target, save: save, rootMasked: flagsOnYield != 0)
        Pending.rootYield = true
        conclude(returned(Campaign.enter(callee, target: target, save: save, flagsOnYield: flagsOnYield, flagsOnWake: flagsOnWake)))
    }

    /// What root's own yield must come to, as far as the chain's order fixes it.
    static func expectYield(callee: UInt64, slot: Int, target: UInt64, save: UInt64, rootMasked: Bool) {
        Pending.slot = slot
        Pending.name = callee
        Pending.rootMasked = rootMasked
        Pending.expect = Expect.refused
        if target >= 512 { Pending.status = Status.invalidInterruptIndex.rawValue; return }
        if save >= 512 { Pending.status = Status.invalidSaveIndex.rawValue; return }
        if callee == 0 { Pending.status = Status.rootHasNoParent.rawValue; return }
        if slot < 0 { Pending.status = Status.invalidChild.rawValue; return }
        // A hostile save slot: refused at check 6, 7 or 8, never taken.
        if save >= RootVIDT.hostileFirst && save < RootVIDT.hostileFirst + RootVIDT.hostileCount { Pending.anyStatus = true; return }
        Pending.expect = Expect.anything
        let c = Model.child(slot).pointee
        guard c.built && c.intact && target == FuzzMailbox.commandIndex else { return }
        if save == RootVIDT.resume { Pending.expect = Expect.reported; Pending.anyStatus = true }
        else if save == Sprig.noSave || (save >= 200 && save < 256) { Pending.expect = Expect.reportedByFallback }
    }

    /// Root writes a context of random words (rip and rsp from a domain) at a context slot of a
    /// child, or points a VIDT entry of the child somewhere hostile, and yields there.
    static func contextYield(_ r: inout Random) {
        let slot = intactChild(&r)
        guard slot >= 0 else { return rootYield(&r) }
        let c = Model.child(slot).pointee
        var index = 32 + r.below(224)
        if r.chance(30) { index = 258 + r.below(40) }
        let entryAt = c.vidt + 8 * index
        var entry: UInt64
        var hostile = false
        switch r.below(10) {
        case 0: entry = 0xFFFF_8000_0000_0000; hostile = true
        case 1: entry = AddressSpace.vidt; hostile = true
        case 2: entry = ChildLayout.contextPages + AddressSpace.pageSize + 4096 - 256; hostile = true  // into the VIDT
        case 3: entry = ChildLayout.contextSlot(5) + 8; hostile = true  // misaligned
        case 4: entry = 0x0000_6000_0000_0000; hostile = true
        default:
            // Slot 5…9 or a context straddling the two context pages.
            let k = r.below(6)
            entry = k == 5 ? ChildLayout.contextPages + AddressSpace.pageSize - 256 : ChildLayout.contextSlot(5 + k)
            let at = c.contexts + (entry - ChildLayout.contextPages)
            var w: UInt64 = 0
            while w < UInt64(ContextLayout.size) / 8 { word(at + 8 * w).pointee = r.next(); w += 1 }
            let handlerRIP = word(c.contexts + (ChildLayout.contextSlot(4) - ChildLayout.contextPages)).pointee
            let rips: InlineArray<8, UInt64> = [0, 0xFFFF_FFFF_8010_0000, 0x0000_8000_0000_0000, 0x0000_6000_0000_0000,
                                                ChildLayout.poolBase, handlerRIP, handlerRIP, r.next()]
            word(at + UInt64(ContextLayout.rip)).pointee = r.pick(rips, count: 8)
            // Stacks the child's code may push on without reaching its own VIDT, contexts or
            // mailbox (0x8000_0000_0000 would push onto the VIDT's last word: the child's doing).
            let rsps: InlineArray<8, UInt64> = [ChildLayout.handlerStackTop - 8, ChildLayout.handlerStackTop - 8, 0, 0x0000_8000_0000_1000,
                                                0xFFFF_8000_0000_0000, ChildLayout.stackTop - 8, 0x0000_6000_0000_0000, r.next() | 0x0000_8000_0000_0000]
            word(at + UInt64(ContextLayout.rsp)).pointee = r.pick(rsps, count: 8)
            if r.chance(50) { word(at + UInt64(ContextLayout.fpu)).pointee = InitialRegisters.fcw; word(at + UInt64(ContextLayout.fpu + 24)).pointee = InitialRegisters.mxcsr }
            Stats.contextsWritten += 1
            postCommand(slot, FuzzMailbox.report)
        }
        Pending.restoreAt = entryAt
        Pending.restoreValue = word(entryAt).pointee
        word(entryAt).pointee = entry
        let flagsOnYield = Domain.flags(&r)
        Current.start("yield through a written entry", c.name, index, entry, flagsOnYield, count: 4)
        expectYield(callee: c.name, slot: slot, target: index, save: RootVIDT.resume, rootMasked: flagsOnYield != 0)
        if hostile {
            Pending.expect = Expect.refused
            Pending.status = Status.calleeContextUnavailable.rawValue
        }
        Pending.rootYield = true
        conclude(returned(Campaign.enter(c.name, target: index, save: RootVIDT.resume, flagsOnYield: flagsOnYield,
                                         flagsOnWake: InterruptFlags.masked)))
    }

    /// Writes command `command` for the child in `slot` (arguments set by the caller after).
    static func postCommand(_ slot: Int, _ command: UInt64) {
        let m = Model.child(slot).pointee.mailbox
        sequence += 1
        word(m + FuzzMailbox.sequence).pointee = sequence
        word(m + FuzzMailbox.command).pointee = command
        Pending.sequence = sequence
    }

    static func setArgument(_ slot: Int, _ i: UInt64, _ value: UInt64) {
        word(Model.child(slot).pointee.mailbox + FuzzMailbox.arguments + 8 * i).pointee = value
    }

    /// A command for an intact child: a fault, `int n`, a system call, a yield, or its
    /// grandchild; root saves itself at its resume slot and enters the child's command handler.
    static func childCommand(_ r: inout Random, _ command: UInt64) {
        let slot = intactChild(&r)
        guard slot >= 0 else { return rootYield(&r) }
        let c = Model.child(slot).pointee
        postCommand(slot, command)
        let rootMasked = r.chance(25)
        Pending.slot = slot
        Pending.name = c.name
        Pending.rootMasked = rootMasked
        Pending.expect = Expect.reported
        Pending.anyStatus = true
        switch command {
        case FuzzMailbox.fault: faultCommand(&r, slot)
        case FuzzMailbox.softwareInterrupt: interruptCommand(&r, slot, rootMasked: rootMasked)
        case FuzzMailbox.service: serviceCommand(&r, slot)
        case FuzzMailbox.yield: yieldCommand(&r, slot, rootMasked: rootMasked)
        case FuzzMailbox.buildGrandchild:
            // Its own earlier calls may have made a pool page a structure: ChildBuilder then
            // faults writing it, the child's doing (it is rebuilt later).
            Current.start("child: build a grandchild", c.name, count: 1)
            Pending.expect = Expect.anything
            Pending.grandchildBuild = true
        case FuzzMailbox.runGrandchild:
            let target = r.chance(60) ? VIDTIndex.main : Domain.vidtIndex(&r)
            setArgument(slot, 0, target)
            Current.start("child: enter the grandchild", c.name, target, count: 2)
            if c.grandchild {
                if target == VIDTIndex.main || target == VIDTIndex.stiSave || target == VIDTIndex.cliSave {
                    Pending.expect = Expect.doubleFault
                } else {
                    Pending.status = target >= 512 ? Status.invalidInterruptIndex.rawValue : Status.calleeContextUnavailable.rawValue
                    Pending.anyStatus = false
                }
            } else {
                Pending.status = Status.invalidArgument.rawValue
                Pending.anyStatus = false
            }
        default:
            Current.start("child: delete the grandchild", c.name, count: 1)
            Pending.status = c.grandchild ? Status.success.rawValue : Status.invalidArgument.rawValue
            Pending.anyStatus = false
        }
        conclude(returned(Campaign.enter(c.name, target: FuzzMailbox.commandIndex, save: RootVIDT.resume,
                                         flagsOnYield: rootMasked ? InterruptFlags.masked : InterruptFlags.enabled,
                                         flagsOnWake: InterruptFlags.masked)))
    }

    static func faultCommand(_ r: inout Random, _ slot: Int) {
        let kind = r.below(FaultKind.count)
        var operand: UInt64 = 0
        Pending.expect = Expect.fault
        Pending.faultCommand = true
        Pending.errorCode = 0
        switch kind {
        case FaultKind.undefinedOpcode, FaultKind.into: Pending.vector = 6
        case FaultKind.divideError: Pending.vector = 0
        case FaultKind.breakpoint: Pending.vector = 3
        case FaultKind.halt, FaultKind.portIn, FaultKind.clearInterrupts, FaultKind.readMSR, FaultKind.loadGDT,
             FaultKind.writeCR3, FaultKind.nonCanonical:
            Pending.vector = 13
        case FaultKind.iretToKernel: Pending.vector = 13; Pending.errorCode = 8; Pending.iretUnderSMAP = true
        case FaultKind.sse: Pending.vector = 19; Pending.expect = Expect.faultOrNone  // QEMU's TCG raises no #XM
        case FaultKind.singleStep: Pending.vector = 1
        case FaultKind.x87: Pending.vector = 16  // #MF: the kernel sets CR0.NE
        case FaultKind.alignment: Pending.vector = 17; Pending.expect = Expect.faultOrNone
        case FaultKind.stepOverSyscall: Pending.vector = 1; Pending.expect = Expect.faultOrNone
        case FaultKind.segment:
            let selectors: InlineArray<8, UInt64> = [0x08, 0x10, 0x2B, 0xFFF8, 0x0B, 0x13, 0, 0x1B]
            operand = r.pick(selectors, count: 8)
            if operand == 0 || operand == 0x1B {
                Pending.expect = Expect.reported
                Pending.status = FuzzMailbox.noFault
                Pending.anyStatus = false
            } else {
                Pending.vector = 13
                Pending.errorCode = operand & 0xFFFC
            }
        default:
            // read, write, execute, push: an address.
            let addresses: InlineArray<8, UInt64> = [
                0x0000_6000_0000_0000 &+ r.below(1 << 20) &* 4096, 0xFFFF_8000_0000_0000 &+ r.below(1 << 20) &* 4096,
                0xFFFF_FFFF_8010_0000, 0x0000_8000_0000_0000 &+ r.below(1 << 30) &* 8, 0,
                ChildLayout.poolBase + r.below(FuzzMailbox.poolPages) * 4096, AddressSpace.vidt, 0xFFFF_8000_0000_0000 | r.below(1 << 40),
            ]
            operand = r.pick(addresses, count: 8)
            let mapped = operand == AddressSpace.vidt || (operand >= ChildLayout.poolBase && operand < ChildLayout.poolBase + FuzzMailbox.poolPages * 4096)
            let nonCanonical = operand >= 0x0000_8000_0000_0000 && operand < 0xFFFF_8000_0000_0000
            if mapped && (kind == FaultKind.write || kind == FaultKind.push) { operand = 0 }
            let isMapped = operand != 0 && mapped
            if isMapped && kind == FaultKind.read && operand == AddressSpace.vidt {
                Pending.expect = Expect.reported
                Pending.anyStatus = true
            } else if isMapped && kind == FaultKind.read {
                // A pool page the child may itself have made a kernel structure (its grandchild's).
                Pending.expect = Expect.faultOrNone
                Pending.vector = 14
                Pending.errorCode = nil
                Pending.faultAddress = operand
            } else if nonCanonical {
                Pending.vector = 13
                Pending.stackFault = kind == FaultKind.push
                // A jump there faults at the fetch: #GP on the jump itself.
            } else {
                Pending.vector = 14
                Pending.errorCode = nil
                Pending.faultAddress = kind == FaultKind.push ? operand &- 8 : operand
            }
        }
        if Pending.expect == Expect.fault || Pending.expect == Expect.faultOrNone { Pending.savedAt = VIDTIndex.stiSave }
        setArgument(slot, 0, kind)
        setArgument(slot, 1, operand)
        Current.start("child: fault", Model.child(slot).pointee.name, kind, operand, count: 3)
    }

    static func interruptCommand(_ r: inout Random, _ slot: Int, rootMasked: Bool) {
        let n = r.chance(80) ? r.below(256) : r.next()
        let v = n & 255
        setArgument(slot, 0, n)
        Current.start("child: int n", Model.child(slot).pointee.name, n, count: 2)
        Pending.interrupt = true
        if v == 3 {
            Pending.expect = Expect.fault; Pending.vector = 3; Pending.errorCode = 0; Pending.savedAt = VIDTIndex.stiSave
        } else if v < 48 {
            // A gate ring 3 may not use: #GP with an IDT error code (`idtErrorCode`).
            Pending.expect = Expect.fault; Pending.vector = 13; Pending.idtError = v; Pending.savedAt = VIDTIndex.stiSave
        } else if v > RootVIDT.lastHandled {
            Pending.status = Status.calleeContextUnavailable.rawValue; Pending.anyStatus = false
        } else if rootMasked {
            Pending.status = Status.interruptMasked.rawValue; Pending.anyStatus = false
        } else {
            Pending.expect = Expect.fault; Pending.vector = v; Pending.errorCode = 0; Pending.savedAt = VIDTIndex.stiSave
        }
    }

    static func serviceCommand(_ r: inout Random, _ slot: Int) {
        var number: UInt64
        switch r.below(20) {
        case 0: number = randomService(&r, .machine).rawValue
        case 1: number = r.chance(50) ? r.below(0x200) : r.next()
        default: number = randomService(&r, .memory).rawValue
        }
        var a: InlineArray<5, UInt64> = [0, 0, 0, 0, 0]
        var special = false
        var k = 0
        while k < 5 {
            switch r.below(10) {
            case 0: a[k] = Domain.childVA(&r)
            case 1: a[k] = Domain.rights(&r)
            case 2: a[k] = Model.child(slot).pointee.grandchild ? ChildLayout.poolBase : Domain.hostile(&r)
            default:
                a[k] = Domain.childOwnPage(&r)
            }
            if Domain.isSpecialChildPage(a[k]) { special = true }
            k += 1
        }
        // The child's own mailbox, VIDT, contexts, image and stack never become structures
        // (whichever domain named them: `childVA` names them too).
        if special && (number == Service.createPartition.rawValue || number == Service.prepare.rawValue) {
            a[Int(r.below(5))] = Domain.hostile(&r)
            if number == Service.prepare.rawValue { a[2] = Domain.hostile(&r) }
        }
        // Nor are the grandchild's own (its VIDT, contexts, stacks; its image address, left
        // unmapped so that it faults at once) taken away or mapped: root predicts how the
        // grandchild runs from them.
        if number == Service.removeVAddr.rawValue && Domain.isSpecialChildPage(a[1]) { a[1] = Domain.hostile(&r) }
        if number == Service.addVAddr.rawValue && Domain.isSpecialChildPage(a[2]) { a[2] = Domain.hostile(&r) }
        setArgument(slot, 0, number)
        k = 0
        while k < 5 { setArgument(slot, UInt64(k) + 1, a[k]); k += 1 }
        Current.start("child: service", Model.child(slot).pointee.name, number, a[0], a[1], a[2], a[3], count: 6)
        Pending.service = number
        if Service(rawValue: number) == nil {
            Pending.status = Status.unknownService.rawValue; Pending.anyStatus = false
        } else if Service(rawValue: number)!.isRootOnly {
            Pending.status = Status.rootOnly.rawValue; Pending.anyStatus = false
        }
    }

    /// A service of the table with route `route`, each as likely (the table has one of each route).
    static func randomService(_ r: inout Random, _ route: Service.Route) -> Service {
        while true {
            let s = Service(ordinal: Int(r.below(UInt64(Service.count))))!
            if s.route == route { return s }
        }
    }

    static func yieldCommand(_ r: inout Random, _ slot: Int, rootMasked: Bool) {
        let c = Model.child(slot).pointee
        let toGrandchild = c.grandchild && r.chance(25)
        let callee: UInt64 = toGrandchild ? ChildLayout.poolBase : (r.chance(85) ? 0 : Domain.hostile(&r))
        var target: UInt64
        switch r.below(10) {
        case 0, 1: target = RootVIDT.resume
        case 2: target = r.below(32)
        case 3, 4: target = 32 + r.below(RootVIDT.lastHandled - 31)
        case 5: target = 200 + r.below(56)
        case 6: target = RootVIDT.hostileFirst + r.below(RootVIDT.hostileCount - 1)
        case 7: target = toGrandchild ? VIDTIndex.main : Domain.vidtIndex(&r)
        default: target = Domain.vidtIndex(&r)
        }
        let saves: InlineArray<8, UInt64> = [FuzzMailbox.park, FuzzMailbox.park, FuzzMailbox.grandchildSave, Sprig.noSave,
                                             VIDTIndex.stiSave, 512 &+ r.below(1000), 400 + r.below(100), r.next()]
        let save = r.pick(saves, count: 8)
        let flagsOnYield = Domain.flags(&r), flagsOnWake = Domain.flags(&r)
        setArgument(slot, 0, callee)
        setArgument(slot, 1, target)
        setArgument(slot, 2, save)
        setArgument(slot, 3, flagsOnYield)
        setArgument(slot, 4, flagsOnWake)
        Current.start("child: yield", c.name, callee, target, save, flagsOnYield, flagsOnWake, count: 6)
        Pending.childYield = true
        Pending.anyStatus = false
        // The chain's order (checks 1–9; the child's save slots are all usable or 0).
        if target >= 512 { Pending.status = Status.invalidInterruptIndex.rawValue; return }
        if save >= 512 { Pending.status = Status.invalidSaveIndex.rawValue; return }
        if callee != 0 && !toGrandchild { Pending.status = Status.invalidChild.rawValue; return }
        if toGrandchild {
            if target == VIDTIndex.main || target == VIDTIndex.stiSave || target == VIDTIndex.cliSave {
                Pending.expect = Expect.doubleFault
            } else {
                Pending.status = Status.calleeContextUnavailable.rawValue
            }
            return
        }
        // Root's VIDT: 0…31 and 32…199 handlers, 300 its resume context, the rest 0 or hostile.
        if target == RootVIDT.resume { Pending.expect = Expect.yieldedToResume; return }
        if target > RootVIDT.lastHandled { Pending.status = Status.calleeContextUnavailable.rawValue; return }
        if target >= 32 && rootMasked { Pending.status = Status.interruptMasked.rawValue; return }
        Pending.expect = Expect.yieldEntry
    }

    // MARK: Concluding

    /// Checks how control came back against what was expected; counts it.
    static func conclude(_ o: Outcome) {
        if Pending.restoreAt != 0 { word(Pending.restoreAt).pointee = Pending.restoreValue }
        if Pending.restoreRoot408 { Campaign.setVIDT(RootVIDT.hostileFirst + 8, 0x0000_6000_0000_1000) }
        let slot = Pending.slot
        let m: UInt64 = slot >= 0 && Model.child(slot).pointee.built ? Model.child(slot).pointee.mailbox : 0
        let done = m != 0 && word(m + FuzzMailbox.done).pointee == Pending.sequence
        let raw = m != 0 ? word(m + FuzzMailbox.resultRaw).pointee : 0
        if o.kind == Outcome.delivered {
            Stats.delivered(o.vector).pointee += 1
            Report.require(Model.isLiveChild(o.source), "a delivery named a source that is not a live child", o.source)
            Report.require(o.savedAt == VIDTIndex.cliSave || o.savedAt == VIDTIndex.stiSave || o.savedAt == Delivery.notSaved,
                           "a delivery's r8 is not a save slot the kernel may use", o.savedAt)
            Report.require(o.vector < 256, "a delivery's vector is above 255", o.vector)
            if o.vector == VIDTIndex.doubleFault { Stats.doubleFaults += 1 }
        }
        if Pending.rootYield {
            let status = o.kind == Outcome.returned ? o.status : 0
            Stats.record(Service.yield.rawValue, status)
            if status == 0 { Stats.rootYieldsTaken += 1 } else { Stats.rootYieldsRefused += 1 }
        } else if Pending.expect != Expect.ready && Pending.slot >= 0 {
            // A command: root's own yield into the command handler must be taken.
            Report.require(o.kind != Outcome.returned || o.status == 0, "entering an intact child's command handler was refused", o.status)
        }
        if Pending.faultCommand {
            Stats.faultCommands += 1
            if o.kind == Outcome.returned && done && raw == FuzzMailbox.noFault { Stats.faultsNotRaised += 1 }
        }
        if Pending.interrupt {
            if o.kind == Outcome.delivered && o.vector >= 48 { Stats.interruptsDelivered += 1 }
            else if o.kind == Outcome.delivered { Stats.interruptsAsFaults += 1 }
            else { Stats.interruptsRefused += 1 }
        }
        if Pending.childYield {
            let refused = o.kind == Outcome.returned && done && raw != 0
            Stats.record(Service.yield.rawValue, refused ? raw : 0)
            if refused { Stats.childYieldsRefused += 1 } else { Stats.childYieldsTaken += 1 }
        }
        let c = slot >= 0 ? Model.child(slot).pointee : ChildSlot()
        switch Pending.expect {
        case Expect.ready:
            Report.require(o.kind == Outcome.returned && o.status == 0 && word(c.mailbox + FuzzMailbox.ready).pointee == 1,
                           "a new child did not come back ready", o.kind)
        case Expect.refused:
            Report.require(o.kind == Outcome.returned && o.status != 0, "root's yield was taken where the chain must refuse it", Pending.status)
            Report.require(Pending.anyStatus || o.status == Pending.status, "root's yield was refused with another status than the chain's order gives", o.status)
        case Expect.reported:
            Report.require(o.kind == Outcome.returned && o.status == 0, "a command did not come back to root's resume slot",
                           o.kind == Outcome.returned ? o.status : 0x100 | o.vector)
            Report.require(done, "a command came back without finishing", word(c.mailbox + FuzzMailbox.done).pointee)
            Stats.commandsCompleted += 1
            if !Pending.rootYield {
                Report.require(Pending.anyStatus || raw == Pending.status, "a command's result is not what it must be", raw)
                if Pending.service != 0 { Stats.record(Pending.service, raw) }
                else if !Pending.faultCommand && !Pending.childYield && !Pending.interrupt {
                    Report.require(Status(rawValue: raw) != nil, "a child reported a status SprigABI does not define", raw)
                }
            }
        case Expect.fault, Expect.faultOrNone:
            if Pending.expect == Expect.faultOrNone && o.kind == Outcome.returned && o.status == 0 && done && raw == FuzzMailbox.noFault {
                Stats.commandsCompleted += 1
                break
            }
            Report.require(o.kind == Outcome.delivered, "a fault did not reach root", o.kind == Outcome.returned ? o.status : o.vector)
            let smapIret = Pending.iretUnderSMAP && o.vector == 14 && o.errorCode & 4 == 0
            Report.require(o.vector == Pending.vector || (Pending.stackFault && o.vector == 12) || smapIret,
                           "a fault reached root at another vector than its instruction raises", o.vector)
            if let n = Pending.idtError {
                Report.require(o.errorCode == n * 8 + 2 || o.errorCode == n * 16 + 2, "a #GP for an IDT gate does not name that gate", o.errorCode)
            }
            Report.require(o.source == Pending.name, "a fault named another source than the faulting child", o.source)
            if let e = Pending.errorCode, !smapIret { Report.require(o.errorCode == e, "a fault's error code is not the one its instruction pushes", o.errorCode) }
            if let a = Pending.faultAddress {
                Report.require(o.faultAddress == a, "a page fault's address is not the one accessed", o.faultAddress)
                Report.require(o.errorCode & 4 != 0, "a page fault from ring 3 lacks the user bit", o.errorCode)
            }
            if let s = Pending.savedAt { Report.require(o.savedAt == s, "a fault's context was not saved at the STI slot", o.savedAt) }
        case Expect.doubleFault:
            Report.require(o.kind == Outcome.delivered && o.vector == VIDTIndex.doubleFault && o.source == Pending.name
                           && o.savedAt == Delivery.notSaved, "a grandchild's fault did not come up as a double fault naming the child",
                           o.kind == Outcome.delivered ? o.vector : o.kind)
        case Expect.yieldedToResume:
            Report.require(o.kind == Outcome.returned && o.status == 0, "a child's yield to my resume slot did not resume me there", o.kind)
            Report.require(!done, "a child's yield to my resume slot was refused", raw)
        case Expect.yieldEntry:
            Report.require(o.kind == Outcome.yieldEntry, "a child's yield to a handler index did not enter that handler", o.kind)
        case Expect.reportedByFallback:
            if Pending.rootMasked {
                Report.require(o.kind == Outcome.delivered && o.vector == 6 && o.source == Pending.name && done,
                               "a child with no way back but its ud2 did not fault after finishing", o.kind)
            } else {
                Report.require(o.kind == Outcome.yieldEntry && done, "a child did not report through the fallback index", o.kind)
            }
            Stats.commandsCompleted += 1
        default:
            break
        }
        if Pending.grandchildBuild {
            if o.kind == Outcome.returned && o.status == 0 && done { Stats.commandsCompleted += 1 }
            else { Model.child(slot).pointee.intact = false }
        }
        if (Pending.expect == Expect.reported || Pending.grandchildBuild) && c.built && Pending.slot >= 0 && !Pending.rootYield {
            // The grandchild's existence as the child reports it.
            let g = word(c.mailbox + FuzzMailbox.grandchild).pointee
            Model.child(slot).pointee.grandchild = g != 0
            if word(c.mailbox + FuzzMailbox.command).pointee == FuzzMailbox.buildGrandchild && raw == 0 { Stats.grandchildrenBuilt += 1 }
        }
    }
}
