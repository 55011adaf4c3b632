/// Where things are in every child SprigUser's `ChildBuilder` makes. Partitions build children
/// with it; the host counts the page tables the generic root's children need from the same
/// addresses (`InitMemory`, validator `plan-fits`).
public enum ChildLayout {
    public static let stackTop = AddressSpace.rootStackTop
    public static let stackPages: UInt64 = 4
    /// The handler stack: handlers are entered with rsp = `handlerStackTop - 8`.
    public static let handlerStackTop: UInt64 = 0x0000_7FFF_FFF8_0000
    public static let handlerStackPages: UInt64 = 2
    /// Two pages of context slots (`contextSlot`), five 768-byte contexts each.
    public static let contextPages: UInt64 = 0x0000_7FFF_FFFF_D000
    public static let consolePage: UInt64 = 0x0000_7FFF_FFFF_C000
    /// The child's pool: pages for its own use (its children, its data).
    public static let poolBase: UInt64 = 0x0000_0000_1000_0000
    /// Where a parent maps an extra region (an image for the child to start a child of its own).
    public static let extraBase: UInt64 = 0x0000_0000_2000_0000

    /// Context slot `k` (0…9) in the context pages; slot 0 is the main context (`VIDT[0]`),
    /// slot 1 the STI/CLI save area the parent sets up.
    @inlinable public static func contextSlot(_ k: UInt64) -> UInt64 {
        contextPages + (k / 5) * AddressSpace.pageSize + (k % 5) * UInt64(ContextLayout.size)
    }
}
