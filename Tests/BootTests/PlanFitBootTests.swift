/// Boot tests of validator plan-fits at its boundary, on `muen-demo`'s shape (root's init builds
/// three children, one of them `nest`, a nested init that builds two of its own; two channels,
/// two events): given exactly the pages `InitMemory` counts, root and `nest` build the whole
/// tree and the plan runs; a page less in either is refused by the validators `sprig build`
/// runs before it writes a plan, in one line, and, forced past them, is refused by init before
/// it builds anything (without that check, root runs out at its last page). A machine
/// whose memory cannot hold root's tree is refused by init at boot, in one console line.
import Foundation
import SprigABI
@testable import SprigTool
import Testing

@Suite("A plan that does not fit is refused when it is built")
struct PlanFitBootTests {
    static let system = "muen-demo"

    static func images() throws -> ProgramImages {
        let (_, products) = try Boot.products(.release)
        let file = try #require(Systems.named(system).file)
        let images = ProgramImages.built(in: products.directory, for: file)
        #expect(images.built)
        return images
    }

    /// `muen-demo`'s description with `[partitions.<name>].memory` set as `memory` says.
    static func description(_ memory: [String: String]) throws -> SystemFile {
        let url = Boot.project.path("systems/\(system)/system.toml")
        var text = try String(contentsOf: url, encoding: .utf8)
        for (name, size) in memory {
            let header = try #require(text.range(of: "[partitions.\(name)]\n"))
            let line = try #require(text.range(of: #"memory = "[^"]*""#, options: .regularExpression, range: header.upperBound..<text.endIndex))
            text.replaceSubrange(line, with: "memory = \"\(size)\"")
        }
        return SystemFile(text: text, path: "systems/\(system)/system.toml", folder: url.deletingLastPathComponent())
    }

    /// The pages init takes in `nest`, then in root with `nest` given exactly that.
    static func exactNeeds() throws -> (root: UInt64, nest: UInt64) {
        let images = try images()
        let nest = InitMemory.need(of: "nest", in: try description([:]), imageBytes: images.bytes(of:)).total
        let root = InitMemory.need(of: "init", in: try description(["nest": "\(nest * 4) KiB"]), imageBytes: images.bytes(of:)).total
        return (root, nest)
    }

    static func kib(_ pages: UInt64) -> String { "\(pages * 4) KiB" }

    @Test("given exactly what init takes, root and nest build the whole tree and the plan runs")
    func exactlyEnoughBoots() throws {
        let need = try Self.exactNeeds()
        let file = try Self.description(["init": Self.kib(need.root), "nest": Self.kib(need.nest)])
        let images = try Self.images()
        #expect(SystemValidators.validate(file, images: images) == [])
        let r = try Boot.run(Self.system, plan: PlanCompiler.compile(file, images: images).encoded())
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        r.output.expectInOrder([
            "init: 3 partitions, 3 minor frames at 1000 Hz\n", "nest: 2 partitions, 2 round-robin slots\n",
            "init: 3 major frames, 15 ticks, 6 messages carried, 0 failures; powering off\n",
        ])
    }

