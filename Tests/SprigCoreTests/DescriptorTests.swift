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
        let d = m.descriptor(c.descriptor)
        #expect(d.parent(m.memory)?.paddr == m.root)
        #expect(d.depth(m.memory) == 1)
        #expect(d.vaddrInParent(m.memory) == c.name)
        #expect(d.interruptState(m.memory) == .enabled)
        #expect(d.configPages(m.memory) == 1)
        #expect(d.rootTable(m.memory) != d.shadow1(m.memory) && d.shadow1(m.memory) != d.shadow2(m.memory))
        #expect(m.descriptor(m.root).parent(m.memory) == nil)
        #expect(m.descriptor(m.root).depth(m.memory) == 0)
    }

    @Test("a descriptor is made only from the tree: checked refuses a structure page, a forged parent and a deleted child")
    func checkedRefusesWhatIsNotADescriptor() {
        let m = ModelMachine()
        let c = m.makeChild(of: m.root, pages: 30)
        let g = m.makeChild(of: c.descriptor, pages: 1)
        #expect(Descriptor.checked(m.memory, g.descriptor, root: m.root)?.paddr == g.descriptor)
        #expect(Descriptor.checked(m.memory, m.root, root: m.root)?.paddr == m.root)
        // The child's root table: a structure page, no descriptor.
        let table = m.descriptor(c.descriptor).rootTable(m.memory)
        #expect(Descriptor.checked(m.memory, table, root: m.root) == nil)
        // A page that says root is its parent and names a real child's vaddr, but is not that child.
        let forged = PhysicalAddress(AddressSpace.pageSize * 0)
        DescriptorLayout.overwriteForTesting(m.memory, forged, DescriptorLayout.parent, m.root.raw)
        DescriptorLayout.overwriteForTesting(m.memory, forged, DescriptorLayout.vaddrInParent, c.name)
        #expect(Descriptor.checked(m.memory, forged, root: m.root) == nil)
        // A deleted child is no longer one.
        #expect(m.call(m.root, .deletePartition, c.name).status == .success)
        #expect(Descriptor.checked(m.memory, c.descriptor, root: m.root) == nil)
    }

    @Test("every service takes its caller as a Descriptor, and none asserts that it is one")
    func servicesTakeADescriptor() throws {
        for file in ["CreatePartition.swift", "Prepare.swift", "Sharing.swift", "Reclaim.swift", "InterruptState.swift",
                     "ServiceDispatch.swift", "PageOwnership.swift"] {
            let text = try String(contentsOf: Self.core.appendingPathComponent(file), encoding: .utf8)
            #expect(text.contains("caller: Descriptor"), "\(file)")
            #expect(!text.contains("caller: PhysicalAddress"), "\(file) takes its caller as a bare address")
            #expect(!text.contains("is not a descriptor"), "\(file) asserts what the type says")
        }
    }
}
