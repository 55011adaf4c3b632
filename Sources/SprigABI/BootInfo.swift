/// The boot-info page the kernel gives the root partition at `AddressSpace.bootInfo`.
///
/// All fields are little-endian `UInt64` at the byte offsets below. It tells root what it owns:
/// the ranges of its memory window (each a run of consecutive physical pages mapped at
/// `AddressSpace.rootWindowBase + paddr`) and the boot modules (other partition images) that
/// lie inside that memory.
public enum BootInfoLayout {
    public static let magicValue: UInt64 = 0x3149_4254_4F4F_4253  // "SBOOTBI1" little-endian
    public static let magic = 0
    public static let version = 8
    /// Pages of RAM the machine has (from the firmware's memory map).
    public static let totalPages = 16
    /// Pages mapped to root in its window (its free memory).
    public static let windowPages = 24
    public static let rangeCount = 32
    public static let moduleCount = 40
    /// Physical address of root's partition descriptor (a kernel page root cannot read).
    public static let rootDescriptor = 48
    /// Pages of root's own image at `AddressSpace.imageBase`.
    public static let imagePages = 56
    /// Pages the kernel keeps for itself: its image and the structures it built at boot.
    public static let kernelPages = 64
    public static let windowBase = 72

    /// `rangeCount` entries of (vaddr, pages), 16 bytes each.
    public static let ranges = 128
    public static let rangeStride = 16
    public static let maxRanges = 64
    /// `moduleCount` entries of (vaddr, byte size, name: 16 bytes NUL-padded), 32 bytes each.
    public static let modules = 1152
    public static let moduleStride = 32
    public static let moduleNameSize = 16
    public static let maxModules = 16
    /// The kernel command line (multiboot), as the loader gave it: `commandLineLength` bytes
    /// (at most `maxCommandLine`; longer lines are cut) from byte `commandLine`, NUL-padded.
    /// Root reads its own arguments here (the `fuzz` system's `fuzz.seed=` and `fuzz.calls=`).
    public static let commandLineLength = 80
    public static let commandLine = 1664
    public static let maxCommandLine = 256

    /// 2: the command line (`commandLineLength`, `commandLine`).
    public static let currentVersion: UInt64 = 2
}
