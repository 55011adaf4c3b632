/// Walking x86-64 4-level page tables through a `Platform`, as the MMU does.
///
/// The walk is the MMU's: a user access to `va` succeeds only if the entry at every level is
/// present and user-accessible, a write only if every level is also writable. The isolation
/// properties and every check of a partition's address are computed with this one walk, so what
/// the kernel believes a partition can reach is exactly what the hardware lets it reach.
import SprigABI

package enum PageTableWalk {
    /// Physical address of the entry for `va` in the table page `table` at `level`.
    @inlinable
    package static func entryAddress(table: PhysicalAddress, va: VirtualAddress, level: Int) -> PhysicalAddress {
        table.adding(UInt64(va.index(level: level)) &* 8)
    }

    /// The leaf (level-1) entry mapping `va` and its physical address, if every level is present
    /// and none above the leaf is a large page (`walk`'s rule). Lower-half addresses only.
    package static func leaf<P: Platform>(
        _ platform: P, rootTable: PhysicalAddress, va: VirtualAddress
    ) -> (entry: PageTableEntry, at: PhysicalAddress)? {
        guard let w = try? walk(platform, rootTable: rootTable, va: va) else { return nil }
        return (PageTableEntry(raw: platform.load(w.leafAt)), w.leafAt)
    }

    /// The MMU's walk of `va` in `rootTable`, level by level: the reference form of the one walk.
    /// Every level present, no large page above the leaf (Sprig maps only 4 KiB pages in
    /// partition tables); the rights are the AND of the entries of all four levels, whose U and
    /// W bits are what ring 3 may do with the page (Intel SDM vol. 3 §4.6). `userWalk` is the
    /// same walk unrolled for the hot path; `OneWalkTests` checks the two agree.
    /// - Returns: the walk and the physical address of the leaf entry.
    /// - Throws: `nonCanonicalAddress` / `kernelHalfAddress` / `addressNotMapped`.
    package static func walk<P: Platform>(
        _ platform: P, rootTable: PhysicalAddress, va: VirtualAddress
    ) throws(Status) -> (walk: Walk, leafAt: PhysicalAddress) {
        guard va.isCanonical else { throw .nonCanonicalAddress }
        guard va.isLowerHalf else { throw .kernelHalfAddress }
        var table = rootTable
        var rights = ~UInt64(0)
        var level = 4
        while true {
            let at = entryAddress(table: table, va: va, level: level)
            let e = PageTableEntry(raw: platform.load(at))
            guard e.isPresent, level == 1 || !e.isLargePage else { throw .addressNotMapped }
            rights &= e.raw
            if level == 1 { return (Walk(frame: e.frame.raw, rights: rights), at) }
            table = e.frame
            level -= 1
        }
    }

    /// What a ring-3 access to `va` reaches, as the MMU decides it.
    /// - Returns: the physical address of the byte.
    /// - Throws: `addressNotMapped` (some level absent, or
    ///   a large page above the leaf) / `pageNotAccessible` (present but not user, or not
    ///   writable when `write`).
    @inline(__always)
    package static func userTranslate<P: Platform>(
        _ platform: P, rootTable: PhysicalAddress, va: VirtualAddress, write: Bool
    ) throws(Status) -> PhysicalAddress {
        let w = try userWalk(platform, rootTable: rootTable, va: va)
        guard w.userAccessible, !write || w.userWritable else { throw .pageNotAccessible }
        return PhysicalAddress(w.frame | va.pageOffset)
    }

    /// A completed walk: the leaf's frame and the AND of the entries of all four levels (whose
    /// U and W bits are what ring 3 may do with the page).
    package struct Walk: Equatable, Sendable {
        package private(set) var frame: UInt64
        package private(set) var rights: UInt64
        /// Ring 3 may read the page (U at every level), and write it (U and W at every level).
        @inlinable package var userAccessible: Bool { rights & PageTableEntry.user != 0 }
        @inlinable package var userWritable: Bool { userAccessible && rights & PageTableEntry.writable != 0 }

        /// The frame and whether ring 3 may write it, in one word (`TranslationCache`'s
        /// answer): the frame's bits and, below the page offset, a bit set when writable.
        /// - Precondition: `userAccessible`.
        @inlinable var packed: UInt64 { frame | (rights & PageTableEntry.writable) }
        /// The two halves of a `packed` word.
        @inlinable static func packedFrame(_ word: UInt64) -> UInt64 { word & PageTableEntry.addressMask }
        @inlinable static func packedWritable(_ word: UInt64) -> Bool { word & PageTableEntry.writable != 0 }
    }

    /// `walk` unrolled, without the leaf's address: the hottest code of yield and delivery.
    /// - Returns: the walk.
    /// - Throws: `nonCanonicalAddress` / `kernelHalfAddress` / `addressNotMapped`.
    @inline(__always)
    package static func userWalk<P: Platform>(_ platform: P, rootTable: PhysicalAddress, va: VirtualAddress) throws(Status) -> Walk {
        guard va.isCanonical else { throw .nonCanonicalAddress }
        guard va.isLowerHalf else { throw .kernelHalfAddress }
        // `(va >> (9 * level)) & 0xFF8` is
        // the byte offset of the level's entry, and the U and W bits of all four levels are
        // accumulated with one AND (the MMU's own rule).
        let v = va.raw
        let present = PageTableEntry.present, upper = PageTableEntry.present | PageTableEntry.largePage
        let e4 = platform.load(PhysicalAddress(rootTable.raw &+ ((v &>> 36) & 0xFF8)))
        guard e4 & upper == present else { throw .addressNotMapped }
        let e3 = platform.load(PhysicalAddress((e4 & PageTableEntry.addressMask) &+ ((v &>> 27) & 0xFF8)))
        guard e3 & upper == present else { throw .addressNotMapped }
        let e2 = platform.load(PhysicalAddress((e3 & PageTableEntry.addressMask) &+ ((v &>> 18) & 0xFF8)))
        guard e2 & upper == present else { throw .addressNotMapped }
        let e1 = platform.load(PhysicalAddress((e2 & PageTableEntry.addressMask) &+ ((v &>> 9) & 0xFF8)))
        guard e1 & present != 0 else { throw .addressNotMapped }
        return Walk(frame: e1 & PageTableEntry.addressMask, rights: e4 & e3 & e2 & e1)
    }

    /// Checks that every byte of `[va, va + length)` is reachable by the partition whose tables
    /// are `rootTable` (writable too when `write`), visiting each page once.
    /// - Returns: success, or the first failure; `rangeNotAccessible` when the range wraps or
    ///   runs past the lower half. `length` 0 is refused as `invalidArgument`.
    package static func checkUserRange<P: Platform>(
        _ platform: P, rootTable: PhysicalAddress, start: UserAddress, length: UInt64, write: Bool
    ) -> Status {
        guard length > 0 else { return .invalidArgument }
        do throws(Status) {
            let va = try start.checkedCanonical()
            let (end, overflow) = va.raw.addingReportingOverflow(length)
            guard !overflow, end <= AddressSpace.lowerHalfEnd else { return .rangeNotAccessible }
            var page = va.pageBase.raw
            while page < end {
                _ = try userTranslate(platform, rootTable: rootTable, va: VirtualAddress(page), write: write)
                page &+= AddressSpace.pageSize
            }
            return .success
        } catch {
            return error
        }
    }
}
