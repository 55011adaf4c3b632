/// The shape of x86-64 four-level paging: levels, how a vaddr picks an entry at each level,
/// which root table entries are the partitions' half, and which vaddrs are canonical.
///
/// The portable core walks tables level by level with these facts and never spells them out
/// itself: a second architecture brings its own `PageTableFormat` (levels, index bits, the
/// user range of its root table) beside its `PageTableEntry`.
import SprigABI

package enum PageTableFormat {
    /// The root table's level; a leaf (page table) is level 1.
    static let rootLevel = 4
    /// Entries in one table page, and bytes in one entry.
    static let entriesPerTable: UInt64 = 512
    static let entryBytes: UInt64 = 8
    /// Root table entries `0 ..< userRootEntries` map the partitions' lower half; the others
    /// are the kernel's (`KernelHalf`).
    static let userRootEntries: UInt64 = KernelHalf.firstEntry
    /// Vaddr bits each level indexes.
    static let bitsPerLevel: UInt64 = 9

    /// `(va >> entryShift(level)) & entryOffsetMask` is the byte offset of `va`'s entry at
    /// `level` in that level's table page: shifts and one mask, the form yield's walks use.
    @inline(__always) static func entryShift(level: Int) -> UInt64 { bitsPerLevel &* UInt64(truncatingIfNeeded: level) }
    static let entryOffsetMask: UInt64 = (entriesPerTable - 1) &* entryBytes
}

extension VirtualAddress {
    /// The page-table index of this address at `level` (4 = root table … 1 = page table).
    @inlinable package func index(level: Int) -> Int {
        Int(truncatingIfNeeded: (raw >> (12 + 9 * UInt64(level - 1))) & 0x1FF)
    }

    /// Canonical on x86-64 with 48-bit linear addresses: bits 63…47 all equal.
    @inlinable package var isCanonical: Bool {
        let top = raw >> 47
        return top == 0 || top == 0x1_FFFF
    }
}
