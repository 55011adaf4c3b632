/// `deletePartition` and `collect`: giving structure pages back (DESIGN.md §4).
///
/// Deleting a child removes its whole subtree. Every page of the subtree is a page of the child
/// (vertical sharing), so the deletion only has to visit the child's own leaves and its own
/// configuration list: each leaf is a page the caller gave it (the child's shadow 2 says at which
/// vaddr), each configuration entry a structure page the caller gave. The grandchildren's
/// structures are leaves of the child that are inaccessible to it; they are zeroed on the way
/// back, like the child's own structures, so no kernel data (table entries, the kernel-half root table
/// entries) reaches the caller. Every walk is bounded by the table shape (`PageTableFormat`: the
/// entries of a table, the lower half's of a root table), by the configuration-page count or by
/// the tree depth.
import SprigABI

package enum Reclaim {
    /// Deletes the child named `child` and its whole subtree.
        /// - Postcondition: on success the name no longer names a child; every page the caller gave
    ///   the child (mapped or as a structure) is the caller's again, not given, accessible to it
    ///   (and its ancestors) as before it was given; structure pages are zeroed. On failure
    ///   nothing changed.
    package static func deletePartition<P: Platform>(_ p: P, caller: Descriptor, child name: UserAddress) -> Status {
        guard let child = Partition.child(p, caller: caller, named: name),
              let nameSlots = Shadow.leafSlots(p, descriptor: caller, va: VirtualAddress(name.raw))
        else { return .invalidChild }

        Structures.write(p, nameSlots.sh1At, 0)
        // Every page mapped in the child goes back to the caller.
        let rootTable = child.rootTable(p).paddr
        let sh2Root = child.shadow2(p)
        returnPages(p, caller: caller, child: child, table: rootTable, shadow2: sh2Root,
                    level: PageTableFormat.rootLevel, entries: PageTableFormat.userRootEntries)
        // Then every structure page of the child (this zeroes the descriptor last-but-not-least:
        // the list walk read what it needs from it first).
        ConfigList.forEachStructurePage(p, child) { page, vaParent in
            PageOwnership.giveBack(p, owner: caller, page: page, va: vaParent)
        }

        assert(Partition.child(p, caller: caller, named: name) == nil)
        return .success
    }

    /// Every page mapped through the first `entries` entries of the child's table page `table`
    /// at `level` (its shadow-2 page `shadow2` beside it) goes back to the caller: the walk of
    /// the child's whole lower half, one level per call.
    private static func returnPages<P: Platform>(
        _ p: P, caller: Descriptor, child: Descriptor, table: PhysicalAddress, shadow2: PhysicalAddress,
        level: Int, entries: UInt64
    ) {
        let size = PageTableFormat.entryBytes
        var i: UInt64 = 0
        if level == 1 {
            while i < entries {
                let leaf = PageTableEntry(raw: p.load(table.adding(i &* size)))
                if leaf.isPresent {
                    returnPage(p, caller: caller, child: child, leaf: leaf, vaParent: VirtualAddress(p.load(shadow2.adding(i &* size))))
                }
                i += 1
            }
            return
        }
        while i < entries {
            let e = PageTableEntry(raw: p.load(table.adding(i &* size)))
            let s = PhysicalAddress(p.load(shadow2.adding(i &* size)))
            if e.isPresent, s.raw != 0 {
                returnPages(p, caller: caller, child: child, table: e.frame, shadow2: s, level: level - 1,
                            entries: PageTableFormat.entriesPerTable)
            }
            i += 1
        }
    }

    /// One page mapped in a child being deleted goes back to the caller: no longer given, and
    /// accessible again (zeroed first) if it was a structure somewhere in the child's subtree.
    private static func returnPage<P: Platform>(
        _ p: P, caller: Descriptor, child: Descriptor, leaf: PageTableEntry, vaParent: VirtualAddress
    ) {
        guard let slots = Shadow.leafSlots(p, descriptor: caller, va: vaParent) else {
            assertionFailure("child's shadow 2 names a vaddr the caller does not map")
            return
        }
        if p.load(slots.sh1At) == child.paddr.raw { Structures.write(p, slots.sh1At, 0) }
        if !leaf.isUser { PageOwnership.giveBack(p, owner: caller, page: leaf.frame, va: vaParent) }
    }

    /// Gives back the empty table pages (with their shadow pages) on the path of `vaChild` in the
    /// child named `child`, from the page table up to the level below the root table, which stays.
        /// - Postcondition: `count` pages (tables, shadows, emptied configuration pages) are the
    ///   caller's again, zeroed and accessible; the child maps exactly what it mapped before.
    ///   On failure nothing changed. Nothing to collect is a success with count 0.
    package static func collect<P: Platform>(
        _ p: P, caller: Descriptor, child name: UserAddress, vaChild: UserAddress
    ) -> (status: Status, count: UInt64) {
        let child: Descriptor, va: VirtualAddress
        do throws(Status) { (child, va) = try Partition.child(p, caller: caller, named: name, page: vaChild) } catch { return (error, 0) }
        var given: UInt64 = 0
        var level = 1
        while level < PageTableFormat.rootLevel {
            // The entry one level up points at the table page of this level.
            guard let up = Shadow.slots(p, descriptor: child, va: va, level: level + 1) else { level += 1; continue }
            let pointer = PageTableEntry(raw: p.load(up.entryAt))
            guard pointer.isPresent else { level += 1; continue }
            let entries = PageTableFormat.entriesPerTable
            var k: UInt64 = 0
            while k < entries, !PageTableEntry(raw: p.load(pointer.frame.adding(k &* PageTableFormat.entryBytes))).isPresent { k += 1 }
            guard k == entries else { break }
            let pages = [pointer.frame, PhysicalAddress(p.load(up.sh1At)), PhysicalAddress(p.load(up.sh2At))]
                as InlineArray<3, PhysicalAddress>
            Structures.write(p, up.entryAt, 0)
            Structures.write(p, up.sh1At, 0)
            Structures.write(p, up.sh2At, 0)
            var j = 0
            while j < 3 {
                let removed = ConfigList.remove(p, child, page: pages[j])
                if let vaParent = removed.va {
                    PageOwnership.giveBack(p, owner: caller, page: pages[j], va: vaParent)
                    given += 1
                } else {
                    assertionFailure("a table page missing from the configuration list")
                }
                if let emptied = removed.emptied {
                    PageOwnership.giveBack(p, owner: caller, page: emptied.page, va: emptied.va)
                    given += 1
                }
                j += 1
            }
            level += 1
        }
        return (.success, given)
    }
}
