/// The isolation properties of DESIGN.md §7 (Pip's `Isolation.v`), checked executably.
///
/// Each function takes a `PartitionTree` read back from memory (leaves as the MMU walks the
/// tables, structures as the kernel keeps them) and returns every violation it finds, empty when
/// the property holds. `Properties.all` runs them all. Exploration and fuzzing reuse them.
///
/// Written apart from the kernel: tables are read as the SDM's MMU reads them (`SpecMMU`), the
/// kernel's structures as docs/structures.md documents them (`SpecLayout`), and of SprigCore only
/// the boundary names docs/spec.md "Independence" lists are used (`SpecIndependenceTests`).
import SprigABI
import struct SprigCore.PhysicalAddress
import struct SprigCore.ContextLocation
import enum SprigCore.YieldCache
import enum SprigCore.TranslationCache
import Synchronization

public enum Properties {
    /// How many times `all` ran in this process (the tests print it).
    public static let checksPerformed = Atomic<Int>(0)

    /// Every property, plus what reading the tree found.
    package static func all(_ t: PartitionTree, kernelPages: Set<UInt64>, kernelPML4: PhysicalAddress,
                           memory: SimulatedMemory, kernelWindow: Set<UInt64>? = nil) -> [Violation] {
        checksPerformed.add(1, ordering: .relaxed)
        return t.violations
            + kernelDataIsolation(t, kernelPages: kernelPages)
            + kernelHalf(t, kernelPML4: kernelPML4, memory: memory)
            + (kernelWindow.map { entryWindow(kernelPML4: kernelPML4, window: $0, memory: memory) } ?? [])
            + horizontalIsolation(t)
            + verticalSharing(t)
            + consistency(t)
            + stampForm(memory)
            + translationCache(t, memory: memory)
            + yieldCache(t, memory: memory)
    }

    /// The state ring 3 resumes with after a kernel entry that returned to ring 3 (DESIGN.md §5,
    /// register hygiene): the exit broke no CPU rule (`ModelCPU.exitFault`), DS, ES, FS and GS
    /// are null (ring 3 may have loaded any user selector; no context holds them), rip is in the
    /// lower half.
    public static func resumedState(_ cpu: ModelCPU) -> [Violation] {
        var out: [Violation] = []
        let who = cpu.currentPartition.paddr.raw
        if let fault = cpu.exitFault { out.append(Violation(.kernelFault, partition: who, fault)) }
        for (name, selector) in zip(["DS", "ES", "FS", "GS"], cpu.registers.dataSelectors) where selector != 0 {
            out.append(Violation(.registerHygiene, partition: who,
                                 "\(name) is 0x\(String(selector, radix: 16)) after the kernel's exit, not null"))
        }
        if cpu.registers.rip >= AddressSpace.lowerHalfEnd {
            out.append(Violation(.registerHygiene, partition: who, "rip 0x\(String(cpu.registers.rip, radix: 16)) outside the partition half"))
        }
        return out
    }

    /// Every context saved during the last kernel entry that straddles two pages (saved through
    /// the kernel's staging area, which keeps the last image loaded through it) holds zero in
    /// every FXSAVE byte below 464 the CPU does not write: nothing of an earlier image, possibly
    /// another partition's, crosses into it (which bytes those are: `SpecFXSAVE`, from the SDM;
    /// bytes 464… are the owner's and no save writes them).
    public static func savedContexts(_ cpu: ModelCPU) -> [Violation] {
        var out: [Violation] = []
        for location in cpu.savedSinceEntry where location.firstBytes < UInt64(ContextLayout.size) {
            let words = contextWords(location)
            for w in 0..<(ContextLayout.fpuAvailable / 8) {
                let value = cpu.memory.specLoad(words[(ContextLayout.fpu + 8 * w) / 8]) ?? 0
                guard value & ~SpecFXSAVE.writtenMask(word: w) != 0 else { continue }
                out.append(Violation(.registerHygiene, partition: cpu.currentPartition.paddr.raw,
                                     page: location.first.raw & ~(AddressSpace.pageSize - 1),
                                     "a straddling save left FXSAVE word \(w) = 0x\(String(value, radix: 16)), bytes FXSAVE does not write not zero"))
                break
            }
        }
        return out
    }

