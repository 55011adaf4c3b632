/// Every write SprigCore makes to physical memory, and the generation number that keeps the
/// kernel's caches coherent with the structures they summarise.
///
/// The translation cache and the yield cache keep answers computed from kernel structures
/// between kernel entries. What each answer depends on:
///
/// * `TranslationCache` (descriptor, page → frame, writable): the partition's page tables at
///   every level, and the root-table word of its descriptor.
/// * `YieldCache` (caller, callee name, target, save → plan of checks 3–8): the caller's
///   descriptor (parent) and its tables and shadow 1 (the child lookup), the callee's
///   descriptor (root table), both partitions' tables (VIDT pages, contexts); and the two VIDT
///   entries read, which are partition memory.
///
/// Kernel structures change only here. `Structures.write`, `zero` and `copyWords` are the one
/// door to every page-table, shadow, descriptor and configuration page: each write advances
/// the *generation* (`KernelCache.generation`; `write(p) { store in … }` stores the words of one
/// structure step and advances once after them), and each cache entry is stamped with the
/// generation it was filled in and hits only while the generation is still that one. So no
/// entry is ever older than the structures it was read from, whichever service, boot step or
/// future code made the write, with no list of "services that change tables" to keep.
///
/// One narrower door, `Structures.writeLeaf`, for a leaf-level word (a level-1 table entry, a
/// shadow leaf word: what `addVAddr` and `removeVAddr` write): instead of advancing the
/// generation it drops the entries that can have read the old word: the translation it served
/// and the plans naming the frame it mapped (`writeLeaf` says why). So a
/// page given to a child and taken back ends no plan that did not use that page.
///
/// Two kinds of word are written without advancing it:
/// * the interrupt state of a descriptor (`writeUnsummarized`, called by
///   `Descriptor.setInterruptState` alone): no cache keeps it, yield's check 9 reads it after
///   the cache on every yield, and yield writes it twice on every switch;
/// * partition memory (`PartitionMemory`: root's image, boot info, VIDT and first context at
///   boot). No cache keeps partition memory but the VIDT entries, and those ring 3 rewrites at
///   any time without the kernel, so no generation could follow them: a yield-cache hit reads
///   both entries again and compares them with the values the plan was checked on
///   (`YieldCache.lookup`). The kernel's own writes of partition memory at yield and delivery
///   (`CPUPlatform.saveCPUState`, at checked `ContextLocation`s) are covered the same way.
///
/// The hardware writes page tables too: the accessed and dirty bits. No cached answer depends
/// on them (a walk's frame and rights do not).
///
/// `Platform`'s writers take a `WriteAccess`, which only this file can make: no other SprigCore
/// code can write memory at all (`KernelWritesTests` also checks the sources).
///
/// The stamp: the generation word holds `KernelCache.live | g << 47` with g in 0..<2^16. A
/// translation entry's tag is `page | stamp` (a lower-half page is below 2^47), a yield entry's
/// `stamp | save << 16 | target`, so a lookup compares one word as before. When g wraps, both
/// caches are emptied first (an entry of the old g could otherwise hit again); the word starts
/// at 0 and the first write (root's tables, at boot, before any partition runs) makes it
/// `live`, with both caches empty.
import SprigABI

/// Permission to write physical memory: an argument of `Platform`'s writers that only this
/// file can make (its initializer is file-private).
package struct WriteAccess: Sendable {
    fileprivate init() {}
}

