/// The partition tree, read through descriptors (DESIGN.md §3).
///
/// These accessors are what every service and `yield` use to find a partition's tables, its
/// parent and its children. A child is named by the vaddr of its descriptor in its parent's space;
/// the name is hostile, and `child(_:caller:named:)` is the one place that promotes it to a
/// descriptor paddr: only a page that is mapped in the caller at that vaddr *and* flagged in the
/// caller's shadow 1 as a child's descriptor names a child. A deleted child's flag is gone, so
/// its old name names nothing.
import SprigABI

package enum Partition {
    public static func rootTable<P: Platform>(_ p: P, _ descriptor: PhysicalAddress) -> PhysicalAddress {
        Descriptor(descriptor).rootTable(p)
    }

    /// The parent's descriptor; nil for root.
    public static func parent<P: Platform>(_ p: P, _ descriptor: PhysicalAddress) -> PhysicalAddress? {
        Descriptor(descriptor).parent(p)?.paddr
    }

    /// The descriptor of the child of `caller` named by `name` (its descriptor's vaddr in
    /// caller's space), or nil if `name` does not name a live child of caller.
    /// - Postcondition: a non-nil result is a descriptor whose parent is `caller`.
    @inline(__always)
    public static func child<P: Platform>(_ p: P, caller: Descriptor, named name: UserAddress) -> Descriptor? {
        guard let va = try? name.checkedPage(),
              let slots = Shadow.leafSlots(p, descriptor: caller, va: va)
        else { return nil }
        let entry = PageTableEntry(raw: p.load(slots.entryAt))
        let sh1 = p.load(slots.sh1At)
        guard entry.isPresent, sh1 == entry.frame.raw | Shadow.descriptorFlag else { return nil }
        let child = Descriptor(entry.frame)
        assert(child.parent(p) == caller)
        return child
    }

    /// The child named `name` and the checked page-aligned vaddr `va` in it; throws the status
    /// that says which of the two is wrong (the child first, as every service checks it).
    public static func child<P: Platform>(
        _ p: P, caller: Descriptor, named name: UserAddress, page va: UserAddress
    ) throws(Status) -> (descriptor: Descriptor, va: VirtualAddress) {
        guard let child = child(p, caller: caller, named: name) else { throw .invalidChild }
        return (child, try va.checkedPage())
    }

    /// The vaddr, in the parent's address space, of this partition's descriptor (0 for root).
    package static func descriptorVAddrInParent<P: Platform>(_ p: P, _ descriptor: PhysicalAddress) -> UInt64 {
        Descriptor(descriptor).vaddrInParent(p)
    }

    /// Depth in the tree: 0 for root. Bounds every walk up the tree.
    package static func depth<P: Platform>(_ p: P, _ descriptor: PhysicalAddress) -> UInt64 {
        Descriptor(descriptor).depth(p)
    }

    /// Pip's VCLI interrupt state (DESIGN.md §4 getIntState/setIntState): 0 = interrupts
    /// enabled, 1 = disabled.
    package static func interruptState<P: Platform>(_ p: P, _ descriptor: PhysicalAddress) -> VirtualInterruptState {
        Descriptor(descriptor).interruptState(p)
    }

    package static func setInterruptState<P: Platform>(_ p: P, _ descriptor: PhysicalAddress, _ state: VirtualInterruptState) {
        Descriptor(descriptor).setInterruptState(p, state)
    }
}
