/// Root's boot state checked against an independent description of it: what DESIGN.md §2,
/// docs/structures.md and the boot-info layout (`BootInfoLayout`) say root owns right after
/// boot, written without the kernel's walks, allocator or shadow code.
///
/// The explorer starts from the state `RootBuilder` built and checks what partitions do from
/// there; a wrong boot state that is still self-consistent (a stack page missing, a window page
/// mapped twice, boot info counting wrong, a page not zeroed) passes every one of its checks.
/// This check builds root on several boot layouts — RAM in ranges with holes and unaligned
/// ends, ranges that overlap and touch as a firmware map's entries may, entries that are not
/// RAM over RAM, boot modules inside and at the edges of ranges (one starting mid-page, at an odd
/// address), root images of whole and partial pages, command lines empty, short, of a whole
/// word and longer than the limit — on memory whose every word starts out as a nonzero poison
/// (firmware leaves RAM dirty), and compares:
///
/// * **Root's lower half**, enumerated by its own 4-level walk (present bit, U/W/NX
///   accumulated across levels, 4 KiB leaves only): exactly the image at `imageBase` (RWX,
///   the image's bytes then zeros), `rootStackPages` stack pages below `rootStackTop`, the VIDT,
///   the boot-info page and the initial-context page (RW, no-exec), and the window: each page
///   `p` of root's memory at `rootWindowBase + p`, module pages RWX, the others RW no-exec.
///   Nothing else; no physical page twice; no kernel page.
/// * **The pages**: root's pages, its window and its structures (descriptor, tables, both
///   shadows) are exactly the free RAM plus the boot modules' pages, each used once; the
///   allocator is empty afterwards.
/// * **The structures** (docs/structures.md): the descriptor holds its table and shadow roots
///   and nothing else; every non-leaf table entry is present|writable|user without NX; for
///   every table page there is one shadow-1 and one shadow-2 page whose non-leaf entries hold
///   the shadow pages one level down exactly where the table entry is present; root's leaf
///   shadows are 0; the kernel half (entries 256–511) is the kernel's PML4's.
/// * **Fresh pages are zeroed**: the image page past the image, the stack, the VIDT but its
///   entry 0, the boot info but its fields, the context but its registers, every structure page
///   but its entries.
/// * **Boot info** (`BootInfoLayout`): magic, version, total pages, window pages, the window's
///   ranges (runs of consecutive physical pages covering the window exactly once, no two
///   successive ranges adjoining), the modules (vaddr, size, name), the descriptor, image pages,
///   kernel pages (the kernel image plus every structure page), the window base, the command line
///   (cut at `maxCommandLine`, NUL-padded).
/// * **The initial context** (`ContextLayout`, FXSAVE from the SDM): rip the image base, rsp the
///   stack top, rdi the boot info, rflags IF and bit 1, valid, FCW 0x37F, MXCSR 0x1F80, zeros.
/// * **The reference walk** (`PageTableWalk.walk`) gives what the tables say, and refuses
///   unmapped, kernel-half and non-canonical addresses with their errors.
/// * **Refusals**: a layout without enough memory, with too many modules, an empty image or one
///   of 0x4000 pages (64 MiB; 0x3FFF pages are taken), or two modules sharing a page is refused
///   with its error, not built.
///
/// `BootAllocatorCheck` (beside this file) checks the allocator alone against a set of pages.
import SprigABI
import SprigCore

/// See the file overview.
public enum BootStateCheck {
    /// One boot layout: RAM ranges as the firmware reports them, what is reserved in them, root's
    /// image and the other modules, and the command line.
    public struct Layout: Sendable {
        public var name: String
        public var pages: Int
        /// RAM as the firmware's map gives it (byte addresses, not necessarily page-aligned).
        public var ram: [(start: UInt64, end: UInt64)]
        /// The map's other entries (base and length in bytes; base + length may wrap past 2^64),
        /// listed ahead of the RAM ones: what they touch is not RAM.
        public var notRAM: [(base: UInt64, length: UInt64)] = []
        /// Root's image module: its first page and its size in bytes.
        public var imagePage: UInt64
        public var imageBytes: UInt64
        /// Other boot modules: physical address of the first byte (not necessarily page-aligned),
        /// size in bytes.
        public var modules: [(start: UInt64, bytes: UInt64)]
        public var commandLine: [UInt8]
    }

