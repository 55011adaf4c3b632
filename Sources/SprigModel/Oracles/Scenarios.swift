/// Start states for the explorer that the tree start (`ExplorationStart.tree`) cannot reach in a
/// few steps, built through the real services (and yields) the way partitions would build them: the
/// explorer then runs its usual steps and every check from there (`sprig-check --scenario NAME`,
/// a stage of `sprig mutate`).
///
/// * `reclaim` — root and one child A whose configuration list spans **three pages**: the oldest
///   full, holding among others the three structure pages of the page table that maps
///   `DomainAddress.childBase`; the second full too (252 entries: page tables come three
///   entries at a time); the newest (the head) holding only the three of the table that maps
///   `DomainAddress.newRegion` (both prepared, nothing mapped there); A holds pages at the
///   **first and last entries** of its tables: a page at vaddr 0 (entry 0 at every level) and its
///   VIDT page (the last lower-half entry at every level). The domain's `collect(A, newRegion)`
///   then empties and gives back the head; `collect(A, childBase)` removes entries of the oldest
///   page, each hole filled with the head's last entry, so that it too empties the head; and
///   `deletePartition(A)` walks every configuration page and every table from its first entry
///   to its last. The tables for vaddr 0 each lie right below a page root keeps, which holds
///   what a walk one entry past them would read (`prepareBelowBaits`).
/// * `faults` — a chain of five partitions, root → A → B → C → D (one level deeper than the
///   generated start trees), each with the tree start's VIDT entries, root's `VIDT[8]` (the
///   double fault) set as well, and **D running**, reached by yields down the chain. A fault of D
///   at a vector nobody above has set goes up as a double fault through C, B and A to root's
///   `VIDT[8]`: every step of the ancestor walk the routing bounds by the tree depth. D was
///   entered from a context on its read-only page (`VIDT[32]`), so the kernel has just read that
///   page: saving D there must still be refused. C's `VIDT[255]`, where D's `int 255` goes,
///   names a context one byte past a 16-byte boundary.
/// * `addresses` — root → A → B, **root running**, built where the tree start never goes: A
///   holds pages at `halfGigabyte` (bit 29 set: PD index 256 under PDPT entry 0) and at
///   `vidtAlias`, its VIDT address with bit 46 clear (a new PML4 entry); its VIDT entries name
///   contexts on those two pages (`VIDT[32]` and the STI slot). A's descriptor page is chosen so
///   that A's VIDT page and `vidtAlias` share a set of the translation cache: a yield to A looks
///   up both, the VIDT page first. A gave its **second page** (`childBase` + 4 KiB) to B as
///   B's descriptor, so root's `removeVAddr(A, childBase + 4 KiB)` must answer
///   `pageGivenFurther`, while its first page is A's own: root's table changes take it back
///   and give it again (each changes the cache generation).
///   `consoleInput` bytes **wait on the serial port**, so root's `consoleRead`s move bytes,
///   over a page boundary too. The yield cache is **warm**: root yielded to A (`yield(A, 32,
///   32)`, the focused menu's base yield) and A back, so a rewrite of A's `VIDT[32]` followed
///   by the same yield is two steps. Root's first fresh page starts a **free list whose second
///   page links to itself**: `prepare(A, newRegion, …)` takes three pages, so the third is the
///   second again, a repeat the free list's check must find at odd distance.
/// * `wrap` — the tree start at the **wrap of the cache generation**: both caches emptied and
///   the generation word set to 0 (as right after a wrap); root and A yield to each other,
///   A's `VIDT[32]` naming a context on one, then another page whose translations fill both
///   entries of the translation cache's first set, until yields filled both entries of the
///   yield cache's first set too; root deletes A (every entry involving A is now stale, in
///   both caches, and dead by the generation: deletePartition's writes advance it, where a
///   leaf write would have dropped the entries one by one); the generation word is set to n
///   steps before the wrap, n the advances a new child of root takes (counted on a first
///   creation of it, deleted again), as the structure writes that touch no entry up to there
///   would leave it; and root creates that child again: its last structure write wraps the
///   generation to 0, which must empty both caches, or the stale entries of generation 0 hit
///   again.
///   The start state's properties see them (they are checked before any step; a restored
///   state gets the explorer's own generation, so only the start can hold this one).
/// * `deliveries` — the tree start (root → A → B) with root's `VIDT[8]` set as well, and **B
///   running** with a **warm yield cache**: root yielded to A **masking interrupts** while
///   away, A to B, B to its parent at its own STI slot (`yield(0, 2, stiSave)` to a context at
///   A's `VIDT[2]`, kept by the yield cache for B), and A to B again. An NMI while B runs goes
///   to root (which has no `VIDT[2]`: dropped), though the cache holds B's plan for the same
///   `yield(0, 2, stiSave)` to A; a timer interrupt is dropped, root having masked it; after B
///   yields to A, a fault of A at a vector root has not set is root's double fault at
///   `VIDT[8]`, the second chance of a child of root, without the error code and CR2 of the
///   fault. Last, B's `int 3` went to A at `VIDT[3]` (the same context) and A yielded to B
///   again: the cache keeps B's `int 3` as well, so B's next one must hit it.
/// * `ten-pages` — root and one child A whose only configuration page has room for fewer than
///   nine entries (page tables under root-table entry 1 fill it) and no table under entry 0,
///   and root's ten lowest free pages written as a free list: `prepare(A, childBase, …)` builds
///   three levels and a configuration page, **ten pages**, as many as `prepare` ever takes,
///   which no other start needs.
import SprigABI
import SprigCore

