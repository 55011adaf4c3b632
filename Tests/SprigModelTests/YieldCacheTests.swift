/// The yield cache (`YieldCache`): a repeated yield skips checks 3–8, and yet answers exactly as
/// the chain would after anything the chain depends on changed — a VIDT entry rewritten by ring
/// 3, a table changed by a service, the callee's interrupt state — and the model's property
/// (`Properties.yieldCache`) sees a kept plan that is wrong.
import SprigABI
import SprigCore
import SprigModel
import Testing

/// Counts the loads the kernel makes of a set of pages (here: page-table pages).
private final class LoadCounter: PlatformTap {
    var pages: Set<UInt64> = []
    var tableLoads = 0
    var loads = 0
    func willLoad(_ paddr: PhysicalAddress) {
        loads += 1
        if pages.contains(paddr.raw & ~0xFFF) { tableLoads += 1 }
    }
    func didStore(_ paddr: PhysicalAddress, _ value: UInt64) {}
    func didZeroPage(_ page: PhysicalAddress) {}
    func didCopy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64) {}
    /// Reads of a yield-cache entry's tag word (each way a probe looks at, and the fill's move
    /// of the newer entry).
    var tagLoads = 0
    func didLoadTranslationCache(_ index: Int, _ value: UInt64) {
        if index >= YieldCache.base, index < YieldCache.base + YieldCache.words,
           (index - YieldCache.base) % YieldCache.entryWords == YieldCache.tag { tagLoads += 1 }
    }
    /// Stores into yield-cache entries (a fill: the entry's words, and the newer entry moved).
    var entryStores = 0
    func didStoreTranslationCache(_ index: Int, _ value: UInt64) {
        if index >= YieldCache.base, index < YieldCache.base + YieldCache.words { entryStores += 1 }
    }
    func didSetCurrentPartition(_ descriptor: PhysicalAddress) {}
    func didSwitchAddressSpace(_ pml4: PhysicalAddress) {}
    func didInvalidateTranslation(_ va: VirtualAddress) {}
    func didSaveCPUState(to location: ContextLocation, flags: UInt64, returnValue: UInt64?) {}
    func willLoadCPUState(from location: ContextLocation, interruptsEnabled: Bool, delivery: DeliveryInfo?) {}
    func didSetTrappedInterruptFlag(_ enabled: Bool) {}
}

@Suite struct YieldCacheTests {
    /// Root and a child that yield to each other: the child's handler at VIDT[0x40], root's
    /// save slot VIDT[300], the child's save slot VIDT[301].
    struct PingPong {
        let m = YieldMachine()
        let c: Part
        let handler = YieldMachine.poolBase
        let childSlot = YieldMachine.poolBase + 0x1000
        let rootSlot: UInt64

        init() {
            c = m.makeChild(of: m.root)
            m.writeContext(c, at: handler, tag: 0xC)
            m.setVIDT(c, 0x40, handler)
            m.setVIDT(c, 301, childSlot)
            rootSlot = m.root.take(1)[0].va
            m.setVIDT(m.root, 300, rootSlot)
        }

        /// Root yields to the child's handler, the child yields back to root's slot.
        func roundTrip(sourceLocation: SourceLocation = #_sourceLocation) {
            m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
            #expect(m.yield(to: c.name, target: 0x40, save: 300) == .success, sourceLocation: sourceLocation)
            #expect(m.cpu.currentPartition.paddr == c.descriptor, sourceLocation: sourceLocation)
            #expect(m.yield(to: 0, target: 300, save: 301) == .success, sourceLocation: sourceLocation)
            #expect(m.cpu.currentPartition.paddr == m.root.descriptor, sourceLocation: sourceLocation)
        }

        var liveEntries: Int { m.liveYieldEntries.count }

        /// The page-table pages of root and the child (every level), for `LoadCounter`.
        var tablePages: Set<UInt64> {
            Set(m.machine.tree().partitions.flatMap { $0.structurePages })
        }
    }

