/// The yield cache: checks 3–8 of a yield, kept between yields (seL4's fastpath idea, on Pip's
/// check chain).
///
/// A partition that yields to the same callee at the same indices again and again — a scheduler
/// resuming its children, a child handing the CPU back — makes yield answer the same questions
/// each time: which descriptor the callee name is, where both VIDT pages are, where the target
/// context and the save slot lie and whether they may be used. Checks 3–8 are a function of
/// exactly three things:
///
/// * the arguments (caller, callee name, target index, save index) — the key of an entry;
/// * the page tables and shadows of caller and callee, and descriptors' fixed fields (parent,
///   root table) — kernel structures, which only `Structures` (KernelWrites.swift) can write,
///   and every write there advances the cache generation: an entry carries the generation it
///   was filled in (in its tag) and hits only while that is still the current one; but a
///   level-1 table entry written through `Structures.writeLeaf` ends only the entries naming
///   the page it mapped (`KernelCache.dropPlans`, through `frames`);
/// * the two VIDT entries read (the callee's at the target index, the caller's at the save
///   index) — partition memory, which ring 3 may rewrite at any time: a hit re-reads both, at
///   the VIDT pages the entry holds, and is a hit only if both still hold the values the checks
///   ran on.
///
/// So a hit gives the plan checks 3–8 would give now, and yield still runs checks 1–2 before
/// and check 9 (the callee's interrupt state, which `setIntState` changes without touching any
/// table) after: the statuses and their order are the chain's. A miss runs the chain and, when
/// checks 3–8 pass and both contexts lie on one page each, fills the entry. A plan with a
/// context over two pages (a context placed across a page boundary, which the contract allows
/// and nothing makes common) is never kept: such a yield runs the chain every time, and the
/// fastpath knows only contexts on one page, with no test for the other kind (docs/yield.md,
/// "The yield cache"). A hardware interrupt in a child of root looks up and fills the same
/// entries, under the key of the child's `yield(0, vector, CLI/STI slot)`
/// (`InterruptRouting.childOfRootPlan`).
///
/// Storage: `entryCount` entries of 16 words (two-way set associative) in `KernelCache` storage, outside
/// physical memory, so filling one changes no partition's memory and no kernel structure (a
/// refused yield that filled it still changed nothing). The model checks after every explored
/// step that every live entry is what the chain gives on the entry's VIDT values now
/// (`Violation.staleYieldPlan`).
import SprigABI

