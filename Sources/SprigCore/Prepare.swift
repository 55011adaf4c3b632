/// `countToMap` and `prepare`: building the missing levels of a child's tables (DESIGN.md §4).
///
/// Each missing level below the root table (three on x86-64) takes three pages from the caller:
/// the table page and its shadow-1 and shadow-2 pages. When the child's head configuration page
/// has no room for the new entries, one more page becomes a configuration page. So `countToMap`
/// is `3 × missing levels (+ 1)`, at most 10.
///
/// `prepare`'s pages come from a free list in the caller's memory: the caller names the first
/// page; the first word of each page is the vaddr of the next (0 ends the list). Every link is a
/// hostile value read from partition memory and is checked exactly like an argument. At most
/// 10 pages are read, so a looping list costs a bounded walk and is refused.
import SprigABI

package enum Prepare {
    /// Number of missing table levels below the root table for `va` in `child` (0…3 on x86-64).
    static func missingLevels<P: Platform>(_ p: P, _ child: Descriptor, _ va: VirtualAddress) -> UInt64 {
        var missing: UInt64 = 0
        var level = 1
        while level < PageTableFormat.rootLevel {
            if Shadow.slots(p, descriptor: child, va: va, level: level) == nil { missing += 1 }
            level += 1
        }
        return missing
    }

    static func pagesNeeded<P: Platform>(_ p: P, _ child: Descriptor, _ va: VirtualAddress) -> UInt64 {
        let entries = 3 * missingLevels(p, child, va)
        return entries + (entries > ConfigList.headRoom(p, child) ? 1 : 0)
    }

    /// The pages `prepare` still needs before `vaChild` can be mapped in the child named `child`.
        /// - Postcondition: nothing changed; on success the count is at most 10.
    package static func countToMap<P: Platform>(
        _ p: P, caller: Descriptor, child name: UserAddress, vaChild: UserAddress
    ) -> (status: Status, count: UInt64) {
        do throws(Status) {
            let (child, va) = try Partition.child(p, caller: caller, named: name, page: vaChild)
            let n = pagesNeeded(p, child, va)
            assert(n <= 10)
            return (.success, n)
        } catch {
            return (error, 0)
        }
    }

    /// Builds the missing levels for `vaChild` in the child named `child`, taking pages from the
    /// caller's free list starting at `freeList`.
        /// - Postcondition: on success `countToMap` is 0 for `vaChild`, the pages taken are
    ///   structures recorded in the child's configuration list, and `next` is the link found in
    ///   the last page taken (the rest of the list; `freeList` itself when nothing was needed).
    ///   On failure nothing changed.
    package static func prepare<P: Platform>(
        _ p: P, caller: Descriptor, child name: UserAddress, vaChild: UserAddress, freeList: UserAddress
    ) -> (status: Status, next: UInt64) {
        let child: Descriptor, va: VirtualAddress
        do throws(Status) { (child, va) = try Partition.child(p, caller: caller, named: name, page: vaChild) } catch { return (error, 0) }
        let needed = Int(pagesNeeded(p, child, va))
        guard needed > 0 else { return (.success, freeList.raw) }

        // Walk the free list, checking each page; read nothing else, write nothing.
        var pages = InlineArray<10, PageOwnership.OwnedPage?>(repeating: nil)
        // Each link is a word of the caller's memory: an allegation, like the head.
        var link = freeList
        var i = 0
        while i < needed {
            guard link.raw != 0 else { return (.freeListTooShort, 0) }
            let page: PageOwnership.OwnedPage
            do throws(Status) { page = try PageOwnership.checkGivable(p, caller: caller, link, structure: true) }
            catch { return (error, 0) }
            var j = 0
            while j < i {
                if pages[j]?.paddr == page.paddr { return (.freeListLoops, 0) }
                j += 1
            }
            pages[i] = page
            link = UserAddress(p.load(page.paddr))
            i += 1
        }

        // Commit.
        i = 0
        while i < needed {
            if let page = pages[i] { PageOwnership.takeAsStructure(p, caller: caller, page) }
            i += 1
        }
        var used = 0
        if needed % 3 == 1, let cfg = pages[needed - 1] {
            ConfigList.pushPage(p, child, page: cfg.paddr, va: cfg.va)
        }
        // `Shadow.buildLevels`'s walk, written out: a closure here cost 39 guest instructions
        // per prepare (`sprig bench`).
        var level = PageTableFormat.rootLevel
        while level > 1 {
            guard let s = Shadow.slots(p, descriptor: child, va: va, level: level) else { break }
            if !PageTableEntry(raw: p.load(s.entryAt)).isPresent,
               let t = pages[used], let s1 = pages[used + 1], let s2 = pages[used + 2] {
                Shadow.link(p, s, Shadow.LevelPages(table: t.paddr, shadow1: s1.paddr, shadow2: s2.paddr))
                ConfigList.append(p, child, page: t.paddr, va: t.va)
                ConfigList.append(p, child, page: s1.paddr, va: s1.va)
                ConfigList.append(p, child, page: s2.paddr, va: s2.va)
                used += 3
            }
            level -= 1
        }
        assert(pagesNeeded(p, child, va) == 0)
        return (.success, link.raw)
    }
}