    /// Pages 0 … kernelImagePages are the "first megabyte" and the kernel image; the next two
    /// the kernel's PML4 and the table its upper half points at. They are never in `ram`.
    static let kernelImagePages: UInt64 = 3
    static let kernelPML4Page: UInt64 = 4
    static let kernelPDPTPage: UInt64 = 5
    static let firstFreePage: UInt64 = 6

    /// The layouts checked (see the file overview).
    public static let layouts: [Layout] = {
        let ps = AddressSpace.pageSize
        // Printable bytes, those starting a word even: a word assembled from a nonzero start
        // shows in bit 0.
        let line = (0..<300).map { UInt8(0x22 + $0 % 90) }
        return [
            Layout(name: "one range, no module", pages: 200, ram: [(firstFreePage * ps, 200 * ps)],
                   imagePage: 10, imageBytes: ps, modules: [], commandLine: []),
            Layout(name: "ranges with a hole, modules inside and at the edges", pages: 260,
                   ram: [(120 * ps + 5, 260 * ps - 3), (firstFreePage * ps, 100 * ps)],
                   imagePage: 20, imageBytes: 2 * ps + 1,
                   modules: [(40 * ps, 3 * ps - 7), ((120 + 1) * ps, ps), (99 * ps + 0x801, 8)], commandLine: Array(line.prefix(13))),
            Layout(name: "image at a range start, a command line of whole words", pages: 240,
                   ram: [(firstFreePage * ps, 80 * ps), (80 * ps, 240 * ps)],
                   imagePage: firstFreePage, imageBytes: 3 * ps - 1, modules: [(230 * ps, 2 * ps)],
                   commandLine: Array(line.prefix(16))),
            Layout(name: "a command line past the limit, many ranges", pages: 300,
                   ram: [(firstFreePage * ps, 50 * ps), (60 * ps, 61 * ps), (70 * ps, 72 * ps), (80 * ps, 300 * ps)],
                   imagePage: 60, imageBytes: 7, modules: [(70 * ps, ps + 1), (299 * ps, ps)], commandLine: line),
            Layout(name: "firmware entries that overlap and touch", pages: 260,
                   ram: [(firstFreePage * ps, 150 * ps), (100 * ps + 7, 220 * ps), (120 * ps, 130 * ps), (220 * ps, 260 * ps)],
                   notRAM: [(140 * ps + 3, 2 * ps), (250 * ps + 5, UInt64.max)],
                   imagePage: 30, imageBytes: ps, modules: [(145 * ps, 10 * ps)], commandLine: []),
        ]
    }()

    static let refusedLayout = "RootBuilder refused the layout"

    /// Every layout's findings, each prefixed with the layout's name; empty when all agree.
    public static func run() -> [String] {
        var out: [String] = []
        for layout in layouts { out += check(layout).map { "\(layout.name): \($0)" } }
        out += refusals()
        return out
    }

    /// The poison in every word of fresh memory: nonzero, different in every word, and not a
    /// present table entry (bit 0 clear) so that a walk through it is not mistaken for a table.
    static func poison(_ wordIndex: Int) -> UInt64 { 0xB007_0000_0000_0000 | (UInt64(wordIndex) << 4) | 0xA }

    /// Memory of `pages` pages, poisoned, with the kernel's PML4 (the first, the last and one
    /// other upper-half entry).
    static func memory(pages: Int) -> SimulatedMemory {
        let m = SimulatedMemory(pages: pages)
        for i in 0..<(pages * 512) { m.store(PhysicalAddress(UInt64(i) * 8), poison(i)) }
        let ps = AddressSpace.pageSize
        for i in 0..<512 { m.store(PhysicalAddress(kernelPML4Page * ps + UInt64(i) * 8), 0) }
        m.store(PhysicalAddress(kernelPML4Page * ps + 256 * 8), kernelPDPTPage * ps | 0x3)
        m.store(PhysicalAddress(kernelPML4Page * ps + 511 * 8), kernelPDPTPage * ps | 0x3)
        m.store(PhysicalAddress(kernelPML4Page * ps + 300 * 8), kernelPDPTPage * ps | 0x3 | 1 << 63)
        return m
    }

