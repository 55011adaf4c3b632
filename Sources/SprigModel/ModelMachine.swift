/// A whole machine in the model: simulated memory, a fake kernel, root built by the real
/// `RootBuilder`, and the real services behind `Kernel.dispatch`.
///
/// Layout of the simulated physical memory (pages):
///
///     0                      never given to root (like the real first megabyte), and not zero:
///                            every word looks like a present, user, writable table entry
///                            pointing at page 0 itself (`pageZeroWord`), as the real first
///                            megabyte holds BIOS data; a kernel walk that follows an absent
///                            entry (frame 0) finds a mapping of page 0 there instead of
///                            another absent entry, and what it does with it shows
///     1 … kernelImagePages   the fake kernel image; its first half (at least one page) is the
///                            entry window, the only kernel pages partitions' PML4s map, as on
///                            the machine (docs/yield.md, "The kernel's own mappings"): its first
///                            page read+execute (the entry code), the rest read+write, no-exec
///     next 3                 the upper-half tables partitions copy (PDPT, PD, PT), under PML4
///                            entries 511 (at kernelBase) and 256 (both ends of the kernel half)
///     next 1                 the PML4 holding them (`kernelPML4`, given to RootBuilder)
///     next rootImagePages    root's image (a boot module, copied by RootBuilder; one page unless asked)
///     the rest               free: RootBuilder takes root's structures from the top and maps
///                            every remaining page in root's window at rootWindowBase + paddr
///
/// Every page not mapped in root right after boot is a kernel page (`kernelPages`): the image,
/// the kernel tables and root's structures. Tests call services as any partition with `call`,
/// and `checkAllProperties()` after each one.
import SprigABI
import SprigCore

public final class ModelMachine {
    public let memory: SimulatedMemory
    package let root: PhysicalAddress
    package let kernelPML4: PhysicalAddress
    package let kernelImage: [PhysicalAddress]
    /// The kernel pages partitions' upper half may map (the entry window), nil when the model
    /// does not know the kernel's tables (trace replay holds only the PML4's entries).
    public let kernelWindow: Set<UInt64>?
    /// Every physical page that is the kernel's from boot on.
    public let kernelPages: Set<UInt64>
    /// Root's window (its free pages at rootWindowBase + paddr), as vaddrs in root; not its
    /// image, stack, VIDT, boot-info or context pages.
    public let rootWindow: [UInt64]
    public static let kernelBase: UInt64 = KernelLayout.base
    /// Every word of physical page 0: present, writable, user, frame 0 (see the layout above).
    public static let pageZeroWord: UInt64 = 0x7
    /// The pages the firmware keeps (page 0): no kernel entry may load or store there
    /// (`Properties.dereference`).
    public static let firmwarePages: Set<UInt64> = [0]

    /// Pages a partition may still hand out, as vaddrs in its own space, per descriptor: kept
    /// by the helpers (`takePage`, `makeChild`) so tests can build trees quickly.
    public var pool: [UInt64: [UInt64]] = [:]

