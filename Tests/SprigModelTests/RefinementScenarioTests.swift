/// The refinement holds after every step of the scenarios the other model tests use: memory
/// services and their refusals, every yield refusal code, yields both ways, every kind of event
/// delivery, deletion and collection. Each test also asserts the concrete results it relies on,
/// so a scenario that stopped exercising its path would fail rather than pass vacuously.
import Testing
import SprigABI
import SprigCore
import SprigModel

@Suite struct RefinementScenarioTests {
    @Test func bootStateAbstractsToOnePartitionWithItsVIDT() {
        let r = Refined()
        let s = r.checker.state
        #expect(s.partitions.count == 1 && s.current == r.root.raw && s.addressSpaceIsCurrent)
        #expect(s.vidt(of: r.root.raw)?[Int(VIDTIndex.main)] == AddressSpace.rootInitialContext)
        #expect(s.partitions[r.root.raw]?.pages.count == r.machine.rootWindow.count + 16 + 1 + 3)
        // Every accessible page's contents are in the state; structure pages are not.
        #expect(s.memory[r.root.raw] == nil && s.memory.count == s.partitions[r.root.raw]?.pages.count)
    }

    @Test func memoryServiceRoundTripRefines() {
        let r = Refined()
        let root = r.root
        let s = (0..<5).map { _ in r.machine.takePage(root) }
        #expect(r.call(.createPartition, s[0], s[1], s[2], s[3], s[4]).status == .success)
        let va: UInt64 = 0x40_0000
        #expect(r.call(.countToMap, s[0], va) == (.success, 9))
        let free = (0..<9).map { _ in r.machine.takePage(root) }
        r.machine.writeFreeList(root, free)
        r.checker.resynchronize(r.system)
        #expect(r.call(.prepare, s[0], va, free[0]) == (.success, 0))
        #expect(r.call(.countToMap, s[0], va + 0x20_0000) == (.success, 3))
        let page = r.machine.takePage(root)
        #expect(r.call(.addVAddr, page, s[0], va, Rights.read | Rights.write).status == .success)
        #expect(r.call(.mappedInChild, page) == (.success, s[0]))
        #expect(r.call(.mappedInChild, s[0]) == (.success, 0))
        #expect(r.call(.getIntState, s[0]) == (.success, 0))
        #expect(r.call(.removeVAddr, s[0], va).status == .success)
        #expect(r.call(.collect, s[0], va) == (.success, 9))
        #expect(r.call(.deletePartition, s[0]).status == .success)
        #expect(r.checker.state.partitions.count == 1)
        r.expectRefines("round trip")
    }