/// See the file overview.
public enum Scenario: String, CaseIterable, Sendable {
    case reclaim
    case faults
    case addresses
    case wrap
    case deliveries
    case tenPages = "ten-pages"

    /// A's page at 512 MiB: PDPT index (bits 30–38) 0, PD index (bits 21–29) 256.
    public static let halfGigabyte: UInt64 = 0x2000_0000
    /// The VIDT address with bit 46 clear.
    public static let vidtAlias: UInt64 = AddressSpace.vidt - (1 << 46)
    /// Bytes waiting on the serial port in `addresses`.
    static let consoleInput: [UInt8] = Array("bytes that arrived on the serial port before the first step".utf8)
    /// A's pages at `childBase` in `addresses`: B takes the lowest but one.
    static let pagesOfA = 36

    /// Physical pages of the scenario's machine.
    public var pages: Int {
        switch self {
        case .reclaim: return 800
        case .faults, .addresses, .deliveries: return TreeShape.pages
        case .wrap: return Explorer.Configuration().pages
        case .tenPages: return 400
        }
    }

    /// A fresh system in the scenario's state (root running, but D in `faults`, B in `deliveries`).
    public func makeSystem() -> ModelSystem {
        let system: ModelSystem
        switch self {
        case .reclaim:
            system = ModelSystem(pages: pages, kernelImagePages: 1)
            Self.buildReclaim(system.machine)
        case .faults:
            system = TreeShape(parents: [0, 1, 2, 3]).makeSystem(pages: pages)
            Self.buildFaults(system)
        case .addresses:
            system = ModelSystem(pages: pages, kernelImagePages: 1)
            Self.buildAddresses(system)
        case .wrap:
            system = ExplorationStart.tree.makeSystem(pages: pages)
            Self.buildWrap(system)
        case .deliveries:
            system = TreeShape(parents: [0, 1]).makeSystem(pages: pages)
            Self.buildDeliveries(system)
        case .tenPages:
            system = ModelSystem(pages: pages, kernelImagePages: 1)
            Self.buildTenPages(system)
        }
        system.cpu.registers = RegisterMarks.registers(of: system.current, interruptsEnabled:
            system.cpu.currentPartition.interruptState(system.memory).isEnabled)
        return system
    }

