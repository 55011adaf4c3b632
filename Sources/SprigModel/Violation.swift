/// What a broken isolation property looks like: which property, which partition, which page.
///
/// Every property in `Properties` returns a list of these, empty when it holds, so a failing test
/// or a fuzzer can say exactly what went wrong.
import SprigCore

public struct Violation: Equatable, Hashable, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// A partition can reach a kernel image page or a kernel structure page.
        case kernelDataIsolation
        /// Two partitions, neither an ancestor of the other, use the same page.
        case horizontalIsolation
        /// A child uses a page its parent does not map.
        case verticalSharing
        /// A partition is reached twice in the tree.
        case treeCycle
        /// A descriptor's parent or depth field is not its parent or depth in the tree.
        case descriptorFields
        /// Shadow 1 or shadow 2 disagrees with the tables (or a parent's records).
        case shadowMismatch
        /// The configuration list does not record exactly the partition's structure pages.
        case configListMismatch
        /// A page accessible in a child is not accessible in its parent.
        case accessibleNotInParent
        /// A page is given to more than one child, or used as two structures.
        case pageGivenTwice
        /// A child's descriptor is not flagged where its parent names it.
        case descriptorNotFlagged
        /// A PML4's upper half differs from the kernel's, or a pointer leaves physical memory.
        case kernelMapping
        /// A translation-cache entry is not what walking its partition's tables gives now (or
        /// names no live partition): yield would use a stale translation (`TranslationCache`).
        case staleTranslation
        /// A yield-cache entry is not what checks 3–8 give now on its VIDT entries (or names no
        /// live partition): yield would switch on a stale plan (`YieldCache`); or two entries
        /// hold one answer: a lookup missed an entry it should have hit.
        case staleYieldPlan
        /// The concrete kernel's outcome or resulting state differs from the abstract specification's.
        case refinement
        /// The state ring 3 resumes with carries something no context defines: a data selector
        /// that is not null, a rip outside the lower half (`Properties.resumedState`).
        case registerHygiene
        /// The way back to ring 3 breaks a rule of the CPU and would fault in the kernel (an
        /// `iretq` to a non-canonical rip): a kernel crash any partition could cause.
        case kernelFault
        /// In one kernel entry the kernel read or wrote, for a partition, a page that partition
        /// cannot reach (DESIGN.md §5, the paper's §4): `Properties.dereference`.
        case dereference
    }

    public var kind: Kind
    /// The partition's descriptor paddr (0 when not about one partition).
    public var partition: UInt64
    /// The physical page concerned.
    public var page: UInt64
    /// The vaddr concerned, in `partition`'s space.
    public var vaddr: UInt64
    public var detail: String

    public init(_ kind: Kind, partition: UInt64, page: UInt64 = 0, vaddr: UInt64 = 0, _ detail: String) {
        self.kind = kind; self.partition = partition; self.page = page; self.vaddr = vaddr; self.detail = detail
    }

    public var description: String {
        "\(kind.rawValue): partition 0x\(String(partition, radix: 16)), page 0x\(String(page, radix: 16)), "
            + "vaddr 0x\(String(vaddr, radix: 16)): \(detail)"
    }
}