    /// The physical address of every word of the context at `location`, in `ContextLayout`
    /// order: the platform's format (`firstBytes` bytes from `first`, the rest from `second`),
    /// computed here rather than with the kernel's own `word(at:)`.
    static func contextWords(first: UInt64, firstBytes: UInt64, second: UInt64) -> [UInt64] {
        stride(from: UInt64(0), to: UInt64(ContextLayout.size), by: 8).map { o in
            o < firstBytes ? first &+ o : second &+ (o &- firstBytes)
        }
    }

    static func contextWords(_ location: ContextLocation) -> [UInt64] {
        contextWords(first: location.first.raw, firstBytes: location.firstBytes, second: location.second.raw)
    }

    /// The root table a descriptor names (docs/structures.md, read with `SpecLayout`).
    static func rootTable(_ m: SimulatedMemory, _ descriptor: UInt64) -> UInt64 {
        m.specLoad(descriptor &+ SpecLayout.Descriptor.rootTable) ?? 0
    }

    /// The caches' stamp, restated from docs/yield.md ("The kernel's caches") rather than
    /// taken from the kernel: the word after both caches' entries holds bit 63 (set once any
    /// structure was written) and a 16-bit generation above bit 47, and an entry can hit only
    /// while its tag carries that stamp.
    static let stampMask: UInt64 = 0xFFFF_8000_0000_0000
    static func cacheStamp(_ m: SimulatedMemory) -> UInt64 {
        m.translationCacheLoad(TranslationCache.words + YieldCache.words)
    }
    static func isLive(tag: UInt64, stamp: UInt64) -> Bool { stamp >> 63 != 0 && tag & stampMask == stamp }

    /// The generation word has the stamp's form, `live | g << 47` (bit 63 set once any structure
    /// was written, which every state after boot has): without bit 63 an emptied entry, whose
    /// tag word is 0, matches a lookup's tag (page 0, or target 0 and save 0), and the entry
    /// checks above, which skip entries while bit 63 is clear, would look at nothing.
    static func stampForm(_ m: SimulatedMemory) -> [Violation] {
        let stamp = cacheStamp(m)
        guard stamp >> 63 == 0 || stamp & ~stampMask != 0 else { return [] }
        return [Violation(.staleTranslation, partition: 0,
                          "cache generation word 0x\(String(stamp, radix: 16)) is not bit 63 | g << 47: an emptied entry can hit")]
    }

