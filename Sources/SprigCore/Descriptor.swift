/// The partition descriptor: one kernel page per partition (DESIGN.md §3), and the only code that
/// writes one.
///
/// Byte offsets of 8-byte words in the descriptor page. A descriptor page is given by the parent
/// (root's by the boot allocator) and is never accessible to any partition while it is one.
/// Only the kernel writes it; every field is a value the kernel computed itself, so code reading
/// a descriptor found through a parent's shadow 1 may trust it.
///
/// | offset | field | who writes it |
/// |---|---|---|
/// | 0   | root table paddr | createPartition / RootBuilder |
/// | 8   | shadow 1 root (root-table-shaped) paddr | createPartition / RootBuilder |
/// | 16  | shadow 2 root (root-table-shaped) paddr | createPartition / RootBuilder |
/// | 24  | configuration list head paddr (0 for root) | createPartition, prepare, collect |
/// | 32  | parent descriptor paddr (0 for root) | createPartition |
/// | 40  | this descriptor's vaddr in the parent (0 for root) | createPartition |
/// | 48  | interrupt state (VCLI: 0 = enabled, 1 = disabled) | setIntState, yield |
/// | 56  | depth in the tree (root 0) — bounds every walk up the tree | createPartition |
/// | 64  | number of configuration-list pages — bounds every walk of the list | createPartition, prepare, collect |
/// | 72  | root table's vaddr in the parent | createPartition |
/// | 80  | shadow 1 root's vaddr in the parent | createPartition |
/// | 88  | shadow 2 root's vaddr in the parent | createPartition |
/// | 96  | first configuration page's vaddr in the parent | createPartition |
///
/// Every write to a descriptor is a function of this file (`Descriptor`'s `initialize…`,
/// `setInterruptState`, `pushConfigPage`, `popConfigPage`), named after the service step it is;
/// the rest of the kernel reads fields through `Descriptor`'s accessors, never by offset. The
/// model reads the offsets (`DescriptorLayout`, package access) to picture the tree, and its
/// detection tests corrupt a field through SprigModel's `overwriteForTesting`, outside the kernel.
///
/// It is also the only code that makes a `Descriptor` or a `RootTable` out of an address: each
/// promotion below is named after the kernel structure the word was read from, so none of them
/// can be handed a ring-3 value by mistake (`DescriptorTests` checks that no other file calls
/// an initializer).
import SprigABI

/// Byte offsets of the descriptor's words (the table above): for the model's readers.
package enum DescriptorLayout {
    package static let rootTable = 0
    package static let shadow1 = 8
    package static let shadow2 = 16
    package static let configList = 24
    package static let parent = 32
    package static let vaddrInParent = 40
    package static let interruptState = 48
    package static let depth = 56
    package static let configPages = 64
    package static let rootTableVAddr = 72
    package static let shadow1VAddr = 80
    package static let shadow2VAddr = 88
    package static let configListVAddr = 96

    /// The word at `field` (one of the offsets above): a model and test reader.
    @inlinable
    package static func read<P: Platform>(_ platform: P, _ descriptor: PhysicalAddress, _ field: Int) -> UInt64 {
        platform.load(descriptor.adding(UInt64(field)))
    }
}