    private static func buildFaults(_ system: ModelSystem) {
        let m = system.machine
        let rootView = CallerView(m.tree(), 0, m)
        setVIDTEntry(m, m.root, VIDTIndex.doubleFault, Domain.vidtValues(rootView, slot: 0)[1])
        // Down the chain: each partition yields to its one child at VIDT[32], saving itself at
        // its STI slot.
        for level in 0..<4 {
            let t = m.tree()
            guard let me = t.partitions.firstIndex(where: { $0.descriptor == system.current.raw }),
                  let childIndex = t.partitions[me].children.first,
                  let child = CallerView(t, me, m).children.first else { preconditionFailure("scenario: no child to yield to") }
            if level == 3 {
                // D: its VIDT[32] on its read-only page; C: its VIDT[255] misaligned.
                let d = CallerView(t, childIndex, m)
                guard let readOnly = d.readOnly else { preconditionFailure("scenario: D has no read-only page") }
                setVIDTEntry(m, PhysicalAddress(t.partitions[childIndex].descriptor), 32, readOnly)
                setVIDTEntry(m, system.current, 255, Domain.vidtValues(CallerView(t, me, m), slot: 0)[1] + 1)
            }
            let outcome = ExplorationStep.call(.yield, child, 32, VIDTIndex.stiSave, 0, 0).apply(to: system)
            guard case .trapped(_, .resume) = outcome else { preconditionFailure("scenario: yield \(outcome)") }
        }
    }

    private static func buildAddresses(_ system: ModelSystem) {
        let m = system.machine
        var rootFree = m.rootWindow.sorted()
        // A's descriptor (the first of the five pages `take` hands out from the end): a page for
        // which A's VIDT page and vidtAlias fall in one translation-cache set.
        guard let pick = rootFree.lastIndex(where: { va in
            let d = va - AddressSpace.rootWindowBase
            return TranslationCache.set(descriptor: d, page: AddressSpace.vidt) == TranslationCache.set(descriptor: d, page: vidtAlias)
        }) else { preconditionFailure("scenario: no descriptor page puts vidtAlias in the VIDT page's set") }
        rootFree.insert(rootFree.remove(at: pick), at: rootFree.count - 4)
        let rw = Rights.read | Rights.write
        let own = (0..<UInt64(pagesOfA)).map { DomainAddress.childBase + $0 * AddressSpace.pageSize }
        let a = ExplorationStart.makeChild(m, parent: m.root, free: &rootFree, take: ExplorationStart.take,
                                           pages: (own + [halfGigabyte, vidtAlias]).map { ($0, rw) })
        // B's pages are A's lowest but the first, its descriptor first: A's second page.
        var aFree = Array(own.dropFirst())
        let b = ExplorationStart.makeChild(m, parent: a, free: &aFree, take: { free, n in
            precondition(free.count >= n, "scenario: A has too few pages for B")
            defer { free.removeFirst(n) }
            return Array(free.prefix(n))
        }, pages: [(DomainAddress.childBase, rw)])
        for partition in [m.root, a, b] { ExplorationStart.setVIDT(system, partition) }
        system.consoleInput = consoleInput
        let aName = AddressSpace.rootWindowBase + a.raw
        for step in [ExplorationStep.call(.yield, aName, 32, 32, 0, 0), .call(.yield, 0, 32, 32, 0, 0)] {
            let outcome = step.apply(to: system)
            guard case .trapped(_, .resume) = outcome else { preconditionFailure("scenario: \(step) \(outcome)") }
        }
        // Root's free list from its first fresh page: the second page links to itself.
        let fresh = CallerView(m.tree(), 0, m).fresh
        let loop = ExplorationStep.write(Domain.freeList(Array(fresh.prefix(2)), end: fresh[1]))
        guard case .wrote = loop.apply(to: system) else { preconditionFailure("scenario: \(loop)") }
    }

