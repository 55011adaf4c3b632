/// The partition descriptor: one kernel page per partition (DESIGN.md §3).
///
/// Word offsets in the page. A descriptor page is never accessible to any partition.
import SprigABI

public enum DescriptorLayout {
    /// Physical address of the partition's PML4.
    public static let pml4 = 0

    /// Writes a fresh descriptor for a partition whose PML4 is `pml4`.
    public static func initialize<P: Platform>(_ platform: P, descriptor: PhysicalAddress, pml4 pml4Page: PhysicalAddress) {
        platform.store(descriptor.adding(UInt64(pml4)), pml4Page.raw)
    }

    public static func pml4<P: Platform>(_ platform: P, descriptor: PhysicalAddress) -> PhysicalAddress {
        PhysicalAddress(platform.load(descriptor.adding(UInt64(pml4))))
    }
}