/// A live partition's descriptor page, by its physical address.
///
/// Holding a `Descriptor` is the proof that the page is one: SprigCore makes one only from
/// what the kernel itself wrote or keeps — root's and a child's at creation (`initializeRoot`,
/// `initializeChild`), a parent from a descriptor's own field, a child from a shadow-1 word
/// (`flagged`, `given`), a yield-cache entry (`kept`), the running and the root partition from
/// the platform (`keptByPlatform`: it holds only descriptors the kernel gave it). The
/// initializer is private, so no other file can make one from a bare address; the model and
/// tests go through `checked`, which verifies the page is in the tree. A service's caller is a `Descriptor`, so "the caller is a
/// live descriptor" is a fact of the type, not an assertion; so is the callee of a yield, its
/// plan's caller and every partition a delivery walks through.
package struct Descriptor: Hashable, Sendable {
    package let paddr: PhysicalAddress
    private init(_ paddr: PhysicalAddress) { self.paddr = paddr }

    // MARK: Promotions (the only ones)

    // Shadow 1 (written by the kernel only, with child descriptors) says of each page of a
    // partition: 0 kept, `D` given to the child `D`, `D | Shadow.descriptorFlag` the child `D`'s
    // descriptor page itself.

    /// The child whose descriptor page is `frame`, if the shadow-1 word beside it flags it so.
    @inline(__always) static func flagged(_ frame: PhysicalAddress, shadow1 word: UInt64) -> Descriptor? {
        word == frame.raw | Shadow.descriptorFlag ? Descriptor(frame) : nil
    }

    /// The child a page was given to, by the page's shadow-1 word; nil for a page kept or a
    /// descriptor page.
    @inline(__always) static func given(shadow1 word: UInt64) -> Descriptor? {
        word == 0 || word & Shadow.descriptorFlag != 0 ? nil : Descriptor(PhysicalAddress(word))
    }

    /// A descriptor the kernel's caches keep (`YieldCache`): the word a fill stored from one.
    @inline(__always) static func kept(_ raw: UInt64) -> Descriptor { Descriptor(PhysicalAddress(raw)) }

    /// A descriptor a platform kept as a word between kernel entries (SprigX86's running and
    /// root partition): the word it stored from the one `RootBuilder` or `setCurrentPartition`
    /// gave it; the explorer's saved states keep it the same way. `DescriptorTests` checks that
    /// nothing else calls it.
    @inline(__always) package static func keptByPlatform(_ raw: UInt64) -> Descriptor { Descriptor(PhysicalAddress(raw)) }

    /// `paddr` as a descriptor if it is one of the tree rooted at the descriptor `root`: root
    /// itself, or a page whose parent chain reaches root with each parent's shadow 1 flagging
    /// it, at its name, as that parent's child. For the model and tests, which name partitions
    /// by address; no kernel path needs it.
    package static func checked<P: Platform>(_ p: P, _ paddr: PhysicalAddress, root: PhysicalAddress) -> Descriptor? {
        var d = Descriptor(paddr)
        // A tree is at most as deep as the memory has pages; the chain is cut well before.
        var steps = 1 << 20
        while d.paddr != root {
            guard steps > 0, let parent = d.parent(p),
                  Partition.child(p, caller: parent, named: UserAddress(d.vaddrInParent(p))) == d
            else { return nil }
            d = parent
            steps -= 1
        }
        return Descriptor(paddr)
    }

    @inline(__always) func word<P: Platform>(_ p: P, _ field: Int) -> UInt64 {
        p.load(paddr.adding(UInt64(field)))
    }
    /// Every write of a field but the interrupt state: through `Structures`, which advances
    /// the cache generation (a descriptor's parent and root table are in cached answers).
    @inline(__always) private func set<P: Platform>(_ p: P, _ field: Int, _ value: UInt64) {
        Structures.write(p, paddr.adding(UInt64(field)), value)
    }

    // MARK: Fields (reads)

    /// The partition's root table page.
    @inline(__always) package func rootTable<P: Platform>(_ p: P) -> RootTable { RootTable(PhysicalAddress(word(p, DescriptorLayout.rootTable))) }
    /// The roots of shadow 1 and shadow 2 (root-table-shaped).
    @inline(__always) package func shadow1<P: Platform>(_ p: P) -> PhysicalAddress { PhysicalAddress(word(p, DescriptorLayout.shadow1)) }
    @inline(__always) package func shadow2<P: Platform>(_ p: P) -> PhysicalAddress { PhysicalAddress(word(p, DescriptorLayout.shadow2)) }
    /// The parent's descriptor; nil for root.
    @inline(__always) package func parent<P: Platform>(_ p: P) -> Descriptor? {
        let raw = word(p, DescriptorLayout.parent)
        return raw == 0 ? nil : Descriptor(PhysicalAddress(raw))
    }
    /// This descriptor's vaddr in the parent (0 for root): the parent's name for the partition.
    @inline(__always) package func vaddrInParent<P: Platform>(_ p: P) -> UInt64 { word(p, DescriptorLayout.vaddrInParent) }
    /// Depth in the tree, root 0: bounds every walk up the tree.
    @inline(__always) package func depth<P: Platform>(_ p: P) -> UInt64 { word(p, DescriptorLayout.depth) }
    /// The virtual interrupt state (only `setInterruptState` writes it, with a checked state).
    @inline(__always) package func interruptState<P: Platform>(_ p: P) -> VirtualInterruptState {
        VirtualInterruptState(checked: word(p, DescriptorLayout.interruptState))
    }
    /// The head of the configuration list (0 for root) and the number of its pages.
    @inline(__always) package func configList<P: Platform>(_ p: P) -> PhysicalAddress {
        PhysicalAddress(word(p, DescriptorLayout.configList))
    }
    @inline(__always) package func configPages<P: Platform>(_ p: P) -> UInt64 { word(p, DescriptorLayout.configPages) }

    // MARK: Writes (the only ones)

    /// Root's descriptor at boot: zeroed, then its tables and shadows; no parent, depth 0.
    @discardableResult static func initializeRoot<P: Platform>(
        _ p: P, _ page: PhysicalAddress, rootTable: PhysicalAddress, shadow1: PhysicalAddress, shadow2: PhysicalAddress
    ) -> Descriptor {
        Structures.zero(p, page)
        let d = Descriptor(page)
        d.set(p, DescriptorLayout.rootTable, rootTable.raw)
        d.set(p, DescriptorLayout.shadow1, shadow1.raw)
        d.set(p, DescriptorLayout.shadow2, shadow2.raw)
        return d
    }

    /// A child's descriptor (createPartition), on a zeroed page: its four structure pages (paddr
    /// and vaddr in the parent), its parent and its name there, its depth (the parent's + 1). The configuration
    /// list is still empty (`pushConfigPage` adds the first page).
    @discardableResult @inline(__always) static func initializeChild<P: Platform>(
        _ p: P, _ page: PhysicalAddress, name: VirtualAddress, parent: Descriptor,
        rootTable: (PhysicalAddress, VirtualAddress), shadow1: (PhysicalAddress, VirtualAddress),
        shadow2: (PhysicalAddress, VirtualAddress), configListVAddr: VirtualAddress
    ) -> Descriptor {
        let d = Descriptor(page)
        let depth = parent.depth(p) + 1
        Structures.write(p) { store in
            func set(_ field: Int, _ value: UInt64) { store(page.adding(UInt64(field)), value) }
            set(DescriptorLayout.rootTable, rootTable.0.raw)
            set(DescriptorLayout.shadow1, shadow1.0.raw)
            set(DescriptorLayout.shadow2, shadow2.0.raw)
            set(DescriptorLayout.parent, parent.paddr.raw)
            set(DescriptorLayout.vaddrInParent, name.raw)
            set(DescriptorLayout.depth, depth)
            set(DescriptorLayout.rootTableVAddr, rootTable.1.raw)
            set(DescriptorLayout.shadow1VAddr, shadow1.1.raw)
            set(DescriptorLayout.shadow2VAddr, shadow2.1.raw)
            set(DescriptorLayout.configListVAddr, configListVAddr.raw)
        }
        return d
    }

    /// setIntState, yield and delivery: the virtual interrupt state. No cache keeps it (yield's
    /// check 9 reads it after the cache), so it leaves the cache generation as it is: yield
    /// writes it twice on every switch. Package access: the model's tests set it as a partition
    /// would.
    @inline(__always) package func setInterruptState<P: Platform>(_ p: P, _ state: VirtualInterruptState) {
        Structures.writeUnsummarized(p, paddr.adding(UInt64(DescriptorLayout.interruptState)), state.raw)
    }

    /// The configuration list gained `page` as its new head.
    func pushConfigPage<P: Platform>(_ p: P, _ page: PhysicalAddress) {
        let pages = configPages(p) + 1
        Structures.write(p) { store in
            store(paddr.adding(UInt64(DescriptorLayout.configList)), page.raw)
            store(paddr.adding(UInt64(DescriptorLayout.configPages)), pages)
        }
    }

    /// The configuration list's head page was unlinked; `next` is the new head.
    func popConfigPage<P: Platform>(_ p: P, next: PhysicalAddress) {
        let pages = configPages(p) - 1
        Structures.write(p) { store in
            store(paddr.adding(UInt64(DescriptorLayout.configList)), next.raw)
            store(paddr.adding(UInt64(DescriptorLayout.configPages)), pages)
        }
    }
}

/// A partition's root table page: the top of the tables the MMU walks for it (CR3 on x86-64).
///
/// Made only from a descriptor's root-table field (`Descriptor.rootTable`) or from the yield
/// cache's copy of one, so holding one is the proof that the page is a live partition's root
/// table, never a page ring 3 named. The arch layer's walks take any table page
/// (`rootTable.paddr`), the kernel's own and the tests' hand-built ones too.
package struct RootTable: Hashable, Sendable {
    package let paddr: PhysicalAddress
    fileprivate init(_ paddr: PhysicalAddress) { self.paddr = paddr }

    /// A root table the kernel's caches keep (`YieldCache`): the word a fill stored from one.
    @inline(__always) static func kept(_ raw: UInt64) -> RootTable { RootTable(PhysicalAddress(raw)) }
}
