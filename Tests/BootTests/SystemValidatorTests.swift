/// Every named validator of system descriptions (SystemValidators.swift) on its own test case:
/// a valid description, changed in one place to break that validator's rule, must get a finding
/// from that validator on the line of the change. No QEMU.
import Foundation
import Testing
@testable import SprigTool

enum DescriptionFixture {
    /// A valid description under a generic root: three children on a cyclic plan, one of them
    /// (`nest`) scheduling two of its own round-robin, an event, two channels, the serial port.
    static let valid = """
        [system]
        name = "demo"
        summary = "a test system"
        root = "init"

        [machine]
        memory = "64 MiB"

        [partitions.init]
        program = "init"
        memory = "8 MiB"
        children = ["producer", "nest", "console"]
        vidt = { 0xA0 = "on_event" }

        [partitions.producer]
        program = "producer"
        memory = "256 KiB"

        [partitions.nest]
        program = "init"
        memory = "1 MiB"
        children = ["service", "logger"]
        vidt = { 0xA1 = "on_ready" }

        [partitions.service]
        program = "service"
        memory = "128 KiB"
        vidt = { 0xB0 = "on_sample" }
        restart = true

        [partitions.logger]
        program = "service"
        memory = "96 KiB"

        [partitions.console]
        program = "console"
        memory = "512 KiB"
        vidt = { 36 = "on_serial", 0xB1 = "on_line" }

        [schedule.init]
        tick-hz = 1000
        major-ticks = 6
        major-frame = [
          { partition = "producer", ticks = 2 },
          { partition = "nest", ticks = 2 },
          { partition = "console", ticks = 2 },
        ]

        [schedule.nest]
        kind = "round-robin"
        quantum = 1
        partitions = ["service", "logger"]

        [events.ready]
        source = "producer"
        target = "nest"
        vector = 0xA1
        kind = "handover"

        [channels.samples]
        writer = "producer"
        reader = "service"
        size = 64
        transfer = "copy"
        vector = 0xB0

        [channels.lines]
        writer = "service"
        reader = "console"
        size = 1024
        vector = 0xB1

        [interrupts]
        serial = "console"
        print = ["console"]

        """

    /// A folder `demo/` with the description and its programs' sources.
    static func folder(_ text: String) throws -> URL {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-validate-\(UUID().uuidString)")
        let demo = base.appendingPathComponent("demo")
        let programs = ["producer": "", "service": "@_cdecl(\"on_sample\")", "console": "@_cdecl(\"on_serial\") @_cdecl(\"on_line\")"]
        for (p, body) in programs {
            let d = demo.appendingPathComponent(p)
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            try "// \(p)\n\(body)\n".write(to: d.appendingPathComponent("Main.swift"), atomically: true, encoding: .utf8)
        }
        try text.write(to: demo.appendingPathComponent("system.toml"), atomically: true, encoding: .utf8)
        return demo
    }

    static func findings(_ text: String) throws -> [Finding] {
        let demo = try folder(text)
        defer { try? FileManager.default.removeItem(at: demo.deletingLastPathComponent()) }
        return SystemValidators.validate(SystemFile(text: text, path: "demo/system.toml", folder: demo))
    }
}

/// One way to break one validator's rule: replace `old` by `new` in the valid description; the
/// finding must be on the first line containing `at`.
struct Breakage: Sendable, CustomTestStringConvertible {
    let validator: String
    let old: String
    let new: String
    let at: String
    var testDescription: String { validator }
}