    @Test func memoryServiceRefusalsRefine() {
        let r = Refined()
        let root = r.root
        let kid = r.makeChild(of: root, pages: 24)
        let good = r.machine.takePage(root)
        let kernel = AddressSpace.rootWindowBase + r.root.raw
        let cases: [(Service, [UInt64], Status)] = [
            (.createPartition, [0x8000_0000_0000_0000, good, good, good, good], .nonCanonicalAddress),
            (.createPartition, [AddressSpace.upperHalfStart, good, good, good, good], .kernelHalfAddress),
            (.createPartition, [good + 8, good, good, good, good], .misalignedAddress),
            (.createPartition, [0x7000_0000_0000, good, good, good, good], .addressNotMapped),
            (.createPartition, [kernel, good, good, good, good], .addressNotMapped),
            (.createPartition, [kid.name, good, good, good, good], .pageNotAccessible),
            (.createPartition, [good, good, good, good, good], .duplicatePage),
            (.countToMap, [good, 0x1000], .invalidChild),
            (.countToMap, [kid.name, 0x1001], .misalignedAddress),
            (.prepare, [kid.name, 0x4000_0000, 0], .freeListTooShort),
            (.addVAddr, [good, kid.name, 0x1000, 0], .invalidArgument),
            (.addVAddr, [good, kid.name, 0x4000_0000, Rights.read], .notPrepared),
            (.addVAddr, [good, kid.name, kid.pages[0], Rights.read], .childAddressInUse),
            (.addVAddr, [AddressSpace.imageBase, kid.name, kid.pages[0], Rights.read | Rights.write | Rights.execute],
             .childAddressInUse),
            (.addVAddr, [AddressSpace.vidt, kid.name, kid.pages[0], Rights.read | Rights.execute], .rightsExceedCaller),
            (.removeVAddr, [kid.name, 0x4000_0000], .addressNotMapped),
            (.mappedInChild, [0x7000_0000_0000], .addressNotMapped),
            (.deletePartition, [good], .invalidChild),
            (.collect, [good, 0], .invalidChild),
            (.getIntState, [0], .invalidChild),
            (.setIntState, [2], .invalidArgument),
        ]
        for (service, a, status) in cases {
            let args = a + [UInt64](repeating: 0, count: 5 - a.count)
            #expect(r.call(service, args[0], args[1], args[2], args[3], args[4], as: root).status == status, "\(service)")
        }
        // Pages given on: to a child (pageAlreadyGiven), by the child to a grandchild or as its
        // structures (pageGivenFurther); a descriptor; a root-only service from a child.
        let grandchild = r.makeChild(of: kid.descriptor, pages: 1, vidt: false)
        let shared = r.checker.state.partitions[root.raw]!.pages.first {
            $0.value.given == .toChild(kid.descriptor.raw) && $0.value.accessible
        }!.key
        #expect(r.call(.createPartition, shared, 0, 0, 0, 0, as: root).status == .pageAlreadyGiven)
        #expect(r.call(.createPartition, grandchild.name, 0, 0, 0, 0, as: kid.descriptor).status == .pageNotAccessible)
        #expect(r.call(.powerOff, 0, as: kid.descriptor).status == .rootOnly)
        #expect(r.call(.removeVAddr, kid.name, kid.pages[0], as: root).status == .pageGivenFurther)
        #expect(r.call(.removeVAddr, kid.name, kid.pages[14], as: root).status == .pageGivenFurther)
        #expect(r.call(.removeVAddr, kid.name, kid.pages[15], as: root).status == .success)
        #expect(r.trap(.systemCall(number: 0x42, SystemCallArguments())) == .returned(.unknownService, value: 0))
        #expect(r.call(.setTimer, 5, as: root).status == .invalidArgument)
        #expect(r.call(.consoleWrite, AddressSpace.vidt, 16, as: root).status == .success)
        r.expectRefines("refusals")
    }

    @Test func subtreeDeletionAndCollectRefine() {
        let r = Refined(pages: 256)
        let a = r.makeChild(of: r.root, pages: 70)
        let b = r.makeChild(of: a.descriptor, pages: 30)
        let c = r.makeChild(of: b.descriptor, pages: 2)
        #expect(r.call(.setIntState, 1, as: c.descriptor).status == .success)
        #expect(r.call(.getIntState, c.name, as: b.descriptor) == (.success, 1))
        // Take one page back from b, collect its empty table, then delete the whole subtree.
        let last = b.pages.last!
        #expect(r.call(.removeVAddr, b.name, last, as: a.descriptor).status == .success)
        #expect(r.call(.collect, b.name, 0x7000_0000_0000, as: a.descriptor) == (.success, 0))
        #expect(r.call(.deletePartition, b.name, as: a.descriptor).status == .success)
        #expect(r.checker.state.partitions.count == 2)
        #expect(r.call(.collect, a.name, a.pages[0], as: r.root) == (.success, 0))
        #expect(r.call(.deletePartition, a.name, as: r.root).status == .success)
        #expect(r.checker.state.partitions.count == 1)
        r.expectRefines("deletion")
    }

