/// The boot-state oracle (`BootStateCheck`, `BootAllocatorCheck`, `sprig-check --boot`): the
/// kernel's boot passes it, and each kind of wrong boot state it describes is found when planted
/// after `RootBuilder` ran; the model's page 0 is not zero.
import Foundation
import SprigABI
import SprigCore
@testable import SprigModel
import Testing

@Suite struct BootStateCheckTests {
    static let layout = BootStateCheck.layouts[1]

    @Test func kernelBootMatchesTheDescription() {
        #expect(BootStateCheck.run() == [])
        #expect(BootAllocatorCheck.run() == [])
        #expect(HardwarePictureCheck.run() == [])
        #expect(KernelCacheCheck.run() == [])
        #expect(ContextOverlapCheck.run() == [])
        #expect(ConsoleRangeCheck.run() == [])
    }

    /// `KernelCacheCheck` holds the kernel's cache storage to entry.S's reservation: the same
    /// number of words as the `.skip` there.
    @Test func cacheCheckReservesWhatEntrySReserves() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
        let text = try String(contentsOf: root.appendingPathComponent("Sources/SprigX86/entry.S"), encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("sprig_translation_cache:") })
        let sum = try #require(line.split(separator: "(").last?.split(separator: ")").first)
        let words = sum.split(separator: "+").map { term in
            term.split(separator: "*").map { Int($0.trimmingCharacters(in: .whitespaces)) ?? -1 }.reduce(1, *)
        }.reduce(0, +)
        #expect(line.hasSuffix(") * 8"), "\(line)")
        #expect(words == KernelCacheCheck.reservedWords, "entry.S: \(line)")
    }

    /// One planted fault per part of the description; each is found.
    @Test(arguments: ["stack page unmapped", "boot info window count", "structure word", "extra mapping",
                      "descriptor word", "kernel half", "image byte", "range split", "context register"])
    func plantedFaultIsFound(_ fault: String) {
        let ps = AddressSpace.pageSize
        let findings = BootStateCheck.check(Self.layout) { m, built in
            let pml4 = built.rootTable.paddr.raw
            func leafEntry(_ va: UInt64) -> UInt64 {
                var table = pml4
                for level in stride(from: 4, to: 1, by: -1) {
                    table = m.load(PhysicalAddress(table + ((va >> UInt64(12 + 9 * (level - 1))) & 0x1FF) * 8)) & 0x000F_FFFF_FFFF_F000
                }
                return table + ((va >> 12) & 0x1FF) * 8
            }
            func frame(_ va: UInt64) -> UInt64 { m.load(PhysicalAddress(leafEntry(va))) & 0x000F_FFFF_FFFF_F000 }
            let info = frame(AddressSpace.bootInfo)
            switch fault {
            case "stack page unmapped": m.store(PhysicalAddress(leafEntry(AddressSpace.rootStackTop - ps)), 0)
            case "boot info window count":
                let at = PhysicalAddress(info + UInt64(BootInfoLayout.windowPages))
                m.store(at, m.load(at) + 1)
            case "structure word": m.store(PhysicalAddress(built.shadow2.raw + 8 * 7), 0x1000)
            case "extra mapping":
                // The VIDT's page table maps one more page: root's own context page, twice.
                let at = leafEntry(AddressSpace.vidt)
                m.store(PhysicalAddress(at - 8 * 9), m.load(PhysicalAddress(leafEntry(AddressSpace.rootInitialContext))))
            case "descriptor word": m.store(built.descriptor.paddr.adding(8 * 6), 1)
            case "kernel half": m.store(built.rootTable.paddr.adding(8 * 300), 0)
            case "image byte": m.writeByte(PhysicalAddress(frame(AddressSpace.imageBase) + 5), 0)
            case "range split":
                // The last range one page shorter, that page a range of its own after it.
                let count = m.load(PhysicalAddress(info + UInt64(BootInfoLayout.rangeCount)))
                let ranges = info + UInt64(BootInfoLayout.ranges), stride = UInt64(BootInfoLayout.rangeStride)
                let last = PhysicalAddress(ranges + (count - 1) * stride), added = PhysicalAddress(ranges + count * stride)
                let n = m.load(last.adding(8))
                m.store(last.adding(8), n - 1)
                m.store(added, m.load(last) + (n - 1) * ps)
                m.store(added.adding(8), 1)
                m.store(PhysicalAddress(info + UInt64(BootInfoLayout.rangeCount)), count + 1)
            case "context register":
                m.store(PhysicalAddress(frame(AddressSpace.rootInitialContext) + UInt64(ContextLayout.rsp)), AddressSpace.rootStackTop - 8)
            default: Issue.record("no such fault \(fault)")
            }
        }
        #expect(!findings.isEmpty, "\(fault) was not found")
    }

    /// Physical page 0 holds present-looking entries (ModelMachine's layout), so a walk that
    /// followed an absent entry into frame 0 would find a page there: the independent MMU,
    /// started at page 0, translates every address to page 0.
    @Test func pageZeroLooksLikeATable() {
        let m = ModelMachine(pages: 160, kernelImagePages: 1)
        #expect(m.memory.load(PhysicalAddress(0)) == ModelMachine.pageZeroWord)
        #expect(SpecMMU.user(.write, cr3: 0, linear: 0x1234_5000, load: m.memory.specLoad) == 0)
        #expect(m.kernelPages.contains(0))
        #expect(m.checkAllProperties().isEmpty)
    }
}
