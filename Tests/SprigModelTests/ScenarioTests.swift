/// The explorer's scenario starts (`Scenario`, Sources/SprigModel/Oracles/Scenarios.swift): each
/// is what its description says, and the kernel passes every check from it at depth 1.
import SprigABI
import SprigCore
@testable import SprigModel
import Testing

@Suite struct ScenarioTests {
    @Test func reclaimHasThreeConfigurationPagesAndEdgeEntries() {
        let system = Scenario.reclaim.makeSystem()
        let t = system.machine.tree()
        #expect(t.violations.isEmpty)
        let a = try! #require(t.partitions.first { $0.parent == 0 })
        #expect(a.configPages.count == 3, "\(a.configPages.count) configuration pages")
        // The second page as full as page tables fill it: 252 of its 254 entries.
        #expect(system.memory.load(PhysicalAddress(a.configPages[1].page + 16)) == 252)
        #expect(a.byVA[0] != nil && a.byVA[AddressSpace.vidt] != nil)
        // The head page records the three pages of newRegion's page table only.
        let head = DescriptorLayout.read(system.memory, PhysicalAddress(a.descriptor), DescriptorLayout.configList)
        #expect(system.memory.load(PhysicalAddress(head + 16)) == 3)
        #expect(system.machine.checkAllProperties().isEmpty)
    }

    @Test(arguments: Scenario.allCases) func kernelPassesFromTheScenario(_ scenario: Scenario) {
        var c = Explorer.Configuration()
        c.startSystem = { scenario.makeSystem() }
        c.pages = scenario.pages
        c.depth = 1
        let report = Explorer(c).run()
        #expect(report.counterexample == nil, "\(report.counterexample?.lines ?? []) \(report.counterexample?.findings ?? [])")
        #expect(report.transitions > 50)
    }

    @Test func faultsRunsTheFifthPartitionOfAChain() {
        let system = Scenario.faults.makeSystem()
        let t = system.machine.tree()
        #expect(t.violations.isEmpty)
        #expect(t.partitions.count == 5)
        let running = try! #require(t.partitions.firstIndex { $0.descriptor == system.current.raw })
        var depth = 0, p = running
        while let up = t.partitions[p].parent { depth += 1; p = up }
        #expect(depth == 4)
        #expect(system.machine.checkAllProperties().isEmpty)
    }

    /// D was entered from a context on its read-only page: saving D there is refused although
    /// the kernel has just read the page; C's misaligned `VIDT[255]` refuses D's `int 255`.
    @Test func faultsRefusesTheReadOnlySaveSlotAndTheMisalignedContext() {
        let system = Scenario.faults.makeSystem()
        let save = ExplorationStep.call(.yield, 0, 0, 32, 0, 0)
        save.prepare(system)
        var checker = RefinementChecker(system)
        let saved = save.perform(on: system)
        #expect(saved.trap?.outcome == .returned(.callerContextUnavailable, value: 0), "\(saved)")
        #expect(checker.step(save.event!, outcome: saved.trap!.outcome, system: system).isEmpty)
        let interrupt = ExplorationStep.trap(.softwareInterrupt(vector: 255))
        interrupt.prepare(system)
        checker.resynchronize(system)
        let refused = interrupt.perform(on: system)
        #expect(refused.trap?.outcome == .interruptRefused(.calleeContextUnavailable), "\(refused)")
        #expect(checker.step(interrupt.event!, outcome: refused.trap!.outcome, system: system).isEmpty)
    }

    /// A page fault of D, whose ancestors set no `VIDT[14]` and only root a `VIDT[8]`, goes up as a
    /// double fault through every ancestor to root's `VIDT[8]`.
    @Test func deepFaultReachesRootsDoubleFaultHandler() {
        let system = Scenario.faults.makeSystem()
        var checker = RefinementChecker(system)
        let fault = TrapEvent.exception(vector: 14, errorCode: 6, faultAddress: DomainAddress.unmapped)
        let outcome = system.trap(fault)
        #expect(outcome == .resume)
        #expect(system.current == system.machine.root)
        #expect(system.cpu.registers[Delivery.vectorRegister] == VIDTIndex.doubleFault)
        #expect(checker.step(fault, outcome: outcome, system: system).isEmpty)
    }