    /// The model machine of the header's layout: `pages` pages of memory, a fake kernel image of
    /// `kernelImagePages` pages, root built by `RootBuilder` from an image of `rootImagePages` pages.
    public convenience init(pages: Int = 512, kernelImagePages: Int = 8, rootImagePages: Int = 1) {
        precondition(pages >= 64 && kernelImagePages >= 1 && rootImagePages >= 1)
        let m = SimulatedMemory(pages: pages)
        let ps = AddressSpace.pageSize
        for w in 0..<UInt64(512) { m.store(PhysicalAddress(w * 8), Self.pageZeroWord) }
        let kernelImage = (1...kernelImagePages).map { PhysicalAddress(UInt64($0) * ps) }
        for (k, page) in kernelImage.enumerated() { m.store(page, 0x4B45_524E_0000_0000 | UInt64(k)) }
        var nextKernelTable = UInt64(kernelImagePages + 1)
        let pml4 = PhysicalAddress((nextKernelTable + 3) * ps)
        // Kernel half: PML4[511] → PDPT → PD → PT mapping the image at kernelBase, supervisor-only.
        let pdpt = PhysicalAddress(nextKernelTable * ps); nextKernelTable += 1
        let pd = PhysicalAddress(nextKernelTable * ps); nextKernelTable += 1
        let pt = PhysicalAddress(nextKernelTable * ps); nextKernelTable += 1
        let kflags = PageTableEntry.present | PageTableEntry.writable
        let window = Array(kernelImage.prefix(max(1, kernelImagePages / 2)))
        let kva = VirtualAddress(Self.kernelBase)
        m.store(pml4.adding(UInt64(kva.index(level: 4)) * 8), PageTableEntry(frame: pdpt, flags: kflags).raw)
        // The same tables at the first kernel-half entry too, where the machine's own tables
        // keep the direct map (which partitions' root tables copy with `skim=off`): every root
        // table must copy both ends of the half.
        m.store(pml4.adding(256 * 8), PageTableEntry(frame: pdpt, flags: kflags).raw)
        m.store(pdpt.adding(UInt64(kva.index(level: 3)) * 8), PageTableEntry(frame: pd, flags: kflags).raw)
        m.store(pd.adding(UInt64(kva.index(level: 2)) * 8), PageTableEntry(frame: pt, flags: kflags).raw)
        for (k, page) in window.enumerated() {
            let flags = k == 0 ? PageTableEntry.present : kflags | PageTableEntry.noExecute
            m.store(pt.adding(UInt64(kva.index(level: 1) + k) * 8), PageTableEntry(frame: page, flags: flags).raw)
        }
        let imagePage = PhysicalAddress((nextKernelTable + 1) * ps)
        m.store(imagePage, 0x90)  // a nop, for show
        var allocator = BootAllocator()
        let imageBytes = UInt64(rootImagePages) * ps
        allocator.addFree(start: imagePage.raw + imageBytes, end: UInt64(pages) * ps)
        let result = RootBuilder.build(
            m, allocator: &allocator, kernelRootTable: pml4,
            image: BootModule(start: imagePage, bytes: imageBytes, name0: 0x746F6F72, name1: 0),
            modules: .init(repeating: BootModule(start: .null, bytes: 0, name0: 0, name1: 0)), moduleCount: 0,
            totalPages: UInt64(pages), kernelImagePages: UInt64(kernelImagePages))
        guard case .success(let built) = result else { fatalError("model: RootBuilder failed: \(result)") }
        self.init(memory: m, root: built.descriptor.paddr, kernelPML4: pml4, kernelImage: kernelImage,
                  kernelWindow: Set(window.map(\.raw)))
    }

    /// A machine whose root `RootBuilder` has just built in `memory` (trace replay boots the
    /// machine's own layout this way: `Replay/ReplayBoot.swift`). Every page root does not map
    /// is a kernel page.
    package init(memory m: SimulatedMemory, root: PhysicalAddress, kernelPML4: PhysicalAddress, kernelImage: [PhysicalAddress],
                kernelWindow: Set<UInt64>? = nil) {
        memory = m
        self.root = root
        self.kernelPML4 = kernelPML4
        self.kernelImage = kernelImage
        self.kernelWindow = kernelWindow
        let ps = AddressSpace.pageSize
        let tree = PartitionTree(memory: m, root: root)
        let rootMapped = Set(tree.partitions[0].leaves.map(\.paddr))
        kernelPages = Set((0..<UInt64(m.pageCount)).map { $0 * ps }).subtracting(rootMapped)
        let windowEnd = AddressSpace.rootWindowBase + m.bytes
        rootWindow = tree.partitions[0].leaves.map(\.va).filter { $0 >= AddressSpace.rootWindowBase && $0 < windowEnd }
        pool[root.raw] = rootWindow
    }

    // MARK: Calling the kernel

    /// Runs `service` as the partition whose descriptor is `caller`, through the real dispatcher.
    @discardableResult
    package func call(_ caller: PhysicalAddress, _ service: Service, _ a0: UInt64 = 0, _ a1: UInt64 = 0,
                     _ a2: UInt64 = 0, _ a3: UInt64 = 0, _ a4: UInt64 = 0) -> (status: Status, value: UInt64) {
        Kernel.dispatch(memory, caller: descriptor(caller), service: service.rawValue, a0, a1, a2, a3, a4)
    }

    /// The partition whose descriptor page is `paddr`, as the kernel's `Descriptor` type: only
    /// when it is in the tree (`Descriptor.checked`); a test naming any other page as a caller
    /// is a bug of the test.
    package func descriptor(_ paddr: PhysicalAddress) -> Descriptor {
        guard let d = Descriptor.checked(memory, paddr, root: root) else { fatalError("model: \(paddr.raw) is not a descriptor of the tree") }
        return d
    }

    /// The root table word of the descriptor page `partition`, read as the model pictures the
    /// tree (`DescriptorLayout`): no check that the page is a descriptor, so the explorer and the
    /// detection tests may ask it of a tree a mutant or a test corrupted.
    package func rootTable(_ partition: PhysicalAddress) -> PhysicalAddress {
        PhysicalAddress(DescriptorLayout.read(memory, partition, DescriptorLayout.rootTable))
    }

    // MARK: Properties

    public func tree() -> PartitionTree { PartitionTree(memory: memory, root: root) }