    /// Every live entry of the kernel's yield cache (of the current generation: one a lookup
    /// can hit) is the plan checks 3–8 give now, computed by
    /// the model (`SpecYieldPlan`, not the kernel's chain), with the two VIDT entries holding
    /// the values the entry was checked on (a hit compares them with memory). The entry is
    /// decoded here from the cache's word offsets (`YieldCache`'s layout constants, the only
    /// thing of the kernel's cache this reads).
    ///
    /// And no two live entries hold the same key (tag, caller, callee name) checked on the same
    /// two VIDT values: the kernel fills an entry only after a lookup of its key missed, and a
    /// lookup hits every entry of the key whose VIDT values memory still holds (docs/yield.md),
    /// so a second such entry is a yield that ran the chain where the cache held its answer.
    public static func yieldCache(_ t: PartitionTree, memory m: SimulatedMemory) -> [Violation] {
        var out: [Violation] = []
        let live = Set(t.partitions.map(\.descriptor))
        let stamp = cacheStamp(m)
        var kept = Set<[UInt64]>()
        var e = YieldCache.base
        while e < YieldCache.base + YieldCache.words {
            defer { e += YieldCache.entryWords }
            func word(_ o: Int) -> UInt64 { m.translationCacheLoad(e + o) }
            let tag = word(YieldCache.tag)
            guard isLive(tag: tag, stamp: stamp) else { continue }
            let caller = word(YieldCache.caller), name = word(YieldCache.calleeName)
            // The tag's layout (`YieldCache.tagValue`): the target index in bits 0–15, the save
            // index in bits 16–31; the VIDT entries' addresses are checked against them.
            let target = tag & 0xFFFF, save = (tag >> 16) & 0xFFFF
            let what = "yield(0x\(String(name, radix: 16)), \(target), \(save))"
            if !kept.insert([tag, caller, name, word(YieldCache.targetVA), word(YieldCache.saveVA)]).inserted {
                out.append(Violation(.staleYieldPlan, partition: caller,
                                     "\(what) is kept twice on the same VIDT entries: a lookup missed the entry it should have hit"))
            }
            guard live.contains(caller) else {
                out.append(Violation(.staleYieldPlan, partition: caller, "entry for \(what) of a partition that does not exist"))
                continue
            }
            // The chain as the model computes it (SpecYieldPlan, from the tree SpecMMU reads), on
            // the VIDT entries this entry was checked on (a hit compares them with memory).
            let targetVA = word(YieldCache.targetVA), saveVA = word(YieldCache.saveVA)
            switch SpecYieldPlan.plan(t, caller: caller, name: name, targetVA: targetVA, saveVA: saveVA) {
            case .failure(let refused):
                out.append(Violation(.staleYieldPlan, partition: caller, "\(what) is kept, but check \(refused.check) now refuses it"))
            case .success(let plan):
                // The bytes a kept location (one word: where the context starts, all of it on
                // that page) names; a plan whose context straddles two pages has none, so it
                // never equals what the kernel kept (the cache keeps no such plan).
                func bytes(_ o: Int) -> SpecYieldPlan.Bytes {
                    SpecYieldPlan.Bytes(ranges: [word(o)..<(word(o) + UInt64(ContextLayout.size))])
                }
                let callee = word(YieldCache.callee)
                let same = plan.callee == callee && plan.callerVIDT + save * 8 == word(YieldCache.saveEntry)
                    && plan.calleeVIDT + target * 8 == word(YieldCache.targetEntry)
                    && word(YieldCache.calleeRootTable) == rootTable(m, callee)
                    && bytes(YieldCache.target) == plan.target
                    && (saveVA != 0 ? bytes(YieldCache.save) == plan.save : plan.save == nil)
                if !same {
                    let kept = (0..<YieldCache.entryWords).map { "0x" + String(word($0), radix: 16) }
                    out.append(Violation(.staleYieldPlan, partition: caller, "\(what): kept \(kept), checks 3–8 give \(plan)"))
                }
            }
        }
        return out
    }

    /// Every live entry of the kernel's translation cache (of the current generation) is what a
    /// fresh walk of its partition's tables gives: same frame, user-accessible, same
    /// writability (`TranslationCache`).
    public static func translationCache(_ t: PartitionTree, memory m: SimulatedMemory) -> [Violation] {
        var out: [Violation] = []
        let stamp = cacheStamp(m)
        let live = Dictionary(t.partitions.map { ($0.descriptor, $0) }, uniquingKeysWith: { a, _ in a })
        var i = 0
        while i < TranslationCache.words {
            let descriptor = m.translationCacheLoad(i), tag = m.translationCacheLoad(i + 1)
            let answer = m.translationCacheLoad(i + 2)
            i += 3
            guard isLive(tag: tag, stamp: stamp) else { continue }
            let page = tag & ~stampMask
            guard live[descriptor] != nil else {
                out.append(Violation(.staleTranslation, partition: descriptor, vaddr: page, "entry for a partition that does not exist"))
                continue
            }
            let pml4 = rootTable(m, descriptor)
            guard case .success(let w) = SpecMMU.walk(cr3: pml4, linear: page, load: m.specLoad), w.userAccessible
            else {
                out.append(Violation(.staleTranslation, partition: descriptor, vaddr: page, "cached, but ring 3 cannot reach the page now"))
                continue
            }
            // The cached answer: the frame, with the writable bit of an entry (SDM bit positions).
            let frame = answer & SpecMMU.frameBits, writable = answer & SpecMMU.Bit.writable != 0
            if w.physical != frame || answer & ~(SpecMMU.frameBits | 0xFFF) != 0 || w.userWritable != writable {
                out.append(Violation(.staleTranslation, partition: descriptor, page: frame, vaddr: page,
                    "cached frame 0x\(String(answer & ~UInt64(0xFFF), radix: 16)) writable \(writable), "
                    + "walk gives 0x\(String(w.physical, radix: 16)) writable \(w.userWritable)"))
            }
        }
        return out
    }

