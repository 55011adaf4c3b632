/// One x86-64 page-table entry, at any of the four levels.
///
/// Sprig builds only 4 KiB mappings in partition tables; a large-page bit found while walking a
/// partition's tables is treated as "not mapped" (it can only be the kernel's).
import SprigABI

package struct PageTableEntry: Equatable, Sendable {
    package private(set) var raw: UInt64
    @inlinable package init(raw: UInt64) { self.raw = raw }

    package static let present: UInt64 = 1 << 0
    package static let writable: UInt64 = 1 << 1
    package static let user: UInt64 = 1 << 2
    /// Set by the CPU in every entry a translation uses (SDM Vol. 3A §4.8), never by the kernel.
    package static let accessed: UInt64 = 1 << 5
    package static let largePage: UInt64 = 1 << 7
    package static let global: UInt64 = 1 << 8
    package static let noExecute: UInt64 = 1 << 63
    package static let addressMask: UInt64 = 0x000F_FFFF_FFFF_F000

    @inlinable package init(frame: PhysicalAddress, flags: UInt64) {
        raw = (frame.raw & Self.addressMask) | flags
    }
    @inlinable package var isPresent: Bool { raw & Self.present != 0 }
    @inlinable package var isUser: Bool { raw & Self.user != 0 }
    @inlinable package var isExecutable: Bool { raw & Self.noExecute == 0 }
    @inlinable package var isLargePage: Bool { raw & Self.largePage != 0 }
    /// Present and pointing at the next level's table (not a large page): what a walk follows.
    @inlinable var isNextTable: Bool { raw & (Self.present | Self.largePage) == Self.present }
    @inlinable package var frame: PhysicalAddress { PhysicalAddress(raw & Self.addressMask) }

    /// Gives or takes ring 3's access to the page (the U bit).
    @inlinable mutating func setUserAccessible(_ accessible: Bool) {
        if accessible { raw |= Self.user } else { raw &= ~Self.user }
    }

    /// A non-leaf entry of a partition's tables pointing at the table page `frame`.
    @inlinable package static func table(_ frame: PhysicalAddress) -> PageTableEntry {
        PageTableEntry(frame: frame, flags: tableFlags)
    }
    /// A leaf mapping `frame` with `rights` (user-accessible unless `accessible` is false).
    @inlinable package static func leaf(_ frame: PhysicalAddress, rights: PageRights, accessible: Bool = true) -> PageTableEntry {
        PageTableEntry(frame: frame, flags: leafFlags(rights: rights, accessible: accessible))
    }

    /// Flags of a non-leaf entry in a partition's tables: the leaf decides the rights.
    package static let tableFlags: UInt64 = present | writable | user

    /// Leaf flags for a page a partition may use with the given `Rights` bits.
    /// Reading is implied by presence on x86; write and execute map to W and NX.
    @inlinable package static func leafFlags(rights: PageRights, accessible: Bool = true) -> UInt64 {
        var f = present
        if accessible { f |= user }
        if rights.write { f |= writable }
        if !rights.execute { f |= noExecute }
        return f
    }
}
