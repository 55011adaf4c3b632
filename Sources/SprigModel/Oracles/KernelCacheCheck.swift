/// The translation cache's geometry and lookups, checked where the explorer cannot see them.
///
/// The caches live in `KernelCache` storage, which entry.S reserves by hand: the translation
/// cache's 32 entries of 3 words (16 sets of two), the yield cache's 16 entries of 16 words,
/// then the generation word (the machine's boot refuses any other size, Main.swift). The model's
/// storage is sized by the kernel's own constants, so a wrong set count, way count or entry
/// size, or a hash naming a set past the cache or between two sets, moves entries over their
/// neighbours there unseen. And a lookup is exact in every state the explorer reaches only if
/// no two partitions' translations of one page share a set there, which the tree's descriptors
/// decide. Here:
///
/// * the storage is entry.S's, word for word, and the set hash names, over many keys, every one
///   of the 16 sets and only their first words;
/// * on a machine built through the real services, with a child whose descriptor puts a page it
///   maps at root's vaddr of another page in the set of root's translation of that vaddr, a run
///   of lookups gives each time the MMU's answer (`SpecMMU`), for the descriptor asked, and a
///   translation looked up again while one other of its set was filled since is a hit: it reads
///   no page-table word (docs/yield.md: two translations of one set used in turn both stay).
import SprigABI
import SprigCore

/// See the file overview.
public enum KernelCacheCheck {
    /// Words entry.S reserves for `KernelCache` (`sprig_translation_cache`).
    static let reservedTranslationWords = 32 * 3
    static let reservedWords = reservedTranslationWords + 16 * 16 + 1

    /// What disagrees; empty when nothing does.
    public static func run() -> [String] {
        layout() + lookups()
    }

    static func layout() -> [String] {
        var out: [String] = []
        if KernelCache.words != reservedWords {
            out.append("KernelCache.words is \(KernelCache.words), entry.S reserves \(reservedWords)")
        }
        if TranslationCache.words != reservedTranslationWords || YieldCache.base != reservedTranslationWords {
            out.append("the translation cache takes \(TranslationCache.words) words and the yield cache starts at \(YieldCache.base), "
                       + "not \(reservedTranslationWords) (32 entries of 3 words)")
        }
        if YieldCache.words != 16 * 16 { out.append("the yield cache takes \(YieldCache.words) words, not 256 (16 entries of 16 words)") }
        if KernelCache.generation != reservedWords - 1 { out.append("the generation word is \(KernelCache.generation), not the last word") }
        var named = Set<Int>()
        var random = SplitMix64(seed: 0x5E75)
        for k in 0..<4096 {
            let descriptor = (k < 512 ? UInt64(k) : random.next() >> 17) << 12
            let page = (k < 512 ? UInt64(k) : random.next() >> 17) << 12
            let s = TranslationCache.set(descriptor: descriptor, page: page)
            if s % 6 != 0 || s < 0 || s > reservedTranslationWords - 6 {
                out.append("TranslationCache.set(descriptor: \(hex(descriptor)), page: \(hex(page))) is word \(s), not the first of one of 16 sets of 6 words")
                break
            }
            named.insert(s)
        }
        if named.count != 16 { out.append("TranslationCache.set names \(named.count) of the 16 sets") }
        return out
    }

    /// Root and a child C through the real services; a vaddr `shared` that both map (to
    /// different pages) whose translations fall in one set, and another page `other` of root in
    /// that set.
    static func lookups() -> [String] {
        let m = ModelMachine(pages: 128, kernelImagePages: 1)
        let root = m.root
        let rootDescriptor = m.descriptor(root)
        // The child's descriptor page (the first page `makeChild` takes, the pool's last) and
        // the two vaddrs, all from root's window.
        var pool = m.pool[root.raw] ?? []
        func set(_ d: UInt64, _ va: UInt64) -> Int { TranslationCache.set(descriptor: d, page: va) }
        var chosen: (descriptor: UInt64, shared: UInt64, other: UInt64)?
        search: for d in pool {
            for shared in pool where shared != d && set(root.raw, shared) == set(d - AddressSpace.rootWindowBase, shared) {
                if let other = pool.first(where: { $0 != d && $0 != shared && set(root.raw, $0) == set(root.raw, shared) }) {
                    chosen = (d, shared, other)
                    break search
                }
            }
        }
        guard let (d, shared, other) = chosen else { return ["root's window has no descriptor page and vaddr for a shared translation-cache set"] }
        pool.removeAll { $0 == d || $0 == shared || $0 == other }
        m.pool[root.raw] = pool + [d]
        let child = m.makeChild(of: root, pages: 1)
        guard child.descriptor.raw == d - AddressSpace.rootWindowBase else { return ["the cache check's child has another descriptor page"] }
        let childDescriptor = m.descriptor(child.descriptor)
        m.prepare(root, child: child.name, va: shared)
        let given = m.call(root, .addVAddr, m.takePage(root), child.name, shared, Rights.read | Rights.write)
        guard given.status == .success else { return ["addVAddr for the cache check: \(given.status)"] }

        let counting = CountingMemory(m.memory)
        var out: [String] = []
        // (partition, vaddr, a hit: no page-table word read)
        let run: [(PhysicalAddress, UInt64, Bool)] = [
            (root, shared, false), (root, other, false), (root, shared, true), (child.descriptor, shared, false),
            (root, other, true), (root, shared, false), (child.descriptor, shared, true), (child.descriptor, AddressSpace.vidt, false),
        ]
        for (k, (partition, va, hit)) in run.enumerated() {
            let descriptor = partition == root ? rootDescriptor : childDescriptor
            for write in [false, true] where write == false || k == run.count - 1 {
                counting.loads = 0
                let got = TranslationCache.translate(counting, descriptor: descriptor, rootTable: descriptor.rootTable(m.memory),
                                                     va: va + 0x310, write: write)
                let want = m.translate(partition, va + 0x310, write: write)
                let who = partition == root ? "root" : "its child"
                if got != want {
                    out.append("lookup \(k) of the translation cache, \(who) at \(hex(va + 0x310)) (write: \(write)): \(got.map { hex($0.raw) } ?? "nil"), the MMU's is \(want.map { hex($0.raw) } ?? "nil")")
                }
                if hit && !write && counting.loads != 0 {
                    out.append("lookup \(k) of the translation cache, \(who) at \(hex(va)): \(counting.loads) page-table words read, kept in the second way of its set")
                }
            }
        }
        return out
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// `SimulatedMemory` counting the words the kernel loads (page-table words: the caches'
    /// storage has loads of its own).
    final class CountingMemory: Platform {
        let memory: SimulatedMemory
        var loads = 0
        init(_ memory: SimulatedMemory) { self.memory = memory }
        func load(_ paddr: PhysicalAddress) -> UInt64 { loads += 1; return memory.load(paddr) }
        func store(_ paddr: PhysicalAddress, _ value: UInt64, _ access: WriteAccess) { memory.store(paddr, value, access) }
        func zeroPage(_ page: PhysicalAddress, _ access: WriteAccess) { memory.zeroPage(page, access) }
        func copy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64, _ access: WriteAccess) {
            memory.copy(from: source, to: destination, bytes: bytes, access)
        }
        func translationCacheLoad(_ index: Int) -> UInt64 { memory.translationCacheLoad(index) }
        func translationCacheStore(_ index: Int, _ value: UInt64) { memory.translationCacheStore(index, value) }
        func invalidateTranslation(_ va: VirtualAddress) { memory.invalidateTranslation(va) }
    }
}
