/// The abstraction function: from the concrete model (simulated memory, model CPU) to an
/// `AbstractState`.
///
/// It reads what the MMU and the kernel would read, and nothing the services computed for it:
///
/// * partitions are found from root down through shadow-1 descriptor flags (`D | 1` where `D` is
///   the page mapped there), exactly as the kernel promotes a child's name;
/// * each partition's parent, name and interrupt state are its descriptor's words;
/// * its mappings are the leaves of its tables as the MMU walks them: rights and accessibility
///   are the AND of every level's W / U bits (and no NX on the path), so a corrupted non-leaf
///   entry shows; what the partition did with a page is its shadow-1 leaf;
/// * its structures are the table pages met on the walk with the shadow pages beside them, and
///   its configuration pages with their entry counts;
/// * memory is every page some partition can access (contents shared, not copied);
/// * the serial port's waiting bytes are the model's `consoleInput`.
///
/// Nothing here trusts a pointer: a word outside memory reads as 0, a table or shadow pointer
/// that is not a page is not followed, a partition reached twice is visited once, and the
/// configuration list is walked at most as many pages as memory has. A broken concrete state
/// therefore abstracts to *some* state, which then differs from the specification's.
import SprigABI
import SprigCore

/// See the file overview.
public enum Abstraction {
    /// The abstract state of `system` now.
    public static func of(_ system: ModelSystem) -> AbstractState {
        of(memory: system.memory, root: system.machine.root, cpu: system.cpu, consoleInput: system.consoleInput)
    }

    /// The abstract state of a machine whose memory is `memory`, root `root`, CPU `cpu`, with
    /// `consoleInput` waiting on its serial port.
    public static func of(memory: SimulatedMemory, root: PhysicalAddress, cpu: ModelCPU, consoleInput: [UInt8] = []) -> AbstractState {
        let words = memory.words
        return words.withUnsafeBufferPointer { of(Reader(words: $0), words, root: root, cpu: cpu, consoleInput: consoleInput) }
    }

    private static func of(_ reader: Reader, _ words: [UInt64], root: PhysicalAddress, cpu: ModelCPU,
                           consoleInput: [UInt8]) -> AbstractState {
        var partitions: [UInt64: AbstractPartition] = [:]
        var queue: [UInt64] = [root.raw]
        var next = 0
        while next < queue.count {
            let d = queue[next]
            next += 1
            let part = reader.partition(d, isRoot: d == root.raw)
            partitions[d] = part
            for m in part.pages.values {
                if case .descriptorOf(let child) = m.given, child == m.page, partitions[child] == nil,
                   !queue.contains(child), reader.isPage(child) {
                    queue.append(child)
                }
            }
        }
        var memoryPages: [UInt64: PageWords] = [:]
        for part in partitions.values {
            for m in part.pages.values where m.accessible && reader.isPage(m.page) {
                if memoryPages[m.page] == nil { memoryPages[m.page] = PageWords(words, start: Int(m.page >> 3)) }
            }
        }
        let current = cpu.currentPartition.raw
        return AbstractState(
            root: root.raw, partitions: partitions, current: current, registers: cpu.registers,
            addressSpaceIsCurrent: cpu.cr3.raw == reader.word(current + UInt64(DescriptorLayout.rootTable)),
            memory: memoryPages, mxcsrMask: cpu.mxcsrMask, consoleInput: consoleInput)
    }
}

/// Bounds-checked reads of a snapshot of physical memory.
private struct Reader {
    let words: UnsafeBufferPointer<UInt64>

    func word(_ paddr: UInt64) -> UInt64 {
        paddr & 7 == 0 && paddr >> 3 < UInt64(words.count) ? words[Int(paddr >> 3)] : 0
    }

    /// A nonzero page-aligned address inside memory.
    func isPage(_ paddr: UInt64) -> Bool {
        paddr != 0 && paddr & (AddressSpace.pageSize - 1) == 0 && paddr >> 3 < UInt64(words.count)
    }