    @Test func repeatedYieldReadsNoPageTable() {
        let s = PingPong()
        let counter = LoadCounter()
        counter.pages = s.tablePages
        s.m.cpu.tap = counter
        s.roundTrip()
        // The first round trip walked both partitions' tables and kept both plans.
        #expect(counter.tableLoads > 0)
        #expect(s.liveEntries == 2)
        s.m.checkProperties()
        counter.tableLoads = 0; counter.loads = 0
        s.roundTrip()
        // The second walked nothing: each yield read the two VIDT entries, the callee's
        // interrupt state and the context it loads, and no table, shadow or descriptor page
        // beyond that.
        #expect(counter.tableLoads == 2, "only the two interrupt-state reads of descriptors, got \(counter.tableLoads)")
        #expect(s.m.cpu.registers[ContextLayout.rax] == 0)
        s.m.checkProperties()
    }

    @Test("a miss probes the yield cache once: the fastpath's probe, then the chain without another")
    func aMissProbesOnce() {
        let s = PingPong()
        let counter = LoadCounter()
        s.m.cpu.tap = counter
        s.m.run(s.m.root, YieldMachine.markedRegisters(tag: 0xA))
        #expect(s.m.yield(to: s.c.name, target: 0x40, save: 300) == .success)
        // The probe reads the tag of both ways of the set, the fill reads the newer entry's
        // words (its tag among them) to move it to the older place: 3. A second probe in the
        // chain would make it 5.
        #expect(counter.tagLoads == YieldCache.ways + 1, "tag reads: \(counter.tagLoads)")
        // A hit reads the tags of the ways up to the one it hits and no more: the newer one's
        // only, unless the child's yield back (filled after it) went to the same set, which made
        // this entry the older one (which keys share a set is the hash's choice).
        counter.tagLoads = 0
        #expect(s.m.yield(to: 0, target: 300, save: 301) == .success)
        s.m.run(s.m.root, YieldMachine.markedRegisters(tag: 0xA))
        counter.tagLoads = 0
        #expect(s.m.yield(to: s.c.name, target: 0x40, save: 300) == .success)
        let down = YieldCache.set(caller: s.m.root.descriptor.raw, calleeName: s.c.name, targetInterrupt: 0x40, saveIndex: 300)
        let up = YieldCache.set(caller: s.c.descriptor.raw, calleeName: 0, targetInterrupt: 300, saveIndex: 301)
        #expect(counter.tagLoads == (down == up ? 2 : 1), "tag reads on a hit: \(counter.tagLoads)")
        s.m.checkProperties()
    }

    /// A tick in a child of root takes the plan of `yield(0, 32, STI slot)` from the cache: the
    /// second reads no table, and delivers and saves as the first (which ran the checks).
    @Test func repeatedTickInAChildOfRootReadsNoPageTable() {
        let s = PingPong()
        let rootHandler = s.m.root.take(1)[0].va
        s.m.writeContext(s.m.root, at: rootHandler, tag: 0xB)
        s.m.setVIDT(s.m.root, VIDTIndex.timer, rootHandler)
        s.m.setVIDT(s.c, VIDTIndex.stiSave, s.childSlot)
        let counter = LoadCounter()
        counter.pages = s.tablePages
        s.m.cpu.tap = counter
        let childRegisters = YieldMachine.markedRegisters(tag: 0xC)
        s.m.run(s.c, childRegisters)
        #expect(InterruptRouting.hardwareInterrupt(s.m.cpu, vector: VIDTIndex.timer) == .delivered)
        let delivered = s.m.cpu.registers
        #expect(delivered[ContextLayout.rdi] == s.c.name)
        #expect(delivered[ContextLayout.r8] == VIDTIndex.stiSave)
        #expect(s.liveEntries == 1)
        s.m.checkProperties()
        counter.tableLoads = 0
        s.m.run(s.c, childRegisters)
        #expect(InterruptRouting.hardwareInterrupt(s.m.cpu, vector: VIDTIndex.timer) == .delivered)
        // The child's interrupt state (its save slot), root's (the mask), the child's
        // descriptor vaddr in root (its name): descriptor words only.
        #expect(counter.tableLoads == 3, "descriptor and table reads: \(counter.tableLoads)")
        #expect(s.m.cpu.registers == delivered)
        #expect(s.m.cpu.currentPartition.paddr == s.m.root.descriptor)
        // The child resumes from its slot with every register it had.
        #expect(s.m.yield(to: s.c.name, target: VIDTIndex.stiSave, save: 0) == .success)
        #expect(s.m.cpu.registers == childRegisters)
        s.m.checkProperties()
    }