@Suite struct SystemValidatorTests {
    static let breakages: [Breakage] = [
        Breakage(validator: "toml-syntax", old: "tick-hz = 1000", new: "tick-hz = = 1000", at: "tick-hz = ="),
        Breakage(validator: "unknown-key", old: "restart = true", new: "restart = true\nrestrat = true", at: "restrat"),
        Breakage(validator: "key-type", old: "size = 64", new: "size = \"64\"", at: "size = \"64\""),
        Breakage(validator: "required-key", old: "summary = \"a test system\"\n", new: "", at: "[system]"),
        Breakage(validator: "name-matches-folder", old: "name = \"demo\"", new: "name = \"other\"", at: "name = \"other\""),
        Breakage(validator: "name-form", old: "[events.ready]", new: "[events.Ready]", at: "[events.Ready]"),
        Breakage(validator: "unique-names", old: "[channels.lines]", new: "[channels.console]", at: "[channels.console]"),
        Breakage(validator: "root-exists", old: "root = \"init\"", new: "root = \"boot\"", at: "root = \"boot\""),
        Breakage(validator: "program-given", old: "[partitions.logger]\nprogram = \"service\"\n", new: "[partitions.logger]\n", at: "[partitions.logger]"),
        Breakage(validator: "program-exists", old: "program = \"producer\"", new: "program = \"producr\"", at: "program = \"producr\""),
        Breakage(validator: "child-exists", old: "children = [\"service\", \"logger\"]", new: "children = [\"service\", \"logger\", \"ghost\"]", at: "\"ghost\""),
        Breakage(validator: "one-parent", old: "children = [\"producer\", \"nest\", \"console\"]", new: "children = [\"producer\", \"nest\", \"console\", \"service\"]", at: "children = [\"service\", \"logger\"]"),
        Breakage(validator: "root-has-no-parent", old: "program = \"console\"", new: "program = \"console\"\nchildren = [\"init\"]", at: "children = [\"init\"]"),
        Breakage(validator: "no-cycle", old: "[interrupts]", new: "[partitions.a]\nprogram = \"producer\"\nmemory = \"64 KiB\"\nchildren = [\"b\"]\n[partitions.b]\nprogram = \"producer\"\nmemory = \"64 KiB\"\nchildren = [\"a\"]\n[interrupts]", at: "children = [\"b\"]"),
        Breakage(validator: "reachable", old: "[interrupts]", new: "[partitions.orphan]\nprogram = \"producer\"\nmemory = \"64 KiB\"\n[interrupts]", at: "[partitions.orphan]"),
        Breakage(validator: "tree-bounds", old: "memory = \"96 KiB\"", new: "memory = \"96 KiB\"\nchildren = [\"d1\"]\n" + (1...4).map { "[partitions.d\($0)]\nprogram = \"producer\"\nmemory = \"4 KiB\"\n" + ($0 < 4 ? "children = [\"d\($0 + 1)\"]\n" : "") }.joined(), at: "[partitions.d4]"),
        Breakage(validator: "memory-form", old: "memory = \"256 KiB\"", new: "memory = \"256 KB\"", at: "memory = \"256 KB\""),
        Breakage(validator: "memory-given", old: "memory = \"96 KiB\"\n", new: "", at: "[partitions.logger]"),
        Breakage(validator: "memory-fits-machine", old: "memory = \"64 MiB\"", new: "memory = \"12 MiB\"", at: "memory = \"8 MiB\""),
        Breakage(validator: "child-fits-parent", old: "vidt = { 36 = \"on_serial\", 0xB1 = \"on_line\" }", new: "vidt = { 36 = \"on_serial\", 0xB1 = \"on_line\" }\nchildren = [\"leaf\"]\n[partitions.leaf]\nprogram = \"producer\"\nmemory = \"500 KiB\"", at: "memory = \"512 KiB\""),
        Breakage(validator: "plan-fits", old: "memory = \"1 MiB\"", new: "memory = \"568 KiB\"", at: "memory = \"568 KiB\""),
        Breakage(validator: "vidt-vector", old: "vidt = { 0xA0 = \"on_event\" }", new: "vidt = { 0xA0 = \"on_event\", 512 = \"on_event\" }", at: "512 ="),
        Breakage(validator: "vidt-entry", old: "program = \"producer\"", new: "program = \"producer\"\nvidt = { 0xC0 = \"missing_entry\" }", at: "missing_entry"),
        Breakage(validator: "schedule-owner", old: "[events.ready]", new: "[schedule.producer]\nmajor-frame = [{ partition = \"nest\", ticks = 1 }]\n[events.ready]", at: "[schedule.producer]"),
        Breakage(validator: "schedule-kind", old: "kind = \"round-robin\"", new: "kind = \"lottery\"", at: "kind = \"lottery\""),
        Breakage(validator: "scheduled-exists", old: "{ partition = \"console\", ticks = 2 }", new: "{ partition = \"consol\", ticks = 2 }", at: "\"consol\""),
        Breakage(validator: "scheduled-is-child", old: "{ partition = \"console\", ticks = 2 }", new: "{ partition = \"service\", ticks = 2 }", at: "{ partition = \"service\""),
        Breakage(validator: "children-scheduled", old: "partitions = [\"service\", \"logger\"]", new: "partitions = [\"service\", \"service\"]", at: "[schedule.nest]"),
        Breakage(validator: "plan-needed", old: "[schedule.nest]\nkind = \"round-robin\"\nquantum = 1\npartitions = [\"service\", \"logger\"]\n", new: "", at: "children = [\"service\", \"logger\"]"),
        Breakage(validator: "planner-generic", old: "program = \"init\"\nmemory = \"1 MiB\"", new: "program = \"producer\"\nmemory = \"1 MiB\"", at: "[schedule.nest]"),
        Breakage(validator: "tick-rate", old: "tick-hz = 1000", new: "tick-hz = 20000", at: "tick-hz = 20000"),
        Breakage(validator: "frame-ticks", old: "{ partition = \"producer\", ticks = 2 }", new: "{ partition = \"producer\", ticks = 0 }", at: "ticks = 0"),
        Breakage(validator: "plan-shape", old: "major-ticks = 6", new: "major-ticks = 6\nquantum = 2", at: "[schedule.init]"),
        Breakage(validator: "major-frame-filled", old: "major-ticks = 6", new: "major-ticks = 7", at: "major-ticks = 7"),
        Breakage(validator: "nested-frame-fits", old: "{ partition = \"nest\", ticks = 2 }", new: "{ partition = \"nest\", ticks = 3 }", at: "[schedule.nest]"),
        Breakage(validator: "event-endpoints", old: "source = \"producer\"", new: "source = \"ghost\"", at: "source = \"ghost\""),
        Breakage(validator: "event-kind", old: "kind = \"handover\"", new: "kind = \"signal\"", at: "kind = \"signal\""),
        Breakage(validator: "event-vector", old: "vector = 0xA1", new: "vector = 0x20", at: "vector = 0x20"),
        Breakage(validator: "vector-has-handler", old: "vector = 0xB1", new: "vector = 0xB2", at: "vector = 0xB2"),
        Breakage(validator: "vector-one-use", old: "[interrupts]", new: "[events.poke]\nsource = \"producer\"\ntarget = \"service\"\nvector = 0xB0\nkind = \"interrupt\"\n[interrupts]", at: "vector = 0xB0"),
        Breakage(validator: "channel-endpoints", old: "writer = \"producer\"", new: "writer = \"service\"", at: "reader = \"service\""),
        Breakage(validator: "channel-size", old: "size = 64", new: "size = 4073", at: "size = 4073"),
        Breakage(validator: "channel-transfer", old: "transfer = \"copy\"", new: "transfer = \"mail\"", at: "transfer = \"mail\""),
        Breakage(validator: "channel-carrier", old: "program = \"init\"\nmemory = \"1 MiB\"", new: "program = \"producer\"\nmemory = \"1 MiB\"", at: "[channels.samples]"),
        Breakage(validator: "event-carrier", old: "[interrupts]", new: "[partitions.extra]\nprogram = \"producer\"\nmemory = \"64 KiB\"\nchildren = [\"leaf\"]\n[partitions.leaf]\nprogram = \"producer\"\nmemory = \"8 KiB\"\nvidt = { 0xC0 = \"on_tap\" }\n[events.tap]\nsource = \"extra\"\ntarget = \"leaf\"\nvector = 0xC0\nkind = \"interrupt\"\n[interrupts]", at: "[events.tap]"),
        Breakage(validator: "event-ends-are-children", old: "[interrupts]", new: "[events.tap]\nsource = \"service\"\ntarget = \"console\"\nvector = 0xC0\nkind = \"interrupt\"\n[interrupts]", at: "source = \"service\""),
        Breakage(validator: "handover-between-children", old: "transfer = \"copy\"", new: "transfer = \"handover\"", at: "transfer = \"handover\""),
        Breakage(validator: "serial-handler", old: "vidt = { 36 = \"on_serial\", 0xB1 = \"on_line\" }", new: "vidt = { 0xB1 = \"on_line\" }", at: "serial = \"console\""),
        Breakage(validator: "printers-exist", old: "print = [\"console\"]", new: "print = [\"console\", \"ghost\"]", at: "print ="),
        Breakage(validator: "option-known", old: "summary = \"a test system\"", new: "summary = \"a test system\"\noptions = [\"speed\"]", at: "options ="),
        Breakage(validator: "restart-supervised", old: "memory = \"8 MiB\"", new: "memory = \"8 MiB\"\nrestart = true", at: "restart = true"),
    ]

