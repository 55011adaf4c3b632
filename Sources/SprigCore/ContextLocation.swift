/// Checked contexts: turning a VIDT entry (an allegation) into physical addresses.
///
/// Every address yield and event delivery dereference for a partition goes through this file:
/// the VIDT page (`vidtPage`) and each context (`locate`), in the partition that owns them,
/// with the MMU's own walk (`PageTableWalk.userWalk`, through `TranslationCache`). This is the paper's dereference
/// property (§4): whatever a partition wrote in its VIDT, the kernel reads or writes only bytes
/// that partition can itself read (and write, for a save slot) from ring 3. The Fig. 4 attack —
/// a VIDT entry pointing at kernel pages — ends here, because a kernel page is never
/// user-accessible in any partition's tables.
///
/// A context is `ContextLayout.size` (768) bytes at a 16-byte-aligned address (so that its
/// FXSAVE area is 16-byte aligned and no word straddles a page). It may straddle two pages,
/// which need not be physically contiguous: a `ContextLocation` holds both. Pages, not bytes,
/// are checked: at most two translations per context.
///
/// Two refusals beyond "mapped and accessible": a context may not lie on the owner's VIDT page
/// (a VIDT entry pointing into the VIDT, or a save slot that would overwrite the VIDT with
/// register values and turn them into context pointers), compared by physical page so that an
/// alias mapping of the VIDT page is caught too.
import SprigABI

/// Where a checked context lies: `firstBytes` bytes at `first`, the rest at the start of the
/// page `second` (equal to `first`'s page when the context does not straddle).
/// Only `ContextCheck.locate` makes one, after checking every page.
package struct ContextLocation: Equatable, Sendable {
    package let first: PhysicalAddress
    /// Bytes of the context on the first page: a multiple of 16, 16 … `ContextLayout.size`.
    package let firstBytes: UInt64
    package let second: PhysicalAddress

    @usableFromInline init(first: PhysicalAddress, firstBytes: UInt64, second: PhysicalAddress) {
        self.first = first; self.firstBytes = firstBytes; self.second = second
    }

    /// Physical address of the 8-byte word at byte `offset` of the context (offset a multiple
    /// of 8, below `ContextLayout.size`).
    @inlinable package func word(at offset: Int) -> PhysicalAddress {
        let o = UInt64(truncatingIfNeeded: offset)
        return o < firstBytes ? first.adding(o) : second.adding(o &- firstBytes)
    }

    @inlinable var secondBytes: UInt64 { UInt64(ContextLayout.size) &- firstBytes }

    /// Whether the whole context lies on its first page.
    @inlinable package var isOnOnePage: Bool { firstBytes == UInt64(ContextLayout.size) }

    /// A context known to lie on one page at `first` (a yield-cache entry's: `YieldCache.Kept`).
    @inlinable init(onOnePageAt first: PhysicalAddress) {
        self.first = first; self.firstBytes = UInt64(ContextLayout.size); self.second = first.pageBase
    }

    /// Whether any byte of `self` is a byte of `other` (physical byte ranges).
    @inline(__always) package func overlaps(_ other: ContextLocation) -> Bool {
        func meet(_ a: PhysicalAddress, _ n: UInt64, _ b: PhysicalAddress, _ m: UInt64) -> Bool {
            n != 0 && m != 0 && a.raw < b.raw &+ m && b.raw < a.raw &+ n
        }
        return meet(first, firstBytes, other.first, other.firstBytes)
            || meet(first, firstBytes, other.second, other.secondBytes)
            || meet(second, secondBytes, other.first, other.firstBytes)
            || meet(second, secondBytes, other.second, other.secondBytes)
    }
}

/// The checks yield and delivery share (written once).
package enum ContextCheck {
    /// Byte alignment a context address must have.
    package static let alignment: UInt64 = 16

    /// The physical page of the VIDT of the partition `descriptor` (tables `rootTable`), if it is
    /// mapped and user-accessible there (yield checks 5 and 6).
    @inline(__always)
    package static func vidtPage<P: Platform>(_ platform: P, descriptor: Descriptor, rootTable: RootTable) -> PhysicalAddress? {
        TranslationCache.translate(platform, descriptor: descriptor, rootTable: rootTable, va: AddressSpace.vidt, write: false)
    }

    /// VIDT entry `index` of the VIDT at `vidt`: partition memory, an allegation.
    @inline(__always)
    package static func entry<P: Platform>(_ platform: P, vidt: PhysicalAddress, index: VIDTSlot) -> UncheckedContextAddress {
        UncheckedContextAddress(platform.load(vidt.adding(index.index &* 8)))
    }

    /// Checks the context the partition `descriptor` claims is at `va` (a VIDT entry's value) in
    /// its tables `rootTable`: nonzero, 16-byte aligned, every byte in the lower half, each page it touches
    /// present and user-accessible (and writable when `write`) as the MMU sees it, and no byte
    /// on the partition's VIDT page `vidt`.
    /// - Returns: its location, or nil (the caller turns nil into its own status).
    @_transparent
    package static func locate<P: Platform>(
        _ platform: P, descriptor: Descriptor, rootTable: RootTable, va entry: UncheckedContextAddress, write: Bool,
        vidt: PhysicalAddress
    ) -> ContextLocation? {
        let va = entry.raw
        let size = UInt64(ContextLayout.size)
        // 0 is "no context"; a misaligned one could put a word across two pages.
        guard va != 0, va & (alignment - 1) == 0 else { return nil }
        // The whole context in the lower half (also rules out wrapping).
        guard va < AddressSpace.lowerHalfEnd, AddressSpace.lowerHalfEnd - va >= size else { return nil }
        // First page, as the MMU would translate a ring-3 access.
        guard let first = TranslationCache.translate(platform, descriptor: descriptor, rootTable: rootTable, va: va, write: write)
        else { return nil }
        // Never on the VIDT page.
        guard first.pageBase != vidt else { return nil }
        let room = AddressSpace.pageSize - (va & (AddressSpace.pageSize - 1))
        guard room < size else { return ContextLocation(first: first, firstBytes: size, second: first.pageBase) }
        // Straddling: the next virtual page is checked the same way, wherever it lies.
        guard let second = TranslationCache.translate(
            platform, descriptor: descriptor, rootTable: rootTable, va: (va & ~(AddressSpace.pageSize - 1)) &+ AddressSpace.pageSize,
            write: write)
        else { return nil }
        guard second != vidt else { return nil }
        return ContextLocation(first: first, firstBytes: room, second: second)
    }
}