    @Test func rewrittenVIDTEntriesAreFollowed() {
        let s = PingPong()
        s.roundTrip()
        // Ring 3 rewrites the child's target entry: the next yield loads the new context.
        let other = YieldMachine.poolBase + 0x2000
        s.m.writeContext(s.c, at: other, tag: 0xD)
        s.m.setVIDT(s.c, 0x40, other)
        s.m.run(s.m.root, YieldMachine.markedRegisters(tag: 0xA))
        #expect(s.m.yield(to: s.c.name, target: 0x40, save: 300) == .success)
        #expect(s.m.cpu.registers == s.m.expectedRegisters(s.c, at: other))
        #expect(s.m.yield(to: 0, target: 300, save: 301) == .success)
        // ... to nothing: check 7 refuses, nothing changes.
        s.m.setVIDT(s.c, 0x40, 0)
        s.m.run(s.m.root, YieldMachine.markedRegisters(tag: 0xA))
        s.m.expectRefused(.calleeContextUnavailable) { s.m.yield(to: s.c.name, target: 0x40, save: 300) }
        // ... to a kernel page (Fig. 4 through a kept plan): refused the same way.
        s.m.setVIDT(s.c, 0x40, other)
        #expect(s.m.yield(to: s.c.name, target: 0x40, save: 300) == .success)
        #expect(s.m.yield(to: 0, target: 300, save: 301) == .success)
        s.m.setVIDT(s.c, 0x40, 0xFFFF_8000_0010_0000)
        s.m.run(s.m.root, YieldMachine.markedRegisters(tag: 0xA))
        s.m.expectRefused(.calleeContextUnavailable) { s.m.yield(to: s.c.name, target: 0x40, save: 300) }
        // Root rewrites its save entry to 0: its context is dropped, nothing written.
        s.m.setVIDT(s.c, 0x40, other)
        s.m.setVIDT(s.m.root, 300, 0)
        let savesBefore = s.m.cpu.saves
        #expect(s.m.yield(to: s.c.name, target: 0x40, save: 300) == .success)
        #expect(s.m.cpu.saves == savesBefore)
        s.m.checkProperties()
    }

    @Test func takingBackAPageEndsThePlansThatUseIt() {
        let s = PingPong()
        s.roundTrip()
        #expect(s.liveEntries == 2)
        // Root takes the child's handler page back (removeVAddr through the dispatcher): root's
        // plan enters the child there and ends; the child's way back does not use the page.
        s.m.run(s.m.root, YieldMachine.markedRegisters(tag: 0xA))
        let r = Kernel.dispatch(s.m.cpu, caller: s.m.machine.descriptor(s.m.root.descriptor), service: Service.removeVAddr.rawValue,
                                s.c.name, s.handler, 0, 0, 0)
        #expect(r.status == .success)
        #expect(s.liveEntries == 1)
        s.m.checkProperties()
        s.m.expectRefused(.calleeContextUnavailable) { s.m.yield(to: s.c.name, target: 0x40, save: 300) }
        s.m.checkProperties()
    }

