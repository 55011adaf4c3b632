/// The partition descriptor: one kernel page per partition (DESIGN.md §3).
///
/// Byte offsets of 8-byte words in the descriptor page. A descriptor page is given by the parent
/// (root's by the boot allocator) and is never accessible to any partition while it is one.
/// Only the kernel writes it; every field is a value the kernel computed itself, so code reading
/// a descriptor found through a parent's shadow 1 may trust it.
///
/// | offset | field | who writes it |
/// |---|---|---|
/// | 0   | PML4 paddr | createPartition / RootBuilder |
/// | 8   | shadow 1 root (PML4-shaped) paddr | createPartition / RootBuilder |
/// | 16  | shadow 2 root (PML4-shaped) paddr | createPartition / RootBuilder |
/// | 24  | configuration list head paddr (0 for root) | createPartition, prepare, collect |
/// | 32  | parent descriptor paddr (0 for root) | createPartition |
/// | 40  | this descriptor's vaddr in the parent (0 for root) | createPartition |
/// | 48  | interrupt state (VCLI: 0 = enabled, 1 = disabled) | setIntState, yield |
/// | 56  | depth in the tree (root 0) — bounds every walk up the tree | createPartition |
/// | 64  | number of configuration-list pages — bounds every walk of the list | createPartition, prepare, collect |
/// | 72  | PML4's vaddr in the parent | createPartition |
/// | 80  | shadow 1 root's vaddr in the parent | createPartition |
/// | 88  | shadow 2 root's vaddr in the parent | createPartition |
/// | 96  | first configuration page's vaddr in the parent | createPartition |
import SprigABI

public enum DescriptorLayout {
    public static let pml4 = 0
    public static let shadow1 = 8
    public static let shadow2 = 16
    public static let configList = 24
    public static let parent = 32
    public static let vaddrInParent = 40
    public static let interruptState = 48
    public static let depth = 56
    public static let configPages = 64
    public static let pml4VAddr = 72
    public static let shadow1VAddr = 80
    public static let shadow2VAddr = 88
    public static let configListVAddr = 96

    /// Writes a fresh descriptor for a partition whose PML4 is `pml4` (root at boot: no shadows
    /// yet, no parent). The rest of the page is zeroed.
    public static func initialize<P: Platform>(_ platform: P, descriptor: PhysicalAddress, pml4 pml4Page: PhysicalAddress) {
        platform.zeroPage(descriptor)
        platform.store(descriptor.adding(UInt64(pml4)), pml4Page.raw)
    }

    /// The word at `field` (one of the offsets above).
    @inlinable
    public static func read<P: Platform>(_ platform: P, _ descriptor: PhysicalAddress, _ field: Int) -> UInt64 {
        platform.load(descriptor.adding(UInt64(field)))
    }

    @inlinable
    public static func write<P: Platform>(_ platform: P, _ descriptor: PhysicalAddress, _ field: Int, _ value: UInt64) {
        platform.store(descriptor.adding(UInt64(field)), value)
    }

    public static func pml4<P: Platform>(_ platform: P, descriptor: PhysicalAddress) -> PhysicalAddress {
        PhysicalAddress(read(platform, descriptor, pml4))
    }
}
