/// The partition tree as the model reads it back from simulated memory, independently of the
/// services: every partition, every leaf its tables map as the MMU walks them, every kernel
/// structure page. `Properties` computes the isolation properties from this. Entries are decoded
/// as the Intel SDM's MMU decodes them (`SpecMMU`: a PS bit or a reserved bit above a leaf is a
/// violation, rights are U, W and XD across every level), descriptors, shadows and configuration
/// pages as docs/structures.md lays them out (`SpecLayout`), with no code of the kernel's.
///
/// The reading trusts nothing it finds: pointers that leave memory, shadows that disagree with
/// the tables and partitions reached twice are recorded as violations instead of followed.
import SprigABI
import struct SprigCore.PhysicalAddress

public struct Leaf: Sendable {
    public var va: UInt64
    public var paddr: UInt64
    /// As the MMU decides a ring-3 access: user at every level (readable), and writable.
    public var accessible: Bool
    public var writable: Bool
    public var executable: Bool
    public var sh1: UInt64
    public var sh2: UInt64
}

public struct PartitionView: Sendable {
    public var descriptor: UInt64
    /// Index in `PartitionTree.partitions` of the parent; nil for root.
    public var parent: Int?
    public var leaves: [Leaf] = []
    /// PML4 and every lower-level table page.
    public var tables: [UInt64] = []
    public var shadow1: [UInt64] = []
    public var shadow2: [UInt64] = []
    /// Configuration-list entries (page, vaddr in parent) and configuration pages (page, vaddr).
    public var configEntries: [(page: UInt64, va: UInt64)] = []
    public var configPages: [(page: UInt64, va: UInt64)] = []
    public var children: [Int] = []
    /// paddr → index in `leaves`.
    public var byPage: [UInt64: Int] = [:]
    /// va → index in `leaves`.
    public var byVA: [UInt64: Int] = [:]

    /// Every structure page of this partition (root's too: its are the kernel's).
    public var structurePages: [UInt64] {
        [descriptor] + tables + shadow1 + shadow2 + configPages.map(\.page)
    }
}

public struct PartitionTree {
    public var partitions: [PartitionView] = []
    /// Problems found while reading (cycles, bad pointers, shadow disagreements).
    public var violations: [Violation] = []
    /// One bit per page the reading read a word of (laid out as `SimulatedMemory.writtenPages`).
    package var pagesRead: [UInt64] = []

    package init(memory m: SimulatedMemory, root: PhysicalAddress) {
        let pageLimit = m.bytes
        // The words as they are now, read without going through the memory object on every
        // load (what `SimulatedMemory.specLoad` gives, at a fraction of the cost).
        let words = m.words
        // Marked through a pointer: a captured variable would be checked for exclusive access
        // on every word read.
        let read = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: (m.pageCount + 63) / 64)
        read.initialize(repeating: 0)
        defer {
            pagesRead = Array(read)
            read.deallocate()
        }
        func word(_ a: UInt64) -> UInt64? {
            guard a & 7 == 0 && a < pageLimit else { return nil }
            read[Int(a >> 18)] |= 1 << ((a >> 12) & 63)
            return words[Int(a >> 3)]
        }
        func page(_ a: UInt64) -> Bool { a & 0xFFF == 0 && a < pageLimit && a != 0 }