    /// A page neither yield uses, taken back and given again: both plans stay, and the next
    /// round trip reads no page table (the first yield after a table change at the warm cost).
    @Test func aPageNeitherPlanUsesLeavesBothPlans() {
        let s = PingPong()
        s.roundTrip()
        let other = YieldMachine.poolBase + 0x2000
        s.m.run(s.m.root, YieldMachine.markedRegisters(tag: 0xA))
        let root = s.m.machine.descriptor(s.m.root.descriptor)
        #expect(Kernel.dispatch(s.m.cpu, caller: root, service: Service.removeVAddr.rawValue, s.c.name, other, 0, 0, 0).status == .success)
        #expect(s.liveEntries == 2)
        s.m.checkProperties()
        let fresh = s.m.root.take(1)[0].va
        #expect(Kernel.dispatch(s.m.cpu, caller: root, service: Service.addVAddr.rawValue,
                                fresh, s.c.name, other, Rights.read, 0).status == .success)
        #expect(s.liveEntries == 2)
        s.m.checkProperties()
        let counter = LoadCounter()
        counter.pages = s.tablePages
        s.m.cpu.tap = counter
        s.roundTrip()
        // As `repeatedYieldReadsNoPageTable`: only the two interrupt-state reads of descriptors.
        #expect(counter.tableLoads == 2, "only the two interrupt-state reads of descriptors, got \(counter.tableLoads)")
        s.m.checkProperties()
    }

    /// After a table change no entry can hit: the first fill writes its entry over the newer
    /// one where it is instead of moving it to the older place.
    @Test func theFirstFillAfterATableChangeMovesNothing() {
        let s = PingPong()
        s.roundTrip()
        // A root table word written back unchanged: the generation advances.
        let word = s.m.machine.rootTable(s.m.root.descriptor)
        Structures.write(s.m.memory, word, s.m.memory.load(word))
        #expect(s.liveEntries == 0)
        let counter = LoadCounter()
        s.m.cpu.tap = counter
        s.m.run(s.m.root, YieldMachine.markedRegisters(tag: 0xA))
        #expect(s.m.yield(to: s.c.name, target: 0x40, save: 300) == .success)
        // The plan's words (the tag through the frame filter), and no entry moved.
        #expect(counter.entryStores == YieldCache.frames + 1, "yield-cache stores: \(counter.entryStores)")
        #expect(s.liveEntries == 1)
        // The way back keeps its own entry beside it: both directions stay.
        #expect(s.m.yield(to: 0, target: 300, save: 301) == .success)
        #expect(s.liveEntries == 2)
        s.roundTrip()
        s.m.checkProperties()
    }

    /// The cache keeps only plans whose contexts each lie on one page, so the fastpath needs no
    /// test for the other kind: a yield with a context over two pages (the target or the save
    /// slot) runs the chain every time, walking the tables, and fills nothing. One-page plans:
    /// kept, and decided by the fastpath.
    @Test("a plan with a context over two pages is never kept: each such yield runs the chain",
          arguments: [false, true])
    func aPlanOverTwoPagesIsNotKept(saveStraddles: Bool) {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        // 256 bytes on one page, 512 on the next: the child's handler, or root's save slot.
        let handler = YieldMachine.poolBase + (saveStraddles ? 0 : 0x1000 - 256)
        let rootPages = m.root.take(2)
        let rootSlot = rootPages[0].va + (saveStraddles ? 0x1000 - 256 : 0)
        m.writeContext(c, at: handler, tag: 0xC)
        m.setVIDT(c, 0x40, handler)
        m.setVIDT(m.root, 300, rootSlot)
        let a = SystemCallArguments(c.name, 0x40, 300)
        let s = YieldCache.set(caller: m.root.descriptor.raw, calleeName: c.name, targetInterrupt: 0x40, saveIndex: 300)
        for round in 0..<2 {
            m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
            // A miss every time: the fastpath changed nothing and hands the yield on.
            let before = m.snapshot
            #expect(Kernel.yieldFastpath(m.cpu, a) == .chain(set: s), "round \(round)")
            #expect(m.snapshot == before)
            let counter = LoadCounter()
            counter.pages = Set(m.machine.tree().partitions.flatMap { $0.structurePages })
            m.cpu.tap = counter
            #expect(Kernel.yieldChain(m.cpu, a, set: s) == .resume)
            m.cpu.tap = nil
            // The chain walked the tables (checks 3–8), and kept nothing.
            #expect(counter.tableLoads > 4, "round \(round): \(counter.tableLoads) table reads")
            #expect(m.liveYieldEntries.isEmpty, "round \(round)")
            #expect(m.cpu.currentPartition.paddr == c.descriptor)
            #expect(m.cpu.registers == m.expectedRegisters(c, at: handler))
            #expect(m.peek(m.root, rootSlot + UInt64(ContextLayout.valid)) == 1)
            m.checkProperties()
        }
        // With both contexts on one page, the plan is kept and the fastpath decides.
        let onePage = YieldCache.set(caller: m.root.descriptor.raw, calleeName: c.name, targetInterrupt: 0x41, saveIndex: 300)
        m.writeContext(c, at: YieldMachine.poolBase + 0x2000, tag: 0xD)
        m.setVIDT(c, 0x41, YieldMachine.poolBase + 0x2000)
        m.setVIDT(m.root, 300, rootPages[1].va)
        let b = SystemCallArguments(c.name, 0x41, 300)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        #expect(Kernel.yieldFastpath(m.cpu, b) == .chain(set: onePage))
        #expect(Kernel.yieldChain(m.cpu, b, set: onePage) == .resume)
        #expect(m.liveYieldEntries.count == 1)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        #expect(Kernel.yieldFastpath(m.cpu, b) == .decided(.resume))
        #expect(m.cpu.registers == m.expectedRegisters(c, at: YieldMachine.poolBase + 0x2000))
        m.checkProperties()
    }

    @Test func maskedTargetIsRefusedOnAKeptPlan() {
        let s = PingPong()
        s.roundTrip()
        // The child masks its interrupts on its way back (flagsOnYield = 1): check 9 runs on
        // the kept plan too.
        s.m.run(s.m.root, YieldMachine.markedRegisters(tag: 0xA))
        #expect(s.m.yield(to: s.c.name, target: 0x40, save: 300) == .success)
        #expect(s.m.yield(to: 0, target: 300, save: 301, onYield: 1) == .success)
        s.m.run(s.m.root, YieldMachine.markedRegisters(tag: 0xA))
        s.m.expectRefused(.interruptMasked) { s.m.yield(to: s.c.name, target: 0x40, save: 300) }
        // Its resume slot is never masked.
        #expect(s.m.yield(to: s.c.name, target: 301, save: 300) == .success)
    }

    @Test func propertySeesAWrongKeptPlan() {
        let s = PingPong()
        s.roundTrip()
        #expect(s.m.machine.checkAllProperties().isEmpty)
        // Each kept word that yield uses, corrupted in turn, is reported.
        let entries = stride(from: YieldCache.base, to: YieldCache.base + YieldCache.words, by: YieldCache.entryWords)
            .filter { KernelCache.isLive(tag: s.m.memory.translationCacheLoad($0 + YieldCache.tag), stamp: KernelCache.stamp(s.m.memory)) }
        for e in entries {
            for word in [YieldCache.callee, YieldCache.calleeRootTable, YieldCache.targetEntry, YieldCache.saveEntry,
                         YieldCache.targetVA, YieldCache.target, YieldCache.save] {
                let was = s.m.memory.translationCacheLoad(e + word)
                s.m.memory.translationCacheStore(e + word, was ^ 0x1000)
                let found = s.m.machine.checkAllProperties().filter { $0.kind == .staleYieldPlan }
                #expect(found.count == 1, "word \(word) of entry \(e)")
                s.m.memory.translationCacheStore(e + word, was)
            }
        }
        #expect(s.m.machine.checkAllProperties().isEmpty)
        // An entry for a partition that no longer exists.
        let e = entries[0]
        let caller = s.m.memory.translationCacheLoad(e + YieldCache.caller)
        s.m.memory.translationCacheStore(e + YieldCache.caller, caller ^ 0x10_0000)
        #expect(s.m.machine.checkAllProperties().contains { $0.kind == .staleYieldPlan && $0.detail.contains("does not exist") })
    }

    /// A kept plan copied into a free entry: the same answer held twice, which only a lookup
    /// that missed its entry leaves.
    @Test func propertySeesAPlanKeptTwice() {
        let s = PingPong()
        s.roundTrip()
        s.roundTrip()
        #expect(s.m.machine.checkAllProperties().isEmpty)
        let mem = s.m.memory
        let stamp = KernelCache.stamp(mem)
        let all = Array(stride(from: YieldCache.base, to: YieldCache.base + YieldCache.words, by: YieldCache.entryWords))
        let kept = all.filter { KernelCache.isLive(tag: mem.translationCacheLoad($0 + YieldCache.tag), stamp: stamp) }
        let e = kept[0]
        let free = all.first { !kept.contains($0) }!
        for w in 0..<YieldCache.entryWords { mem.translationCacheStore(free + w, mem.translationCacheLoad(e + w)) }
        let found = s.m.machine.checkAllProperties()
        #expect(found.count == 1 && found.allSatisfy { $0.kind == .staleYieldPlan && $0.detail.contains("kept twice") }, "\(found)")
        mem.translationCacheStore(free + YieldCache.tag, 0)
        #expect(s.m.machine.checkAllProperties().isEmpty)
    }
}

