/// The abstraction function: from the concrete model (simulated memory, model CPU) to an
/// `AbstractState`.
///
/// It reads what the MMU and the kernel would read, and nothing the services computed for it:
///
/// * partitions are found from root down through shadow-1 descriptor flags (`D | 1` where `D` is
///   the page mapped there), exactly as the kernel promotes a child's name;
/// * each partition's parent, name and interrupt state are its descriptor's words;
/// * its mappings are what the MMU maps, as the SDM describes it (`SpecMMU.entry`, not the
///   kernel's walk): rights and accessibility are the AND of every level's W / U bits (and no
///   XD on the path), so a corrupted non-leaf entry shows; a PS bit at the PDPT or PD level maps
///   every 4 KiB page of its 1 GiB / 2 MiB; an entry with a reserved bit maps nothing; a table
///   at physical page 0 is read like any other; what the partition did with a page is its
///   shadow-1 leaf;
/// * its structures are the table pages met on the walk with the shadow pages beside them, and
///   the set of its configuration pages;
/// * memory is every page some partition can access (contents shared, not copied);
/// * the serial port's waiting bytes are the model's `consoleInput`.
///
/// The kernel's format (descriptor offsets, shadow-1 flag, configuration page header) is read as
/// docs/structures.md documents it (`SpecLayout`), not through SprigCore's own constants.
///
/// Nothing here trusts a pointer: a word outside memory reads as 0, a table outside memory or
/// a shadow pointer that is not a nonzero page is not followed, a partition reached twice is visited once, and the
/// configuration list is walked at most as many pages as memory has. A broken concrete state
/// therefore abstracts to *some* state, which then differs from the specification's.
import SprigABI
import struct SprigCore.PhysicalAddress

/// See the file overview.
public enum Abstraction {
    /// The abstract state of `system` now.
    public static func of(_ system: ModelSystem) -> AbstractState {
        var s = of(memory: system.memory, root: system.machine.root, cpu: system.cpu, consoleInput: system.consoleInput)
        s.consoleOutput = system.console
        return s
    }

    /// The abstract state of `system` now, given `known`, the abstraction of the same memory
    /// (nothing stored since it was made): `known` with the CPU's part and the serial port's
    /// bytes taken again, as `of(system)` would give them at a fraction of the cost.
    public static func of(_ system: ModelSystem, sameMemoryAs known: AbstractState) -> AbstractState {
        var s = known
        let words = system.memory.words
        words.withUnsafeBufferPointer { takeCPU(&s, Reader(words: $0), cpu: system.cpu, consoleInput: system.consoleInput) }
        s.consoleOutput = system.console
        return s
    }

    /// The CPU's part of an abstract state: who runs, its registers, whether CR3 is its PML4.
    private static func takeCPU(_ s: inout AbstractState, _ reader: Reader, cpu: ModelCPU, consoleInput: [UInt8]) {
        s.current = cpu.currentPartition.paddr.raw
        s.registers = cpu.registers
        s.addressSpaceIsCurrent = cpu.cr3.raw == reader.word(s.current + SpecLayout.Descriptor.rootTable)
        s.mxcsrMask = cpu.mxcsrMask
        s.consoleInput = consoleInput
    }

    /// The abstract state of a machine whose memory is `memory`, root `root`, CPU `cpu`, with
    /// `consoleInput` waiting on its serial port.
    package static func of(memory: SimulatedMemory, root: PhysicalAddress, cpu: ModelCPU, consoleInput: [UInt8] = []) -> AbstractState {
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
            for m in part.pages.values where m.accessible && reader.inMemory(m.page) {
                if memoryPages[m.page] == nil { memoryPages[m.page] = PageWords(words, start: Int(m.page >> 3)) }
            }
        }
        var s = AbstractState(root: root.raw, partitions: partitions, current: 0, registers: cpu.registers,
                              addressSpaceIsCurrent: false, memory: memoryPages, mxcsrMask: 0)
        takeCPU(&s, reader, cpu: cpu, consoleInput: consoleInput)
        return s
    }
}

/// Bounds-checked reads of a snapshot of physical memory.
private struct Reader {
    let words: UnsafeBufferPointer<UInt64>

    func word(_ paddr: UInt64) -> UInt64 {
        paddr & 7 == 0 && paddr >> 3 < UInt64(words.count) ? words[Int(paddr >> 3)] : 0
    }

    /// A page-aligned address whose whole page is inside memory (physical page 0 included: the
    /// MMU reads it like any other).
    func inMemory(_ paddr: UInt64) -> Bool {
        paddr & (SpecLayout.pageBytes - 1) == 0 && paddr >> 3 < UInt64(words.count)
    }

