/// The descriptor's fields are written by Descriptor.swift alone: no other kernel file writes a
/// descriptor word by offset or through the test hook, and each accessor reads the word its
/// writer stored.
import Foundation
import SprigABI
import SprigCore
import SprigModel
import Testing

@Suite("Descriptor")
struct DescriptorTests {
    static let core = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/SprigCore").standardized

    @Test("only Descriptor.swift names the descriptor's offsets or its test hook")
    func onlyItsFileWrites() throws {
        let files = (FileManager.default.subpaths(atPath: Self.core.path) ?? []).filter { $0.hasSuffix(".swift") }
        #expect(files.contains("Descriptor.swift"))
        for file in files where file != "Descriptor.swift" {
            let text = try String(contentsOf: Self.core.appendingPathComponent(file), encoding: .utf8)
            for forbidden in ["DescriptorLayout.", "overwriteForTesting"] {
                #expect(!text.contains(forbidden), "\(file) uses \(forbidden): descriptor fields are read through Descriptor's accessors")
            }
        }
    }

    @Test("a child's descriptor: every field as createPartition wrote it")
    func childFields() {
        let m = ModelMachine()
        let c = m.makeChild(of: m.root, pages: 1)
        let d = Descriptor(c.descriptor)
        #expect(d.parent(m.memory) == m.root)
        #expect(d.depth(m.memory) == 1)
        #expect(d.vaddrInParent(m.memory) == c.name)
        #expect(d.interruptState(m.memory) == .enabled)
        #expect(d.configPages(m.memory) == 1)
        #expect(d.rootTable(m.memory) != d.shadow1(m.memory) && d.shadow1(m.memory) != d.shadow2(m.memory))
        #expect(Descriptor(m.root).parent(m.memory) == nil)
        #expect(Descriptor(m.root).depth(m.memory) == 0)
    }
}
