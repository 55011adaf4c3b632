/// The kernel half of an x86-64 address space: root table entries 256–511, shared by every root table.
///
/// Every partition's root table maps the kernel's upper half with the same entries as the
/// kernel's own root table (supervisor-only, DESIGN.md §2), so that a switch of root table on entry
/// and exit keeps the kernel's window mapped. The core calls `share` whenever it makes a root
/// table (root's at boot, a child's in createPartition); it never indexes a root table itself.
import SprigABI

package enum KernelHalf {
    /// The first and one past the last root table index of the kernel half.
    static let firstEntry: UInt64 = 256
    static let endEntry: UInt64 = 512

    /// Copies the kernel-half entries of the root table `from` into the root table `to`.
    @inline(__always)
    static func share<P: Platform>(_ p: P, from: PhysicalAddress, to: PhysicalAddress) {
        Structures.copyWords(p, from: from.adding(firstEntry * 8), to: to.adding(firstEntry * 8), count: endEntry - firstEntry)
    }
}
