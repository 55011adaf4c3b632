/// The kernel's picture of the hardware checked against the Intel SDM, word for word: the
/// page-table entry bits (Vol. 3A §4.5, Table 4-19 "Format of a 4-Level Page-Table Entry that
/// Maps a 4-KByte Page"), the bytes of the FXSAVE image the CPU writes (`SpecFXSAVE`, Vol. 1
/// §10.5.1), the rip and MXCSR sanitizers (a non-canonical rip faults `iretq`; FXRSTOR
/// refuses MXCSR bits outside MXCSR_MASK) and bit 7 in the reference walk (PS above the leaf,
/// PAT in it).
///
/// The model CPU and the kernel's save paths read these from SprigCore, and the model walks with
/// its own MMU (`SpecMMU`) only for what partitions reach: a wrong bit position or byte range
/// that the kernel and the model CPU share passes every exploration. Here each is compared with
/// the manual's number.
import SprigABI
import SprigCore

/// See the file overview.
public enum HardwarePictureCheck {
    /// What disagrees with the manual; empty when nothing does.
    public static func run() -> [String] {
        var out: [String] = []
        // Table 4-19: P 0, R/W 1, U/S 2, A 5, PS 7 (in a PDE/PDPTE), G 8, XD 63, the frame in
        // bits 12 up to MAXPHYADDR (at most 52).
        let bits: [(String, UInt64, UInt64)] = [
            ("present", PageTableEntry.present, 1 << 0), ("writable", PageTableEntry.writable, 1 << 1),
            ("user", PageTableEntry.user, 1 << 2), ("accessed", PageTableEntry.accessed, 1 << 5),
            ("largePage", PageTableEntry.largePage, 1 << 7), ("global", PageTableEntry.global, 1 << 8),
            ("noExecute", PageTableEntry.noExecute, 1 << 63),
            ("addressMask", PageTableEntry.addressMask, ((1 << 52) - 1) & ~0xFFF),
            ("tableFlags", PageTableEntry.tableFlags, 0x7),
        ]
        for (name, kernel, manual) in bits where kernel != manual {
            out.append("PageTableEntry.\(name) is 0x\(String(kernel, radix: 16)), the SDM's is 0x\(String(manual, radix: 16))")
        }
        for w in 0..<(ContextLayout.fpuSize / 8) {
            let kernel = UserRegisters.fxsaveWrittenBytes(word: w), manual = SpecFXSAVE.writtenMask(word: w)
            if kernel != manual {
                out.append("FXSAVE word \(w): the kernel says the CPU writes 0x\(String(kernel, radix: 16)), the SDM 0x\(String(manual, radix: 16))")
            }
        }
        for rip: UInt64 in [0, 0x40_0000, AddressSpace.lowerHalfEnd - 1, AddressSpace.lowerHalfEnd, AddressSpace.upperHalfStart, ~0] {
            let want = rip < AddressSpace.lowerHalfEnd ? rip : 0
            if UserRegisters.rip(rip) != want { out.append("UserRegisters.rip(0x\(String(rip, radix: 16))) is not 0x\(String(want, radix: 16))") }
        }
        for (raw, mask) in [(UInt32(0xFFFF_FFFF), UInt32(0xFFBF)), (0x1F80, 0xFFFF), (0x40, 0xFFBF)] where UserRegisters.mxcsr(raw, mask: mask) != raw & mask {
            out.append("UserRegisters.mxcsr(0x\(String(raw, radix: 16)), mask: 0x\(String(mask, radix: 16))) keeps bits outside the mask")
        }
        if UserRegisters.defaultMXCSRMask != 0xFFBF { out.append("the default MXCSR_MASK is not 0xFFBF (SDM Vol. 1 §11.6.6)") }
        out += referenceWalk()
        return out
    }

    /// The reference walk (`PageTableWalk.walk`, which the model's helpers use) on tables built
    /// here: bit 7 is PS only above the leaf; in a 4 KiB page's entry it is PAT (Table 4-19) and
    /// the page is mapped; a PS bit in a directory entry is a large page, which Sprig never maps
    /// (docs/structures.md), so the walk refuses it.
    static func referenceWalk() -> [String] {
        var out: [String] = []
        let m = SimulatedMemory(pages: 6)
        let table: UInt64 = 0x7, bit7: UInt64 = 1 << 7, frame: UInt64 = 5 << 12
        let va: UInt64 = 0x40_3000
        // PML4 at page 1, PDPT at 2, PD at 3, PT at 4: entry 0, 0, 2, 3 for va.
        m.store(PhysicalAddress(1 << 12), 2 << 12 | table)
        m.store(PhysicalAddress(2 << 12), 3 << 12 | table)
        m.store(PhysicalAddress(3 << 12 + 2 * 8), 4 << 12 | table)
        m.store(PhysicalAddress(4 << 12 + 3 * 8), frame | table | bit7)
        func walk() -> UInt64? { try? PageTableWalk.walk(m, rootTable: PhysicalAddress(1 << 12), va: VirtualAddress(va)).walk.frame }
        if walk() != frame { out.append("PageTableWalk.walk does not map a 4 KiB page whose entry has bit 7 (PAT) set") }
        m.store(PhysicalAddress(3 << 12 + 2 * 8), 4 << 12 | table | bit7)
        if walk() != nil { out.append("PageTableWalk.walk follows a directory entry with PS set (a large page)") }
        return out
    }
}