    /// Every structure page of every partition, with its owner's index.
    public static func structureOwners(_ t: PartitionTree) -> [UInt64: [Int]] {
        var owners: [UInt64: [Int]] = [:]
        for (i, p) in t.partitions.enumerated() {
            for s in p.structurePages { owners[s, default: []].append(i) }
        }
        return owners
    }

    /// No page accessible to any partition is a kernel image page or a kernel structure page.
    public static func kernelDataIsolation(_ t: PartitionTree, kernelPages: Set<UInt64>) -> [Violation] {
        let structures = structureOwners(t)
        var out: [Violation] = []
        for p in t.partitions {
            for leaf in p.leaves where leaf.accessible {
                if kernelPages.contains(leaf.paddr) {
                    out.append(Violation(.kernelDataIsolation, partition: p.descriptor, page: leaf.paddr, vaddr: leaf.va,
                                         "a kernel page is accessible"))
                } else if structures[leaf.paddr] != nil {
                    out.append(Violation(.kernelDataIsolation, partition: p.descriptor, page: leaf.paddr, vaddr: leaf.va,
                                         "a kernel structure page is accessible"))
                }
            }
        }
        return out
    }

    /// Every PML4's upper half is the kernel's, supervisor-only. The accessed bit is not compared:
    /// the CPU sets it in the partition's own copy of an entry whenever a translation in that
    /// address space goes through it (the entry window runs on every kernel entry), so a booted
    /// machine's copies carry it where the kernel's table may not (SDM Vol. 3A §4.8).
    package static func kernelHalf(_ t: PartitionTree, kernelPML4: PhysicalAddress, memory m: SimulatedMemory) -> [Violation] {
        var out: [Violation] = []
        let compared = ~SpecMMU.Bit.accessed
        for p in t.partitions {
            guard let pml4 = p.tables.first else { continue }
            for i in UInt64(256)..<512 {
                let mine = m.specLoad(pml4 + i * 8) ?? 0
                if mine & compared != (m.specLoad(kernelPML4.raw + i * 8) ?? 0) & compared || mine & SpecMMU.Bit.user != 0 {
                    out.append(Violation(.kernelMapping, partition: p.descriptor, page: pml4,
                                         vaddr: 0xFFFF_0000_0000_0000 | (i << 39), "PML4 upper-half entry \(i) is not the kernel's"))
                }
            }
        }
        return out
    }

    /// The upper half every partition's PML4 copies (`kernelHalf`) maps only the kernel's entry
    /// window (docs/yield.md "The kernel's own mappings"): every leaf a page of
    /// `window`, supervisor-only at every level, never both writable and executable. The
    /// machine's kernel half holds the same: its entry/exit code, GDT, IDT, TSS and stacks.
    package static func entryWindow(kernelPML4: PhysicalAddress, window: Set<UInt64>, memory m: SimulatedMemory) -> [Violation] {
        var out: [Violation] = []
        func bad(_ va: UInt64, _ page: UInt64, _ why: String) {
            out.append(Violation(.kernelMapping, partition: 0, page: page, vaddr: va, "kernel half: \(why)"))
        }
        func walk(_ table: UInt64, level: Int, base: UInt64) {
            for i in UInt64(0)..<512 {
                if level == 4 && i < 256 { continue }
                let raw = m.specLoad(table + i * 8) ?? 0
                guard raw & SpecMMU.Bit.present != 0 else { continue }
                let e = SpecMMU.entry(raw, level: level)
                let va = base | (i << (12 + 9 * UInt64(level - 1)))
                if e.user { bad(va, e.frame, "a user-accessible entry at level \(level)") }
                if e.reserved { bad(va, e.frame, "a reserved bit set at level \(level)"); continue }
                guard e.frame < m.bytes else { bad(va, e.frame, "an entry outside memory"); continue }
                if !e.mapsPage {
                    walk(e.frame, level: level - 1, base: va)
                } else {
                    if level > 1 || !window.contains(e.frame) { bad(va, e.frame, "a page outside the entry window") }
                    if e.writable && e.executable { bad(va, e.frame, "a page both writable and executable") }
                }
            }
        }
        walk(kernelPML4.raw, level: 4, base: 0xFFFF_0000_0000_0000)
        return out
    }