    @Test func collectGivesBackAnEmptiedConfigurationPage() {
        // Fill the first configuration page (4 entries, then 3 per page table) until a prepare
        // needs a second one, then collect that table: the second page empties and comes back.
        let r = Refined(pages: 384)
        let kid = r.makeChild(of: r.root, pages: 0, vidt: false)
        var va: UInt64 = 0x1000_0000_0000
        r.prepare(kid, at: va)
        va += 1 << 21
        while r.call(.countToMap, kid.name, va, as: r.root) == (.success, 3) {
            r.prepare(kid, at: va)
            va += 1 << 21
        }
        #expect(r.call(.countToMap, kid.name, va, as: r.root) == (.success, 4))
        #expect(r.checker.state.partitions[kid.descriptor.raw]?.structures.tables.count == 83)
        r.prepare(kid, at: va)
        #expect(r.checker.state.partitions[kid.descriptor.raw]?.structures.configPages.count == 2)
        #expect(r.call(.collect, kid.name, va) == (.success, 4))
        #expect(r.checker.state.partitions[kid.descriptor.raw]?.structures.configPages.count == 1)
        r.expectRefines("configuration page")
    }

    /// countToMap's value depends on how the kernel packs its configuration list: the
    /// specification allows 3 pages a missing level, plus one, and requires the one more when
    /// the child's configuration pages cannot record the new pages. An observed value in that
    /// range is taken, one outside it is not (the canonical one is, and the outcome differs).
    @Test func countToMapIsCheckedAgainstItsAllowedRange() {
        let r = Refined()
        let kid = r.makeChild(of: r.root, pages: 0, vidt: false)
        r.become(r.root)
        let state = r.checker.state
        let event = TrapEvent.systemCall(number: Service.countToMap.rawValue, SystemCallArguments(kid.name, 0x4000_0000))
        #expect(r.system.trap(event) == .returned(.success, value: 9))
        func spec(_ seen: UInt64) -> TrapOutcome {
            Spec.step(state, event, observed: Spec.Observed(state: state, outcome: .returned(.success, value: seen))).outcome
        }
        #expect(spec(9) == .returned(.success, value: 9))
        #expect(spec(10) == .returned(.success, value: 10))
        #expect(spec(8) == .returned(.success, value: 9))
        #expect(spec(11) == .returned(.success, value: 9))
        #expect(spec(0) == .returned(.success, value: 9))
        // A child whose configuration pages are full needs the one more: 3 is not allowed.
        var full = state
        let d = kid.descriptor.raw
        for k in 0..<81 { full.partitions[d]?.structures.tables[TableNode(level: 1, base: 0x1000_0000_0000 + UInt64(k) << 21)] = [0, 0, 0] }
        let fullEvent = TrapEvent.systemCall(number: Service.countToMap.rawValue, SystemCallArguments(kid.name, 0))
        full.partitions[d]?.structures.tables[TableNode(level: 3, base: 0)] = [0, 0, 0]
        full.partitions[d]?.structures.tables[TableNode(level: 2, base: 0)] = [0, 0, 0]
        let seen3 = Spec.Observed(state: full, outcome: .returned(.success, value: 3))
        #expect(Spec.step(full, fullEvent, observed: seen3).outcome == .returned(.success, value: 4))
    }

