/// Fixed virtual addresses and sizes of a partition's address space (DESIGN.md §2).
///
/// A partition owns the lower half (`0` … `0x0000_7FFF_FFFF_FFFF`); the kernel owns the upper
/// half and maps it supervisor-only into every partition's PML4 (entries 256–511).
public enum AddressSpace {
    public static let pageSize: UInt64 = 4096
    public static let pageShift: UInt64 = 12
    /// One past the highest lower-half (partition) address.
    public static let lowerHalfEnd: UInt64 = 0x0000_8000_0000_0000
    /// The lowest upper-half (kernel) address.
    public static let upperHalfStart: UInt64 = 0xFFFF_8000_0000_0000

    /// The partition's Virtual Interrupt Descriptor Table: 512 entries of 8 bytes, each the
    /// virtual address of a context in that partition, or 0.
    public static let vidt: UInt64 = 0x0000_7FFF_FFFF_F000
    /// Root only: the boot-info page (`BootInfo`).
    public static let bootInfo: UInt64 = 0x0000_7FFF_FFFF_E000
    /// Root only: the page holding the context root starts from (`VIDT[0]` points here).
    public static let rootInitialContext: UInt64 = 0x0000_7FFF_FFFF_D000
    /// Root only: top of the initial stack (it grows down `rootStackPages` pages).
    public static let rootStackTop: UInt64 = 0x0000_7FFF_FFF0_0000
    public static let rootStackPages: UInt64 = 16
    /// Where partition images are linked and loaded; the entry point is the first byte. Root's
    /// image is 1 byte to 64 MiB less one page (at most 0x3FFF pages): the kernel refuses to boot
    /// an empty or a larger one.
    public static let imageBase: UInt64 = 0x0000_0000_0040_0000
    /// Root only: the window through which it sees the physical memory it owns:
    /// a free page at physical address `p` is mapped at `rootWindowBase + p`.
    public static let rootWindowBase: UInt64 = 0x0000_0100_0000_0000

    /// Number of VIDT entries.
    public static let vidtEntries: UInt64 = 512
}
