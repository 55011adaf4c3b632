/// The kernel's translation cache: the ring-3 translations yield makes most, kept between yields.
///
/// A one-way yield translates four partition addresses — both VIDT pages, the callee's context
/// and the caller's save slot — each a four-level walk of a partition's tables. Between two
/// changes of any partition's tables, the same walk gives the same answer, so yield keeps the
/// answers here: `entryCount` entries of (descriptor, page, answer), two-way set associative. It caches
/// `PageTableWalk.userWalk` and nothing else:
///
/// * only walks that reach a user-accessible page are kept, with whether ring 3 may write it;
/// * each entry's tag carries the cache generation it was filled in, and a lookup hits only an
///   entry of the current generation: every write to a table, shadow or descriptor page
///   advances it (`Structures`, KernelWrites.swift, the only code that can write them), but a
///   level-1 entry written through `Structures.writeLeaf`, which drops the one translation that
///   read it instead (`drop`); so an entry is never older than the tables and the descriptor it
///   was read from;
/// * it lives in platform storage outside physical memory (`KernelCache`, the first `words`
///   words), so filling it changes no partition's memory and no kernel structure: a refused
///   yield that filled it still changed nothing.
///
/// The model checks after every explored step that every entry of the current generation
/// equals a fresh walk (`Violation.staleTranslation`); with a table write that does not advance
/// the generation, or a lookup that ignores it, that check fails (mutants `table-write-bypass`,
/// `translation-cache-stale`).
import SprigABI

package enum TranslationCache {
    /// Two-way set associative: `sets` sets of two entries, the newer first (a fill moves the
    /// first entry to the second place), so two translations that map to the same set, used in
    /// turn, both stay.
    package static let sets = 16
    package static let ways = 2
    static let entryCount = sets * ways
    /// Words of `KernelCache` storage: (descriptor, page | stamp, frame | writable) per entry
    /// (`KernelCache.stamp`: the generation it was filled in); a tag word of 0 is an empty entry.
    package static let words = entryCount * 3

    /// The first word of the set a translation belongs to (a multiplicative hash, so that the
    /// placement of pages in physical memory does not decide which translations collide).
    @inline(__always)
    package static func set(descriptor: UInt64, page: UInt64) -> Int {
        let h = ((page &>> 12) ^ (descriptor &>> 9)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: h &>> 60) &* (ways &* 3)
    }

    /// Drops the translation of `page` (page-aligned) in the partition `descriptor`, if kept:
    /// the one walk that reads the level-1 entry mapping it (`Structures.writeLeaf`).
    @inline(__always)
    static func drop<P: Platform>(_ p: P, descriptor: Descriptor, page: UInt64) {
        let i = set(descriptor: descriptor.paddr.raw, page: page)
        // Both ways of the set, as `translate` reads them; a tag of 0 is an empty entry.
        if p.translationCacheLoad(i) == descriptor.paddr.raw, p.translationCacheLoad(i &+ 1) & ~KernelCache.stampMask == page {
            p.translationCacheStore(i &+ 1, 0)
        }
        if p.translationCacheLoad(i &+ 3) == descriptor.paddr.raw, p.translationCacheLoad(i &+ 4) & ~KernelCache.stampMask == page {
            p.translationCacheStore(i &+ 4, 0)
        }
    }

    /// What a ring-3 access of the partition `descriptor` (tables `rootTable`) to `va` reaches:
    /// exactly `PageTableWalk.userTranslate`'s answer, nil for any failure.
    @inline(__always)
    package static func translate<P: Platform>(
        _ p: P, descriptor: Descriptor, rootTable: RootTable, va: UInt64, write: Bool
    ) -> PhysicalAddress? {
        let offset = va & (AddressSpace.pageSize - 1)
        let page = va &- offset
        let i = set(descriptor: descriptor.paddr.raw, page: page)
        // A lower-half page is below 2^47, clear of the stamp's bits, so `tag ^ page` is the
        // stamp an entry was filled with: compared with the generation word in memory, which
        // keeps no register busy across the lookup.
        assert(page & KernelCache.stampMask == 0)
        let answer: UInt64
        if p.translationCacheLoad(i &+ 1) ^ page == KernelCache.stamp(p), p.translationCacheLoad(i) == descriptor.paddr.raw {
            answer = p.translationCacheLoad(i &+ 2)
        } else if p.translationCacheLoad(i &+ 4) ^ page == KernelCache.stamp(p), p.translationCacheLoad(i &+ 3) == descriptor.paddr.raw {
            answer = p.translationCacheLoad(i &+ 5)
        } else {
            guard let w = try? PageTableWalk.userWalk(p, rootTable: rootTable.paddr, va: VirtualAddress(va)),
                  w.userAccessible
            else { return nil }
            answer = w.packed
            KernelCache.demoteNewer(p, set: i, entryWords: 3)
            p.translationCacheStore(i, descriptor.paddr.raw)
            p.translationCacheStore(i &+ 1, page | KernelCache.stamp(p))
            p.translationCacheStore(i &+ 2, answer)
        }
        guard !write || PageTableWalk.Walk.packedWritable(answer) else { return nil }
        return PhysicalAddress(PageTableWalk.Walk.packedFrame(answer) | offset)
    }
}
