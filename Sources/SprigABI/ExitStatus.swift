/// How a run of the machine ends, as the host sees it.
///
/// Under QEMU the kernel writes a status `s` to the isa-debug-exit port (0xF4, 4 bytes wide), and
/// QEMU exits with `(s << 1) | 1`. Partitions (through root's `powerOff`) may use 0…0x6F;
/// the kernel reserves the rest.
public enum ExitStatus {
    public static let debugExitPort: UInt16 = 0xF4
    /// The kernel stopped on a fault or a failed check in ring 0 and printed a crash report.
    public static let kernelCrash: UInt64 = 0x70
    /// The kernel could not build the root partition (no module, too little memory, bad image).
    public static let bootFailure: UInt64 = 0x71

    /// The status a partition or the kernel wrote, from QEMU's process exit code; nil when QEMU
    /// did not exit through the debug port (an even code: reset, triple fault, or killed).
    public static func decode(qemuExitCode code: Int32) -> UInt64? {
        guard code & 1 == 1 else { return nil }
        return UInt64(code >> 1)
    }
}