    @Test func theValidDescriptionPassesEveryValidator() throws {
        #expect(try DescriptionFixture.findings(DescriptionFixture.valid) == [])
    }

    @Test func everyValidatorHasItsOwnCase() {
        #expect(SystemValidators.all.count >= 30)
        #expect(Set(SystemValidators.all.map(\.name)) == Set(Self.breakages.map(\.validator)))
        #expect(Set(SystemValidators.all.map(\.name)).count == SystemValidators.all.count)
    }

    @Test(arguments: breakages)
    func validatorReportsItsRuleOnTheLine(_ b: Breakage) throws {
        let valid = DescriptionFixture.valid
        #expect(valid.contains(b.old), "the fixture lost '\(b.old)'")
        let broken = valid.replacingOccurrences(of: b.old, with: b.new, options: [], range: valid.range(of: b.old))
        let lines = broken.split(separator: "\n", omittingEmptySubsequences: false)
        let expectedLine = try #require(lines.firstIndex { $0.contains(b.at) }) + 1
        let findings = try DescriptionFixture.findings(broken)
        let mine = findings.filter { $0.validator == b.validator }
        #expect(!mine.isEmpty, "no finding of \(b.validator); got:\n\(findings.map(\.description).joined(separator: "\n"))")
        #expect(mine.contains { $0.line == expectedLine }, "\(b.validator) not at line \(expectedLine): \(mine.map(\.description))")
        for f in mine {
            // One line: file:line: key: message [validator].
            #expect(!f.description.contains("\n"))
            #expect(f.description.hasPrefix("demo/system.toml:\(f.line): \(f.key): "))
        }
    }

