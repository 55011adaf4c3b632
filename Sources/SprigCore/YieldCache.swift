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
///   PML4) — which only the table-changing services change, and every one of them empties this
///   cache with the translation cache when it succeeds (`KernelCache.invalidate`);
/// * the two VIDT entries read (the callee's at the target index, the caller's at the save
///   index) — partition memory, which ring 3 may rewrite at any time: a hit re-reads both, at
///   the VIDT pages the entry holds, and is a hit only if both still hold the values the checks
///   ran on.
///
/// So a hit gives the plan checks 3–8 would give now, and yield still runs checks 1–2 before
/// and check 9 (the callee's interrupt state, which `setIntState` changes without touching any
/// table) after: the statuses and their order are the chain's. A miss runs the chain and, when
/// checks 3–8 pass, fills the entry.
///
/// Storage: `entryCount` direct-mapped entries of 16 words in `KernelCache` storage, outside
/// physical memory, so filling one changes no partition's memory and no kernel structure (a
/// refused yield that filled it still changed nothing). The model checks after every explored
/// step that every live entry is what the chain gives on the entry's VIDT values now
/// (`Violation.staleYieldPlan`).
import SprigABI

public enum YieldCache {
    public static let entryCount = 8
    static let entryWords = 16
    public static let words = entryCount * entryWords
    /// First word in `KernelCache` storage.
    public static let base = TranslationCache.words

    // Word offsets in an entry.
    public static let tag = 0, caller = 1, calleeName = 2, callee = 3, calleePML4 = 4
    public static let callerVIDT = 5, calleeVIDT = 6, targetVA = 7, saveVA = 8
    public static let target = 9, save = 12  // each: first, firstBytes, second
    /// The tag's valid bit; the tag also holds both indices (each below 2^16).
    public static let valid: UInt64 = 1 << 63

    @inline(__always)
    public static func tagValue(targetInterrupt: UInt64, saveIndex: UInt64) -> UInt64 {
        valid | saveIndex &<< 16 | targetInterrupt
    }

    /// The storage index of the entry a key maps to.
    @inline(__always)
    static func entry(caller: UInt64, calleeName: UInt64, targetInterrupt: UInt64, saveIndex: UInt64) -> Int {
        let h = ((caller ^ calleeName) &>> 12) ^ targetInterrupt ^ (saveIndex &<< 1)
        return base &+ Int(truncatingIfNeeded: h & UInt64(entryCount - 1)) &* entryWords
    }

    /// The plan of checks 3–8 for this key, if the entry holds it and the two VIDT entries still
    /// hold the values it was checked on.
    @inline(__always)
    public static func lookup<P: Platform>(
        _ p: P, caller: PhysicalAddress, calleeName: UInt64, targetInterrupt: UInt64, saveIndex: UInt64
    ) -> Yield.Plan? {
        let e = entry(caller: caller.raw, calleeName: calleeName, targetInterrupt: targetInterrupt, saveIndex: saveIndex)
        guard p.translationCacheLoad(e &+ tag) == tagValue(targetInterrupt: targetInterrupt, saveIndex: saveIndex),
              p.translationCacheLoad(e &+ Self.caller) == caller.raw,
              p.translationCacheLoad(e &+ Self.calleeName) == calleeName
        else { return nil }
        // Partition memory: read again every time.
        let calleeVIDTPage = PhysicalAddress(p.translationCacheLoad(e &+ calleeVIDT))
        let targetEntry = ContextCheck.entry(p, vidt: calleeVIDTPage, index: targetInterrupt)
        guard targetEntry == p.translationCacheLoad(e &+ targetVA) else { return nil }
        let callerVIDTPage = PhysicalAddress(p.translationCacheLoad(e &+ callerVIDT))
        let saveEntry = ContextCheck.entry(p, vidt: callerVIDTPage, index: saveIndex)
        guard saveEntry == p.translationCacheLoad(e &+ saveVA) else { return nil }
        func location(_ o: Int) -> ContextLocation {
            ContextLocation(first: PhysicalAddress(p.translationCacheLoad(e &+ o)),
                            firstBytes: p.translationCacheLoad(e &+ o &+ 1),
                            second: PhysicalAddress(p.translationCacheLoad(e &+ o &+ 2)))
        }
        return Yield.Plan(
            caller: caller, callee: PhysicalAddress(p.translationCacheLoad(e &+ callee)),
            calleePML4: PhysicalAddress(p.translationCacheLoad(e &+ calleePML4)),
            callerVIDT: callerVIDTPage, calleeVIDT: calleeVIDTPage, targetVA: targetEntry, saveVA: saveEntry,
            target: location(target), save: saveEntry == 0 ? nil : location(save))
    }

    /// Keeps `plan` (checks 3–8 passed) under its key, replacing whatever the entry held.
    @inline(__always)
    static func fill<P: Platform>(
        _ p: P, _ plan: Yield.Plan, calleeName: UInt64, targetInterrupt: UInt64, saveIndex: UInt64
    ) {
        let e = entry(caller: plan.caller.raw, calleeName: calleeName, targetInterrupt: targetInterrupt, saveIndex: saveIndex)
        func put(_ o: Int, _ v: UInt64) { p.translationCacheStore(e &+ o, v) }
        put(Self.caller, plan.caller.raw)
        put(Self.calleeName, calleeName)
        put(callee, plan.callee.raw)
        put(calleePML4, plan.calleePML4.raw)
        put(callerVIDT, plan.callerVIDT.raw)
        put(calleeVIDT, plan.calleeVIDT.raw)
        put(targetVA, plan.targetVA)
        put(saveVA, plan.saveVA)
        put(target, plan.target.first.raw); put(target &+ 1, plan.target.firstBytes); put(target &+ 2, plan.target.second.raw)
        let s = plan.save
        put(save, s?.first.raw ?? 0); put(save &+ 1, s?.firstBytes ?? 0); put(save &+ 2, s?.second.raw ?? 0)
        // The tag last: the entry is whole before it is valid.
        put(tag, tagValue(targetInterrupt: targetInterrupt, saveIndex: saveIndex))
    }
}

/// The storage the kernel's two caches share (`Platform.translationCacheLoad`): the
/// translation cache's entries, then the yield cache's. Kernel memory outside the physical
/// memory partitions are given, zero (every entry invalid) at boot.
public enum KernelCache {
    public static let words = TranslationCache.words + YieldCache.words

    /// Empties both caches (some partition's tables changed): every entry's tag word becomes 0,
    /// which no valid entry has.
    public static func invalidate<P: Platform>(_ p: P) {
        var i = 0
        while i < TranslationCache.entryCount { p.translationCacheStore(i &* 3 &+ 1, 0); i += 1 }
        i = 0
        while i < YieldCache.entryCount { p.translationCacheStore(YieldCache.base &+ i &* YieldCache.entryWords, 0); i += 1 }
    }
}