    /// Pages used by two partitions neither of which is an ancestor of the other are disjoint.
    public static func horizontalIsolation(_ t: PartitionTree) -> [Violation] {
        var users: [UInt64: [Int]] = [:]
        for (i, p) in t.partitions.enumerated() {
            for leaf in p.leaves { users[leaf.paddr, default: []].append(i) }
        }
        var out: [Violation] = []
        for (page, list) in users where list.count > 1 {
            for a in 0..<list.count {
                for b in (a + 1)..<list.count
                where !t.isAncestorOrSelf(list[a], of: list[b]) && !t.isAncestorOrSelf(list[b], of: list[a]) {
                    let pa = t.partitions[list[a]], pb = t.partitions[list[b]]
                    out.append(Violation(.horizontalIsolation, partition: pa.descriptor, page: page,
                        vaddr: pa.leaves[pa.byPage[page] ?? 0].va,
                        "also used by unrelated partition 0x\(String(pb.descriptor, radix: 16))"))
                }
            }
        }
        return out
    }

    /// Every page used by a child is mapped in its parent (so in all ancestors).
    public static func verticalSharing(_ t: PartitionTree) -> [Violation] {
        var out: [Violation] = []
        for p in t.partitions {
            guard let parent = p.parent else { continue }
            for leaf in p.leaves where t.partitions[parent].byPage[leaf.paddr] == nil {
                out.append(Violation(.verticalSharing, partition: p.descriptor, page: leaf.paddr, vaddr: leaf.va,
                                     "mapped in the child, not in its parent"))
            }
        }
        return out
    }

    /// The consistency invariants: shadows agree with the tables and with the parent's records;
    /// the configuration list records exactly the structure pages (each inaccessible in the
    /// parent at the recorded vaddr); an accessible page of a child is accessible in its parent;
    /// a page is given to at most one child and used as at most one structure; descriptors are
    /// flagged. (No cycle is checked while reading the tree.)
    public static func consistency(_ t: PartitionTree) -> [Violation] {
        var out: [Violation] = []
        for (pi, p) in t.partitions.enumerated() {
            let d = p.descriptor
            // Shadow 1 of p against its children's leaves.
            var givenTo: [UInt64: Int] = [:]
            for ci in p.children {
                let c = t.partitions[ci]
                for leaf in c.leaves {
                    if let other = givenTo[leaf.paddr] {
                        out.append(Violation(.pageGivenTwice, partition: d, page: leaf.paddr,
                            "given to children 0x\(String(t.partitions[other].descriptor, radix: 16)) and 0x\(String(c.descriptor, radix: 16))"))
                    }
                    givenTo[leaf.paddr] = ci
                }
            }
            for leaf in p.leaves {
                let flagged = leaf.sh1 & SpecLayout.Shadow1.descriptorFlag != 0
                let named = SpecLayout.Shadow1.named(leaf.sh1)
                if let ci = givenTo[leaf.paddr] {
                    if flagged || named != t.partitions[ci].descriptor {
                        out.append(Violation(.shadowMismatch, partition: d, page: leaf.paddr, vaddr: leaf.va,
                            "given to child 0x\(String(t.partitions[ci].descriptor, radix: 16)) but shadow 1 says 0x\(String(leaf.sh1, radix: 16))"))
                    }
                } else if leaf.sh1 != 0 && !flagged {
                    out.append(Violation(.shadowMismatch, partition: d, page: leaf.paddr, vaddr: leaf.va,
                        "shadow 1 names child 0x\(String(named, radix: 16)), which does not map the page"))
                }
            }
            for ci in p.children {
                let c = t.partitions[ci]
                let at = c.descriptor
                let vaInParent = p.leaves.first(where: { $0.paddr == at })
                if vaInParent == nil || vaInParent!.sh1 != at | SpecLayout.Shadow1.descriptorFlag {
                    out.append(Violation(.descriptorNotFlagged, partition: d, page: at, "child descriptor not flagged"))
                }
            }
            guard let parentIndex = p.parent else { continue }
            let parent = t.partitions[parentIndex]
            // Shadow 2 and accessibility against the parent.
            for leaf in p.leaves {
                guard let k = parent.byVA[leaf.sh2], parent.leaves[k].paddr == leaf.paddr else {
                    out.append(Violation(.shadowMismatch, partition: d, page: leaf.paddr, vaddr: leaf.va,
                        "shadow 2 says vaddr 0x\(String(leaf.sh2, radix: 16)) in the parent, which does not map this page there"))
                    continue
                }
                if leaf.accessible && !parent.leaves[k].accessible {
                    out.append(Violation(.accessibleNotInParent, partition: d, page: leaf.paddr, vaddr: leaf.va,
                                         "accessible here, not in the parent"))
                }
                if leaf.writable && !parent.leaves[k].writable || leaf.executable && !parent.leaves[k].executable {
                    out.append(Violation(.accessibleNotInParent, partition: d, page: leaf.paddr, vaddr: leaf.va,
                                         "a right the parent lacks (rights not monotonic)"))
                }
            }
            // Configuration list = structure pages, each inaccessible in the parent where recorded.
            let recorded = p.configEntries + p.configPages
            let expected = [p.descriptor] + p.tables + p.shadow1 + p.shadow2
            let recordedPages = Set(recorded.map(\.page))
            if recordedPages.count != recorded.count {
                out.append(Violation(.configListMismatch, partition: d, "a page is recorded twice"))
            }
            if recordedPages != Set(expected + p.configPages.map(\.page)) {
                let missing = Set(expected).subtracting(recordedPages).sorted()
                let extra = recordedPages.subtracting(expected + p.configPages.map(\.page)).sorted()
                out.append(Violation(.configListMismatch, partition: d, page: missing.first ?? extra.first ?? 0,
                    "not recorded: \(missing.map { String($0, radix: 16) }); recorded but not structures: \(extra.map { String($0, radix: 16) })"))
            }
            for r in recorded {
                guard let k = parent.byVA[r.va], parent.leaves[k].paddr == r.page else {
                    out.append(Violation(.configListMismatch, partition: d, page: r.page, vaddr: r.va,
                                         "recorded vaddr in the parent does not map this structure page"))
                    continue
                }
                if parent.leaves[k].accessible {
                    out.append(Violation(.kernelDataIsolation, partition: parent.descriptor, page: r.page, vaddr: r.va,
                                         "structure page of child still accessible to its giver"))
                }
                if parent.leaves[k].sh1 != 0 && r.page != p.descriptor {
                    out.append(Violation(.pageGivenTwice, partition: parent.descriptor, page: r.page, vaddr: r.va,
                                         "structure page also recorded as given to a child"))
                }
            }
            _ = pi
        }
        // A page is a structure of at most one partition, at most once.
        for (page, owners) in structureOwners(t) where owners.count > 1 {
            out.append(Violation(.pageGivenTwice, partition: t.partitions[owners[0]].descriptor, page: page,
                                 "used as \(owners.count) structures"))
        }
        return out
    }
}

