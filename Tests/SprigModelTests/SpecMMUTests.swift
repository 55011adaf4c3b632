/// `SpecMMU`, the properties' and the model CPU's MMU, against the Intel SDM's 4-level paging
/// rules, on tables written by hand (not by the kernel): U, W and XD combine across every
/// level, PS maps 2 MiB and 1 GiB pages and is reserved in a PML4E, reserved bits and
/// non-canonical addresses fault.
import SprigCore
import SprigModel
import Testing

@Suite struct SpecMMUTests {
    /// Physical memory as a dictionary of words; tables at 0x1000 (PML4), 0x2000 (PDPT),
    /// 0x3000 (PD), 0x4000 (PT); the linear address 0x4000_1234 uses index 0/1/0/1.
    struct Tables {
        var words: [UInt64: UInt64] = [:]
        static let all: UInt64 = 0b111  // P | R/W | U/S
        init(pml4: UInt64 = all, pdpt: UInt64 = all, pd: UInt64 = all, pt: UInt64 = all) {
            words[0x1000] = 0x2000 | pml4
            words[0x2000 + 8] = 0x3000 | pdpt
            words[0x3000] = 0x4000 | pd
            words[0x4000 + 8] = 0x9000 | pt
        }
        func load(_ a: UInt64) -> UInt64? { a < 0x10_0000 ? words[a] ?? 0 : nil }
        func user(_ access: SpecMMU.Access, _ va: UInt64 = 0x4000_1234) -> UInt64? {
            SpecMMU.user(access, cr3: 0x1000, linear: va, load: load)
        }
    }

    @Test func fourKiBPageWithEveryRight() {
        let t = Tables()
        #expect(t.user(.read) == 0x9234)
        #expect(t.user(.write) == 0x9234)
        #expect(t.user(.fetch) == 0x9234)
    }

    /// The U/S bit of any one level takes ring 3's access away (SDM §4.6.1).
    @Test func userBitOfEveryLevelCounts() {
        for level in 0..<4 {
            var flags = [Tables.all, Tables.all, Tables.all, Tables.all]
            flags[level] &= ~4
            let t = Tables(pml4: flags[0], pdpt: flags[1], pd: flags[2], pt: flags[3])
            #expect(t.user(.read) == nil, "U/S clear at level \(4 - level)")
        }
    }

    /// R/W clear at any level makes the page read-only for ring 3; XD at any level unexecutable.
    @Test func writeAndExecuteCombineAcrossLevels() {
        for level in 0..<4 {
            var flags = [Tables.all, Tables.all, Tables.all, Tables.all]
            flags[level] &= ~2
            let t = Tables(pml4: flags[0], pdpt: flags[1], pd: flags[2], pt: flags[3])
            #expect(t.user(.read) != nil && t.user(.write) == nil, "R/W clear at level \(4 - level)")
            var x = [Tables.all, Tables.all, Tables.all, Tables.all]
            x[level] |= 1 << 63
            let u = Tables(pml4: x[0], pdpt: x[1], pd: x[2], pt: x[3])
            #expect(u.user(.write) != nil && u.user(.fetch) == nil, "XD set at level \(4 - level)")
        }
    }

    /// PS in a PDE maps a 2 MiB page; in a PDPTE a 1 GiB page; in a PML4E it is a reserved bit.
    @Test func pageSizeBit() {
        var t = Tables()
        t.words[0x3000] = 0x20_0000 | 0x80 | Tables.all
        #expect(t.user(.read) == 0x20_0000 + 0x1234)
        var g = Tables()
        g.words[0x2000 + 8] = 0x4000_0000 | 0x80 | Tables.all
        let big = try? SpecMMU.walk(cr3: 0x1000, linear: 0x4000_1234, load: g.load).get()
        #expect(big?.physical == 0x4000_1234 && big?.pageSize == 1 << 30 && big?.leafEntryAddress == 0x2008)
        var r = Tables()
        r.words[0x1000] = 0x2000 | 0x80 | Tables.all
        #expect(SpecMMU.walk(cr3: 0x1000, linear: 0x4000_1234, load: r.load) == .failure(.reservedBit(level: 4)))
        // A 2 MiB page's frame bits 20:13 are reserved.
        var b = Tables()
        b.words[0x3000] = 0x20_0000 | 0x2000 | 0x80 | Tables.all
        #expect(SpecMMU.walk(cr3: 0x1000, linear: 0x4000_1234, load: b.load) == .failure(.reservedBit(level: 2)))
    }

    @Test func canonicalFormAndReservedAddressBits() {
        let t = Tables()
        #expect(SpecMMU.walk(cr3: 0x1000, linear: 0x0000_8000_0000_0000, load: t.load) == .failure(.nonCanonical))
        #expect(SpecMMU.isCanonical(0xFFFF_8000_0000_0000))
        #expect(!SpecMMU.isCanonical(0xFFFF_0000_0000_0000))
        var r = Tables()
        r.words[0x4000 + 8] = 0x9000 | (1 << SpecMMU.maxPhysicalAddressBits) | Tables.all
        #expect(SpecMMU.walk(cr3: 0x1000, linear: 0x4000_1234, load: r.load) == .failure(.reservedBit(level: 1)))
        var n = Tables()
        n.words[0x3000] = 0
        #expect(SpecMMU.walk(cr3: 0x1000, linear: 0x4000_1234, load: n.load) == .failure(.notPresent(level: 2)))
    }
}

/// `SpecFXSAVE`, the SDM's FXSAVE layout the specification, the properties and the model CPU use,
/// agrees with the kernel's own table of the bytes FXSAVE writes, word by word; and it is the
/// SDM's: the ST/MM padding, the reserved and the available bytes are not written.
@Suite struct SpecFXSAVETests {
    @Test func layoutFromTheSDM() {
        #expect(SpecFXSAVE.writes(byte: 5))            // reserved, written as 0
        #expect(SpecFXSAVE.writes(byte: 32 + 9))       // ST0's last byte
        #expect(!SpecFXSAVE.writes(byte: 32 + 10))     // ST0's padding
        #expect(!SpecFXSAVE.writes(byte: 159))         // ST7's padding
        #expect(SpecFXSAVE.writes(byte: 415))          // XMM15's last byte
        #expect(!SpecFXSAVE.writes(byte: 416))         // reserved
        #expect(!SpecFXSAVE.writes(byte: 511))         // available
    }

    @Test func kernelTableAgrees() {
        for w in 0..<64 {
            #expect(SpecFXSAVE.writtenMask(word: w) == UserRegisters.fxsaveWrittenBytes(word: w), "word \(w)")
        }
    }
}