package enum YieldCache {
    /// Two-way set associative, the newer entry of a set first (a fill moves the first entry to
    /// the second place when it can still hit): the two directions of a parent–child pair
    /// always both stay.
    package static let sets = 8
    package static let ways = 2
    static let entryCount = sets * ways
    package static let entryWords = 16
    package static let words = entryCount * entryWords
    /// First word in `KernelCache` storage.
    package static let base = TranslationCache.words

    // Word offsets in an entry (words 12–15 unused: an entry is two 64-byte lines, its own).
    package static let tag = 0, caller = 1, calleeName = 2, callee = 3, calleeRootTable = 4
    /// The physical addresses of the two VIDT entries the checks read: the callee's at the
    /// target index (its VIDT page + 8 × index) and the caller's at the save index. A hit reads
    /// them there, with no index arithmetic.
    package static let targetEntry = 5, saveEntry = 6
    /// The values those VIDT entries held when the checks ran.
    package static let targetVA = 7, saveVA = 8
    /// Where the target context and the save slot lie: each one physical address, the context
    /// on that one page (the save slot's 0 when `saveVA` is 0).
    package static let target = 9, save = 10
    /// The pages the entry names, as a 64-bit filter: bit `page >> 12 & 63` of each
    /// (`frameBit`), so that `KernelCache.dropPlans` compares an entry's pages only when one of
    /// them may be the dropped one.
    package static let frames = 11

    /// `frames`' bit for the page holding `address`.
    @inline(__always)
    static func frameBit(_ address: UInt64) -> UInt64 { 1 &<< (address &>> 12 & 63) }

    /// The tag of an entry filled while the stamp is `stamp` (`KernelCache.stamp`: bit 63 and
    /// the generation, bits 47–62), for both indices (each below 2^16).
    @inline(__always)
    static func tagValue(stamp: UInt64, targetInterrupt: UInt64, saveIndex: UInt64) -> UInt64 {
        stamp | saveIndex &<< 16 | targetInterrupt
    }

    /// The storage index of the first entry of the set a key belongs to: the key's words XORed
    /// (the indices as in the tag) and multiplied, whose top three bits every input bit reaches.
    /// Which set an entry goes to only decides what it can evict: a lookup compares every word
    /// of the key.
    @inline(__always)
    package static func set(caller: UInt64, calleeName: UInt64, targetInterrupt: UInt64, saveIndex: UInt64) -> Int {
        let h = (caller ^ calleeName ^ (saveIndex &<< 16 | targetInterrupt)) &* 0x9E37_79B9_7F4A_7C15
        return base &+ Int(truncatingIfNeeded: h &>> 61) &* (ways &* entryWords)
    }

    /// The plan of checks 3–8 for this key, if an entry of its set holds it, filled in the
    /// current cache generation, and the two VIDT entries still hold the values it was checked on.
    @inline(__always)
    package static func lookup<P: Platform>(
        _ p: P, caller: Descriptor, calleeName: UInt64, targetInterrupt: VIDTSlot, saveIndex: VIDTSlot
    ) -> Yield.Plan? {
        let s = set(caller: caller.paddr.raw, calleeName: calleeName, targetInterrupt: targetInterrupt.index, saveIndex: saveIndex.index)
        guard let kept = find(p, caller: caller, calleeName: calleeName, targetInterrupt: targetInterrupt, saveIndex: saveIndex, set: s)
        else { return nil }
        return plan(p, entry: kept.entry)
    }

    /// `lookup`'s entry, left in place: what yield's fastpath commits from, reading each word
    /// where the switch uses it (`Kept`).
    @inline(__always)
    package static func find<P: Platform>(
        _ p: P, caller: Descriptor, calleeName: UInt64, targetInterrupt: VIDTSlot, saveIndex: VIDTSlot, set s: Int
    ) -> Kept? {
        let t = tagValue(stamp: KernelCache.stamp(p), targetInterrupt: targetInterrupt.index, saveIndex: saveIndex.index)
        var e = s
        while e < s &+ ways &* entryWords {
            if p.translationCacheLoad(e &+ tag) == t, p.translationCacheLoad(e &+ Self.caller) == caller.paddr.raw,
               p.translationCacheLoad(e &+ Self.calleeName) == calleeName {
                // Partition memory: read again every time.
                let targetValue = p.load(PhysicalAddress(p.translationCacheLoad(e &+ targetEntry)))
                let saveValue = p.load(PhysicalAddress(p.translationCacheLoad(e &+ saveEntry)))
                if targetValue == p.translationCacheLoad(e &+ targetVA), saveValue == p.translationCacheLoad(e &+ saveVA) {
                    return Kept(entry: e)
                }
            }
            e &+= entryWords
        }
        return nil
    }

    /// A live entry `find` found, read word by word where the switch needs each (the words of
    /// `plan(p, entry:)`): a `Yield.Plan` built first would hold every word in a register across
    /// the save's stores, which the compiler cannot tell apart from the cache's storage.
    package struct Kept: Yield.SwitchPlan {
        package let entry: Int
        @inline(__always) package func caller<P: Platform>(_ p: P) -> Descriptor { .kept(p.translationCacheLoad(entry &+ YieldCache.caller)) }
        @inline(__always) package func callee<P: Platform>(_ p: P) -> Descriptor { .kept(p.translationCacheLoad(entry &+ YieldCache.callee)) }
        @inline(__always) package func calleeRootTable<P: Platform>(_ p: P) -> RootTable {
            .kept(p.translationCacheLoad(entry &+ YieldCache.calleeRootTable))
        }
        /// Each context on one page (`fill` keeps no other): so a platform's save and load, and
        /// the read of the target's flags word, take their one-page way without asking (on the
        /// machine, the call for a context over two pages is not in the fastpath's code at all).
        @inline(__always) package func target<P: Platform>(_ p: P) -> ContextLocation { location(p, YieldCache.target) }
        @inline(__always) package func save<P: Platform>(_ p: P) -> ContextLocation? {
            p.translationCacheLoad(entry &+ saveVA) == 0 ? nil : location(p, YieldCache.save)
        }
        @inline(__always) func location<P: Platform>(_ p: P, _ o: Int) -> ContextLocation {
            ContextLocation(onOnePageAt: PhysicalAddress(p.translationCacheLoad(entry &+ o)))
        }
    }

    /// The plan the entry at storage index `entry` holds (whether or not it is valid), read
    /// through `Kept`'s accessors (the fastpath's). Its caller, callee and root table are what
    /// `fill` stored from a plan's: kept, not named.
    @inline(__always)
    package static func plan<P: Platform>(_ p: P, entry e: Int) -> Yield.Plan {
        let k = Kept(entry: e)
        return Yield.Plan(
            caller: k.caller(p), callee: k.callee(p), calleeRootTable: k.calleeRootTable(p),
            callerVIDT: PhysicalAddress(p.translationCacheLoad(e &+ saveEntry)).pageBase,
            calleeVIDT: PhysicalAddress(p.translationCacheLoad(e &+ targetEntry)).pageBase,
            targetVA: p.translationCacheLoad(e &+ targetVA), saveVA: p.translationCacheLoad(e &+ saveVA),
            target: k.target(p), save: k.save(p))
    }

    /// Keeps `plan` (checks 3–8 passed) under its key as the newer entry of its set, unless a
    /// context of it lies over two pages (then it keeps nothing); the newer entry that was
    /// there becomes the older one, the older one is dropped. A newer entry that can no longer
    /// hit (of an older generation, or empty: the first fill after any
    /// structure write) is overwritten where it is, and the older one stays. `set`: the key's
    /// set when the caller has it already (`set(caller:…)` of these words).
    @inline(__always)
    static func fill<P: Platform>(
        _ p: P, _ plan: Yield.Plan, calleeName: UInt64, targetInterrupt: VIDTSlot, saveIndex: VIDTSlot, set known: Int? = nil
    ) {
        guard plan.target.isOnOnePage, plan.save?.isOnOnePage ?? true else { return }
        let e = known ?? set(caller: plan.caller.paddr.raw, calleeName: calleeName, targetInterrupt: targetInterrupt.index, saveIndex: saveIndex.index)
        if KernelCache.isLive(tag: p.translationCacheLoad(e &+ tag), stamp: KernelCache.stamp(p)) {
            KernelCache.demoteNewer(p, set: e, entryWords: entryWords)
        }
        func put(_ o: Int, _ v: UInt64) { p.translationCacheStore(e &+ o, v) }
        put(Self.caller, plan.caller.paddr.raw)
        put(Self.calleeName, calleeName)
        put(callee, plan.callee.paddr.raw)
        put(calleeRootTable, plan.calleeRootTable.paddr.raw)
        put(targetEntry, plan.calleeVIDT.adding(targetInterrupt.index &* 8).raw)
        put(saveEntry, plan.callerVIDT.adding(saveIndex.index &* 8).raw)
        put(targetVA, plan.targetVA)
        put(saveVA, plan.saveVA)
        put(target, plan.target.first.raw)
        put(save, plan.save?.first.raw ?? 0)
        var named = frameBit(plan.callee.paddr.raw) | frameBit(plan.callerVIDT.raw) | frameBit(plan.calleeVIDT.raw)
            | frameBit(plan.target.first.raw)
        if let s = plan.save { named |= frameBit(s.first.raw) }
        put(frames, named)
        put(tag, tagValue(stamp: KernelCache.stamp(p), targetInterrupt: targetInterrupt.index, saveIndex: saveIndex.index))
    }
}