/// The memory requests of one kernel entry, as the model CPU saw them: for each, the page, what
/// kind of request it was and the partition current when it was made (`ModelCPU.accesses`).
public struct KernelAccesses: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        /// A word or byte read, a word or byte written (zeroPage and copy count per page).
        case load, store
        /// A context read for `loadCPUState`, written by `saveCPUState`.
        case contextLoad, contextSave
    }
    public struct Request: Hashable, Sendable {
        public var kind: Kind
        /// The physical page.
        public var page: UInt64
        /// The descriptor of the partition current when the request was made.
        public var partition: UInt64
    }
    /// Every distinct request of the entry.
    public private(set) var requests: Set<Request> = []

    public init() {}

    public mutating func note(_ kind: Kind, _ paddr: UInt64, by partition: UInt64) {
        requests.insert(Request(kind: kind, page: paddr & ~(AddressSpace.pageSize - 1), partition: partition))
    }

    /// Every page of `[start, start + bytes)`.
    public mutating func note(_ kind: Kind, range start: UInt64, bytes: UInt64, by partition: UInt64) {
        guard bytes > 0 else { return }
        var page = start & ~(AddressSpace.pageSize - 1)
        while page < start + bytes {
            note(kind, page, by: partition)
            page += AddressSpace.pageSize
        }
    }

    /// Every page a context's words lie on, as the CPU platform reads and writes them.
    package mutating func note(_ kind: Kind, _ location: ContextLocation, by partition: UInt64) {
        for word in Properties.contextWords(location) { note(kind, word, by: partition) }
    }
}