        var seen: [UInt64: Int] = [:]
        var depths: [UInt64] = []
        var queue: [(UInt64, Int?)] = [(root.raw, nil)]
        var qi = 0
        while qi < queue.count, partitions.count <= m.pageCount {
            let (d, parent) = queue[qi]; qi += 1
            if let other = seen[d] {
                violations.append(Violation(.treeCycle, partition: d, page: d,
                    "descriptor reached again (first as partition #\(other))"))
                continue
            }
            let index = partitions.count
            seen[d] = index
            let depth = parent.map { depths[$0] + 1 } ?? 0
            depths.append(depth)
            if let field = word(d + SpecLayout.Descriptor.depth), field != depth {
                violations.append(Violation(.descriptorFields, partition: d, page: d,
                    "descriptor's depth field \(field) is not its depth in the tree, \(depth)"))
            }
            var view = PartitionView(descriptor: d, parent: parent)
            let pml4 = word(d + SpecLayout.Descriptor.rootTable) ?? 0
            let sh1 = word(d + SpecLayout.Descriptor.shadow1) ?? 0
            let sh2 = word(d + SpecLayout.Descriptor.shadow2) ?? 0
            let parentField = word(d + SpecLayout.Descriptor.parent) ?? 0
            let expectedParent = parent.map { partitions[$0].descriptor } ?? 0
            if parentField != expectedParent {
                violations.append(Violation(.descriptorFields, partition: d, page: d,
                    "descriptor's parent field 0x\(String(parentField, radix: 16)) is not the partition that flags it"))
            }
            guard page(pml4), page(sh1), page(sh2) else {
                violations.append(Violation(.kernelMapping, partition: d, page: d, "PML4 or shadow root outside memory"))
                partitions.append(view)
                continue
            }
            view.tables.append(pml4); view.shadow1.append(sh1); view.shadow2.append(sh2)
            walk(level: 4, table: pml4, s1: sh1, s2: sh2, base: 0, into: &view, word: word, page: page, m: m, pml4: pml4)
            for (k, leaf) in view.leaves.enumerated() { view.byPage[leaf.paddr] = k; view.byVA[leaf.va] = k }
            if parent != nil { readConfigList(d, into: &view, word: word, page: page, m: m) }
            // Children: leaves flagged as descriptors in shadow 1.
            for leaf in view.leaves where leaf.sh1 & SpecLayout.Shadow1.descriptorFlag != 0 {
                let child = SpecLayout.Shadow1.named(leaf.sh1)
                if child != leaf.paddr || !page(child) {
                    violations.append(Violation(.shadowMismatch, partition: d, page: leaf.paddr, vaddr: leaf.va,
                        "descriptor flag names 0x\(String(child, radix: 16)), not the page mapped there"))
                    continue
                }
                if (word(child + SpecLayout.Descriptor.vaddrInParent) ?? 0) != leaf.va {
                    violations.append(Violation(.descriptorNotFlagged, partition: d, page: child, vaddr: leaf.va,
                        "child descriptor's vaddr-in-parent disagrees with where the parent flags it"))
                }
                queue.append((child, index))
            }
            partitions.append(view)
            if let parent { partitions[parent].children.append(index) }
        }
    }

    /// Whether a store to one of the pages of `written` (laid out as
    /// `SimulatedMemory.writtenPages`) may have changed the tree: the reading is a function of
    /// the words it read, so a memory no word of which it read was stored to reads the same.
    package func reads(anyOf written: [UInt64]) -> Bool {
        zip(pagesRead, written).contains { $0 & $1 != 0 }
    }

    private mutating func walk(
        level: Int, table: UInt64, s1: UInt64, s2: UInt64, base: UInt64, into view: inout PartitionView,
        word: (UInt64) -> UInt64?, page: (UInt64) -> Bool, m: SimulatedMemory, pml4: UInt64
    ) {
        let span = UInt64(1) << (12 + 9 * UInt64(level - 1))
        let count: UInt64 = level == 4 ? 256 : 512
        for i in 0..<count {
            let va = base + i * span
            guard let raw = word(table + i * 8), let sh1 = word(s1 + i * 8), let sh2 = word(s2 + i * 8) else { return }
            // The entry as the SDM's MMU reads it (SpecMMU), not as the kernel's walk does.
            let present = raw & SpecMMU.Bit.present != 0
            let e = SpecMMU.entry(raw, level: level)
            if level > 1 {
                if !present {
                    if sh1 != 0 || sh2 != 0 {
                        violations.append(Violation(.shadowMismatch, partition: view.descriptor, vaddr: va,
                            "level-\(level) shadow entry set where the table entry is absent"))
                    }
                    continue
                }
                guard !e.mapsPage, !e.reserved, page(e.frame), page(sh1), page(sh2) else {
                    violations.append(Violation(.shadowMismatch, partition: view.descriptor, page: e.frame, vaddr: va,
                        "level-\(level) entry is a large page, has a reserved bit, or its table/shadow pointers are not pages"))
                    continue
                }
                view.tables.append(e.frame); view.shadow1.append(sh1); view.shadow2.append(sh2)
                walk(level: level - 1, table: e.frame, s1: sh1, s2: sh2, base: va, into: &view,
                     word: word, page: page, m: m, pml4: pml4)
            } else {
                guard present else {
                    if sh1 != 0 || sh2 != 0 {
                        violations.append(Violation(.shadowMismatch, partition: view.descriptor, vaddr: va,
                            "shadow leaf set where nothing is mapped"))
                    }
                    continue
                }
                guard !e.reserved, e.frame < m.bytes else {
                    violations.append(Violation(.kernelMapping, partition: view.descriptor, page: e.frame, vaddr: va,
                        "leaf maps a frame outside physical memory or has a reserved bit"))
                    continue
                }
                // What ring 3 may do at va, as the SDM's MMU decides (SpecMMU: U, W, XD across
                // every level), not the kernel's own walk.
                let t = try? SpecMMU.walk(cr3: pml4, linear: va, load: word).get()
                view.leaves.append(Leaf(va: va, paddr: e.frame, accessible: t?.userAccessible ?? false,
                                        writable: t?.userWritable ?? false,
                                        executable: t?.userExecutable ?? false, sh1: sh1, sh2: sh2))
            }
        }
    }

    private mutating func readConfigList(
        _ d: UInt64, into view: inout PartitionView, word: (UInt64) -> UInt64?, page: (UInt64) -> Bool, m: SimulatedMemory
    ) {
        let declared = word(d + SpecLayout.Descriptor.configPages) ?? 0
        var cfg = word(d + SpecLayout.Descriptor.configList) ?? 0
        var walked: UInt64 = 0
        while cfg != 0, walked <= UInt64(m.pageCount) {
            guard page(cfg) else {
                violations.append(Violation(.configListMismatch, partition: d, page: cfg, "configuration link is not a page"))
                return
            }
            if view.configPages.contains(where: { $0.page == cfg }) {
                violations.append(Violation(.configListMismatch, partition: d, page: cfg, "configuration list loops"))
                return
            }
            view.configPages.append((cfg, word(cfg + SpecLayout.ConfigPage.ownVAddr) ?? 0))
            let n = word(cfg + SpecLayout.ConfigPage.count) ?? 0
            if n > SpecLayout.ConfigPage.capacity {
                violations.append(Violation(.configListMismatch, partition: d, page: cfg, "entry count \(n) over capacity"))
            }
            if n == 0 {
                violations.append(Violation(.configListMismatch, partition: d, page: cfg,
                    "an empty configuration page still on the list (an emptied page is given back at once)"))
            }
            for k in 0..<min(n, SpecLayout.ConfigPage.capacity) {
                let at = cfg + SpecLayout.ConfigPage.entries + k * SpecLayout.ConfigPage.entrySize
                view.configEntries.append((word(at) ?? 0, word(at + 8) ?? 0))
            }
            cfg = word(cfg + SpecLayout.ConfigPage.next) ?? 0
            walked += 1
        }
        if walked != declared {
            violations.append(Violation(.configListMismatch, partition: d,
                "descriptor counts \(declared) configuration pages, the list has \(walked)"))
        }
        // The descriptor's own record of where its first structures are in the parent agrees
        // with the list's.
        let roots = [(SpecLayout.Descriptor.rootTable, SpecLayout.Descriptor.rootTableVAddr, "PML4"),
                     (SpecLayout.Descriptor.shadow1, SpecLayout.Descriptor.shadow1VAddr, "shadow 1"),
                     (SpecLayout.Descriptor.shadow2, SpecLayout.Descriptor.shadow2VAddr, "shadow 2")]
        var recorded = roots.map { field, vaField, name in
            (name, vaField, view.configEntries.first { $0.page == (word(d + field) ?? 0) }?.va)
        }
        recorded.append(("first configuration page", SpecLayout.Descriptor.configListVAddr, view.configPages.last?.va))
        for (name, vaField, listed) in recorded {
            let field = word(d + vaField) ?? 0
            if let listed, field != listed {
                violations.append(Violation(.configListMismatch, partition: d, vaddr: field,
                    "the descriptor says the \(name) is at 0x\(String(field, radix: 16)) in the parent, the configuration list 0x\(String(listed, radix: 16))"))
            }
        }
    }

    /// True when `a` is `b` or one of `b`'s ancestors.
    public func isAncestorOrSelf(_ a: Int, of b: Int) -> Bool {
        var x: Int? = b
        var steps = 0
        while let cur = x, steps <= partitions.count {
            if cur == a { return true }
            x = partitions[cur].parent
            steps += 1
        }
        return false
    }
}
