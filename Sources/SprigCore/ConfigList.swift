/// The configuration list: every structure page of a partition and its vaddr in the parent
/// (DESIGN.md §3), so that `deletePartition` and `collect` can give them all back.
///
/// A list of linked pages, newest first; the descriptor holds the head and the number of pages,
/// and every walk of the list is bounded by that number. Byte offsets in a configuration page:
///
/// | offset | field |
/// |---|---|
/// | 0  | next configuration page paddr (0 = last) |
/// | 8  | this page's own vaddr in the parent (so it too can be given back) |
/// | 16 | number of entries in this page (≤ `capacity`) |
/// | 32 + 16·k | entry k: structure page paddr, then its vaddr in the parent |
///
/// The configuration pages themselves are not entries: a partition's structure pages are exactly
/// its entries plus its configuration pages. The first page (given to `createPartition`) holds
/// the descriptor, root table, shadow-1 and shadow-2 root entries, which stay until deletion, so it is
/// never empty; a later page that empties (through `collect`) is given back at once. Entries are
/// added only to the head page; a removed entry is filled with the head's last one.
import SprigABI

package enum ConfigList {
    package static let next = 0
    package static let ownVAddr = 8
    package static let count = 16
    package static let entries = 32
    package static let entrySize = 16
    /// Entries per configuration page.
    package static let capacity: UInt64 = 254

    @inlinable static func head<P: Platform>(_ p: P, _ d: Descriptor) -> PhysicalAddress {
        d.configList(p)
    }

    @inlinable static func entryAt(_ page: PhysicalAddress, _ k: UInt64) -> PhysicalAddress {
        page.adding(UInt64(entries) + k * UInt64(entrySize))
    }

    /// Free entry slots in the head page.
    package static func headRoom<P: Platform>(_ p: P, _ d: Descriptor) -> UInt64 {
        capacity - p.load(head(p, d).adding(UInt64(count)))
    }

    /// Makes the zeroed page `page` (vaddr `va` in the parent) the new head.
    static func pushPage<P: Platform>(_ p: P, _ d: Descriptor, page: PhysicalAddress, va: VirtualAddress) {
        let oldHead = head(p, d)
        Structures.write(p) { store in
            store(page.adding(UInt64(next)), oldHead.raw)
            store(page.adding(UInt64(ownVAddr)), va.raw)
            store(page.adding(UInt64(count)), 0)
        }
        d.pushConfigPage(p, page)
    }

    /// Records a structure page. - Precondition: `headRoom > 0`.
    static func append<P: Platform>(_ p: P, _ d: Descriptor, page: PhysicalAddress, va: VirtualAddress) {
        let h = head(p, d)
        let n = p.load(h.adding(UInt64(count)))
        precondition(n < capacity)
        Structures.write(p) { store in
            store(entryAt(h, n), page.raw)
            store(entryAt(h, n).adding(8), va.raw)
            store(h.adding(UInt64(count)), n + 1)
        }
    }

    /// Forgets the entry for `page`. When that empties the head page (never the first), the head
    /// is unlinked and returned so the caller can give it back.
    /// - Returns: the entry's vaddr in the parent (nil when not found), and the emptied
    ///   configuration page if any.
    static func remove<P: Platform>(
        _ p: P, _ d: Descriptor, page: PhysicalAddress
    ) -> (va: VirtualAddress?, emptied: (page: PhysicalAddress, va: VirtualAddress)?) {
        let h = head(p, d)
        var cfg = h
        var pagesLeft = d.configPages(p)
        while pagesLeft > 0, cfg.raw != 0 {
            let n = min(p.load(cfg.adding(UInt64(count))), capacity)
            var k: UInt64 = 0
            while k < n {
                if p.load(entryAt(cfg, k)) == page.raw {
                    let va = VirtualAddress(p.load(entryAt(cfg, k).adding(8)))
                    let hn = p.load(h.adding(UInt64(count)))
                    let last = entryAt(h, hn - 1)
                    Structures.write(p) { store in
                        store(entryAt(cfg, k), p.load(last))
                        store(entryAt(cfg, k).adding(8), p.load(last.adding(8)))
                        store(last, 0)
                        store(last.adding(8), 0)
                        store(h.adding(UInt64(count)), hn - 1)
                    }
                    let nextPage = p.load(h.adding(UInt64(next)))
                    guard hn == 1, nextPage != 0 else { return (va, nil) }
                    d.popConfigPage(p, next: PhysicalAddress(nextPage))
                    return (va, (h, VirtualAddress(p.load(h.adding(UInt64(ownVAddr))))))
                }
                k += 1
            }
            cfg = PhysicalAddress(p.load(cfg.adding(UInt64(next))))
            pagesLeft -= 1
        }
        return (nil, nil)
    }

    /// Calls `body` with every structure page of `d` and its vaddr in the parent: every entry,
    /// then every configuration page (after its entries were visited, so `body` may clear it).
    static func forEachStructurePage<P: Platform>(
        _ p: P, _ d: Descriptor, _ body: (PhysicalAddress, VirtualAddress) -> Void
    ) {
        var cfg = head(p, d)
        var pagesLeft = d.configPages(p)
        while pagesLeft > 0, cfg.raw != 0 {
            let n = min(p.load(cfg.adding(UInt64(count))), capacity)
            var k: UInt64 = 0
            while k < n {
                let e = entryAt(cfg, k)
                body(PhysicalAddress(p.load(e)), VirtualAddress(p.load(e.adding(8))))
                k += 1
            }
            let nextPage = PhysicalAddress(p.load(cfg.adding(UInt64(next))))
            body(cfg, VirtualAddress(p.load(cfg.adding(UInt64(ownVAddr)))))
            cfg = nextPage
            pagesLeft -= 1
        }
    }
}