    /// prepare may take the pages countToMap may answer: with room in the child's configuration
    /// page, 9 for three missing levels, or 10 (the tenth becoming a configuration page). The
    /// observed count is taken when its outcome is what taking that many pages gives.
    @Test func prepareTakesAnAllowedNumberOfPages() {
        let r = Refined()
        let kid = r.makeChild(of: r.root, pages: 0, vidt: false)
        let free = (0..<11).map { _ in r.machine.takePage(r.root) }
        r.machine.writeFreeList(r.root, free)
        r.become(r.root)
        let before = r.checker.state
        let d = kid.descriptor.raw
        let event = TrapEvent.systemCall(number: Service.prepare.rawValue, SystemCallArguments(kid.name, 0x4000_0000, free[0]))
        #expect(r.system.trap(event) == .returned(.success, value: free[9]))
        r.checker.resynchronize(r.system)
        // The next link after 9 pages is free[9]'s vaddr, after 10 free[10]'s.
        let nine = Spec.step(before, event)
        #expect(nine.outcome == .returned(.success, value: free[9]))
        #expect(nine.state.partitions[d]?.structures.configPages.count == 1)
        let tenSeen = Spec.Observed(state: nine.state, outcome: .returned(.success, value: free[10]))
        let ten = Spec.step(before, event, observed: tenSeen)
        #expect(ten.outcome == .returned(.success, value: free[10]))
        #expect(ten.state.partitions[d]?.structures.configPages.count == 2)
        // Eleven is not allowed: the spec keeps nine, and the outcome differs.
        let elevenSeen = Spec.Observed(state: nine.state, outcome: .returned(.success, value: 0))
        #expect(Spec.step(before, event, observed: elevenSeen).outcome == .returned(.success, value: free[9]))
    }

    /// collect may give back configuration pages, but never the last one, nor so many that the
    /// rest cannot record the structure pages that stay.
    @Test func collectKeepsAtLeastOneConfigurationPage() {
        let r = Refined()
        let kid = r.makeChild(of: r.root, pages: 0, vidt: false)
        r.become(r.root)
        let state = r.checker.state
        let d = kid.descriptor.raw
        let event = TrapEvent.systemCall(number: Service.collect.rawValue, SystemCallArguments(kid.name, 0x4000_0000))
        #expect(r.system.trap(event) == .returned(.success, value: 0))
        var none = state
        none.partitions[d]?.structures.configPages = []
        let spec = Spec.step(state, event, observed: Spec.Observed(state: none, outcome: .returned(.success, value: 1)))
        #expect(spec.outcome == .returned(.success, value: 0))
        #expect(spec.state.partitions[d]?.structures.configPages.count == 1)
    }

    /// DESIGN.md leaves open which free-list page becomes which table or shadow: the
    /// specification's canonical choice is the implementation's, an allowed permutation taken
    /// from the concrete state is adopted, and a choice naming other pages is ignored.
    @Test func prepareTakesOnlyAnAllowedChoiceFromTheConcreteState() {
        let r = Refined()
        let kid = r.makeChild(of: r.root, pages: 0, vidt: false)
        let va: UInt64 = 0x4000_0000
        let free = (0..<9).map { _ in r.machine.takePage(r.root) }
        r.machine.writeFreeList(r.root, free)
        r.become(r.root)
        let before = r.checker.state
        let event = TrapEvent.systemCall(number: Service.prepare.rawValue, SystemCallArguments(kid.name, va, free[0]))
        #expect(r.system.trap(event) == .returned(.success, value: 0))
        let concrete = Abstraction.of(r.system)
        let canonical = Spec.step(before, event)
        #expect(canonical.state == concrete && canonical.outcome == .returned(.success, value: 0))
        let d = kid.descriptor.raw
        let pdpt = TableNode(level: 3, containing: va), pt = TableNode(level: 1, containing: va)
        var permuted = concrete
        permuted.partitions[d]?.structures.tables[pdpt] = concrete.partitions[d]?.structures.tables[pt]
        permuted.partitions[d]?.structures.tables[pt] = concrete.partitions[d]?.structures.tables[pdpt]
        #expect(permuted != concrete)
        #expect(Spec.step(before, event, observed: Spec.Observed(state: permuted, outcome: .returned(.success, value: 0))).state == permuted)
        var foreign = concrete
        foreign.partitions[d]?.structures.tables[pt] = [0x1000, 0x2000, 0x3000]
        #expect(Spec.step(before, event, observed: Spec.Observed(state: foreign, outcome: .returned(.success, value: 0))).state == concrete)
    }
}