    private static func buildWrap(_ system: ModelSystem) {
        let m = system.machine
        let storage = system.memory
        func run(_ step: ExplorationStep, _ expected: TrapOutcome) {
            let outcome = step.apply(to: system)
            precondition(outcome.trap?.outcome == expected, "scenario: \(step) \(outcome)")
        }
        let t = m.tree()
        guard let root = t.partitions.firstIndex(where: { $0.parent == nil }),
              let aName = CallerView(t, root, m).children.first,
              let a = t.partitions.firstIndex(where: { $0.parent == root })
        else { preconditionFailure("scenario: the tree start has no child A") }
        // Two more pages for A, in its first page table, whose translations go to the
        // translation cache's first set.
        let aDescriptor = t.partitions[a].descriptor
        let pages = (0..<UInt64(512)).map { DomainAddress.childBase + $0 * AddressSpace.pageSize }
            .filter { t.partitions[a].byVA[$0] == nil && TranslationCache.set(descriptor: aDescriptor, page: $0) == 0 }.prefix(2)
        precondition(pages.count == 2, "scenario: A's first page table has no two free slots in the first set")
        for (va, page) in zip(pages, CallerView(t, root, m).fresh) {
            run(.call(.addVAddr, page, aName, va, Rights.read | Rights.write), .returned(.success, value: 0))
        }
        for i in 0..<KernelCache.words { storage.translationCacheStore(i, 0) }
        storage.translationCacheStore(KernelCache.generation, KernelCache.live)
        // Save slots past the kernel's, whose VIDT entries are 0 (the caller's context is
        // dropped): each a new key, until two fell in the yield cache's first set.
        var save = VIDTIndex.stiSave + 1
        func yieldThereAndBack() {
            precondition(save < VIDTIndex.count, "scenario: no two yields filled the yield cache's first set")
            run(.call(.yield, aName, 32, save, 0, 0), .resume)
            run(.call(.yield, 0, 32, VIDTIndex.stiSave + 1, 0, 0), .resume)
            save += 1
        }
        // A's context for yields to it at 32 on one of the two pages, then on the other.
        for page in pages {
            setVIDTEntry(m, PhysicalAddress(aDescriptor), 32, page)
            yieldThereAndBack()
        }
        while storage.translationCacheLoad(YieldCache.base) == 0 || storage.translationCacheLoad(YieldCache.base + YieldCache.entryWords) == 0 {
            yieldThereAndBack()
        }
        let firstSet = (0..<6).map { storage.translationCacheLoad($0) }
        precondition(firstSet == [aDescriptor, pages[1] | KernelCache.live, firstSet[2], aDescriptor, pages[0] | KernelCache.live, firstSet[5]],
                     "scenario: the translation cache's first set does not hold A's two context pages")
        // A new child B of root, counting the generation's advances it takes (n); then every
        // entry made stale by writes that advance the generation rather than drop them (a leaf
        // write, removeVAddr's, would drop them: docs/yield.md, "Leaf writes"): A deleted.
        let s = CallerView(m.tree(), root, m).fresh.prefix(5).map { $0 }
        precondition(s.count == 5, "scenario: root has no five pages for a new child")
        let before = storage.translationCacheLoad(KernelCache.generation)
        run(.call(.createPartition, s[0], s[1], s[2], s[3], s[4]), .returned(.success, value: 0))
        let n = (storage.translationCacheLoad(KernelCache.generation) &- before) >> 47
        run(.call(.deletePartition, aName), .returned(.success, value: 0))
        run(.call(.deletePartition, s[0]), .returned(.success, value: 0))
        // B again, from n steps before the wrap: its last structure step wraps the generation,
        // which leaves it at 0, the generation the stale entries were filled in.
        storage.translationCacheStore(KernelCache.generation, KernelCache.live | (0x1_0000 - n) << 47)
        run(.call(.createPartition, s[0], s[1], s[2], s[3], s[4]), .returned(.success, value: 0))
        precondition(storage.translationCacheLoad(KernelCache.generation) == KernelCache.live,
                     "scenario: B's second creation did not end at the wrap")
    }

