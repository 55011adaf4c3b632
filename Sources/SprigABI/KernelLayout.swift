/// Where the kernel is linked, for every reader: the kernel, the model, the crash-report
/// symbolizer, and (through the generated `Sources/SprigX86/kernel_constants.h` and `.ld`,
/// `KernelConstants` in SprigTool) the boot code, the entry code and the linker script.
public enum KernelLayout {
    /// The kernel image's virtual base: the top 2 GiB (`-mcmodel=kernel`), at base + physical.
    public static let base: UInt64 = 0xFFFF_FFFF_8000_0000
}
