/// Which pages a partition may hand over, and how a handed-over page leaves its reach.
///
/// A partition hands a page to the kernel as a structure (`createPartition`, `prepare`) or to a
/// child (`addVAddr`). Either way the page is named by a hostile vaddr, and `checkGivable` is
/// the one check that turns it into a page the caller really owns: canonical, lower half,
/// aligned, mapped, accessible to the caller as the MMU decides it, not yet given to a child.
///
/// A page given as a structure becomes inaccessible (leaf U bit cleared) to the giver and to
/// every ancestor — each ancestor maps it too, at the vaddr the shadow 2 of the partition below
/// records — and accessible again when it is given back. The walk up is bounded by the depth
/// the kernel keeps in each descriptor.
import SprigABI

package enum PageOwnership {
    /// A page of the caller, checked.
    struct OwnedPage {
        package private(set) var va: VirtualAddress
        package private(set) var paddr: PhysicalAddress
        package private(set) var slots: Shadow.LeafSlots
    }

    /// The page at the hostile `name` in `caller`'s space, if the caller may give it away.
    /// - Parameter structure: also require write access (the kernel will write the page).
    static func checkGivable<P: Platform>(
        _ p: P, caller: Descriptor, _ name: UserAddress, structure: Bool
    ) throws(Status) -> OwnedPage {
        let va = try name.checkedPage()
        guard let slots = Shadow.leafSlots(p, descriptor: caller, va: va),
              PageTableEntry(raw: p.load(slots.entryAt)).isPresent
        else { throw .addressNotMapped }
        let rootTable = caller.rootTable(p).paddr
        // One walk answers both: readable by the caller, and writable when the kernel will
        // write the page (`userTranslate`'s rule).
        let walk = try PageTableWalk.userWalk(p, rootTable: rootTable, va: va)
        guard walk.userAccessible else { throw .pageNotAccessible }
        if structure, !walk.userWritable { throw .pageNotWritable }
        let paddr = PhysicalAddress(walk.frame | va.pageOffset)
        guard p.load(slots.sh1At) == 0 else { throw .pageAlreadyGiven }
        return OwnedPage(va: va, paddr: paddr, slots: slots)
    }

    /// Sets or clears the user bit of the leaf mapping `va` in `owner` and, through shadow 2, of
    /// the leaf mapping the same page in every ancestor; then drops the CPU's cached translation
    /// of `va` (`Platform.invalidateTranslation`).
    /// - Precondition: `owner` is the running partition (the caller of the service), so `va` is
    ///   in the address space the CPU translates with. Ancestors do not run meanwhile: their
    ///   translations go with the CR3 load that switches back to them.
    /// - Postcondition: no TLB entry lets the running partition reach the page more than its
    ///   tables do. Giving a page back needs the request too: a cached supervisor-only
    ///   translation would make the partition's first access a spurious page fault (SDM
    ///   §4.10.4.3), which its parent would be told about.
    package static func setAccessible<P: Platform>(
        _ p: P, owner: Descriptor, va: VirtualAddress, _ accessible: Bool
    ) {
        defer { p.invalidateTranslation(va) }
        var d = owner
        var v = va
        var bound = owner.depth(p) + 1
        while bound > 0 {
            guard let s = Shadow.leafSlots(p, descriptor: d, va: v) else { return }
            var e = PageTableEntry(raw: p.load(s.entryAt))
            guard e.isPresent else { return }
            e.setUserAccessible(accessible)
            Structures.write(p, s.entryAt, e.raw)
            guard let parent = d.parent(p) else { return }
            v = VirtualAddress(p.load(s.sh2At))
            d = parent
            bound -= 1
        }
    }

    /// Takes a checked page of `caller` as a structure page: zeroed, out of reach of the caller
    /// and its ancestors.
    static func takeAsStructure<P: Platform>(_ p: P, caller: Descriptor, _ page: OwnedPage) {
        Structures.zero(p, page.paddr)
        setAccessible(p, owner: caller, va: page.va, false)
    }

    /// Gives a structure page back to `owner` (which gave it): zeroed, so no kernel data (such as
    /// the kernel-half root table entries) reaches the partition, and accessible again up the tree.
    static func giveBack<P: Platform>(_ p: P, owner: Descriptor, page: PhysicalAddress, va: VirtualAddress) {
        Structures.zero(p, page)
        setAccessible(p, owner: owner, va: va, true)
    }
}