/// The storage the kernel's two caches share (`Platform.translationCacheLoad`): the
/// translation cache's entries, then the yield cache's, then the generation word
/// (`KernelCache.generation`, KernelWrites.swift). Kernel memory outside the physical memory
/// partitions are given, zero (every entry empty) at boot.
package enum KernelCache {
    package static let words = TranslationCache.words + YieldCache.words + 1

    /// Makes room for a fill of the two-entry set at storage index `set`: its newer (first)
    /// entry becomes the older (second), the older one is dropped. Both caches' replacement.
    @inline(__always)
    static func demoteNewer<P: Platform>(_ p: P, set: Int, entryWords: Int) {
        var k = 0
        while k < entryWords { p.translationCacheStore(set &+ entryWords &+ k, p.translationCacheLoad(set &+ k)); k += 1 }
    }

    /// Drops every yield entry whose plan names the page `frame`: as the callee descriptor, a
    /// VIDT page (through the entry read there), or the page of the target or the save slot
    /// (`Structures.writeLeaf`). The five words are compared only when the entry's filter
    /// (`YieldCache.frames`) has the frame's bit; a dead entry may be cleared too (nothing can
    /// hit it either way).
    static func dropPlans<P: Platform>(_ p: P, naming frame: UInt64) {
        let pageMask = ~(AddressSpace.pageSize &- 1)
        let bit = YieldCache.frameBit(frame)
        var e = YieldCache.base
        while e < YieldCache.base &+ YieldCache.words {
            func names(_ o: Int) -> Bool { p.translationCacheLoad(e &+ o) & pageMask == frame }
            if p.translationCacheLoad(e &+ YieldCache.frames) & bit != 0,
               names(YieldCache.callee) || names(YieldCache.targetEntry) || names(YieldCache.saveEntry)
                || names(YieldCache.target) || names(YieldCache.save) {
                p.translationCacheStore(e &+ YieldCache.tag, 0)
            }
            e &+= YieldCache.entryWords
        }
    }

    /// Empties both caches (the generation wrapped, `advance`; or a test harness put memory
    /// back without the kernel): every entry's tag word becomes 0, which no entry's tag is once
    /// the generation word is set.
    package static func empty<P: Platform>(_ p: P) {
        var i = 0
        while i < TranslationCache.entryCount { p.translationCacheStore(i &* 3 &+ 1, 0); i += 1 }
        i = 0
        while i < YieldCache.entryCount { p.translationCacheStore(YieldCache.base &+ i &* YieldCache.entryWords, 0); i += 1 }
    }
}
