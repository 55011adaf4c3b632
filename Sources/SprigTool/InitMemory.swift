/// The pages the generic root (systems/programs/init) takes to build its tree, counted from a
/// description the way init takes them. Validator `plan-fits` compares them with the memory the
/// description gives each instance, so a tree that does not fit is refused when it is built.
///
/// An instance of init (root, or a partition with children whose program is init) takes every
/// page it uses from its own memory: root from its largest free run of physical memory, no more
/// than `[partitions.<root>].memory`; a nested instance from its pool, which is its memory. In
/// the order init takes them:
/// * root only: its handler stack (2 pages);
/// * a page per end of each channel it carries, and an ack page for one carried by hand-over;
/// * its handler contexts (2 pages);
/// * per child, in the plan's order: a console page and a stamp page; a copy of the child's image
///   as it was before it ran (what a restart writes back); for a nested child, a header page and
///   a copy of the plan; then what `ChildBuilder` takes: five structure pages (descriptor, PML4,
///   both shadows, a configuration page), the stack, the handler stack, the child's pool (its
///   memory), a VIDT page and two context pages; and, for every page mapped in the child, the
///   table levels its address still lacks, three pages each (table, shadow 1, shadow 2), plus a
///   configuration page whenever the head one has no room for their entries (`countToMap`,
///   docs/structures.md). The child's mappings: its image, a nested child's region and its
///   descendants' images, the stacks, pool, console, VIDT, context pages, stamp page, and the
///   channel pages of the ends in its subtree.
///
/// A restart builds the child again in the very pages its first build took, so restarts take
/// nothing more. Only where root's memory lies depends on the run (the machine's memory map and
/// where the loader put the boot modules): init checks that at boot.
import Foundation
import SprigABI
import SprigCore

public enum InitMemory {
    /// What one instance of init takes, in pages.
    public struct Need: Sendable, Equatable {
        /// Its children's pools: the memory their descriptions give them.
        public var pools: UInt64 = 0
        /// Copies it keeps or hands down: its children's images, nested children's plans.
        public var copies: UInt64 = 0
        /// Its children's kernel structures: descriptors, PML4s, shadows, page tables and their
        /// shadows, configuration pages.
        public var structures: UInt64 = 0
        /// Stacks, VIDTs, contexts, console, stamp and channel pages.
        public var pages: UInt64 = 0
        public var total: UInt64 { pools + copies + structures + pages }
    }