    /// Every isolation property of DESIGN.md §7 on the current state; empty when all hold.
    public func checkAllProperties() -> [Violation] {
        Properties.all(tree(), kernelPages: kernelPages, kernelPML4: kernelPML4, memory: memory, kernelWindow: kernelWindow)
    }

    // MARK: Helpers for tests (they act as the partitions would)

    /// The physical page a partition reaches at `va` (ring-3 view), or nil.
    package func translate(_ partition: PhysicalAddress, _ va: UInt64, write: Bool = false) -> PhysicalAddress? {
        SpecMMU.user(write ? .write : .read, cr3: rootTable(partition).raw, linear: va,
                     load: memory.specLoad).map(PhysicalAddress.init)
    }

    /// A page from the partition's pool (a vaddr in its space).
    package func takePage(_ partition: PhysicalAddress) -> UInt64 {
        guard let va = pool[partition.raw]?.popLast() else { fatalError("model: partition pool exhausted") }
        return va
    }

    /// Writes a free list through `partition`'s own mappings: each page's first word is the next.
    package func writeFreeList(_ partition: PhysicalAddress, _ pages: [UInt64]) {
        for (k, va) in pages.enumerated() {
            guard let pa = translate(partition, va, write: true) else { fatalError("model: free-list page not writable") }
            memory.store(pa, k + 1 < pages.count ? pages[k + 1] : 0)
        }
    }

    /// Prepares `va` in the child named `name` of `parent` with pages from the parent's pool.
    package func prepare(_ parent: PhysicalAddress, child name: UInt64, va: UInt64) {
        let need = call(parent, .countToMap, name, va)
        precondition(need.status == .success, "model: countToMap \(need.status)")
        guard need.value > 0 else { return }
        let pages = (0..<need.value).map { _ in takePage(parent) }
        writeFreeList(parent, pages)
        let r = call(parent, .prepare, name, va, pages[0])
        precondition(r.status == .success && r.value == 0, "model: prepare \(r.status)")
    }

    public struct ChildHandle: Sendable {
        package var descriptor: PhysicalAddress
        /// The child's name: its descriptor's vaddr in the parent.
        public var name: UInt64
        package var parent: PhysicalAddress
        /// The vaddrs, in the child, of the pages it was given.
        public var pages: [UInt64]
    }

    /// Where `makeChild` maps a child's pages.
    public static let childPagesBase: UInt64 = 0x0000_0000_1000_0000

    /// A new child of `parent` with `pages` read/write pages at `childPagesBase`, made through
    /// the real services (createPartition, countToMap, prepare, addVAddr) with pages from the
    /// parent's pool; the child's pages become its pool.
    @discardableResult
    package func makeChild(of parent: PhysicalAddress, pages: Int) -> ChildHandle {
        let s = (0..<5).map { _ in takePage(parent) }
        let r = call(parent, .createPartition, s[0], s[1], s[2], s[3], s[4])
        precondition(r.status == .success, "model: createPartition \(r.status)")
        guard let d = translateStructure(parent, s[0]) else { fatalError("model: no descriptor") }
        var mapped: [UInt64] = []
        for k in 0..<pages {
            let va = Self.childPagesBase + UInt64(k) * AddressSpace.pageSize
            prepare(parent, child: s[0], va: va)
            let a = call(parent, .addVAddr, takePage(parent), s[0], va, Rights.read | Rights.write)
            precondition(a.status == .success, "model: addVAddr \(a.status)")
            mapped.append(va)
        }
        pool[d.raw] = mapped.reversed()
        return ChildHandle(descriptor: d, name: s[0], parent: parent, pages: mapped)
    }

    /// The physical page mapped at `va` in `partition`, accessible or not.
    package func translateStructure(_ partition: PhysicalAddress, _ va: UInt64) -> PhysicalAddress? {
        PageTableWalk.leaf(memory, rootTable: rootTable(partition), va: VirtualAddress(va))?.entry.frame
    }

    /// Number of pages accessible to `partition` (ring-3 view).
    package func accessiblePageCount(_ partition: PhysicalAddress) -> Int {
        let t = tree()
        return t.partitions.first { $0.descriptor == partition.raw }?.leaves.filter(\.accessible).count ?? 0
    }
}

extension DescriptorLayout {
    /// Test hook: overwrites a field, as a kernel bug would, for the detection tests (through
    /// `Structures`, so the kernel's caches see the change as they would see the bug's).
    package static func overwriteForTesting(_ memory: SimulatedMemory, _ descriptor: PhysicalAddress, _ field: Int, _ value: UInt64) {
        SprigCore.Structures.write(memory, descriptor.adding(UInt64(field)), value)
    }
}
