/// The architecture seam: outside `Sources/SprigCore/Arch/`, SprigCore names no x86-64 page-table
/// level or register (it speaks of root tables, levels, entries and rights), no entry bit, no
/// index mask or table size, and indexes no root table's kernel half itself.
import Foundation
import Testing

@Suite("Architecture seam")
struct ArchSeamTests {
    @Test("nothing in SprigCore outside Arch/ says PML4 or rflags, or copies the kernel half")
    func coreIsArchitectureFree() throws {
        let core = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/SprigCore").standardized
        let files = (FileManager.default.subpaths(atPath: core.path) ?? [])
            .filter { $0.hasSuffix(".swift") && !$0.hasPrefix("Arch/") }
        #expect(files.count > 10)
        #expect((FileManager.default.subpaths(atPath: core.path) ?? []).contains("Arch/X86_64/PageTableWalk.swift"))
        for file in files {
            let text = try String(contentsOf: core.appendingPathComponent(file), encoding: .utf8)
            for word in ["pml4", "PML4", "pdpt", "PDPT", "rflags", "RFLAGS", "UInt64 = 256", "< 256", "< 512", "0x1FF", "0xFF8",
                         "PageTableEntry.present", "PageTableEntry.user", "PageTableEntry.writable",
                         "PageTableEntry.noExecute", "PageTableEntry.largePage", "PageTableEntry.addressMask",
                         "PageTableEntry.tableFlags", "leafFlags(", "PageTableEntry(frame:"] {
                #expect(!text.contains(word), "\(file) says \(word): that belongs behind the arch seam")
            }
        }
    }
}
