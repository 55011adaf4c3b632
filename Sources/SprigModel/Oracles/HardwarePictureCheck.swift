/// The kernel's picture of the hardware checked against the Intel SDM, word for word: the
/// page-table entry bits (Vol. 3A §4.5, Table 4-19 "Format of a 4-Level Page-Table Entry that
/// Maps a 4-KByte Page"), the bytes of the FXSAVE image the CPU writes (`SpecFXSAVE`, Vol. 1
/// §10.5.1), the rip, rflags and MXCSR sanitizers (a non-canonical rip faults `iretq`; ring 3
/// keeps the flags `Spec.RFLAGS` gives it; FXRSTOR refuses MXCSR bits outside MXCSR_MASK), the
/// checks of ring 3's address and rights arguments against the specification's rules, the
/// clamp of a ring-3 table index (Spectre v1: its value off the architectural path), bit 7
/// in the reference walk (PS above the leaf, PAT in it), and the kernel's walks of a
/// partition's tables against the independent MMU (`SpecMMU`) on tables built here.
///
/// The model CPU and the kernel's save paths read these from SprigCore, and the model walks with
/// its own MMU (`SpecMMU`) only for what partitions reach: a wrong bit position or byte range
/// that the kernel and the model CPU share passes every exploration, and so does a walk or an
/// argument check that differs only at addresses or values the explorer's partitions never
/// use (a page above 1 GiB, an odd address, a rights word with a stray bit). Here each is
/// compared with the manual's number or the specification's rule.
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
        out += ringThreeValues()
        out += clamps()
        out += referenceWalk()
        out += userWalks()
        return out
    }

    /// The rflags a context load keeps (`Spec.RFLAGS`, SDM Vol. 1 §3.4.3), an address argument
    /// checked canonical, lower half and page-aligned in that order (`Spec.canonical`,
    /// `Spec.page`), and `addVAddr`'s rights word (`Spec.rightsAllowed`): every single bit, with
    /// and without its neighbours.
    static func ringThreeValues() -> [String] {
        var out: [String] = []
        func outcome(_ body: () throws(Status) -> VirtualAddress) -> Result<UInt64, Status> {
            do throws(Status) { return .success(try body().raw) } catch { return .failure(error) }
        }
        for bit in UInt64(0)..<64 {
            let one: UInt64 = 1 << bit
            for enabled in [false, true] {
                let want = one & Spec.RFLAGS.partitionOwned | Spec.RFLAGS.alwaysOne | (enabled ? Spec.RFLAGS.interrupt : 0)
                let got = UserRegisters.rflags(one, interruptsEnabled: enabled)
                if got != want { out.append("UserRegisters.rflags(\(hex(one)), interruptsEnabled: \(enabled)) is \(hex(got)), not \(hex(want))") }
            }
            for raw in [one, one | 0x40_0000, ~one, (AddressSpace.lowerHalfEnd - AddressSpace.pageSize) | one] {
                let canonical = outcome { () throws(Status) in try UserAddress(raw).checkedCanonical() }
                if canonical != Spec.canonical(raw) { out.append("UserAddress(\(hex(raw))).checkedCanonical() is \(canonical), not \(Spec.canonical(raw))") }
                let page = outcome { () throws(Status) in try UserAddress(raw).checkedPage() }
                if page != Spec.page(raw) { out.append("UserAddress(\(hex(raw))).checkedPage() is \(page), not \(Spec.page(raw))") }
            }
            for raw in [one, one | Rights.read, one | Rights.all, bit] {
                let got = UncheckedRights(raw).checked()?.raw, want = Spec.rightsAllowed(raw) ? raw : nil
                if got != want { out.append("UncheckedRights(\(hex(raw))).checked() is \(got.map(hex) ?? "nil"), not \(want.map(hex) ?? "nil")") }
            }
        }
        return out
    }

    /// `Speculation.clamp`'s rule, the index when it is below the size, else 0, at both ends of
    /// every size's range and past it (also with bit 63 or bit 62 alone set): the architectural
    /// path clamps only numbers the kernel has already refused, so only here is the value the
    /// CPU may speculate with compared.
    static func clamps() -> [String] {
        var out: [String] = []
        for size: UInt64 in [1, 16, Service.numberLimit, 1 << 62, 1 << 63] {
            for index: UInt64 in [0, 1, size - 1, size, size + 1, size << 1, 1 << 62, 1 << 62 | 1, 1 << 63, 1 << 63 | 1, ~0] {
                let want = index < size ? index : 0
                let got = Speculation.clamp(index, below: size)
                if got != want { out.append("Speculation.clamp(\(hex(index)), below: \(hex(size))) is \(hex(got)), not \(hex(want))") }
            }
        }
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

    /// `walk`, `userWalk`, `userTranslate` and `checkUserRange` against `SpecMMU` on tables
    /// built here, on 4 KiB pages (the only ones Sprig maps): pages under every index bit of
    /// every level (one above 512 GiB), entries without U or W at each level, an address under
    /// an absent entry at each level, byte offsets inside a page, and the last page of the lower
    /// half. Page 0 holds present-looking entries, as the model's does, so a walk that goes on
    /// through an absent entry does not stop at a zero. A walk's rights are the AND of its four
    /// entries (P, R/W, U/S, XD compared); a range of 0 bytes is refused, and a range is checked
    /// page by page up to its last byte and refused when it runs past the lower half.
    static func userWalks() -> [String] {
        let ps = AddressSpace.pageSize
        let present = SpecMMU.Bit.present, rwu = SpecMMU.Bit.present | SpecMMU.Bit.writable | SpecMMU.Bit.user
        let compared = rwu | SpecMMU.Bit.noExecute
        let m = SimulatedMemory(pages: 24)
        for w in UInt64(0)..<512 { m.store(PhysicalAddress(w * 8), ModelMachine.pageZeroWord) }
        let root = PhysicalAddress(ps)
        var next: UInt64 = 2
        func at(_ table: UInt64, _ va: UInt64, _ level: Int) -> PhysicalAddress {
            PhysicalAddress(table + ((va >> (12 + 9 * UInt64(level - 1))) & 0x1FF) * 8)
        }
        // The entries on the way to `va`, level 4 first, as far as they are present.
        func path(_ va: UInt64) -> [UInt64] {
            var table = root.raw, out: [UInt64] = []
            for level in stride(from: 4, through: 1, by: -1) {
                let e = m.load(at(table, va, level))
                out.append(e)
                guard e & present != 0 else { break }
                table = e & SpecMMU.frameBits
            }
            return out
        }
        // Maps the page at `va` with `flags` per level (level 4 first) in entries still absent.
        func map(_ va: UInt64, _ flags: [UInt64]) {
            var table = root.raw
            for level in stride(from: 4, through: 1, by: -1) {
                var e = m.load(at(table, va, level))
                if e & present == 0 { e = next * ps | flags[4 - level]; next += 1; m.store(at(table, va, level), e) }
                table = e & SpecMMU.frameBits
            }
        }
        let low: UInt64 = 0x40_3000, high: UInt64 = 1 << 39 | 1 << 30 | 5 << 21 | 7 << 12
        let supervisor: UInt64 = 2 << 30 | 3 << 12, readOnlyDirectory: UInt64 = 9 << 21 | 1 << 12
        let last = AddressSpace.lowerHalfEnd - ps
        map(low, [rwu, rwu, rwu, rwu])
        map(low + ps, [rwu, rwu, rwu, present | SpecMMU.Bit.user])
        map(0x40_8000, [rwu, rwu, rwu, rwu])
        map(high, [rwu, rwu, rwu, rwu | SpecMMU.Bit.noExecute])
        map(supervisor, [rwu, present | SpecMMU.Bit.writable, rwu, rwu])
        map(readOnlyDirectory, [rwu, rwu, present | SpecMMU.Bit.user, rwu])
        map(last, [rwu, rwu, rwu, rwu])
        // Absent at level 4, 3, 2 and 1.
        let absent: [UInt64] = [3 << 39, 3 << 30, 7 << 21, 0x40_9000]

        var out: [String] = []
        for page in [low, low + ps, 0x40_8000, high, supervisor, readOnlyDirectory, last] + absent {
            for va in [page, page + 0x123, page + ps - 1] {
                let spec = SpecMMU.walk(cr3: root.raw, linear: va, load: m.specLoad)
                let entries = path(va)
                let want: Result<(frame: UInt64, rights: UInt64), Status>
                if case .success(let t) = spec {
                    want = .success((t.pageFrame, entries.reduce(~0, &) & compared))
                } else {
                    want = .failure(.addressNotMapped)
                }
                func same(_ got: Result<PageTableWalk.Walk, Status>) -> Bool {
                    switch (got, want) {
                    case (.success(let g), .success(let w)): return g.frame == w.frame && g.rights & compared == w.rights
                    case (.failure(let g), .failure(let w)): return g == w
                    default: return false
                    }
                }
                func walked(_ body: () throws(Status) -> PageTableWalk.Walk) -> Result<PageTableWalk.Walk, Status> {
                    do throws(Status) { return .success(try body()) } catch { return .failure(error) }
                }
                let reference = walked { () throws(Status) in try PageTableWalk.walk(m, rootTable: root, va: VirtualAddress(va)).walk }
                if !same(reference) { out.append("PageTableWalk.walk(\(hex(va))) is \(reference), the SDM's is \(want)") }
                let unrolled = walked { () throws(Status) in try PageTableWalk.userWalk(m, rootTable: root, va: VirtualAddress(va)) }
                if !same(unrolled) { out.append("PageTableWalk.userWalk(\(hex(va))) is \(unrolled), the SDM's is \(want)") }
                for write in [false, true] {
                    let expected: Result<UInt64, Status>
                    switch spec {
                    case .success(let t) where write ? t.userWritable : t.userAccessible: expected = .success(t.physical)
                    case .success: expected = .failure(.pageNotAccessible)
                    case .failure: expected = .failure(.addressNotMapped)
                    }
                    let got: Result<UInt64, Status>
                    do throws(Status) {
                        got = .success(try PageTableWalk.userTranslate(m, rootTable: root, va: VirtualAddress(va), write: write).raw)
                    } catch { got = .failure(error) }
                    if got != expected { out.append("PageTableWalk.userTranslate(\(hex(va)), write: \(write)) is \(got), the SDM's is \(expected)") }
                }
            }
        }
        let ranges: [(start: UInt64, length: UInt64, write: Bool, want: Status)] = [
            (low, 0, false, .invalidArgument), (low + 5, 1, false, .success),
            (low + ps - 8, 16, false, .success), (low + ps - 8, 16, true, .pageNotAccessible),
            // The last byte alone on the next page, which is absent; then one byte shorter.
            (0x40_8001, ps, false, .addressNotMapped), (0x40_8001, ps - 1, true, .success),
            (supervisor + 8, 8, false, .pageNotAccessible), (readOnlyDirectory + 1, 3, true, .pageNotAccessible),
            (high + ps - 1, 1, true, .success), (3 << 30 | 8, 8, false, .addressNotMapped),
            // Up to the end of the lower half, and past it.
            (last + ps - 8, 8, true, .success), (last + ps - 8, 16, false, .rangeNotAccessible),
        ]
        for r in ranges {
            let got = PageTableWalk.checkUserRange(m, rootTable: root, start: UserAddress(r.start), length: r.length, write: r.write)
            if got != r.want {
                out.append("PageTableWalk.checkUserRange(\(hex(r.start)), length: \(r.length), write: \(r.write)) is \(got), not \(r.want)")
            }
        }
        return out
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
}