    private static func buildDeliveries(_ system: ModelSystem) {
        let m = system.machine
        setVIDTEntry(m, m.root, VIDTIndex.doubleFault, Domain.vidtValues(CallerView(m.tree(), 0, m), slot: 0)[1])
        func yield(toChild: Bool, target: UInt64 = 32, masked: Bool = false) {
            let t = m.tree()
            guard let me = t.partitions.firstIndex(where: { $0.descriptor == system.current.raw }) else {
                preconditionFailure("scenario: the current partition is not in the tree")
            }
            let callee = toChild ? CallerView(t, me, m).children.first : 0
            guard let callee else { preconditionFailure("scenario: no child to yield to") }
            let step = ExplorationStep.call(.yield, callee, target, VIDTIndex.stiSave, masked ? 1 : 0, 0)
            guard case .trapped(_, .resume) = step.apply(to: system) else { preconditionFailure("scenario: \(step)") }
        }
        // root → A, root masking interrupts while away; A's VIDT[2] a context of A's.
        yield(toChild: true, masked: true)
        let t = m.tree()
        guard let a = t.partitions.firstIndex(where: { $0.descriptor == system.current.raw }) else {
            preconditionFailure("scenario: A is not in the tree")
        }
        setVIDTEntry(m, system.current, VIDTIndex.nmi, Domain.vidtValues(CallerView(t, a, m), slot: 0)[1])
        setVIDTEntry(m, system.current, 3, Domain.vidtValues(CallerView(t, a, m), slot: 0)[1])
        // A → B, B back to A at VIDT[2] (kept in the yield cache), A → B.
        yield(toChild: true)
        yield(toChild: false, target: VIDTIndex.nmi)
        yield(toChild: true)
        // B's `int 3` to A at VIDT[3] (kept as B's `yield(0, 3, slot)`), A → B: B's next `int 3`
        // is a hit, which a cache probe skipped turns into a second entry with the same answer.
        let b = system.current
        guard case .trapped = ExplorationStep.trap(.softwareInterrupt(vector: 3)).apply(to: system), system.current != b
        else { preconditionFailure("scenario: B's int 3 was not delivered") }
        yield(toChild: true)
        let stamp = Properties.cacheStamp(m.memory)
        let kept = stride(from: YieldCache.base, to: YieldCache.base + YieldCache.words, by: YieldCache.entryWords).filter {
            Properties.isLive(tag: m.memory.translationCacheLoad($0 + YieldCache.tag), stamp: stamp)
                && m.memory.translationCacheLoad($0 + YieldCache.caller) == b.raw
        }
        precondition(kept.count == 2, "scenario: the yield cache keeps \(kept.count) of B's two plans")
    }

    /// Writes `partition`'s VIDT entry `index` as ring 3 would.
    private static func setVIDTEntry(_ m: ModelMachine, _ partition: PhysicalAddress, _ index: UInt64, _ value: UInt64) {
        guard let pa = m.translate(partition, AddressSpace.vidt + 8 * index, write: true) else {
            preconditionFailure("scenario: VIDT entry \(index)")
        }
        m.memory.store(pa, value)
    }

    private static func buildTenPages(_ system: ModelSystem) {
        let m = system.machine
        let s = (0..<5).map { _ in m.takePage(m.root) }
        let created = m.call(m.root, .createPartition, s[0], s[1], s[2], s[3], s[4])
        precondition(created.status == .success, "scenario: createPartition \(created.status)")
        // Page tables under root-table entry 1, until childBase's three levels and their nine
        // entries no longer fit in A's only configuration page.
        var filler: UInt64 = 0
        while m.call(m.root, .countToMap, s[0], DomainAddress.childBase).value == 9 {
            m.prepare(m.root, child: s[0], va: (1 << 39) | filler << 21)
            filler += 1
            precondition(filler < 100, "scenario: the configuration page never filled")
        }
        let need = m.call(m.root, .countToMap, s[0], DomainAddress.childBase)
        precondition(need.status == .success && need.value == 10, "scenario: countToMap \(need)")
        let free = CallerView(m.tree(), 0, m).free
        let list = ExplorationStep.write(Domain.freeList(Array(free.prefix(10)), end: 0))
        guard case .wrote = list.apply(to: system) else { preconditionFailure("scenario: \(list)") }
    }

