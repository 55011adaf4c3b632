/// Checks 3–8 of yield (DESIGN.md §5) computed from the partition tree as the model reads it
/// (`PartitionTree`, whose rights come from `SpecMMU`), not with the kernel's `Yield.resolve`:
/// the yield-cache property compares each plan the kernel keeps with this, so a mistake in the
/// kernel's chain is not repeated by what checks its cache.
///
/// A plan here is what the switch needs, in the model's own terms: the callee's descriptor, the
/// two VIDT pages, and the physical bytes of the target context and of the save slot.
import SprigABI

public enum SpecYieldPlan {
    /// A context as physical byte ranges: one range, or two when it straddles a page boundary.
    public struct Bytes: Equatable, Sendable {
        public var ranges: [Range<UInt64>]
        /// Whether any byte is in both.
        public func overlaps(_ other: Bytes) -> Bool {
            ranges.contains { a in other.ranges.contains { b in a.overlaps(b) } }
        }
    }

    /// What checks 3–8 give.
    public struct Plan: Equatable, Sendable {
        public var callee: UInt64
        public var callerVIDT: UInt64
        public var calleeVIDT: UInt64
        public var target: Bytes
        public var save: Bytes?
    }

    /// Checks 3–8 for `caller` yielding to `name` (0: its parent), with the target and save VIDT
    /// entries holding `targetVA` and `saveVA`. nil when a check refuses, with its number.
    public static func plan(_ t: PartitionTree, caller: UInt64, name: UInt64, targetVA: UInt64, saveVA: UInt64)
        -> Result<Plan, RefusedCheck> {
        guard let callerIndex = t.partitions.firstIndex(where: { $0.descriptor == caller }) else { return .failure(.init(3)) }
        let callerView = t.partitions[callerIndex]
        let calleeIndex: Int
        if name == 0 {
            guard let parent = callerView.parent else { return .failure(.init(3)) }
            calleeIndex = parent
        } else {
            // A child is named by the vaddr at which the caller maps its descriptor.
            guard let c = callerView.children.first(where: { t.partitions[$0].descriptor == callerView.byVA[name].map { callerView.leaves[$0].paddr } })
            else { return .failure(.init(4)) }
            calleeIndex = c
        }
        let calleeView = t.partitions[calleeIndex]
        guard let callerVIDT = vidtPage(callerView) else { return .failure(.init(5)) }
        guard let calleeVIDT = vidtPage(calleeView) else { return .failure(.init(6)) }
        guard let target = context(calleeView, va: targetVA, write: false, vidt: calleeVIDT) else { return .failure(.init(7)) }
        var save: Bytes? = nil
        if saveVA != 0 {
            guard let slot = context(callerView, va: saveVA, write: true, vidt: callerVIDT), !slot.overlaps(target)
            else { return .failure(.init(8)) }
            save = slot
        }
        return .success(Plan(callee: calleeView.descriptor, callerVIDT: callerVIDT, calleeVIDT: calleeVIDT,
                             target: target, save: save))
    }

    /// The check of the chain that refused.
    public struct RefusedCheck: Error, Equatable, Sendable {
        public var check: Int
        init(_ check: Int) { self.check = check }
    }

    /// The physical page of `view`'s VIDT, when ring 3 can reach it there.
    static func vidtPage(_ view: PartitionView) -> UInt64? {
        guard let k = view.byVA[AddressSpace.vidt], view.leaves[k].accessible else { return nil }
        return view.leaves[k].paddr
    }

    /// The bytes of a context at `va` of `view`: nonzero, 16-byte aligned, wholly in the lower
    /// half, every page it touches accessible (writable for a save), none of them the VIDT page.
    static func context(_ view: PartitionView, va: UInt64, write: Bool, vidt: UInt64) -> Bytes? {
        let size = UInt64(ContextLayout.size), page = AddressSpace.pageSize
        guard va != 0, va % 16 == 0, va < AddressSpace.lowerHalfEnd, AddressSpace.lowerHalfEnd - va >= size else { return nil }
        var ranges: [Range<UInt64>] = []
        var at = va
        let end = va + size
        while at < end {
            let pageVA = at - at % page
            guard let k = view.byVA[pageVA] else { return nil }
            let leaf = view.leaves[k]
            guard leaf.accessible, !write || leaf.writable, leaf.paddr != vidt else { return nil }
            let upto = min(end, pageVA + page)
            ranges.append((leaf.paddr + (at - pageVA))..<(leaf.paddr + (upto - pageVA)))
            at = upto
        }
        return Bytes(ranges: ranges)
    }
}
