/// The memory services of DESIGN.md §4, abstractly: a partition's pages, its children, its
/// structure pages. Each service checks everything first and either changes the state as its
/// row in DESIGN.md §4 says or returns the status naming the first thing wrong and changes
/// nothing (only `rax`/`rdx`, which `Spec.step` writes).
import SprigABI
import struct SprigCore.SystemCallArguments

extension Spec {
    /// Table levels below the PML4 on the path of a vaddr, top first: PDPT, PD, PT.
    static let tableLevels = [3, 2, 1]

    /// Entries a configuration page holds (docs/structures.md: 254 per page).
    static let configCapacity: UInt64 = 254

    // MARK: createPartition

    /// Five distinct, present, accessible, writable, not-given pages of the caller become a new
    /// child's descriptor, PML4, shadow-1 and shadow-2 roots and first configuration page
    /// (which records the other four). Checked page by page in argument order; a page equal to
    /// an earlier one is `duplicatePage` once it has passed its own checks.
    static func createPartition(_ s: inout AbstractState, _ caller: UInt64, _ a: SystemCallArguments) -> Status {
        var pages: [(va: UInt64, page: UInt64)] = []
        for name in [a.a0, a.a1, a.a2, a.a3, a.a4] {
            switch givable(s, caller, name, structure: true) {
            case .failure(let status): return status
            case .success(let p):
                if pages.contains(where: { $0.page == p.page }) { return .duplicatePage }
                pages.append(p)
            }
        }
        for p in pages { takeAsStructure(&s, owner: caller, page: p.page) }
        let descriptor = pages[0]
        s.partitions[caller]?.pages[descriptor.va]?.given = .descriptorOf(descriptor.page)
        s.partitions[descriptor.page] = AbstractPartition(
            parent: caller, name: descriptor.va, interruptState: InterruptFlags.enabled, pages: [:],
            structures: Structures(descriptor: descriptor.page, roots: [pages[1].page, pages[2].page, pages[3].page],
                                   tables: [:], configPages: [pages[4].page]))
        return .success
    }

    // MARK: countToMap and prepare

    /// The table nodes missing on the path of `va` in `child`, top first.
    static func missingTables(_ s: AbstractState, _ child: UInt64, _ va: UInt64) -> [TableNode] {
        let tables = s.partitions[child]?.structures.tables ?? [:]
        return tableLevels.map { TableNode(level: $0, containing: va) }.filter { tables[$0] == nil }
    }

    /// Whether `pages` configuration pages can record `recorded` structure pages (a page holds
    /// `configCapacity` entries).
    static func configPagesSuffice(_ pages: Int, recording recorded: UInt64) -> Bool {
        UInt64(pages) * configCapacity >= recorded
    }

    /// The numbers of pages `prepare` may take (and `countToMap` may answer) for `va` in the
    /// child, smallest first. DESIGN.md §3: every missing table level (PDPT, PD, PT) needs its
    /// table and its two shadows, 3 pages; the configuration list must record them. Whether
    /// that takes a new configuration page depends on how the kernel packs its entries, which
    /// the design leaves open: the specification allows one page more always, and requires it
    /// when the configuration pages the child has cannot hold every entry. Nothing missing:
    /// exactly 0.
    static func allowedPageCounts(_ s: AbstractState, _ child: UInt64, _ va: UInt64) -> [UInt64] {
        let missing = UInt64(missingTables(s, child, va).count)
        guard missing > 0, let structures = s.partitions[child]?.structures else { return [0] }
        let fits = configPagesSuffice(structures.configPages.count, recording: structures.recordedCount + 3 * missing)
        return fits ? [3 * missing, 3 * missing + 1] : [3 * missing + 1]
    }

    /// The child's count, when it is one `allowedPageCounts` allows (the observed value when it
    /// is, else the smallest allowed).
    static func countToMap(_ s: AbstractState, _ caller: UInt64, child name: UInt64, va: UInt64,
                           observed: Observed?) -> (Status, UInt64) {
        switch child(s, of: caller, named: name, page: va, observed: observed) {
        case .failure(let status): return (status, 0)
        case .success(let (c, v)):
            let allowed = allowedPageCounts(s, c, v)
            if let seen = observed?.returned, seen.status == .success, allowed.contains(seen.value) { return (.success, seen.value) }
            return (.success, allowed[0])
        }
    }