    func partition(_ d: UInt64, isRoot: Bool) -> AbstractPartition {
        typealias L = DescriptorLayout
        let field = { (offset: Int) in word(d + UInt64(offset)) }
        let roots = [field(L.rootTable), field(L.shadow1), field(L.shadow2)]
        let parent = field(L.parent)
        var part = AbstractPartition(
            parent: parent == 0 ? nil : parent, name: field(L.vaddrInParent), interruptState: field(L.interruptState),
            pages: [:], structures: Structures(descriptor: d, roots: roots, tables: [:], configList: []))
        if roots.allSatisfy(isPage) {
            walk(level: 4, table: roots[0], shadow1: roots[1], shadow2: roots[2], base: 0,
                 user: true, write: true, execute: true, into: &part)
        }
        if !isRoot { part.structures.configList = configList(d) }
        return part
    }

    /// Visits the `level` table `table` (with its shadow pages, 0 when absent) covering vaddrs
    /// from `base`, carrying the rights of the levels above. `table` and nonzero shadows are
    /// pages inside memory (`isPage`), so their entries are read without further checks.
    private func walk(level: Int, table: UInt64, shadow1: UInt64, shadow2: UInt64, base: UInt64,
                      user: Bool, write: Bool, execute: Bool, into part: inout AbstractPartition) {
        let entrySpan = TableNode.span(level - 1)
        let entries = level == 4 ? 256 : 512  // the PML4's upper half is the kernel's
        let t = Int(table >> 3), s1Base = Int(shadow1 >> 3), s2Base = Int(shadow2 >> 3)
        // A while loop over raw words, not a for-in over a range of `PageTableEntry`s: this is
        // the hottest loop of the checker, and both are slow in debug builds.
        var i = 0
        while i < entries {
            let raw = words[t + i]
            guard raw & PageTableEntry.present != 0 else { i += 1; continue }
            let e = PageTableEntry(raw: raw)
            let va = base + UInt64(i) * entrySpan
            let u = user && e.isUser, w = write && e.isWritable, x = execute && e.isExecutable
            let s1 = shadow1 == 0 ? 0 : words[s1Base + i]
            let s2 = shadow2 == 0 ? 0 : words[s2Base + i]
            i += 1
            if level == 1 {
                let rights = Rights.read | (w ? Rights.write : 0) | (x ? Rights.execute : 0)
                part.pages[va] = Mapping(page: e.frame.raw, rights: rights, accessible: u, given: Self.given(s1))
                continue
            }
            guard !e.isLargePage, isPage(e.frame.raw) else { continue }
            part.structures.tables[TableNode(level: level - 1, base: va)] = [e.frame.raw, s1, s2]
            walk(level: level - 1, table: e.frame.raw, shadow1: isPage(s1) ? s1 : 0, shadow2: isPage(s2) ? s2 : 0,
                 base: va, user: u, write: w, execute: x, into: &part)
        }
    }

    /// A shadow-1 leaf word, abstractly.
    private static func given(_ sh1: UInt64) -> Given {
        if sh1 == 0 { return .kept }
        let d = sh1 & PageTableEntry.addressMask
        return sh1 & Shadow.descriptorFlag != 0 ? .descriptorOf(d) : .toChild(d)
    }

    private func configList(_ d: UInt64) -> [ConfigPage] {
        var list: [ConfigPage] = []
        var page = word(d + UInt64(DescriptorLayout.configList))
        let declared = word(d + UInt64(DescriptorLayout.configPages))
        while isPage(page), UInt64(list.count) < declared, list.count < words.count / PageWords.count,
              !list.contains(where: { $0.page == page }) {
            list.append(ConfigPage(page: page, entries: word(page + UInt64(ConfigList.count))))
            page = word(page + UInt64(ConfigList.next))
        }
        return list
    }
}