    /// Prepares vaddr 0 in root's child `name` with pages that each lie right below a page root
    /// keeps, and writes there what a walk one entry past A's tables would read: above the page
    /// directory a directory entry pointing at the page above the page table, above the
    /// directory's shadow-2 page the address of the page above the table's shadow-2 page; above
    /// the page table a present supervisor leaf of physical page 0, above its shadow-2 page a
    /// vaddr root maps. A deletion walking past a table gives page 0 back: it zeroes the
    /// firmware's page (`Properties.dereference`).
    private static func prepareBelowBaits(_ m: ModelMachine, child name: UInt64) {
        let root = m.root
        let ps = AddressSpace.pageSize
        func frame(_ va: UInt64) -> UInt64 {
            guard let pa = m.translate(root, va, write: true) else { preconditionFailure("scenario: root cannot write 0x\(String(va, radix: 16))") }
            return pa.raw
        }
        let need = m.call(root, .countToMap, name, 0)
        precondition(need.status == .success && need.value >= 9, "scenario: countToMap \(need)")
        var above: [UInt64] = []
        let pages = (0..<need.value).map { _ -> UInt64 in
            let upper = m.takePage(root), page = m.takePage(root)
            precondition(frame(upper) == frame(page) + ps, "scenario: root's pool is not in frame order")
            above.append(upper)
            return page
        }
        m.writeFreeList(root, pages)
        let r = m.call(root, .prepare, name, 0, pages[0])
        precondition(r.status == .success, "scenario: prepare \(r.status)")
        // pages: the PDPT and its shadows, the directory (3) and its shadows (5: shadow 2), the
        // page table (6) and its shadows (8: shadow 2).
        for (at, value) in [(3, PageTableEntry.table(PhysicalAddress(frame(above[6]))).raw), (5, frame(above[8])),
                            (6, PageTableEntry.present), (8, above[0])] {
            m.memory.store(PhysicalAddress(frame(above[at])), value)
        }
    }

    private static func buildReclaim(_ m: ModelMachine) {
        let root = m.root
        let s = (0..<5).map { _ in m.takePage(root) }
        let created = m.call(root, .createPartition, s[0], s[1], s[2], s[3], s[4])
        precondition(created.status == .success, "scenario: createPartition \(created.status)")
        let rw = Rights.read | Rights.write
        for va in [AddressSpace.vidt, 0] {
            if va == 0 { prepareBelowBaits(m, child: s[0]) } else { m.prepare(root, child: s[0], va: va) }
            let r = m.call(root, .addVAddr, m.takePage(root), s[0], va, rw)
            precondition(r.status == .success, "scenario: addVAddr \(r.status)")
        }
        m.prepare(root, child: s[0], va: DomainAddress.childBase)
        // Fill the head configuration page with page tables under root-table entry 1 until the
        // table for newRegion (its directory exists: vaddr 0's) no longer fits in it: the first
        // page, then a second one (which a page table's three entries at a time fill to 252).
        var filler: UInt64 = 0
        func fillHead() {
            while true {
                let need = m.call(root, .countToMap, s[0], DomainAddress.newRegion)
                precondition(need.status == .success && need.value >= 3, "scenario: countToMap \(need)")
                if need.value > 3 { return }
                m.prepare(root, child: s[0], va: (1 << 39) | filler << 21)
                filler += 1
                precondition(filler < 512, "scenario: the configuration page never filled")
            }
        }
        fillHead()
        m.prepare(root, child: s[0], va: (1 << 39) | filler << 21)
        filler += 1
        fillHead()
        m.prepare(root, child: s[0], va: DomainAddress.newRegion)
    }
}