    /// `nest` of the fixture, counted by hand with every image one page. Its children, service
    /// (128 KiB) and logger (96 KiB), each take a console and a stamp page, an image copy, their
    /// pool, a 4-page stack, a 2-page handler stack, a VIDT and two context pages, and five
    /// structure pages. Tables (three pages a level): the image at 4 MiB lacks PDPT, PD and PT;
    /// the stacks at the top of the lower half lack all three (the handler stack, console, VIDT
    /// and contexts share their PT); the pool at 256 MiB, the stamp page (0x3030_0000) and, for
    /// service only, its channel pages (writer of `lines`, reader of `samples`, one PT at
    /// 0x3000_0000) lack a PT each. Then nest's two handler-context pages.
    @Test func planFitsCountsWhatInitTakes() throws {
        let demo = try DescriptionFixture.folder(DescriptionFixture.valid)
        defer { try? FileManager.default.removeItem(at: demo.deletingLastPathComponent()) }
        let file = SystemFile(text: DescriptionFixture.valid, path: "demo/system.toml", folder: demo)
        let need = InitMemory.need(of: "nest", in: file) { _ in 4096 }
        let serviceTables: UInt64 = 5 + 9 + 9 + 3 + 3 + 3, loggerTables: UInt64 = 5 + 9 + 9 + 3 + 3
        let perChild: UInt64 = 2 + 4 + 2 + 3
        #expect(need.pools == 32 + 24)
        #expect(need.copies == 2)
        #expect(need.structures == serviceTables + loggerTables)
        #expect(need.pages == 2 + 2 * perChild)
        #expect(need.total == 143)
        // A bigger image is copied and mapped: 40 pages more per child, no table more (it stays in its PT).
        #expect(InitMemory.need(of: "nest", in: file) { _ in 41 * 4096 }.total == 143 + 2 * 40)
    }

    @Test func everyShippedDescriptionIsValid() throws {
        let project = try Project.current()
        let systems = try Systems.catalog(project: project)
        #expect(Set(systems.map(\.name)).isSuperset(of: ["signal", "attacks", "fuzz", "echo", "hello", "memory", "bench", "faulty"]))
    }

    @Test func bootModulesFollowTheTreeRootFirst() throws {
        #expect(try Systems.named("signal").partitions == ["signal", "minios", "server"])
        #expect(try Systems.named("attacks").partitions == ["attacks", "attacker", "attacker", "attacker"])
        #expect(try Systems.named("echo").programDirectories["attacker"] == "systems/programs/attacker")
    }

    @Test func keyLinesFindsArrayElementsOverSeveralLines() {
        let lines = KeyLines("[s.a]\nframes = [\n  { p = \"x\" },\n\n  { p = \"y\" }, # comment {\n]\nk = 1\n")
        #expect(lines.line(["s", "a", "frames", "0"]) == 3)
        #expect(lines.line(["s", "a", "frames", "1"]) == 5)
        #expect(lines.line(["s", "a", "k"]) == 7)
        #expect(lines.line(["s", "a", "missing"]) == 1)
    }
}
