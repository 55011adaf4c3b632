/// The cache generation (KernelWrites.swift): every write to a kernel structure ends every
/// translation- and yield-cache entry filled before it, but a leaf write, which ends exactly
/// the entries that read the old word; a wrap of the generation empties both caches; and a
/// write that does not pass `Structures` leaves a stale entry the model's properties name.
import SprigABI
import SprigCore
import SprigModel
import Testing

@Suite struct CacheGenerationTests {
    typealias PingPong = YieldCacheTests.PingPong

    /// Live translation-cache entries (of the current generation).
    static func liveTranslations(_ m: SimulatedMemory) -> Int {
        let stamp = KernelCache.stamp(m)
        return stride(from: 0, to: TranslationCache.words, by: 3)
            .filter { KernelCache.isLive(tag: m.translationCacheLoad($0 + 1), stamp: stamp) }.count
    }

    /// Where the child's handler page is mapped in the child (its leaf table entry).
    static func handlerLeaf(_ s: PingPong) -> PhysicalAddress {
        Shadow.leafSlots(s.m.memory, descriptor: s.m.machine.descriptor(s.c.descriptor), va: VirtualAddress(s.handler))!.entryAt
    }

    @Test func anyStructureWriteEndsEveryEntry() {
        let s = PingPong()
        s.roundTrip()
        #expect(s.liveEntries == 2)
        #expect(Self.liveTranslations(s.m.memory) > 0)
        // The same value written back into a root table word: nothing changed, and yet no
        // entry from before may hit (the generation says "written", not "what changed").
        let word = s.m.machine.rootTable(s.m.root.descriptor)
        let stamp = KernelCache.stamp(s.m.memory)
        Structures.write(s.m.memory, word, s.m.memory.load(word))
        #expect(KernelCache.stamp(s.m.memory) != stamp)
        #expect(s.liveEntries == 0)
        #expect(Self.liveTranslations(s.m.memory) == 0)
        // The next round trip walks again and keeps both plans again.
        s.roundTrip()
        #expect(s.liveEntries == 2)
        s.m.checkProperties()
    }

    @Test func aWrapEmptiesBothCaches() {
        let s = PingPong()
        s.roundTrip()
        let filledIn = KernelCache.stamp(s.m.memory)
        #expect(s.liveEntries == 2)
        // The last generation before the wrap, then a table change that wraps it: the child's
        // handler page taken back.
        s.m.memory.translationCacheStore(KernelCache.generation, KernelCache.stampMask)
        let word = s.m.machine.rootTable(s.m.root.descriptor)
        Structures.write(s.m.memory, word, s.m.memory.load(word))
        let wrapped = KernelCache.stamp(s.m.memory)
        #expect(wrapped & KernelCache.live != 0 && wrapped < KernelCache.live | 16 << 47 && wrapped != filledIn)
        // Counted round to the generation the entries were filled in: they were emptied at the
        // wrap, so none hits, and the yield runs the chain and keeps its plan again.
        s.m.memory.translationCacheStore(KernelCache.generation, filledIn)
        #expect(s.liveEntries == 0)
        #expect(Self.liveTranslations(s.m.memory) == 0)
        s.m.checkProperties()
        s.m.run(s.m.root, YieldMachine.markedRegisters(tag: 0xA))
        #expect(s.m.yield(to: s.c.name, target: 0x40, save: 300) == .success)
        #expect(s.liveEntries == 1)
        s.m.checkProperties()
    }

