/// Shadow 1 and shadow 2: the kernel's bookkeeping beside a partition's page tables (DESIGN.md §3).
///
/// Both shadows mirror **every level** of the partition's lower-half tables, Pip style: for
/// every table page (the root table down to the page tables) there is one shadow-1 page and
/// one shadow-2 page, built together with it (by `RootBuilder` at boot, by `createPartition`
/// for the root table, by `prepare` for the lower levels — which is why `prepare` takes three
/// pages per missing level).
///
/// * A non-leaf shadow entry (levels 4…2) holds the paddr of the shadow page one level down,
///   and is nonzero exactly when the table entry beside it is present.
/// * A shadow-1 leaf entry says what the partition did with that page:
///   `0` — kept; `D` — given to the child whose descriptor is at paddr `D` (by `addVAddr`);
///   `D | descriptorFlag` — the page *is* the descriptor `D` of a child (by `createPartition`).
/// * A shadow-2 leaf entry holds the page's vaddr in the parent (0 in root, which has none).
///
/// The walk here follows the tables and both shadows together, so a caller gets the three entry
/// addresses for one vaddr at once. It reads only kernel structures: the caller must have checked
/// `va` (canonical, lower half).
import SprigABI

package enum Shadow {
    /// Bit 0 of a shadow-1 leaf entry: the page is a child's descriptor.
    package static let descriptorFlag: UInt64 = 1

    /// Where the three leaf-level entries for one vaddr live.
    package struct LeafSlots {
        /// Physical address of the level-1 page-table entry.
        package private(set) var entryAt: PhysicalAddress
        package private(set) var sh1At: PhysicalAddress
        package private(set) var sh2At: PhysicalAddress
    }

    /// Where the table entry and the shadow-1 entry for one vaddr live: what a lookup that reads
    /// only these two needs (`Partition.child`).
    package struct Shadow1Slots {
        package private(set) var entryAt: PhysicalAddress
        package private(set) var sh1At: PhysicalAddress
    }

    /// The table, shadow-1 and shadow-2 entry addresses at `level` for `va`, when every level
    /// above `level` is present (level 4 always is). Nil when some level above is missing.
    @inline(__always)
    package static func slots<P: Platform>(
        _ p: P, descriptor d: Descriptor, va: VirtualAddress, level: Int
    ) -> LeafSlots? {
        guard let w = walk(p, descriptor: d, va: va, level: level, shadow2: true) else { return nil }
        return LeafSlots(entryAt: w.entryAt, sh1At: w.sh1At, sh2At: w.sh2At)
    }

    /// The leaf table and shadow-1 entry addresses for `va`, without reading shadow 2 (yield's
    /// child lookup runs this walk).
    @inline(__always)
    package static func leafShadow1Slots<P: Platform>(_ p: P, descriptor d: Descriptor, va: VirtualAddress) -> Shadow1Slots? {
        guard let w = walk(p, descriptor: d, va: va, level: 1, shadow2: false) else { return nil }
        return Shadow1Slots(entryAt: w.entryAt, sh1At: w.sh1At)
    }

    /// The walk of `slots`, shadow 2 followed only when `shadow2` (otherwise `sh2At` is 0). The
    /// non-leaf shadow entries are nonzero exactly when the table entry beside them is present,
    /// so a zero shadow-1 word refuses the walk either way.
    @inline(__always)
    static func walk<P: Platform>(
        _ p: P, descriptor d: Descriptor, va: VirtualAddress, level: Int, shadow2: Bool
    ) -> (entryAt: PhysicalAddress, sh1At: PhysicalAddress, sh2At: PhysicalAddress)? {
        guard va.isCanonical, va.isLowerHalf, level >= 1, level <= PageTableFormat.rootLevel else { return nil }
        var table = d.rootTable(p).paddr.raw
        var sh1 = d.shadow1(p).raw
        var sh2 = shadow2 ? d.shadow2(p).raw : 0
        // The byte offset of va's entry at a level is the same in all three pages (yield's
        // child lookup runs this walk: shifts, not `index(level:)`).
        let mask = PageTableFormat.entryOffsetMask
        var shift = PageTableFormat.entryShift(level: PageTableFormat.rootLevel)
        let last = PageTableFormat.entryShift(level: level)
        while shift > last {
            let offset = (va.raw &>> shift) & mask
            let e = PageTableEntry(raw: p.load(PhysicalAddress(table &+ offset)))
            guard e.isNextTable else { return nil }
            let s1 = p.load(PhysicalAddress(sh1 &+ offset))
            guard s1 != 0 else { return nil }
            if shadow2 {
                let s2 = p.load(PhysicalAddress(sh2 &+ offset))
                guard s2 != 0 else { return nil }
                sh2 = s2
            }
            table = e.frame.raw
            sh1 = s1
            shift &-= PageTableFormat.bitsPerLevel
        }
        let offset = (va.raw &>> last) & mask
        return (PhysicalAddress(table &+ offset), PhysicalAddress(sh1 &+ offset), shadow2 ? PhysicalAddress(sh2 &+ offset) : PhysicalAddress(0))
    }

    /// The three pages of one new level: the table page and its shadow-1 and shadow-2 pages,
    /// all zeroed.
    package struct LevelPages {
        package private(set) var table: PhysicalAddress
        package private(set) var shadow1: PhysicalAddress
        package private(set) var shadow2: PhysicalAddress
    }

    /// Builds every missing level above the leaf on the path of `va` in `descriptor`'s tables,
    /// from the root table down, linking in the pages `newLevel` gives for each (nil: stop):
    /// how `RootBuilder` grows root's tables at boot; `prepare` runs the same walk written out,
    /// with the same `link`.
    /// - Returns: the leaf slots for `va`, or nil when `newLevel` ran out.
    @inline(__always)
    package static func buildLevels<P: Platform>(
        _ p: P, descriptor: Descriptor, va: VirtualAddress, _ newLevel: () -> LevelPages?
    ) -> LeafSlots? {
        var level = PageTableFormat.rootLevel
        while level > 1 {
            guard let s = slots(p, descriptor: descriptor, va: va, level: level) else { return nil }
            if !PageTableEntry(raw: p.load(s.entryAt)).isPresent {
                guard let pages = newLevel() else { return nil }
                link(p, s, pages)
            }
            level -= 1
        }
        return leafSlots(p, descriptor: descriptor, va: va)
    }

    /// Links a new level in at `slots` (whose table entry is not present): the table entry
    /// points at `pages.table`, the shadow entries at the level's shadow pages.
    @inline(__always)
    package static func link<P: Platform>(_ p: P, _ slots: LeafSlots, _ pages: LevelPages) {
        Structures.write(p) { store in
            store(slots.entryAt, PageTableEntry.table(pages.table).raw)
            store(slots.sh1At, pages.shadow1.raw)
            store(slots.sh2At, pages.shadow2.raw)
        }
    }

    /// The leaf slots for `va` (all three upper levels present); the leaf itself may be absent.
    @inline(__always)
    package static func leafSlots<P: Platform>(_ p: P, descriptor: Descriptor, va: VirtualAddress) -> LeafSlots? {
        slots(p, descriptor: descriptor, va: va, level: 1)
    }
}
