/// Address types: physical, virtual, and the *allegations* ring 3 makes.
///
/// `PhysicalAddress` and `VirtualAddress` are distinct types so that a paddr is never used as a
/// vaddr by accident. A `UserAddress` is a raw value a partition handed to the kernel; it proves
/// nothing. Only `checkedPage()` / `checkedCanonical()` promote it, after checking it, to a
/// `VirtualAddress` in the lower half (after Hubris's `USlice`).
import SprigABI

package struct PhysicalAddress: Hashable, Sendable {
    package let raw: UInt64
    @inlinable package init(_ raw: UInt64) { self.raw = raw }
    @inlinable package var pageBase: PhysicalAddress { PhysicalAddress(raw & ~(AddressSpace.pageSize - 1)) }
    @inlinable package func adding(_ bytes: UInt64) -> PhysicalAddress { PhysicalAddress(raw &+ bytes) }
    package static let null = PhysicalAddress(0)
}

/// A virtual address the kernel computed or checked: made by `UserAddress.checkedCanonical()` /
/// `checkedPage()` from a partition's value, or by the kernel from its own (no public initializer).
package struct VirtualAddress: Hashable, Sendable {
    package let raw: UInt64
    @inlinable package init(_ raw: UInt64) { self.raw = raw }
    @inlinable package var isPageAligned: Bool { raw & (AddressSpace.pageSize - 1) == 0 }
    @inlinable package var pageBase: VirtualAddress { VirtualAddress(raw & ~(AddressSpace.pageSize - 1)) }
    @inlinable package var pageOffset: UInt64 { raw & (AddressSpace.pageSize - 1) }
    @inlinable package func adding(_ bytes: UInt64) -> VirtualAddress { VirtualAddress(raw &+ bytes) }
    // `isCanonical` and `index(level:)` are the architecture's (Arch/…/PageTableFormat.swift).
    @inlinable package var isLowerHalf: Bool { raw < AddressSpace.lowerHalfEnd }
}

/// A virtual address a partition passed to the kernel. Hostile until checked.
package struct UserAddress: Sendable {
    package let raw: UInt64
    @inlinable package init(_ raw: UInt64) { self.raw = raw }

    /// Canonical and in the lower half; else throws the status saying which it is not.
    @inlinable package func checkedCanonical() throws(Status) -> VirtualAddress {
        let va = VirtualAddress(raw)
        guard va.isCanonical else { throw .nonCanonicalAddress }
        guard va.isLowerHalf else { throw .kernelHalfAddress }
        return va
    }

    /// Canonical, lower half and page-aligned.
    @inlinable package func checkedPage() throws(Status) -> VirtualAddress {
        let va = try checkedCanonical()
        guard va.isPageAligned else { throw .misalignedAddress }
        return va
    }
}