    /// Takes pages from the caller's free list (first word of each page: the vaddr of the next,
    /// 0 ends it), each checked like an argument, and builds the missing tables for `va` in the
    /// child. How many: one of `allowedPageCounts` (the observed effect's when it is one of
    /// them). Returns the link found in the last page taken (`freeList` itself when nothing was
    /// needed). The list is walked only as far as needed.
    static func prepare(_ s: inout AbstractState, _ caller: UInt64, child name: UInt64, va: UInt64,
                        freeList: UInt64, observed: Observed?) -> (Status, UInt64) {
        let c: UInt64, v: UInt64
        switch child(s, of: caller, named: name, page: va, observed: observed) {
        case .failure(let status): return (status, 0)
        case .success(let r): (c, v) = r
        }
        // Each allowed count gives one result; the observed one is taken when it is one of them
        // (outcome and state both), else the outcome alone, else the smallest count's.
        let results = allowedPageCounts(s, c, v).map { n in
            var t = s
            let r = prepare(&t, caller, child: c, va: v, freeList: freeList, taking: Int(n), observed: observed)
            return (state: t, status: r.0, value: r.1)
        }
        let seen = observed?.returned
        let chosen = results.first { $0.status == seen?.status && $0.value == seen?.value
                                     && $0.state.partitions == observed?.state.partitions }
            ?? results.first { $0.status == seen?.status && $0.value == seen?.value }
            ?? results[0]
        s = chosen.state
        return (chosen.status, chosen.value)
    }

    /// `prepare` taking exactly `needed` pages.
    private static func prepare(_ s: inout AbstractState, _ caller: UInt64, child c: UInt64, va v: UInt64,
                                freeList: UInt64, taking needed: Int, observed: Observed?) -> (Status, UInt64) {
        guard needed > 0 else { return (.success, freeList) }
        var taken: [UInt64] = []
        var link = freeList
        while taken.count < needed {
            guard link != 0 else { return (.freeListTooShort, 0) }
            switch givable(s, caller, link, structure: true) {
            case .failure(let status): return (status, 0)
            case .success(let p):
                if taken.contains(p.page) { return (.freeListLoops, 0) }
                taken.append(p.page)
                link = s.memory[p.page]?[0] ?? 0
            }
        }
        for page in taken { takeAsStructure(&s, owner: caller, page: page) }
        let missing = missingTables(s, c, v)
        let needsConfigPage = needed > 3 * missing.count
        var assignment = canonicalAssignment(missing, taken, needsConfigPage: needsConfigPage)
        if let concrete = observed?.state.partitions[c]?.structures,
           let before = s.partitions[c]?.structures,
           let chosen = allowedAssignment(concrete, before: before, missing, taken, needsConfigPage: needsConfigPage) {
            assignment = chosen
        }
        guard var structures = s.partitions[c]?.structures else { return (.success, link) }
        if let page = assignment.configPage { structures.configPages.insert(page) }
        for node in missing { structures.tables[node] = assignment.tables[node] }
        s.partitions[c]?.structures = structures
        return (.success, link)
    }

    /// Which taken page becomes which table, which shadow, and the configuration page.
    struct Assignment {
        var tables: [TableNode: [UInt64]]
        var configPage: UInt64?
    }

    /// The design does not say which free-list page becomes what. Canonically: top level
    /// first, each level's table, shadow 1, shadow 2 in list order; the extra configuration page
    /// (when one is taken) is the last page taken.
    static func canonicalAssignment(_ missing: [TableNode], _ taken: [UInt64], needsConfigPage: Bool) -> Assignment {
        var tables: [TableNode: [UInt64]] = [:]
        for (k, node) in missing.enumerated() { tables[node] = Array(taken[(3 * k)..<(3 * k + 3)]) }
        return Assignment(tables: tables, configPage: needsConfigPage ? taken.last : nil)
    }

