/// The descriptor's fields are written by Descriptor.swift alone: no other kernel file writes a
/// descriptor word by offset or through the test hook, and each accessor reads the word its
/// writer stored. Descriptors and root tables are made there alone too, and passed typed.
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
        #expect(d.rootTable(m.memory).paddr != d.shadow1(m.memory) && d.shadow1(m.memory) != d.shadow2(m.memory))
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
        let table = m.descriptor(c.descriptor).rootTable(m.memory).paddr
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

    /// SprigCore's files outside the arch layer (whose walks take any table page: the kernel's
    /// own, a level below the root, a test's hand-built one), with their text.
    static func coreFiles() throws -> [(name: String, text: String)] {
        try (FileManager.default.subpaths(atPath: core.path) ?? []).filter { $0.hasSuffix(".swift") && !$0.hasPrefix("Arch/") }
            .sorted().map { ($0, try String(contentsOf: core.appendingPathComponent($0), encoding: .utf8)) }
    }

    @Test("no SprigCore parameter, field or platform requirement holds a descriptor or a root table as a bare address")
    func passedTyped() throws {
        let names = "descriptor|caller|callee|partition|receiver|ancestor|parent|child|rootTable|callerRootTable|calleeRootTable"
            + "|rootPartition|currentPartition"
        let bare = try Regex("\\b(\(names))\\s*:\\s*PhysicalAddress\\b")
        let files = try Self.coreFiles()
        #expect(files.contains { $0.name == "Yield.swift" } && files.contains { $0.name == "Platform.swift" })
        for (name, text) in files where name != "Descriptor.swift" {
            for match in text.matches(of: bare) {
                Issue.record("\(name): `\(text[match.range])`: a descriptor or root table as a bare address")
            }
        }
    }

    @Test("only Descriptor.swift makes a Descriptor or a RootTable, and only SprigX86 and the explorer's restore keep one as a word")
    func madeInOnePlace() throws {
        let made = try Regex("\\b(Descriptor|RootTable)\\(")
        for (name, text) in try Self.coreFiles() where name != "Descriptor.swift" {
            for match in text.matches(of: made) {
                Issue.record("\(name): `\(text[match.range])`: made from an address outside Descriptor.swift")
            }
        }
        let descriptor = try String(contentsOf: Self.core.appendingPathComponent("Descriptor.swift"), encoding: .utf8)
        #expect(descriptor.contains("    private init(_ paddr: PhysicalAddress)"), "Descriptor's initializer is private")
        #expect(descriptor.contains("    fileprivate init(_ paddr: PhysicalAddress)"), "RootTable's initializer is private to its file")
        // Every module that could call the package promotion of a platform's word.
        let repo = Self.core.deletingLastPathComponent().deletingLastPathComponent()
        let allowed: Set = ["Sources/SprigCore/Descriptor.swift", "Sources/SprigX86/CPU.swift",
                            "Sources/SprigModel/Explore/StateImage.swift", "Tests/SprigCoreTests/DescriptorTests.swift"]
        var callers: Set<String> = []
        for top in ["Sources", "Tests", "Fuzz"] {
            let dir = repo.appendingPathComponent(top)
            for file in FileManager.default.subpaths(atPath: dir.path) ?? [] where file.hasSuffix(".swift") {
                let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
                if text.contains("keptByPlatform") { callers.insert("\(top)/\(file)") }
            }
        }
        #expect(callers.isSubset(of: allowed), "keptByPlatform outside the platforms: \(callers.subtracting(allowed).sorted())")
        #expect(callers.contains("Sources/SprigX86/CPU.swift"))
    }

    @Test("no SprigCore assertion checks that a page is a descriptor: the type says it")
    func noDescriptorAssertions() throws {
        for (name, text) in try Self.coreFiles() {
            for line in text.split(separator: "\n") where line.contains("assert(") || line.contains("assertionFailure(") {
                for sign in ["a descriptor\"", "rootTable(", "descriptorFlag", "Descriptor.checked"] where line.contains(sign) {
                    Issue.record("\(name): \(line.trimmingCharacters(in: .whitespaces)): asserts what the type says")
                }
            }
        }
    }
}