    /// The byte root's image has at offset `k` (and the source page past it keeps its poison).
    static func imageByte(_ k: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: k &* 7 &+ 1) }

    static func pagesOf(_ page: UInt64, bytes: UInt64) -> [UInt64] {
        let ps = AddressSpace.pageSize
        return (0..<((bytes + ps - 1) / ps)).map { (page + $0) * ps }
    }

    /// Builds `layout` the way the kernel's boot does (the firmware's RAM free, the modules
    /// reserved) and compares the result with the description. `tamper` runs between the two
    /// (the tests plant a fault there to see the check find it).
    package static func check(_ layout: Layout, tamper: (SimulatedMemory, RootBuildResult) -> Void = { _, _ in }) -> [String] {
        let ps = AddressSpace.pageSize
        let m = memory(pages: layout.pages)
        let imagePages = pagesOf(layout.imagePage, bytes: layout.imageBytes)
        for k in 0..<layout.imageBytes { m.writeByte(PhysicalAddress(layout.imagePage * ps + k), imageByte(k)) }
        var allocator = BootAllocator()
        allocator.addFirmwareMap(low: 0, high: UInt64(layout.pages) * ps) { entry in
            for r in layout.notRAM { entry(FirmwareEntry(base: r.base, length: r.length, usable: false)) }
            for r in layout.ram { entry(FirmwareEntry(base: r.start, length: r.end - r.start, usable: true)) }
        }
        allocator.reserve(start: layout.imagePage * ps, end: layout.imagePage * ps + layout.imageBytes)
        for mod in layout.modules { allocator.reserve(start: mod.start, end: mod.start + mod.bytes) }
        var modules = InlineArray<16, BootModule>(repeating: BootModule(start: .null, bytes: 0, name0: 0, name1: 0))
        for (k, mod) in layout.modules.enumerated() {
            modules[k] = BootModule(start: PhysicalAddress(mod.start), bytes: mod.bytes, name0: 0x6D6F_6400 + UInt64(k), name1: UInt64(k) << 32)
        }
        var commandLine = BootCommandLine()
        for b in layout.commandLine { _ = commandLine.append(b) }
        // Independently: the free pages are whole pages inside RAM, minus every page a module touches.
        let modulePages = layout.modules.flatMap { pagesOf($0.start / ps, bytes: $0.start % ps + $0.bytes) }
        var free: Set<UInt64> = []
        for r in layout.ram {
            var p = (r.start + ps - 1) / ps * ps
            while p + ps <= r.end { free.insert(p); p += ps }
        }
        for r in layout.notRAM {
            let end = r.base &+ r.length < r.base ? UInt64.max : r.base + r.length
            free = free.filter { $0 + ps <= r.base || $0 >= end }
        }
        free.subtract(imagePages)
        free.subtract(modulePages)
        let modulesBefore = modulePages.map { page in (0..<512).map { m.load(PhysicalAddress(page + UInt64($0) * 8)) } }

        let result = RootBuilder.build(
            m, allocator: &allocator, kernelRootTable: PhysicalAddress(kernelPML4Page * ps),
            image: BootModule(start: PhysicalAddress(layout.imagePage * ps), bytes: layout.imageBytes, name0: 0x746F6F72, name1: 0),
            modules: modules, moduleCount: layout.modules.count, totalPages: UInt64(layout.pages),
            kernelImagePages: kernelImagePages, commandLine: commandLine)
        guard case .success(let built) = result else { return ["\(refusedLayout): \(result)"] }
        tamper(m, built)
        var out: [String] = []
        func expect(_ ok: Bool, _ what: @autoclosure () -> String) { if !ok, out.count < 8 { out.append(what()) } }
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        func word(_ a: UInt64) -> UInt64 { m.load(PhysicalAddress(a)) }

        var probe = allocator
        expect(probe.allocatePage() == nil && probe.takeLowestPage() == nil, "the allocator still holds pages after root is built")

        // Root's structures, read by the documented offsets.
        let descriptor = built.descriptor.paddr.raw
        let pml4 = word(descriptor), sh1Root = word(descriptor + 8), sh2Root = word(descriptor + 16)
        expect(pml4 == built.rootTable.paddr.raw, "descriptor word 0 \(hex(pml4)) is not the root table \(hex(built.rootTable.paddr.raw))")
        for w in 3..<512 {
            expect(word(descriptor + UInt64(w) * 8) == 0, "root's descriptor word \(w) is \(hex(word(descriptor + UInt64(w) * 8))), not 0")
        }
        let walk = Walk(memory: m, pml4: pml4, sh1: sh1Root, sh2: sh2Root)
        out += walk.problems.prefix(8)
        for i in 256..<512 {
            let k = word(kernelPML4Page * ps + UInt64(i) * 8)
            expect(word(pml4 + UInt64(i) * 8) == k, "root table entry \(i) is \(hex(word(pml4 + UInt64(i) * 8))), the kernel's is \(hex(k))")
        }
        let structures = [descriptor] + walk.tables + walk.shadow1 + walk.shadow2
        out += referenceWalk(m, rootTable: built.rootTable.paddr, walk.leaves, unmapped: AddressSpace.rootWindowBase + m.bytes)
        expect(Set(structures).count == structures.count, "a structure page is used twice")

        // Root's own pages at their fixed addresses.
        var expected: [UInt64: (rights: String, check: (UInt64) -> Void)] = [:]
        let rw = "rw-", rwx = "rwx"
        for (k, _) in imagePages.enumerated() {
            expected[AddressSpace.imageBase + UInt64(k) * ps] = (rwx, { page in
                for b in 0..<ps {
                    let offset = UInt64(k) * ps + b
                    let want: UInt8 = offset < layout.imageBytes ? imageByte(offset) : 0
                    let got = m.readByte(PhysicalAddress(page + b))
                    if got != want { expect(false, "image byte \(offset) is \(got), not \(want)"); return }
                }
            })
        }
        func zeroed(except words: [Int: UInt64], _ what: String) -> (UInt64) -> Void {
            { page in
                for w in 0..<512 {
                    let got = word(page + UInt64(w) * 8), want = words[w] ?? 0
                    if got != want { expect(false, "\(what) word \(w) is \(hex(got)), not \(hex(want))"); return }
                }
            }
        }
        for n in 1...AddressSpace.rootStackPages {
            expected[AddressSpace.rootStackTop - n * ps] = (rw, zeroed(except: [:], "stack page \(n)"))
        }
        expected[AddressSpace.vidt] = (rw, zeroed(except: [0: AddressSpace.rootInitialContext], "VIDT"))
        expected[AddressSpace.bootInfo] = (rw, { _ in })  // its words: below
        // The FXSAVE image (SDM Vol. 1 §10.5.1): FCW in bytes 0–1, MXCSR in bytes 24–27.
        let fxsave = ContextLayout.fpu / 8
        expected[AddressSpace.rootInitialContext] = (rw, zeroed(except: [
            ContextLayout.rip / 8: AddressSpace.imageBase, ContextLayout.rsp / 8: AddressSpace.rootStackTop,
            ContextLayout.rflags / 8: 0x202, ContextLayout.rdi / 8: AddressSpace.bootInfo, ContextLayout.valid / 8: 1,
            fxsave: 0x037F, fxsave + 3: 0x1F80,
        ], "initial context"))
        var rootPages: Set<UInt64> = []

        // The window: every free page root did not get as its own or as a structure, and the modules.
        let windowFrames = walk.leaves.filter { $0.key >= AddressSpace.rootWindowBase && $0.key < AddressSpace.rootWindowBase + m.bytes }
        for (va, leaf) in windowFrames {
            expect(leaf.frame == va - AddressSpace.rootWindowBase, "window address \(hex(va)) maps \(hex(leaf.frame)), not \(hex(va - AddressSpace.rootWindowBase))")
            expect(leaf.rights == (modulePages.contains(leaf.frame) ? rwx : rw), "window page \(hex(leaf.frame)) has rights \(leaf.rights)")
        }
        for (va, leaf) in walk.leaves where windowFrames[va] == nil {
            guard let e = expected[va] else { expect(false, "root maps \(hex(va)) → \(hex(leaf.frame)), which nothing gives it"); continue }
            expect(leaf.rights == e.rights, "root's page at \(hex(va)) has rights \(leaf.rights), not \(e.rights)")
            e.check(leaf.frame)
            rootPages.insert(leaf.frame)
        }
        for va in expected.keys where walk.leaves[va] == nil { expect(false, "root has no page at \(hex(va))") }
        let window = Set(windowFrames.values.map(\.frame))
        let used = Array(window) + Array(rootPages) + structures
        expect(Set(used).count == used.count, "a physical page is used twice in root's boot state")
        let owned = free.union(modulePages).union(imagePages)
        expect(Set(used) == owned,
               "root's pages and structures are not exactly the free memory and the modules: missing \(owned.subtracting(used).sorted().prefix(4).map(hex)), extra \(Set(used).subtracting(owned).sorted().prefix(4).map(hex))")
        expect(window == Set(modulePages).union(imagePages).union(free.subtracting(rootPages).subtracting(structures)), "the window is not every page left")
        for (k, page) in modulePages.enumerated() {
            expect((0..<512).allSatisfy { modulesBefore[k][$0] == word(page + UInt64($0) * 8) }, "module page \(hex(page)) changed")
        }

        // The isolation properties hold from the first state on.
        let machine = ModelMachine(memory: m, root: built.descriptor.paddr, kernelPML4: PhysicalAddress(kernelPML4Page * ps),
                                   kernelImage: (1...kernelImagePages).map { PhysicalAddress($0 * ps) })
        out += machine.checkAllProperties().prefix(4).map { "property: \($0)" }

        // Boot info.
        guard let infoPage = walk.leaves[AddressSpace.bootInfo]?.frame else { return out }
        var info: [Int: UInt64] = [
            BootInfoLayout.magic: BootInfoLayout.magicValue, BootInfoLayout.version: BootInfoLayout.currentVersion,
            BootInfoLayout.totalPages: UInt64(layout.pages), BootInfoLayout.windowPages: UInt64(window.count),
            BootInfoLayout.moduleCount: UInt64(layout.modules.count), BootInfoLayout.rootDescriptor: descriptor,
            BootInfoLayout.imagePages: UInt64(imagePages.count),
            BootInfoLayout.kernelPages: kernelImagePages + UInt64(structures.count),
            BootInfoLayout.windowBase: AddressSpace.rootWindowBase,
            BootInfoLayout.commandLineLength: UInt64(min(layout.commandLine.count, BootInfoLayout.maxCommandLine)),
        ]
        for (k, mod) in layout.modules.enumerated() {
            let at = BootInfoLayout.modules + k * BootInfoLayout.moduleStride
            info[at] = AddressSpace.rootWindowBase + mod.start
            info[at + 8] = mod.bytes
            info[at + 16] = 0x6D6F_6400 + UInt64(k)
            info[at + 24] = UInt64(k) << 32
        }
        for (k, b) in layout.commandLine.prefix(BootInfoLayout.maxCommandLine).enumerated() {
            let at = BootInfoLayout.commandLine + k / 8 * 8
            info[at, default: 0] |= UInt64(b) << UInt64(k % 8 * 8)
        }
        // The ranges are checked as a description, not as values: record what they cover.
        let rangeCount = Int(word(infoPage + UInt64(BootInfoLayout.rangeCount)))
        expect(rangeCount <= BootInfoLayout.maxRanges, "boot info has \(rangeCount) ranges")
        var covered: [UInt64] = []
        var previousEnd: UInt64?
        for k in 0..<min(rangeCount, BootInfoLayout.maxRanges) {
            let at = BootInfoLayout.ranges + k * BootInfoLayout.rangeStride
            let va = word(infoPage + UInt64(at)), n = word(infoPage + UInt64(at + 8))
            info[at] = va
            info[at + 8] = n
            expect(n > 0 && n <= UInt64(layout.pages), "range \(k) has \(n) pages")
            guard n > 0 && n <= UInt64(layout.pages), va >= AddressSpace.rootWindowBase else { continue }
            expect(previousEnd != va, "ranges \(k - 1) and \(k) adjoin: one run split in two")
            covered += (0..<n).map { va - AddressSpace.rootWindowBase + $0 * ps }
            previousEnd = va + n * ps
        }
        info[BootInfoLayout.rangeCount] = UInt64(rangeCount)
        expect(covered.count == window.count && Set(covered) == window,
               "the boot info's ranges cover \(covered.count) pages (\(Set(covered).count) distinct), the window has \(window.count)")
        zeroed(except: Dictionary(uniqueKeysWithValues: info.map { ($0.key / 8, $0.value) }), "boot info")(infoPage)
        return out
    }

    /// `PageTableWalk.walk`, the kernel's reference walk (the model's helpers and the tests
    /// read partitions' tables with it; the kernel's hot paths use its unrolled form), agrees
    /// with this file's walk on every page root maps, and refuses an address in a table with no
    /// entry for it, one under an absent root-table entry, a kernel-half and a non-canonical one
    /// with their own errors.
    static func referenceWalk(_ m: SimulatedMemory, rootTable: PhysicalAddress, _ leaves: [UInt64: Walk.Mapping],
                              unmapped: UInt64) -> [String] {
        var out: [String] = []
        for (va, leaf) in leaves.sorted(by: { $0.key < $1.key }) where out.count < 4 {
            guard let w = try? PageTableWalk.walk(m, rootTable: rootTable, va: VirtualAddress(va)) else {
                out.append("PageTableWalk.walk refuses 0x\(String(va, radix: 16)), which root maps"); continue
            }
            let rights = (w.walk.userAccessible ? "r" : "-") + (w.walk.userWritable ? "w" : "-")
            if w.walk.frame != leaf.frame || rights != String(leaf.rights.prefix(2)) {
                out.append("PageTableWalk.walk gives 0x\(String(va, radix: 16)) → 0x\(String(w.walk.frame, radix: 16)) \(rights), "
                           + "the tables say 0x\(String(leaf.frame, radix: 16)) \(leaf.rights.prefix(2))")
            }
        }
        let refused: [(UInt64, Status)] = [
            (unmapped, .addressNotMapped), (0x0000_7000_0000_0000, .addressNotMapped),
            (AddressSpace.upperHalfStart, .kernelHalfAddress), (AddressSpace.lowerHalfEnd, .nonCanonicalAddress),
        ]
        for (va, status) in refused {
            do throws(Status) {
                _ = try PageTableWalk.walk(m, rootTable: rootTable, va: VirtualAddress(va))
                out.append("PageTableWalk.walk maps 0x\(String(va, radix: 16)), which root does not map")
            } catch {
                if error != status { out.append("PageTableWalk.walk refuses 0x\(String(va, radix: 16)) as \(error), not \(status)") }
            }
        }
        return out
    }

    /// Layouts the builder must refuse, each with its error.
    static func refusals() -> [String] {
        let ps = AddressSpace.pageSize
        var out: [String] = []
        func attempt(_ pages: Int, image bytes: UInt64, modules count: Int) -> Result<RootBuildResult, RootBuildError> {
            let m = memory(pages: pages)
            var allocator = BootAllocator()
            allocator.addFree(start: firstFreePage * ps + ps, end: UInt64(pages) * ps)
            return RootBuilder.build(
                m, allocator: &allocator, kernelRootTable: PhysicalAddress(kernelPML4Page * ps),
                image: BootModule(start: PhysicalAddress(firstFreePage * ps), bytes: bytes, name0: 0, name1: 0),
                modules: .init(repeating: BootModule(start: PhysicalAddress(firstFreePage * ps), bytes: 0, name0: 0, name1: 0)),
                moduleCount: count, totalPages: UInt64(pages), kernelImagePages: kernelImagePages)
        }
        // Root needs 4 structure pages, 3 per table level and page (at most 4 tables: 13 pages
        // for the first leaf), its 16 stack pages, the VIDT, boot info and context.
        if case .failure(.outOfMemory) = attempt(Int(firstFreePage) + 1 + 30, image: ps, modules: 0) {} else {
            out.append("a machine of 30 free pages was not refused as outOfMemory")
        }
        if case .failure(.tooManyModules) = attempt(200, image: ps, modules: 17) {} else {
            out.append("17 modules were not refused as tooManyModules")
        }
        if case .failure(.imageTooLarge) = attempt(200, image: 0, modules: 0) {} else {
            out.append("an empty image was not refused as imageTooLarge")
        }
        if case .success = attempt(200, image: ps, modules: 16) {} else {
            out.append("16 modules were refused")
        }
        // Root's image is at most 0x3FFF pages (AddressSpace.imageBase): one page more is
        // refused before anything is mapped; 0x3FFF pages are taken, and run out of memory here.
        if case .failure(.imageTooLarge) = attempt(200, image: 0x4000 * ps, modules: 0) {} else {
            out.append("an image of 0x4000 pages was not refused as imageTooLarge")
        }
        if case .failure(.outOfMemory) = attempt(200, image: 0x3FFF * ps, modules: 0) {} else {
            out.append("an image of 0x3FFF pages on a machine of 200 pages was not refused as outOfMemory")
        }
        // Two modules sharing a page: the page would be in root's window twice.
        let shared = Layout(name: "modules sharing a page", pages: 200, ram: [(firstFreePage * ps, 200 * ps)],
                            imagePage: 10, imageBytes: ps, modules: [(40 * ps, ps + 16), (41 * ps + 0x100, 8)], commandLine: [])
        let findings = check(shared)
        if findings.count != 1 || !findings[0].hasPrefix(refusedLayout) {
            out.append("two modules sharing a page were not refused: \(findings.prefix(2))")
        }
        var line = BootCommandLine()
        let appended = (0..<(BootInfoLayout.maxCommandLine + 2)).filter { line.append(UInt8($0 & 0x7F | 1)) }.count
        if appended != BootInfoLayout.maxCommandLine || line.count != BootInfoLayout.maxCommandLine {
            out.append("a command line took \(appended) of \(BootInfoLayout.maxCommandLine + 2) bytes (its limit is \(BootInfoLayout.maxCommandLine))")
        }
        return out
    }

    /// Root's lower half and its shadows as docs/structures.md describes them, read with a
    /// walk of its own (SDM Vol. 3A §4.5: 4-level paging; rights accumulate across levels).
    struct Walk {
        struct Mapping { var frame: UInt64; var rights: String }
        var leaves: [UInt64: Mapping] = [:]
        var tables: [UInt64] = []
        var shadow1: [UInt64] = []
        var shadow2: [UInt64] = []
        var problems: [String] = []

        init(memory m: SimulatedMemory, pml4: UInt64, sh1: UInt64, sh2: UInt64) {
            let frameMask: UInt64 = 0x000F_FFFF_FFFF_F000
            func word(_ a: UInt64) -> UInt64? { a & 7 == 0 && a < m.bytes ? m.load(PhysicalAddress(a)) : nil }
            func visit(_ table: UInt64, _ s1: UInt64, _ s2: UInt64, level: Int, base: UInt64,
                       user: Bool, write: Bool, exec: Bool) {
                guard problems.count < 8 else { return }
                for p in [table, s1, s2] where p == 0 || p & 0xFFF != 0 || p >= m.bytes {
                    problems.append("a level-\(level) table, shadow 1 or shadow 2 page is at \(p), not a page of memory"); return
                }
                tables.append(table); shadow1.append(s1); shadow2.append(s2)
                for i in 0..<(level == 4 ? 256 : 512) {
                    let va = base | UInt64(i) << UInt64(12 + 9 * (level - 1))
                    guard let e = word(table + UInt64(i) * 8), let x1 = word(s1 + UInt64(i) * 8), let x2 = word(s2 + UInt64(i) * 8)
                    else { problems.append("a table word is outside memory"); return }
                    guard e & 1 != 0 else {
                        if e != 0 || x1 != 0 || x2 != 0 {
                            problems.append("level-\(level) entry \(i) of \(table) is absent but its words are \(e), \(x1), \(x2), not 0")
                        }
                        continue
                    }
                    let u = user && e & 4 != 0, w = write && e & 2 != 0, x = exec && e & (1 << 63) == 0
                    if level == 1 {
                        leaves[va] = Mapping(frame: e & frameMask, rights: (u ? "r" : "-") + (u && w ? "w" : "-") + (u && x ? "x" : "-"))
                        if x1 != 0 || x2 != 0 { problems.append("root's leaf shadows at \(va) are \(x1), \(x2), not 0") }
                        continue
                    }
                    if e & 0x80 != 0 { problems.append("level-\(level) entry \(i) maps a large page"); continue }
                    if e & ~frameMask != 0x7 {
                        problems.append("level-\(level) entry \(i) has flags \(e & ~frameMask), not present|writable|user")
                    }
                    visit(e & frameMask, x1, x2, level: level - 1, base: va, user: u, write: w, exec: x)
                }
            }
            visit(pml4, sh1, sh2, level: 4, base: 0, user: true, write: true, exec: true)
        }
    }
}