    /// The one finding of `file` with `images`, which must be plan-fits' on `partition`'s memory.
    static func refusal(_ file: SystemFile, _ images: ProgramImages, partition: String, needs: UInt64, has: UInt64) throws -> Finding {
        let findings = SystemValidators.validate(file, images: images)
        #expect(findings.count == 1, "\(findings.map(\.description))")
        let f = try #require(findings.first)
        #expect(f.validator == "plan-fits" && f.key == "partitions.\(partition).memory")
        let lines = file.source.split(separator: "\n", omittingEmptySubsequences: false)
        let header = try #require(lines.firstIndex { $0 == "[partitions.\(partition)]" })
        let memoryLine = try #require(lines[header...].firstIndex { $0.hasPrefix("memory = ") }) + 1
        #expect(f.line == memoryLine)
        #expect(!f.description.contains("\n"))
        #expect(f.description.hasPrefix("systems/\(Self.system)/system.toml:\(f.line): partitions.\(partition).memory: init in '\(partition)' takes \(kib(needs)) to build its children ("))
        #expect(f.description.hasSuffix("; '\(partition)' has \(kib(has)): give it memory = \"\(kib(needs))\" [plan-fits]"))
        // What `sprig build` does with the description: refuses it with that line, writes no plan.
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-fit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let described = try Systems.describe(file, project: Boot.project)
        #expect(throws: ToolError.self) { try PlanCompiler.write(described, to: out, images: images) }
        do { try PlanCompiler.write(described, to: out, images: images) } catch let e as ToolError { #expect(e.description == f.description) }
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("\(Self.system)/plan.bin").path))
        return f
    }

    @Test("a page less in root is refused when the plan is built; forced past the validators, init says so at boot")
    func rootOnePageShortRefused() throws {
        let need = try Self.exactNeeds()
        let images = try Self.images()
        let file = try Self.description(["init": Self.kib(need.root - 1), "nest": Self.kib(need.nest)])
        _ = try Self.refusal(file, images, partition: "init", needs: need.root, has: need.root - 1)
        var plan = PlanCompiler.compile(file, images: images)
        let r = try Boot.run(Self.system, plan: plan.encoded())
        #expect(r.ending == .status(7), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("init: cannot build the children of init: init takes \(Self.kib(need.root)), its memory holds \(Self.kib(need.root - 1)) (4 KiB short); rebuild the plan with `sprig build` (validator plan-fits)\n"), "\(r.output)")
        #expect(!r.output.contains("init: 3 partitions"))
        // The count is exact: with init's check out of the way (what every such description met
        // before plan-fits), root runs out of pages and crashes (0x70) as it builds the last child.
        plan.partitions[0].needPages = 0
        let unchecked = try Boot.run(Self.system, plan: plan.encoded())
        #expect(unchecked.ending == .status(ExitStatus.kernelCrash), "\(unchecked.summary)\n\(unchecked.output)")
        #expect(unchecked.output.contains("PageSource.take()"), "\(unchecked.output)")
        #expect(!unchecked.output.contains("init: 3 partitions"))
    }

    @Test("a page less in nest is refused when the plan is built; forced past the validators, nest says so and builds nothing")
    func nestOnePageShortRefused() throws {
        let need = try Self.exactNeeds()
        let images = try Self.images()
        let file = try Self.description(["init": Self.kib(need.root), "nest": Self.kib(need.nest - 1)])
        _ = try Self.refusal(file, images, partition: "nest", needs: need.nest, has: need.nest - 1)
        let r = try Boot.run(Self.system, plan: PlanCompiler.compile(file, images: images).encoded())
        #expect(r.output.contains("nest: cannot build the children of nest: init takes \(Self.kib(need.nest)), its memory holds \(Self.kib(need.nest - 1)) (4 KiB short); rebuild the plan with `sprig build` (validator plan-fits)\n"), "\(r.output)")
        #expect(!r.output.contains("nest: 2 partitions"))
        #expect(r.ending == .status(3), "\(r.summary)\n\(r.output)")
    }

    @Test("sprig validate FILE: a page less is one line naming file, line and key, and status 1")
    func validateCommandRefuses() throws {
        _ = try Boot.products(.release)
        let need = try Self.exactNeeds()
        let file = try Self.description(["init": Self.kib(need.root - 1), "nest": Self.kib(need.nest)])
        // A folder of the system's name holding the description and its programs (linked).
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-fit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let folder = base.appendingPathComponent(Self.system)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for program in ["producer", "checksum", "console"] {
            try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent(program), withDestinationURL: Boot.project.path("systems/\(Self.system)/\(program)"))
        }
        try FileManager.default.createSymbolicLink(at: base.appendingPathComponent("programs"), withDestinationURL: Boot.project.path("systems/programs"))
        let toml = folder.appendingPathComponent("system.toml")
        try file.source.write(to: toml, atomically: true, encoding: .utf8)
        let (status, output) = try CLI.run(["validate", toml.path])
        #expect(status == 1, "\(output)")
        let lines = output.split(separator: "\n")
        #expect(lines.count == 1, "\(output)")
        #expect(lines.first?.hasPrefix("\(toml.path):") == true && lines.first?.hasSuffix("give it memory = \"\(Self.kib(need.root))\" [plan-fits]") == true, "\(output)")
    }

    @Test("a machine too small for root's tree: init says so at boot, before building anything, and powers off with 7")
    func machineTooSmallRefusedAtBoot() throws {
        // A producer with 12 MiB of its own: the tree fits root's 16 MiB, not a 12 MiB machine.
        let file = try Self.description(["producer": "12 MiB"])
        let images = try Self.images()
        #expect(SystemValidators.validate(file, images: images) == [])
        let need = InitMemory.need(of: "init", in: file, imageBytes: images.bytes(of:)).total
        let r = try Boot.run(Self.system, plan: PlanCompiler.compile(file, images: images).encoded(), memoryMiB: 12)
        #expect(r.ending == .status(7), "\(r.summary)\n\(r.output)")
        let line = try #require(r.output.line(containing: "init: cannot build the children of init: "), "\(r.output)")
        #expect(line.hasPrefix("init: cannot build the children of init: init takes \(Self.kib(need)), the largest run of free memory holds "))
        #expect(line.hasSuffix(" KiB short); give the machine more memory"))
        #expect(!r.output.contains("init: 3 partitions"))
    }
}