    /// A leaf write (`Structures.writeLeaf`) ends exactly what read the word it replaces: the
    /// translation of that page and the plans naming the frame it mapped; a shadow word no
    /// cached answer read ends nothing; the generation stays.
    @Test func aLeafWriteEndsWhatReadTheOldWord() throws {
        let s = PingPong()
        s.roundTrip()
        let stamp = KernelCache.stamp(s.m.memory)
        let child = s.m.machine.descriptor(s.c.descriptor)
        func kept(caller: UInt64) -> Bool { s.m.keepsPlan(caller: PhysicalAddress(caller)) }
        #expect(kept(caller: s.m.root.descriptor.raw) && kept(caller: child.paddr.raw))
        let translations = Self.liveTranslations(s.m.memory)
        // The handler page's shadow words, written back unchanged: nothing ends.
        let handlerSlots = Shadow.leafSlots(s.m.memory, descriptor: child, va: VirtualAddress(s.handler))!
        Structures.writeLeaf(s.m.memory, .shadow, handlerSlots.sh1At, s.m.memory.load(handlerSlots.sh1At))
        Structures.writeLeaf(s.m.memory, .shadow, handlerSlots.sh2At, s.m.memory.load(handlerSlots.sh2At))
        #expect(s.liveEntries == 2 && Self.liveTranslations(s.m.memory) == translations)
        // Its table entry: the child's translation of the page and root's plan, which enters the
        // child there, end; the child's way back, which does not use the page, stays.
        Structures.writeLeaf(s.m.memory, .table(owner: child, va: VirtualAddress(s.handler)), handlerSlots.entryAt,
                             s.m.memory.load(handlerSlots.entryAt))
        #expect(!kept(caller: s.m.root.descriptor.raw) && kept(caller: child.paddr.raw))
        #expect(Self.liveTranslations(s.m.memory) == translations - 1)
        #expect(KernelCache.stamp(s.m.memory) == stamp)
        s.m.checkProperties()
        // A not-present entry (what addVAddr replaces) ends nothing: no cached answer read it.
        s.roundTrip()
        let unmapped = try #require((0..<UInt64(512)).lazy.map { VirtualAddress(YieldMachine.poolBase + $0 << 12) }.first {
            Shadow.leafSlots(s.m.memory, descriptor: child, va: $0).map { !PageTableEntry(raw: s.m.memory.load($0.entryAt)).isPresent } == true
        })
        let free = Shadow.leafSlots(s.m.memory, descriptor: child, va: unmapped)!
        Structures.writeLeaf(s.m.memory, .table(owner: child, va: unmapped), free.entryAt, 0)
        #expect(s.liveEntries == 2 && Self.liveTranslations(s.m.memory) == translations)
        s.m.checkProperties()
    }

    @Test func theModelNamesATableWriteThatBypassesTheChokePoint() {
        let s = PingPong()
        s.roundTrip()
        s.m.checkProperties()
        // What removeVAddr writes first, the child's leaf of its handler page, written without
        // `Structures`: the generation stays, the entries stay live and are stale now.
        let leaf = Self.handlerLeaf(s)
        let was = s.m.memory.load(leaf)
        s.m.memory.store(leaf, 0)
        let found = Set(s.m.machine.checkAllProperties().map(\.kind))
        #expect(found.contains(.staleTranslation))
        #expect(found.contains(.staleYieldPlan))
        // The same write through the choke point leaves nothing stale.
        s.m.memory.store(leaf, was)
        Structures.write(s.m.memory, leaf, 0)
        #expect(!s.m.machine.checkAllProperties().contains { $0.kind == .staleTranslation || $0.kind == .staleYieldPlan })
    }

    /// The generation word keeps the documented form, bit 63 set after boot: a word without it
    /// (what a kernel whose `live` bit is lost would store) is a violation even with the caches
    /// empty, since an emptied entry's tag of 0 would then match a lookup's.
    @Test func generationWordWithoutBit63IsNamed() {
        let s = PingPong()
        s.roundTrip()
        #expect(!s.m.machine.checkAllProperties().contains { $0.kind == .staleTranslation })
        KernelCache.empty(s.m.memory)
        for word: UInt64 in [0, 1 << 62 | 1 << 47, KernelCache.live | 1] {
            s.m.memory.translationCacheStore(KernelCache.generation, word)
            #expect(s.m.machine.checkAllProperties().contains { $0.kind == .staleTranslation && $0.detail.contains("generation word") })
        }
        s.m.memory.translationCacheStore(KernelCache.generation, KernelCache.live | 5 << 47)
        #expect(!s.m.machine.checkAllProperties().contains { $0.kind == .staleTranslation })
    }
}
