/// The partition tree, read through descriptors (DESIGN.md §3).
///
/// A partition's tables and parent are `Descriptor`'s accessors; its children are found here. A
/// child is named by the vaddr of its descriptor in its parent's space; the name is hostile, and
/// `child(_:caller:named:)` is the one place that promotes it to a `Descriptor`: only a page that
/// is mapped in the caller at that vaddr *and* flagged in the caller's shadow 1 as a child's
/// descriptor names a child. A deleted child's flag is gone, so its old name names nothing.
import SprigABI

package enum Partition {
    /// The descriptor of the child of `caller` named by `name` (its descriptor's vaddr in
    /// caller's space), or nil if `name` does not name a live child of caller.
    /// - Postcondition: a non-nil result is a descriptor whose parent is `caller`.
    @inline(__always)
    package static func child<P: Platform>(_ p: P, caller: Descriptor, named name: UserAddress) -> Descriptor? {
        guard let va = try? name.checkedPage(),
              let slots = Shadow.leafShadow1Slots(p, descriptor: caller, va: va)
        else { return nil }
        let entry = PageTableEntry(raw: p.load(slots.entryAt))
        let sh1 = p.load(slots.sh1At)
        guard entry.isPresent, let child = Descriptor.flagged(entry.frame, shadow1: sh1) else { return nil }
        assert(child.parent(p) == caller)
        return child
    }

    /// The child named `name` and the checked page-aligned vaddr `va` in it; throws the status
    /// that says which of the two is wrong (the child first, as every service checks it).
    package static func child<P: Platform>(
        _ p: P, caller: Descriptor, named name: UserAddress, page va: UserAddress
    ) throws(Status) -> (descriptor: Descriptor, va: VirtualAddress) {
        guard let child = child(p, caller: caller, named: name) else { throw .invalidChild }
        return (child, try va.checkedPage())
    }
}