    /// A's pages at 512 MiB and at its VIDT address less 2^46 (one translation-cache set with
    /// its VIDT page) are the targets of its VIDT entries; A's second page is B's descriptor;
    /// bytes wait on the serial port; root's yield to A at 32, 32 is in the yield cache; root's
    /// free list from its first fresh page loops back at its second page.
    @Test func addressesIsWhatItSays() throws {
        let system = Scenario.addresses.makeSystem()
        let m = system.machine
        let t = m.tree()
        #expect(t.violations.isEmpty)
        #expect(m.checkAllProperties().isEmpty)
        #expect(t.partitions.count == 3 && system.current == m.root)
        let ai = try #require(t.partitions.firstIndex { $0.parent == 0 })
        let a = t.partitions[ai]
        let b = try #require(t.partitions.first { $0.parent == ai })
        #expect(a.byVA[Scenario.halfGigabyte] != nil && a.byVA[Scenario.vidtAlias] != nil)
        #expect(TranslationCache.set(descriptor: a.descriptor, page: AddressSpace.vidt)
            == TranslationCache.set(descriptor: a.descriptor, page: Scenario.vidtAlias))
        func vidtEntry(_ index: UInt64) -> UInt64? {
            m.translate(PhysicalAddress(a.descriptor), AddressSpace.vidt + 8 * index).map { system.memory.load($0) }
        }
        #expect(vidtEntry(32) == Scenario.vidtAlias)
        #expect(vidtEntry(VIDTIndex.stiSave) == Scenario.halfGigabyte)
        let given = try #require(a.byVA[DomainAddress.childBase + AddressSpace.pageSize].map { a.leaves[$0] })
        #expect(given.paddr == b.descriptor)
        #expect(system.consoleInput == Scenario.consoleInput)
        let aName = AddressSpace.rootWindowBase + a.descriptor
        #expect(YieldCache.lookup(system.memory, caller: m.descriptor(m.root), calleeName: aName,
                                  targetInterrupt: VIDTSlot(kernel: 32), saveIndex: VIDTSlot(kernel: 32)) != nil)
        let fresh = CallerView(t, 0, m).fresh
        let prepare = ExplorationStep.call(.prepare, aName, DomainAddress.newRegion, fresh[0])
        #expect(prepare.apply(to: system).trap?.outcome == .returned(.freeListLoops, value: 0))
    }

    /// From `addresses`, root's steps reach what the scenario is for: a read over two pages moves
    /// bytes into both, taking back A's page that B's descriptor is is refused, and taking back
    /// A's first page (a table change) is not.
    @Test func addressesReadsOverTwoPagesAndRefusesAGivenPage() throws {
        let system = Scenario.addresses.makeSystem()
        let t = system.machine.tree()
        let a = try #require(t.partitions.first { $0.parent == 0 })
        let boundary = try #require(CallerView(t, 0, system.machine).freeBoundary)
        let read = ExplorationStep.call(.consoleRead, boundary - 7, 16)
        #expect(read.apply(to: system).trap?.outcome == .machineService(.consoleRead))
        #expect(system.cpu.registers[ContextLayout.rax] == Status.success.rawValue)
        #expect(system.cpu.registers[ContextLayout.rdx] == 16)
        #expect(system.consoleInput == Array(Scenario.consoleInput.dropFirst(16)))
        let aName = AddressSpace.rootWindowBase + a.descriptor
        let removeGiven = ExplorationStep.call(.removeVAddr, aName, DomainAddress.childBase + AddressSpace.pageSize)
        #expect(removeGiven.apply(to: system).trap?.outcome == .returned(.pageGivenFurther, value: 0))
        let remove = ExplorationStep.call(.removeVAddr, aName, DomainAddress.childBase)
        #expect(remove.apply(to: system).trap?.outcome == .returned(.success, value: 0))
    }

    /// In `ten-pages`, root's `prepare(A, childBase, …)` from its first fresh page takes all ten
    /// pages of its list: A's three levels and a second configuration page.
    @Test func tenPagesPrepareTakesTen() throws {
        let system = Scenario.tenPages.makeSystem()
        let m = system.machine
        let root = CallerView(m.tree(), 0, m)
        let a = try #require(root.children.first)
        #expect(m.call(m.root, .countToMap, a, DomainAddress.childBase) == (.success, 10))
        let prepare = ExplorationStep.call(.prepare, a, DomainAddress.childBase, root.fresh[0])
        #expect(prepare.apply(to: system).trap?.outcome == .returned(.success, value: 0))
        #expect(CallerView(m.tree(), 0, m).free.count == root.free.count - 10)
        #expect(m.call(m.root, .countToMap, a, DomainAddress.childBase) == (.success, 0))
    }

    /// `wrap`'s last write wrapped the generation, and the wrap emptied both caches.
    @Test func wrapEmptiedBothCaches() {
        let system = Scenario.wrap.makeSystem()
        let storage = system.memory
        #expect(storage.translationCacheLoad(KernelCache.generation) == KernelCache.live)
        let tags = (0..<TranslationCache.words / 3).map { storage.translationCacheLoad($0 * 3 + 1) }
            + (0..<YieldCache.words / YieldCache.entryWords).map { storage.translationCacheLoad(YieldCache.base + $0 * YieldCache.entryWords) }
        #expect(tags.allSatisfy { $0 == 0 }, "\(tags)")
        #expect(system.machine.checkAllProperties().isEmpty)
    }

    /// B runs with its `yield(0, 2, stiSave)` to A kept: an NMI still goes to root, which has no
    /// `VIDT[2]` (dropped), and a timer interrupt is dropped, root having masked it. After B
    /// yields to A, A's page fault (root has no `VIDT[14]`) is root's double fault at `VIDT[8]`,
    /// without the fault's error code and CR2, A's context saved.
    @Test func deliveriesTakeRootsPathsFromAWarmCache() {
        let system = Scenario.deliveries.makeSystem()
        let t = system.machine.tree()
        let running = try! #require(t.partitions.firstIndex { $0.descriptor == system.current.raw })
        let a = try! #require(t.partitions[running].parent)
        #expect(t.partitions[a].parent != nil)
        #expect(system.machine.checkAllProperties().isEmpty)
        #expect(system.cpu.interruptsEnabled)
        var checker = RefinementChecker(system)
        for vector in [VIDTIndex.nmi, 32] {
            let event = TrapEvent.hardwareInterrupt(vector: vector)
            let outcome = system.trap(event)
            #expect(outcome == .resume)
            #expect(system.current.raw == t.partitions[running].descriptor)
            #expect(checker.step(event, outcome: outcome, system: system).isEmpty)
        }

        let again = Scenario.deliveries.makeSystem()
        let back = ExplorationStep.call(.yield, 0, 32, VIDTIndex.stiSave, 0, 0)
        #expect(back.apply(to: again).trap?.outcome == .resume)
        #expect(again.current.raw == t.partitions[a].descriptor)
        checker = RefinementChecker(again)
        let fault = TrapEvent.exception(vector: 14, errorCode: 6, faultAddress: DomainAddress.unmapped)
        let outcome = again.trap(fault)
        #expect(outcome == .resume)
        #expect(again.current == again.machine.root)
        #expect(again.cpu.registers[Delivery.vectorRegister] == VIDTIndex.doubleFault)
        #expect(again.cpu.registers[Delivery.errorCodeRegister] == 0)
        #expect(again.cpu.registers[Delivery.savedAtRegister] == VIDTIndex.stiSave)
        #expect(checker.step(fault, outcome: outcome, system: again).isEmpty)
    }
}
