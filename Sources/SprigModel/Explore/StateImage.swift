/// Explored states, stored small and recognised by a 128-bit hash.
///
/// A state of the model machine is its physical memory plus the CPU's current partition, CR3,
/// its TLB and the interrupt flag the running partition has. The other registers are not part of it: before
/// every step the explorer gives the running partition its `RegisterMarks` (ring 3 may hold any
/// value; these make leaks visible), so what a partition held before does not influence what
/// follows, except through what the kernel saved in memory, which is part of the state.
///
/// Memory is kept as the sorted list of words that differ from a *base* (the memory at the start
/// of the exploration): a few hundred words where the machine has thousands of pages' worth.
/// `StateStore` captures a system's state (the pages written since the last capture or restore compared with `memcmp`, words only inside the
/// pages that differ) and restores one into the system (only the words that differ between what
/// is loaded and what is wanted are written).
///
/// The hash: two independent 64-bit lanes (different seeds and finalizers) over the diff words,
/// current partition, CR3 and the flag. Two different states colliding in both lanes is
/// negligible at the sizes explored (birthday bound ~2^64 states).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SprigABI
import SprigCore

/// A 128-bit state hash.
public struct StateHash: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    /// 32 hex digits.
    public var description: String {
        let h = String(high, radix: 16), l = String(low, radix: 16)
        return String(repeating: "0", count: 16 - h.count) + h + String(repeating: "0", count: 16 - l.count) + l
    }
}

/// One stored state: memory as a diff against the store's base, and the CPU's part.
struct StateImage {
    /// Word indices (paddr / 8) that differ from the base, ascending, and their values.
    var indices: [UInt32] = []
    var values: [UInt64] = []
    var current: UInt64 = 0
    var cr3: UInt64 = 0
    var interruptsEnabled = false
    /// The kernel caches' storage (`KernelCache`), kernel state outside memory: its live
    /// entries (`KernelCache.live`, emptied entries zeroed) as the nonzero words, index and
    /// value, so that a stored state costs a few words instead of the whole storage.
    var cacheIndices: [UInt16] = []
    var cacheValues: [UInt64] = []
    /// The CPU's TLB (`ModelTLB.words`): what ring 3 may still reach through cached translations.
    var tlb: [UInt64] = []
    /// Memory and CPU: what a refused step must leave unchanged (filling the translation cache
    /// or the TLB changes neither).
    var hash = StateHash(high: 0, low: 0)
    /// `hash` with the TLB and the caches' live entries: what tells explored states apart, so that the
    /// explorer also goes through the states that differ only by what the caches hold (but not
    /// by what emptied entries still hold).
    var key = StateHash(high: 0, low: 0)

    mutating func seal() {
        var a: UInt64 = 0x243F_6A88_85A3_08D3, b: UInt64 = 0x1319_8A2E_0370_7344
        func add(_ x: UInt64) {
            a = Self.fmix(a ^ x &+ 0x9E37_79B9_7F4A_7C15)
            b = Self.mum(b ^ x, 0xA076_1D64_78BD_642F)
        }
        for (i, v) in zip(indices, values) { add(UInt64(i)); add(v) }
        add(UInt64(indices.count)); add(current); add(cr3); add(interruptsEnabled ? 1 : 0)
        hash = StateHash(high: a, low: b)
        // The TLB is a cache too: ring 3 fills it on its own (a write step that faults on its
        // second word has cached the first's translation), so it tells states apart but is no
        // change a refusal could be blamed for; stale entries are the `staleTLB` check's.
        for w in tlb { add(w) }
        add(UInt64(tlb.count))
        for (i, v) in zip(cacheIndices, cacheValues) { add(UInt64(i)); add(v) }
        add(UInt64(cacheIndices.count))
        key = StateHash(high: a, low: b)
    }

    /// MurmurHash3's 64-bit finalizer.
    static func fmix(_ x: UInt64) -> UInt64 {
        var k = x
        k ^= k >> 33; k = k &* 0xFF51_AFD7_ED55_8CCD
        k ^= k >> 33; k = k &* 0xC4CE_B9FE_1A85_EC53
        return k ^ (k >> 33)
    }

    /// wyhash's multiply-fold.
    static func mum(_ x: UInt64, _ y: UInt64) -> UInt64 {
        let p = x.multipliedFullWidth(by: y)
        return (p.high ^ p.low) &+ 0xE703_7ED1_A0B4_28DB
    }

    /// The value of word `index` in this state, given the base.
    func word(_ index: Int, base: [UInt64]) -> UInt64 {
        var lo = 0, hi = indices.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if Int(indices[mid]) < index { lo = mid + 1 } else { hi = mid }
        }
        return lo < indices.count && Int(indices[lo]) == index ? values[lo] : base[index]
    }
}

/// Captures and restores states of one system against a fixed base.
final class StateStore {
    /// The memory words at the start of the exploration.
    let base: [UInt64]
    /// What the system's memory holds now, as a diff against `base`.
    private(set) var loaded: StateImage

    init(_ system: ModelSystem) {
        base = system.memory.snapshot()
        loaded = StateImage()
        loaded = capture(system, everyPage: true)
    }