/// The one door to kernel structure pages: every write advances the cache generation.
package enum Structures {
    /// Writes the word at `at` on a structure page (table, shadow, descriptor, configuration list).
    @inline(__always)
    package static func write<P: Platform>(_ p: P, _ at: PhysicalAddress, _ value: UInt64) {
        p.store(at, value, WriteAccess())
        KernelCache.advance(p)
    }

    /// Writes the words of one structure step (`body` stores each through the function it is
    /// given), then advances the generation once: the same guarantee as a `write` each, since
    /// no entry filled before the advance can hit after it, at one advance's cost.
    @inline(__always)
    package static func write<P: Platform>(_ p: P, _ body: (_ store: (PhysicalAddress, UInt64) -> Void) -> Void) {
        body { at, value in p.store(at, value, WriteAccess()) }
        KernelCache.advance(p)
    }

    /// Zeroes `page`, which becomes or stops being a structure page.
    package static func zero<P: Platform>(_ p: P, _ page: PhysicalAddress) {
        p.zeroPage(page, WriteAccess())
        KernelCache.advance(p)
    }

    /// Copies `count` words from `source` to `destination` (a fresh root table's kernel half).
    static func copyWords<P: Platform>(_ p: P, from source: PhysicalAddress, to destination: PhysicalAddress, count: UInt64) {
        var k: UInt64 = 0
        while k < count {
            p.store(destination.adding(k &* 8), p.load(source.adding(k &* 8)), WriteAccess())
            k += 1
        }
        KernelCache.advance(p)
    }

    /// Writes a leaf-level word (`kind` says which) of a partition's tables or shadows, and ends
    /// exactly the cached answers that could have read the word it replaces, instead of every
    /// answer (docs/yield.md, "Leaf writes: ending only what read the old word"):
    ///
    /// * `.table`, the level-1 entry mapping `va` in `owner`: a cached answer is a walk that
    ///   succeeded, so if it read this entry, the entry was present, and the walk was the
    ///   translation of `va` in `owner`, whose frame is the walk's result, which a plan holds (a
    ///   VIDT page, a context page, or the callee descriptor through the child lookup). So: the
    ///   old entry present → drop the translation of `va` in `owner` and every plan naming its
    ///   frame (`TranslationCache.drop`, `KernelCache.dropPlans`); not present → no answer read it.
    /// * `.shadow`, a shadow leaf word: no cache reads shadow 2, and of shadow 1 only the child
    ///   lookup reads a word, and succeeds only on one flagging a descriptor; those are written
    ///   only through `write` (`createPartition`, `deletePartition`). So nothing to drop.
    ///
    /// The generation stays: the upper levels and the descriptors, which every answer also
    /// read, change only through `write`, `zero` and `copyWords`.
    /// - Precondition: `at` is a level-1 table entry or a shadow leaf word of the kind named
    ///   (`Shadow.leafSlots`); an upper-level entry, or a shadow-1 word flagging a descriptor,
    ///   must go through `write`.
    @inline(__always)
    package static func writeLeaf<P: Platform>(_ p: P, _ kind: LeafWord, _ at: PhysicalAddress, _ value: UInt64) {
        guard case .table(let owner, let va) = kind else {
            p.store(at, value, WriteAccess())
            return
        }
        let e = PageTableEntry(raw: p.load(at))
        p.store(at, value, WriteAccess())
        if e.isPresent {
            TranslationCache.drop(p, descriptor: owner, page: va.raw)
            KernelCache.dropPlans(p, naming: e.frame.raw)
        }
    }

    /// Which leaf-level word `writeLeaf` writes.
    package enum LeafWord {
        /// The level-1 page-table entry that maps the page `va` in `owner`'s tables (only the
        /// walk of that page in that partition reads it: no two partitions share a table page).
        case table(owner: Descriptor, va: VirtualAddress)
        /// A shadow leaf word no cached answer read: a shadow-2 word, or a shadow-1 word that
        /// flags no descriptor before the write (a page kept or given, what `addVAddr` and
        /// `removeVAddr` change).
        case shadow
    }

    /// Writes a descriptor word that no cache keeps (the interrupt state): no generation
    /// change. `Descriptor.setInterruptState` is its one caller (`KernelWritesTests`).
    @inline(__always)
    package static func writeUnsummarized<P: Platform>(_ p: P, _ at: PhysicalAddress, _ value: UInt64) {
        p.store(at, value, WriteAccess())
    }
}

/// The kernel's writes to pages a partition owns (root's, at boot). No cache keeps their
/// contents (VIDT entries are read again on every yield-cache hit), so no generation change.
package enum PartitionMemory {
    @inline(__always)
    package static func write<P: Platform>(_ p: P, _ at: PhysicalAddress, _ value: UInt64) {
        p.store(at, value, WriteAccess())
    }

    package static func zero<P: Platform>(_ p: P, _ page: PhysicalAddress) {
        p.zeroPage(page, WriteAccess())
    }

    package static func copy<P: Platform>(_ p: P, from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64) {
        p.copy(from: source, to: destination, bytes: bytes, WriteAccess())
    }
}

extension KernelCache {
    /// Storage index of the generation word (after both caches' entries).
    package static let generation = TranslationCache.words + YieldCache.words
    /// Bit 63 of the stamp: set in every stamp after the first structure write.
    package static let live: UInt64 = 1 << 63
    /// The stamp's bits: `live` and the 16-bit generation above bit 47.
    package static let stampMask: UInt64 = 0xFFFF_8000_0000_0000
    /// One generation.
    static let step: UInt64 = 1 << 47

    /// The current stamp, which every entry filled now carries in its tag.
    @inline(__always)
    package static func stamp<P: Platform>(_ p: P) -> UInt64 { p.translationCacheLoad(generation) }

    /// Whether an entry with tag word `tag` can hit while the stamp is `stamp` (lookups compare
    /// whole tags; the yield cache's fill asks this of the entry it would move).
    @inline(__always)
    package static func isLive(tag: UInt64, stamp: UInt64) -> Bool {
        stamp & live != 0 && tag & stampMask == stamp
    }

    /// A structure changed: every entry filled before now stops hitting. When the generation
    /// wraps (the carry leaves bit 63), both caches are emptied first.
    @inline(__always)
    static func advance<P: Platform>(_ p: P) {
        let next = p.translationCacheLoad(generation) &+ step
        if next & live != 0 {
            p.translationCacheStore(generation, next)
        } else {
            empty(p)
            p.translationCacheStore(generation, live)
        }
    }
}