    /// The concrete kernel's assignment, if it is one the design allows: every new table node
    /// got three of the taken pages, and the configuration page (if one was taken) is the one
    /// left, now a configuration page of the child.
    static func allowedAssignment(_ concrete: Structures, before: Structures, _ missing: [TableNode], _ taken: [UInt64],
                                  needsConfigPage: Bool) -> Assignment? {
        var tables: [TableNode: [UInt64]] = [:]
        var used: [UInt64] = []
        for node in missing {
            guard let pages = concrete.tables[node], pages.count == 3 else { return nil }
            tables[node] = pages
            used += pages
        }
        var config: UInt64? = nil
        if needsConfigPage {
            let added = concrete.configPages.subtracting(before.configPages)
            guard added.count == 1, let page = added.first else { return nil }
            config = page
            used.append(page)
        }
        guard used.count == taken.count, Set(used) == Set(taken) else { return nil }
        return Assignment(tables: tables, configPage: config)
    }

    // MARK: addVAddr, removeVAddr, mappedInChild

    /// The rights argument of `addVAddr`: only `Rights` bits, and `Rights.read` among them.
    static func rightsAllowed(_ rights: UInt64) -> Bool { rights & ~Rights.all == 0 && rights & Rights.read != 0 }

    /// Shares the caller's page at `vaParent` with the child at `vaChild` with exactly `rights`
    /// (read required; write and execute only if the caller has them; never execute at the VIDT
    /// address). Order, the specification's rule (docs/spec.md): the arguments before the
    /// child's state — rights bits, child, the page, rights against the caller's, `vaChild`,
    /// execute at the VIDT — then prepared, free.
    static func addVAddr(_ s: inout AbstractState, _ caller: UInt64, vaParent: UInt64, child name: UInt64,
                         vaChild: UInt64, rights: UInt64) -> Status {
        guard rightsAllowed(rights) else { return .invalidArgument }
        guard let c = child(s, of: caller, named: name) else { return .invalidChild }
        let given: (va: UInt64, page: UInt64)
        switch givable(s, caller, vaParent, structure: false) {
        case .failure(let status): return status
        case .success(let p): given = p
        }
        guard let mine = s.partitions[caller]?.pages[given.va] else { return .addressNotMapped }
        if rights & Rights.write != 0, !mine.writable { return .rightsExceedCaller }
        if rights & Rights.execute != 0, !mine.executable { return .rightsExceedCaller }
        let va: UInt64
        switch page(vaChild) {
        case .failure(let status): return status
        case .success(let v): va = v
        }
        if rights & Rights.execute != 0, va == AddressSpace.vidt { return .executeAtVIDT }
        guard s.partitions[c]?.structures.tables[TableNode(level: 1, containing: va)] != nil else { return .notPrepared }
        guard s.partitions[c]?.pages[va] == nil else { return .childAddressInUse }
        s.partitions[c]?.pages[va] = Mapping(page: given.page, rights: rights, accessible: true, given: .kept)
        s.partitions[caller]?.pages[given.va]?.given = .toChild(c)
        return .success
    }

    /// Takes back the page at `vaChild` from the child, unless the child gave it on (to a
    /// grandchild, or to the kernel as a structure: then it is not accessible to the child).
    static func removeVAddr(_ s: inout AbstractState, _ caller: UInt64, child name: UInt64, vaChild: UInt64,
                            observed: Observed?) -> Status {
        let c: UInt64, va: UInt64
        switch child(s, of: caller, named: name, page: vaChild, observed: observed) {
        case .failure(let status): return status
        case .success(let r): (c, va) = r
        }
        guard let m = s.partitions[c]?.pages[va] else { return .addressNotMapped }
        guard m.accessible, m.given == .kept else { return .pageGivenFurther }
        s.partitions[c]?.pages[va] = nil
        if let mine = s.partitions[caller]?.vaddr(of: m.page) { s.partitions[caller]?.pages[mine]?.given = .kept }
        return .success
    }

    /// The name of the child the caller's page at `vaParent` was given to, or 0 (kept, or a
    /// child's descriptor).
    static func mappedInChild(_ s: AbstractState, _ caller: UInt64, vaParent: UInt64) -> (Status, UInt64) {
        switch page(vaParent) {
        case .failure(let status): return (status, 0)
        case .success(let va):
            guard let m = s.partitions[caller]?.pages[va] else { return (.addressNotMapped, 0) }
            guard case .toChild(let c) = m.given else { return (.success, 0) }
            return (.success, s.partitions[c]?.name ?? 0)
        }
    }