    /// The state of `system` now. The result is also what the store thinks is loaded.
    ///
    /// Only the pages the loaded state differs in from the base and the pages written since
    /// it was loaded or captured (`SimulatedMemory.writtenPages`) can differ from the base;
    /// `everyPage` compares all of them (a system the store has not loaded yet).
    func capture(_ system: ModelSystem, everyPage: Bool = false) -> StateImage {
        var image = StateImage()
        let wordsPerPage = Int(AddressSpace.pageSize / 8)
        var candidates = system.memory.writtenPages
        if everyPage {
            for i in candidates.indices { candidates[i] = ~0 }
        } else {
            for i in loaded.indices { candidates[Int(i) >> 15] |= 1 << UInt64((Int(i) >> 9) & 63) }
        }
        system.memory.words.withUnsafeBufferPointer { now in
            base.withUnsafeBufferPointer { was in
                guard let n = now.baseAddress, let w = was.baseAddress else { return }
                let pages = now.count / wordsPerPage
                for (k, bits) in candidates.enumerated() {
                    var rest = bits
                    while rest != 0 {
                        let page = k * 64 + rest.trailingZeroBitCount
                        rest &= rest - 1
                        guard page < pages else { break }
                        let start = page * wordsPerPage
                        guard memcmp(n + start, w + start, Int(AddressSpace.pageSize)) != 0 else { continue }
                        for i in start..<(start + wordsPerPage) where n[i] != w[i] {
                            image.indices.append(UInt32(i))
                            image.values.append(n[i])
                        }
                    }
                }
            }
        }
        system.memory.forgetWritten()
        image.current = system.cpu.currentPartition.paddr.raw
        image.cr3 = system.cpu.cr3.raw
        image.interruptsEnabled = system.cpu.interruptsEnabled
        for (i, v) in KernelCache.live(system.memory.translationCache).enumerated() where v != 0 {
            image.cacheIndices.append(UInt16(i))
            image.cacheValues.append(v)
        }
        image.tlb = system.cpu.tlb.words
        image.seal()
        loaded = image
        return image
    }

    /// Makes `system` hold `image`: memory, current partition, CR3, TLB and the interrupt flag
    /// (the other registers are the step's to set).
    func restore(_ image: StateImage, into system: ModelSystem) {
        let m = system.memory
        for i in loaded.indices { m.store(PhysicalAddress(UInt64(i) * 8), base[Int(i)]) }
        for (i, v) in zip(image.indices, image.values) { m.store(PhysicalAddress(UInt64(i) * 8), v) }
        // The caches hold exactly the image's live entries: every other word zero (an emptied
        // entry's old words are not part of the state; the key leaves them out too).
        var cache = [UInt64](repeating: 0, count: KernelCache.words)
        for (i, v) in zip(image.cacheIndices, image.cacheValues) { cache[Int(i)] = v }
        KernelCache.restamp(&cache)
        for (i, v) in cache.enumerated() where m.translationCacheLoad(i) != v { m.translationCacheStore(i, v) }
        var r = system.cpu.registers
        r.rflags = UserRegisters.rflags(0, interruptsEnabled: image.interruptsEnabled)
        // The image keeps the CPU's current partition as a word, as the machine keeps it.
        system.cpu.trap(as: .keptByPlatform(image.current), pml4: PhysicalAddress(image.cr3), registers: r)
        system.cpu.tlb.load(ModelTLB.entries(fromWords: image.tlb))
        m.forgetWritten()
        loaded = image
    }

    /// After `system` was replaced by a fresh one built the same way: its memory is the base.
    func reset(to system: ModelSystem) {
        loaded = StateImage()
        loaded = capture(system, everyPage: true)
    }
}

extension KernelCache {
    /// `storage` with every entry that cannot hit (empty, or of an earlier generation) zeroed,
    /// the stamp taken out of the live entries' tags and the generation word zeroed: equal for
    /// two storages whose lookups hit the same entries (an emptied entry keeps its words, an
    /// entry of an earlier generation all of them; the generation's own value decides nothing
    /// but which entries are live). Which entries are live is decided by the stamp as the model
    /// restates it (`Properties.isLive`), not by the kernel's constants: a mutated constant
    /// must not change what the explorer keeps.
    static func live(_ storage: [UInt64]) -> [UInt64] {
        guard storage.count == words else { return storage }
        var s = storage
        let stamp = s[generation]
        for e in stride(from: 0, to: TranslationCache.words, by: 3) {
            if Properties.isLive(tag: s[e + 1], stamp: stamp) { s[e + 1] &= ~Properties.stampMask } else { s[e] = 0; s[e + 1] = 0; s[e + 2] = 0 }
        }
        let n = YieldCache.entryWords
        for e in stride(from: YieldCache.base, to: YieldCache.base + YieldCache.words, by: n) {
            if Properties.isLive(tag: s[e + YieldCache.tag], stamp: stamp) {
                s[e + YieldCache.tag] &= ~Properties.stampMask
            } else {
                for i in e..<(e + n) { s[i] = 0 }
            }
        }
        s[generation] = 0
        return s
    }

    /// `live`'s storage made to hit again: the generation word set to the first live stamp and
    /// every kept entry's tag stamped with it (states are equal up to the generation's value,
    /// so any one stamp will do). Without it a restored state's caches would be empty and the
    /// explorer blind to every stale-cache bug past its first step.
    static func restamp(_ s: inout [UInt64]) {
        guard s.count == words else { return }
        let stamp: UInt64 = 1 << 63  // bit 63 and generation 0 (`Properties.isLive`)
        s[generation] = stamp
        for e in stride(from: 0, to: TranslationCache.words, by: 3) where s[e] | s[e + 1] | s[e + 2] != 0 {
            s[e + 1] |= stamp
        }
        let n = YieldCache.entryWords
        for e in stride(from: YieldCache.base, to: YieldCache.base + YieldCache.words, by: n)
        where s[e..<(e + n)].contains(where: { $0 != 0 }) {
            s[e + YieldCache.tag] |= stamp
        }
    }
}