extension Properties {
    /// The dereference property (DESIGN.md §5, the paper's §4) on one kernel entry: every load
    /// and store the kernel made for a partition landed on a kernel page or on a page that
    /// partition can reach, writable for a store. `before` is the tree the entry started
    /// from, `after` the one it left (read only when needed); reachable in either counts.
    ///
    /// Which partition a request is for:
    /// * a context saved or loaded (yield, delivery) is the current partition's at that moment
    ///   — the caller or the interrupted partition for a save, the partition about to run for
    ///   a load — and must lie on pages it can write (save) or read (load), **never** on a kernel
    ///   page: that is the paper's Fig. 4;
    /// * a word stored outside the kernel's pages (consoleRead's bytes, a page zeroed before it
    ///   becomes a structure) is the current partition's, which must be able to write it;
    /// * a word loaded outside the kernel's pages (a VIDT entry, a free-list link, console
    ///   bytes) is for the current partition or one of its ancestors (a yield to the parent
    ///   reads the parent's VIDT; a fault is routed up the tree): the page must be readable by
    ///   one of them. This is the weakest of the three: root reaches every page any partition
    ///   reaches, so it only excludes pages no partition can read.
    /// Kernel pages are `kernelPages` and every partition's structure pages, before or after.
    /// A page of `firmwarePages` (the model's page 0, `ModelMachine.firmwarePages`) is neither
    /// the kernel's nor any partition's: no request may touch it.
    public static func dereference(_ accesses: KernelAccesses, before: PartitionTree, after: () -> PartitionTree,
                                   kernelPages: Set<UInt64>, firmwarePages: Set<UInt64> = []) -> [Violation] {
        var out: [Violation] = []
        let early = Reach(before)
        var late: Reach?
        func reaches(_ check: (Reach) -> Bool) -> Bool {
            if check(early) { return true }
            if late == nil { late = Reach(after()) }
            return check(late!)
        }
        for r in accesses.requests.sorted(by: { ($0.page, $0.kind.rawValue) < ($1.page, $1.kind.rawValue) }) {
            let isKernel = { (t: Reach) in kernelPages.contains(r.page) || t.structures.contains(r.page) }
            let what: String
            switch r.kind {
            case _ where firmwarePages.contains(r.page):
                what = "touched the firmware's page, which is neither the kernel's nor any partition's"
            case .contextSave:
                guard !reaches({ $0.reaches(r.partition, r.page, write: true) }) else { continue }
                what = "saved a context on a page the partition cannot write"
            case .contextLoad:
                guard !reaches({ $0.reaches(r.partition, r.page, write: false) }) else { continue }
                what = "loaded a context from a page the partition cannot read"
            case .store:
                guard !reaches({ isKernel($0) || $0.reaches(r.partition, r.page, write: true) }) else { continue }
                what = "stored on a page that is neither the kernel's nor writable by the partition"
            case .load:
                guard !reaches({ isKernel($0) || $0.reachesFromLine(r.partition, r.page) }) else { continue }
                what = "loaded from a page that is neither the kernel's nor readable by the partition or an ancestor"
            }
            out.append(Violation(.dereference, partition: r.partition, page: r.page, "the kernel \(what)"))
        }
        return out
    }

    /// Which pages each partition of a tree reaches, and every structure page.
    struct Reach {
        let tree: PartitionTree
        let index: [UInt64: Int]
        let structures: Set<UInt64>

        init(_ t: PartitionTree) {
            tree = t
            index = Dictionary(t.partitions.enumerated().map { ($1.descriptor, $0) }, uniquingKeysWith: { a, _ in a })
            structures = Set(t.partitions.flatMap(\.structurePages))
        }

        func reaches(_ partition: UInt64, _ page: UInt64, write: Bool) -> Bool {
            guard let i = index[partition], let k = tree.partitions[i].byPage[page] else { return false }
            let leaf = tree.partitions[i].leaves[k]
            return leaf.accessible && (!write || leaf.writable)
        }

        /// Readable by `partition` or one of its ancestors.
        func reachesFromLine(_ partition: UInt64, _ page: UInt64) -> Bool {
            var i = index[partition]
            var bound = tree.partitions.count
            while let j = i, bound > 0 {
                if let k = tree.partitions[j].byPage[page], tree.partitions[j].leaves[k].accessible { return true }
                i = tree.partitions[j].parent
                bound -= 1
            }
            return false
        }
    }
}
