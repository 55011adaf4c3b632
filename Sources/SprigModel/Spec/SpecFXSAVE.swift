/// The 64-bit FXSAVE image (512 bytes) as the Intel SDM lays it out (Vol. 1 §10.5.1, Table 10-2
/// "Format of an FXSAVE Area", 64-bit form), for the specification, the properties and the
/// model CPU: written from the manual, not from the kernel's `UserRegisters.fxsaveWrittenBytes`,
/// so that a wrong byte range in the kernel is not repeated by what checks it.
///
///     0…1 FCW  2…3 FSW  4 abridged FTW  5 reserved  6…7 FOP  8…15 FIP  16…23 FDP
///     24…27 MXCSR  28…31 MXCSR_MASK
///     32 + 16k … 32 + 16k + 9  ST/MMk (k = 0…7), then 6 reserved bytes of padding
///     160 + 16k … 175 + 16k    XMMk (k = 0…15)
///     416…463 reserved, 464…511 available to software
///
/// FXSAVE writes bytes 0…415 but the ST/MM padding; the reserved byte 5 is written (as 0). It
/// leaves the padding, the reserved bytes 416…463 and the available bytes 464…511 as they were.
public enum SpecFXSAVE {
    /// Whether FXSAVE writes byte `b` (0…511) of its image.
    public static func writes(byte b: Int) -> Bool {
        if b < 32 { return true }
        if b < 160 { return (b - 32) % 16 < 10 }   // ST/MM registers, 10 bytes of every 16
        return b < 416                             // XMM0…15
    }

    /// A mask of the bytes of word `w` (bytes 8w…8w+7) FXSAVE writes.
    public static func writtenMask(word w: Int) -> UInt64 {
        var mask: UInt64 = 0
        for k in 0..<8 where writes(byte: 8 * w + k) { mask |= 0xFF << (8 * UInt64(k)) }
        return mask
    }
}