/// The leaf door's drop (`Structures.writeLeaf`, `KernelCache.dropPlans`) against every page a
/// plan can name: each of 68 pages of the child (every value of the page filter's bit, twice)
/// as the page of the child's context, at its start and in the upper half of the page; for
/// each, root's plan into it and the child's plan saving there, then root takes back the page:
/// both plans end, and a third plan that uses neither page stays (docs/yield.md, "Leaf
/// writes"). A context straddling into the next page is never kept; taking back either of its
/// pages leaves the third plan too.
@Suite struct LeafDropTests {
    @Test func takingBackAnyPageOfAPlanEndsItAndOnlyIt() {
        let m = YieldMachine(pages: 1400)
        let c = m.makeChild(of: m.root, poolPages: 72)
        let root = m.machine.descriptor(m.root.descriptor)
        let rootSlot = m.root.take(1)[0].va
        m.setVIDT(m.root, 300, rootSlot)
        // The third plan: root into the child at 0x41, on the child's last pool page.
        let other = YieldMachine.poolBase + 71 * AddressSpace.pageSize
        m.writeContext(c, at: other, tag: 0xD)
        m.setVIDT(c, 0x41, other)
        func kept(caller: PhysicalAddress, target: UInt64) -> Bool { m.keepsPlan(caller: caller, target: target) }
        for i in 0..<UInt64(68) {
            for offset: UInt64 in [0, 0x900, 0xE80] {
                let va = YieldMachine.poolBase + i * AddressSpace.pageSize + offset
                let straddles = offset + UInt64(ContextLayout.size) > AddressSpace.pageSize
                for removed in straddles ? [i, i + 1] : [i] {
                    m.writeContext(c, at: va, tag: 0xC)
                    m.setVIDT(c, 0x40, va)
                    m.setVIDT(c, 301, va)
                    m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
                    #expect(m.yield(to: c.name, target: 0x41, save: 300) == .success)
                    #expect(m.yield(to: 0, target: 300, save: 301) == .success)
                    #expect(m.yield(to: c.name, target: 0x40, save: 300) == .success)
                    #expect(m.yield(to: 0, target: 300, save: 301) == .success)
                    // Kept unless the context straddles two pages (`YieldCache.fill` keeps no such plan).
                    #expect(kept(caller: m.root.descriptor, target: 0x40) == !straddles && kept(caller: c.descriptor, target: 300) == !straddles
                            && kept(caller: m.root.descriptor, target: 0x41))
                    // Root takes the page back and gives it again at once.
                    let page = YieldMachine.poolBase + removed * AddressSpace.pageSize
                    let frame = m.paddr(c, page)
                    m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
                    #expect(Kernel.dispatch(m.cpu, caller: root, service: Service.removeVAddr.rawValue, c.name, page, 0, 0, 0).status == .success)
                    let where_ = "page \(removed) (frame 0x\(String(frame.raw, radix: 16))), context at +0x\(String(offset, radix: 16))"
                    #expect(!kept(caller: m.root.descriptor, target: 0x40), "root's plan into \(where_) was kept")
                    #expect(!kept(caller: c.descriptor, target: 300), "the child's plan saving at \(where_) was kept")
                    #expect(kept(caller: m.root.descriptor, target: 0x41), "a plan that does not use \(where_) ended")
                    m.checkProperties()
                    #expect(Kernel.dispatch(m.cpu, caller: root, service: Service.addVAddr.rawValue,
                                            AddressSpace.rootWindowBase + frame.raw, c.name, page, Rights.read | Rights.write, 0).status == .success)
                }
            }
        }
    }
}