    /// A nonzero page inside memory: what a descriptor or shadow pointer must be (0 there means
    /// "none" in the kernel's format).
    func isPage(_ paddr: UInt64) -> Bool { paddr != 0 && inMemory(paddr) }

    func partition(_ d: UInt64, isRoot: Bool) -> AbstractPartition {
        typealias L = SpecLayout.Descriptor
        let field = { (offset: UInt64) in word(d + offset) }
        let roots = [field(L.rootTable), field(L.shadow1), field(L.shadow2)]
        let parent = field(L.parent)
        var part = AbstractPartition(
            parent: parent == 0 ? nil : parent, name: field(L.vaddrInParent), interruptState: field(L.interruptState),
            pages: [:], structures: Structures(descriptor: d, roots: roots, tables: [:], configPages: []))
        // CR3 takes the PML4 wherever it is; the shadows are followed only where the kernel's
        // format says there is one.
        let pml4 = roots[0] & SpecMMU.frameBits
        if inMemory(pml4) {
            walk(level: 4, table: pml4, shadow1: isPage(roots[1]) ? roots[1] : 0, shadow2: isPage(roots[2]) ? roots[2] : 0,
                 base: 0, user: true, write: true, execute: true, into: &part)
        }
        if !isRoot { part.structures.configPages = configPages(d) }
        return part
    }

    /// Visits the `level` table `table` (with its shadow pages, 0 when absent) covering vaddrs
    /// from `base`, carrying the rights of the levels above, as the SDM's MMU reads it
    /// (`SpecMMU.entry`): an entry with a reserved bit maps nothing below it, an entry with PS
    /// at the PDPT or PD level maps a 1 GiB or 2 MiB page (every 4 KiB page of it is a
    /// mapping), a table may be any page of memory, physical page 0 too. `table` and nonzero
    /// shadows are pages inside memory, so their entries are read without further checks.
    private func walk(level: Int, table: UInt64, shadow1: UInt64, shadow2: UInt64, base: UInt64,
                      user: Bool, write: Bool, execute: Bool, into part: inout AbstractPartition) {
        let entries = level == 4 ? 256 : 512  // the PML4's upper half is the kernel's
        let t = Int(table >> 3), s1Base = Int(shadow1 >> 3), s2Base = Int(shadow2 >> 3)
        // A while loop over raw words, not a for-in over a range: this is the hottest loop of
        // the checker, and both are slow in debug builds.
        var i = 0
        while i < entries {
            let raw = words[t + i]
            guard raw & SpecMMU.Bit.present != 0 else { i += 1; continue }
            let e = SpecMMU.entry(raw, level: level)
            let va = base + UInt64(i) * e.span
            let s1 = shadow1 == 0 ? 0 : words[s1Base + i]
            let s2 = shadow2 == 0 ? 0 : words[s2Base + i]
            i += 1
            guard !e.reserved else { continue }
            let u = user && e.user, w = write && e.writable, x = execute && e.executable
            if e.mapsPage {
                let rights = Rights.read | (w ? Rights.write : 0) | (x ? Rights.execute : 0)
                var k: UInt64 = 0
                while k < e.span {
                    part.pages[va + k] = Mapping(page: e.frame + k, rights: rights, accessible: u, given: Self.given(s1))
                    k += SpecLayout.pageBytes
                }
                continue
            }
            guard inMemory(e.frame) else { continue }
            part.structures.tables[TableNode(level: level - 1, base: va)] = [e.frame, s1, s2]
            walk(level: level - 1, table: e.frame, shadow1: isPage(s1) ? s1 : 0, shadow2: isPage(s2) ? s2 : 0,
                 base: va, user: u, write: w, execute: x, into: &part)
        }
    }

    /// A shadow-1 leaf word, abstractly.
    private static func given(_ sh1: UInt64) -> Given {
        if sh1 == 0 { return .kept }
        let d = SpecLayout.Shadow1.named(sh1)
        return sh1 & SpecLayout.Shadow1.descriptorFlag != 0 ? .descriptorOf(d) : .toChild(d)
    }

    /// The configuration pages of the list at descriptor `d`, as a set (bounded by the count the
    /// descriptor declares, by memory, and by the first page met twice).
    private func configPages(_ d: UInt64) -> Set<UInt64> {
        var pages: Set<UInt64> = []
        var page = word(d + SpecLayout.Descriptor.configList)
        let declared = word(d + SpecLayout.Descriptor.configPages)
        while isPage(page), UInt64(pages.count) < declared, pages.count < words.count / PageWords.count,
              !pages.contains(page) {
            pages.insert(page)
            page = word(page + SpecLayout.ConfigPage.next)
        }
        return pages
    }
}