    /// The pages init running in partition `instance` of `file` takes to build its children;
    /// `imageBytes` is the size of a program's image.
    /// - Precondition: `file` has passed the validators of the tree (every partition declared,
    ///   a tree under root).
    public static func need(of instance: String, in file: SystemFile, imageBytes: (String) -> UInt64) -> Need {
        let page = AddressSpace.pageSize
        func pagesOf(_ bytes: UInt64) -> UInt64 { (bytes + page - 1) / page }
        func image(_ p: String) -> UInt64 { imageBytes(file.partitions[p]?.program ?? "") }
        let order = file.preorder
        let planPages = pagesOf(planBytes(file))
        let channels = file.channels.keys.sorted()
        // The child of `instance` whose subtree holds `p` (or `p` itself).
        func holder(_ p: String) -> String? {
            guard let path = file.ancestry(p), let i = path.firstIndex(of: instance), i + 1 < path.count else { return nil }
            return path[i + 1]
        }
        let above = Set((file.ancestry(instance) ?? []).dropLast())

        var need = Need()
        if instance == file.root { need.pages += rootHandlerStackPages }
        for name in channels {
            guard let c = file.channels[name], let w = c.writer, let r = c.reader, file.carrier(w, r) == instance else { continue }
            need.pages += PlanCompiler.transfersByHandover(c, in: file) ? 3 : 2
        }
        need.pages += handlerContextPages
        for child in file.partitions[instance]?.children ?? [] {
            guard let p = file.partitions[child] else { continue }
            let generic = p.program == SystemFile.genericProgram
            let pool = (p.memory ?? 0) / page
            let region = generic ? 1 + planPages : 0
            need.pages += 2  // console and stamp pages
            need.copies += pagesOf(image(child)) + region
            need.pools += pool
            need.pages += ChildLayout.stackPages + ChildLayout.handlerStackPages + 3  // VIDT, two context pages
            var tables = ChildTables()
            tables.map(AddressSpace.imageBase, pages: pagesOf(image(child)))
            if generic { tables.map(ChildLayout.extraBase, pages: region) }
            tables.map(ChildLayout.stackTop - ChildLayout.stackPages * page, pages: ChildLayout.stackPages)
            tables.map(ChildLayout.handlerStackTop - ChildLayout.handlerStackPages * page, pages: ChildLayout.handlerStackPages)
            tables.map(ChildLayout.poolBase, pages: pool)
            tables.map(ChildLayout.consolePage, pages: 1)
            tables.map(AddressSpace.vidt, pages: 1)
            tables.map(ChildLayout.contextPages, pages: 2)
            if generic {
                // Its descendants' images, after its region, in the plan's order.
                var offset = region * page
                for q in order where q != child && file.ancestry(q)?.contains(child) == true {
                    tables.map(ChildLayout.extraBase + offset, pages: pagesOf(image(q)))
                    offset += pagesOf(image(q)) * page
                }
            }
            tables.map(ChannelLayout.stampPage, pages: 1)
            for (i, name) in channels.enumerated() {
                guard let c = file.channels[name], let w = c.writer, let r = c.reader, let carrier = file.carrier(w, r),
                      carrier == instance || above.contains(carrier) else { continue }
                if holder(w) == child { tables.map(ChannelLayout.writer(UInt64(i)), pages: 1) }
                if holder(r) == child {
                    tables.map(ChannelLayout.reader(UInt64(i)), pages: 1)
                    if carrier == instance && PlanCompiler.transfersByHandover(c, in: file) { tables.map(ChannelLayout.ack(UInt64(i)), pages: 1) }
                }
            }
            need.structures += tables.pages
        }
        return need
    }

    /// Root's handler stack, and every instance's two pages of handler contexts (Init.swift).
    static let rootHandlerStackPages: UInt64 = 2
    static let handlerContextPages: UInt64 = 2

    /// The size of the plan `PlanCompiler` makes of `file`.
    static func planBytes(_ file: SystemFile) -> UInt64 {
        let frames = file.preorder.compactMap { file.schedules[$0] }.reduce(0) { n, s in
            n + (s.kind == .roundRobin ? s.members.count : s.frames.count)
        }
        return PlanLayout.bytes(partitions: UInt64(file.preorder.count), frames: UInt64(frames),
                                events: UInt64(file.events.count), channels: UInt64(file.channels.count))
    }
}

/// The page-table levels of one child's address space as `countToMap` and `prepare` build them,
/// and the structure pages they take.
struct ChildTables {
    /// The tables present below the PML4: a PDPT per PML4 entry, a PD per PDPT entry, a PT per
    /// PD entry, by level and the address bits above the level's reach.
    private var present: Set<UInt64> = []
    /// Entries in the head configuration page: createPartition records the descriptor, the
    /// PML4 and both shadow roots.
    private var headEntries: UInt64 = 4
    /// createPartition's five pages, then every page `prepare` takes.
    private(set) var pages: UInt64 = 5

    mutating func map(_ va: UInt64, pages count: UInt64) {
        var k: UInt64 = 0
        while k < count {
            let at = va + k * AddressSpace.pageSize
            var missing: UInt64 = 0
            for (level, shift) in [(UInt64(3), UInt64(39)), (2, 30), (1, 21)] where present.insert(level << 60 | at >> shift).inserted {
                missing += 1
            }
            if missing > 0 {
                let entries = 3 * missing
                if entries > ConfigList.capacity - headEntries {
                    pages += 1
                    headEntries = 0
                }
                headEntries += entries
                pages += entries
            }
            k += 1
        }
    }
}