    // MARK: deletePartition and collect

    /// Removes the child and its whole subtree. Every page the caller gave it is the caller's
    /// again and not given; each one the child could not access (a structure somewhere in its
    /// subtree) and each of the child's own structure pages comes back zeroed and accessible.
    static func deletePartition(_ s: inout AbstractState, _ caller: UInt64, child name: UInt64) -> Status {
        guard let c = child(s, of: caller, named: name), let gone = s.partitions[c] else { return .invalidChild }
        for m in gone.pages.values {
            if let mine = s.partitions[caller]?.vaddr(of: m.page), s.partitions[caller]?.pages[mine]?.given == .toChild(c) {
                s.partitions[caller]?.pages[mine]?.given = .kept
            }
            if !m.accessible { giveBack(&s, owner: caller, page: m.page) }
        }
        s.partitions[caller]?.pages[name]?.given = .kept
        for page in gone.structures.all { giveBack(&s, owner: caller, page: page) }
        for d in s.subtree(c) { s.partitions[d] = nil }
        return .success
    }

    /// Gives back the empty tables on the path of `va` in the child, page table first, then
    /// the page directory, then the PDPT, stopping at the first one that still holds something
    /// (a level not there is passed over): each table's three pages come back. Configuration
    /// pages the child no longer needs may come back too: which, the design leaves to the
    /// implementation; allowed is any set of them that leaves at least one, and enough to record
    /// the structure pages that stay (`configPagesSuffice`). The observed set is taken when it
    /// is allowed, else none. The value is the number of pages given back.
    static func collect(_ s: inout AbstractState, _ caller: UInt64, child name: UInt64, va: UInt64,
                        observed: Observed?) -> (Status, UInt64) {
        let c: UInt64, v: UInt64
        switch child(s, of: caller, named: name, page: va, observed: observed) {
        case .failure(let status): return (status, 0)
        case .success(let r): (c, v) = r
        }
        guard var child = s.partitions[c] else { return (.invalidChild, 0) }
        var returned: [UInt64] = []
        for level in tableLevels.reversed() {
            let node = TableNode(level: level, containing: v)
            guard let pages = child.structures.tables[node] else { continue }
            let holdsSomething = level == 1
                ? child.pages.keys.contains(where: node.covers)
                : child.structures.tables.keys.contains { $0.level == level - 1 && node.covers($0.base) }
            if holdsSomething { break }
            child.structures.tables[node] = nil
            returned += pages
        }
        let configPages = child.structures.configPages
        if let kept = observed?.state.partitions[c]?.structures.configPages, kept.isSubset(of: configPages), !kept.isEmpty,
           configPagesSuffice(kept.count, recording: child.structures.recordedCount) {
            returned += configPages.subtracting(kept).sorted()
            child.structures.configPages = kept
        }
        s.partitions[c] = child
        for page in returned { giveBack(&s, owner: caller, page: page) }
        return (.success, UInt64(returned.count))
    }

    // MARK: getIntState and setIntState

    static func getIntState(_ s: AbstractState, _ caller: UInt64, child name: UInt64) -> (Status, UInt64) {
        guard let c = child(s, of: caller, named: name), let state = s.partitions[c]?.interruptState
        else { return (.invalidChild, 0) }
        return (.success, state)
    }

    /// The caller's own interrupt state. Root's is also its real IF (`InterruptFlags`: only root
    /// masks hardware interrupts for real), from the instruction after the call.
    static func setIntState(_ s: inout AbstractState, _ caller: UInt64, state: UInt64) -> Status {
        guard state == InterruptFlags.enabled || state == InterruptFlags.masked else { return .invalidArgument }
        s.partitions[caller]?.interruptState = state
        if caller == s.root {
            s.registers.rflags = state == InterruptFlags.enabled
                ? s.registers.rflags | RFLAGS.interrupt : s.registers.rflags & ~RFLAGS.interrupt
        }
        return .success
    }
}
