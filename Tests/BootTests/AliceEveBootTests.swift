/// The `alice-eve` system (systems/alice-eve/weensy, alice, eve; docs/alice-eve.md): WeensyOS's Alice
/// and Eve on the booted kernel. Alice keeps printing while Eve loops; each of Eve's attacks is
/// stopped with the vector, error code or status it must get and reported by root, and Eve is
/// started again from her image after each; root's memory map has the model's letters for the
/// same state (replayed from the trace kernel's recording); keys work on a real terminal.
import Foundation
import SprigABI
import SprigCore
import SprigModel
import SprigTool
import Testing

enum AliceEve {
    /// What stops each attack: its label in root's line and what follows "contained: ".
    static func expectations(syscallEntry: UInt64, errorCodes: (UInt64) -> Bool = { _ in true }) -> [(String, (Substring) -> Bool)] {
        func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }
        func fault(_ vector: Int, _ codes: [UInt64]) -> (Substring) -> Bool {
            { line in codes.contains { line.contains("vector \(vector), error code \(hex($0))") } }
        }
        return [
            ("write to the kernel's syscall entry", { l in
                l.contains("#PF vector 14, error code 0x7 (present, write, user), address \(hex(syscallEntry))")
                    || l.contains("#PF vector 14, error code 0x6 (not present, write, user), address \(hex(syscallEntry))") }),
            ("write to Alice's page by its address", { l in l.contains("#PF vector 14, error code 0x6 (not present, write, user), address 0x1000") }),
            ("cli", fault(13, [0])),
            ("out 0xf4 (power off)", fault(13, [0])),
            ("mov to cr3", fault(13, [0])),
            // The SDM's IDT error code for gate 32, or QEMU's TCG's (the gate's byte offset).
            ("int 32 (a fake timer tick)", fault(13, [32 << 3 | 2, 32 << 4 | 2])),
            ("sgdt", fault(13, [0])),
            ("createPartition with kernel-half pointers", { $0.contains("refused with kernelHalfAddress (Eve reported it with ud2: vector 6)") }),
            ("yield to Alice's descriptor", { $0.contains("refused with invalidChild (Eve reported it with ud2: vector 6)") }),
        ]
    }

    /// Checks everything the console of a whole run (`alice-eve.exit=1`) must show.
    static func checkRun(_ console: String, syscallEntry: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
        let lines = console.split(separator: "\n")
        #expect(!console.contains("FAILED"), "\(console)", sourceLocation: sourceLocation)
        // While Eve loops: Alice's lines and no Eve line between Eve's hello and root's verdict.
        let eveHello = lines.firstIndex { $0.hasPrefix("Hi, I'm Eve! #") }
        let verdict = lines.firstIndex { $0.hasPrefix("root: Eve loops forever at rip ") }
        if let eveHello, let verdict, eveHello < verdict {
            let between = lines[(eveHello + 1)..<verdict]
            #expect(between.filter { $0.hasPrefix("Hi, I'm Alice! #") }.count >= 2, "\(console)", sourceLocation: sourceLocation)
            #expect(!between.contains { $0.hasPrefix("Hi, I'm Eve!") || $0.hasPrefix("Eve: ") }, sourceLocation: sourceLocation)
            let ticks = String.number(after: "the timer took the CPU back from her ", in: lines[verdict]) ?? 0
            #expect(ticks >= 2, sourceLocation: sourceLocation)
        } else {
            Issue.record("no loop stage: \(console)", sourceLocation: sourceLocation)
        }
        // Each attack: Eve says what she tries, root says what stopped her, Eve restarts.
        var steps: [String] = []
        for (k, (label, _)) in expectations(syscallEntry: syscallEntry).enumerated() {
            steps += ["Eve: attack \(k + 1): ", "root: attack \(k + 1) (\(label)) contained: ", "root: Eve restarted from her image (restart \(k + 2))"]
        }
        console.expectInOrder(steps, sourceLocation: sourceLocation)
        for (k, (label, holds)) in expectations(syscallEntry: syscallEntry).enumerated() {
            let line = console.line(containing: "root: attack \(k + 1) (\(label)) contained: ")
            #expect(line.map(holds) == true, "attack \(k + 1): \(line ?? "missing")", sourceLocation: sourceLocation)
        }
        #expect(console.contains("root: Eve's attacks done: 9 of 9 contained, failures 0"), sourceLocation: sourceLocation)
        #expect(console.contains("root: map checked: no PAGE TABLE ERROR"), sourceLocation: sourceLocation)
    }

    static func syscallEntry(_ variant: Variant) throws -> UInt64 {
        let elf = Boot.project.buildDirectory.appendingPathComponent(variant.rawValue).appendingPathComponent("kernel.elf")
        return try #require(try KernelSymbols.addresses(elf: elf)["sprig_syscall_entry"])
    }
}

@Suite("alice-eve: WeensyOS's Alice and Eve on the booted kernel")
struct AliceEveBootTests {
    @Test("Alice keeps printing while Eve loops; every attack contained with its vector or status; Eve restarted after each")
    func attacksContained() throws {
        let r = try Boot.run("alice-eve", commandLine: "alice-eve.exit=1")
        #expect(r.ending == .status(0), "\(r.output)")
        AliceEve.checkRun(r.output, syscallEntry: try AliceEve.syscallEntry(.release))
    }

    @Test("root's memory map has the model's letters for the same state (trace kernel, replayed); the PNG of it")
    func mapMatchesModel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-alice-eve-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("alice-eve.trace")
        let run = try TraceRun.record(system: "alice-eve", to: url, project: Boot.project, timeout: Boot.hangGuard,
                                      commandLine: "alice-eve.record=1 alice-eve.every=4")
        #expect(run.ending == .status(0), "\(run.output)")
        AliceEve.checkRun(run.output, syscallEntry: try AliceEve.syscallEntry(.trace))
        let rootMap = try #require(MemoryMap.parseRootMap(run.output), "no map in \(run.output)")

        // The model at the moment root drew it: after the event that printed its first line.
        let trace = try TraceRun.read(url)
        var seen = 0
        let (map, events) = try MemoryMapRun.map(trace, letters: MemoryMapRun.childLetters(try Systems.named("alice-eve"))) { _, s in
            guard s.console.count != seen else { return false }
            seen = s.console.count
            return String(decoding: s.console, as: UTF8.self).contains("root: physical memory")
        }
        #expect(events < trace.events.count)
        #expect(map.errors.isEmpty, "\(map.errors)")
        #expect(rootMap.count >= map.letters.count)
        var differences: [String] = []
        var rootOwnWindowPages = 0
        for (page, model) in map.letters.enumerated() {
            let mine = rootMap[page]
            if mine == model { continue }
            // Root's window pages it keeps for itself: R to root, "root's, given to no child" to the model.
            if mine == UInt8(ascii: "R") && model == UInt8(ascii: ".") { rootOwnWindowPages += 1; continue }
            differences.append("page 0x\(String(page * 4096, radix: 16)): root \(Character(UnicodeScalar(mine))), model \(Character(UnicodeScalar(model)))")
        }
        #expect(differences.isEmpty, "\(differences.prefix(20))\nroot:\n\(run.output)\nmodel:\n\(map.text)")
        #expect(rootMap[map.letters.count...].allSatisfy { $0 == UInt8(ascii: "-") })
        // Every owner is on the map, and root keeps a handful of window pages for itself.
        for l in "KSRAE.-" { #expect(map.letters.contains(UInt8(ascii: l.unicodeScalars.first!))) }
        #expect(rootOwnWindowPages > 0 && rootOwnWindowPages < 64)

        // The PNG: signature, size from the stored-block layout, and the file written.
        let png = MemoryMapImage.png(map)
        let width = 64 * 7 + 1
        let height = map.rows.reduce(1) { $0 + 7 + ($1.count > 1 ? 4 : 0) }
        let raw = height * (width + 1)
        let blocks = (raw + 65534) / 65535
        #expect(png.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(png.count == 8 + 25 + (12 + 9 * 3) + (12 + 2 + 5 * blocks + raw + 4) + 12, "\(png.count) bytes")
        let file = dir.appendingPathComponent("alice-eve.png")
        try Data(png).write(to: file)
        #expect(try Data(contentsOf: file).count == png.count)
    }

    @Test("on a terminal: m draws the map, a Alice's address space, q powers off with status 0")
    func keysOnATerminal() throws {
        let pty = try PseudoTerminal()
        let sprig = try Spawned(sprigArguments: ["run", "--system", "alice-eve"], on: pty)
        try pty.waitForScreen(of: sprig) { $0.contains("root: keys:") && $0.contains("Hi, I'm Alice! #") }
        pty.type(Array("m".utf8))
        try pty.waitForScreen(of: sprig) { $0.contains("root: map checked: no PAGE TABLE ERROR") }
        pty.type(Array("a".utf8))
        try pty.waitForScreen(of: sprig) { $0.contains("root: Alice's address space") && $0.contains("VIDT") }
        pty.type(Array("q".utf8))
        try sprig.waitForExit()
        #expect(sprig.process.terminationStatus == 0, "\(pty.screen.text)")
        #expect(pty.screen.text.contains("root: q: powering off"))
        #expect(pty.screen.text.contains("sprig: the system powered off with status 0"))
    }
}

@Suite("PNG encoder")
struct PNGTests {
    @Test("CRC-32 and Adler-32 give their check values; a 2×2 image decodes to its pixels (python3's zlib)")
    func checksumsAndDecode() throws {
        #expect(PNG.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(PNG.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)
        let png = PNG.encode(width: 2, height: 2, palette: [(255, 0, 0), (0, 0, 255)], indices: [0, 1, 1, 0])
        let python = try #require(["/usr/bin/python3", "/usr/local/bin/python3"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
                                 "python3's zlib decodes the PNG: install python3")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-png-\(getpid()).png")
        try Data(png).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        // Checks every chunk's CRC, inflates the IDAT (zlib checks Adler-32) and prints the rows.
        let script = """
            import struct, sys, zlib
            d = open(sys.argv[1], 'rb').read(); i = 8; idat = b''
            while i < len(d):
                n, = struct.unpack('>I', d[i:i+4]); t = d[i+4:i+8]; body = d[i+8:i+8+n]
                assert struct.unpack('>I', d[i+8+n:i+12+n])[0] == zlib.crc32(t + body), t
                if t == b'IDAT': idat += body
                i += 12 + n
            print(zlib.decompress(idat).hex())
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", script, file.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(p.terminationStatus == 0)
        #expect(text.trimmingCharacters(in: .whitespacesAndNewlines) == "000001000100")
    }
}

@Suite("sprig memmap's errors")
struct MemmapCLITests {
    @Test("no system, an unknown system, a bad --at or --memory: one line, status 64, before any build", arguments: [
        ([], "give --system NAME"),
        (["--system", "nope"], "no system named 'nope'"),
        (["--system", "alice-eve", "--at", "soon"], "--at must be an event number from 0, or end, not 'soon'"),
        (["--system", "alice-eve", "--memory", "2"], "--memory must be between 8 and 1024 MiB"),
    ])
    func usageErrors(_ arguments: [String], _ message: String) throws {
        let (status, output) = try CLI.run(["memmap"] + arguments, timeout: 60)
        #expect(status == 64, "\(output)")
        #expect(output.split(separator: "\n").count == 1 && output.contains(message), "\(output)")
    }
}

@Suite("the memory map from the model")
struct MemoryMapModelTests {
    @Test("letters by owner; a page forged into Eve's tables from Alice's, or the kernel's, is a PAGE TABLE ERROR")
    func lettersAndChecker() throws {
        let m = ModelMachine(pages: 512, kernelImagePages: 8)
        let alice = m.makeChild(of: m.root, pages: 2)
        let eve = m.makeChild(of: m.root, pages: 2)
        // Root's children get their letters in the order of their names (descriptor vaddrs in root).
        let letters = Array((alice.name < eve.name ? "AE" : "EA").utf8)
        let clean = MemoryMap(machine: m, childLetters: letters)
        #expect(clean.errors.isEmpty, "\(clean.errors)")
        let a = try #require(m.translate(alice.descriptor, alice.pages[0]))
        let e = try #require(m.translate(eve.descriptor, eve.pages[0]))
        func letter(_ map: MemoryMap, _ p: PhysicalAddress) -> Character { Character(UnicodeScalar(map.letters[Int(p.raw / 4096)])) }
        #expect(letter(clean, a) == "A" && letter(clean, e) == "E")
        #expect(letter(clean, eve.descriptor) == "S" && letter(clean, m.kernelImage[0]) == "K")

        // Eve's leaf for her first page now names Alice's page: two incomparable holders.
        let leaf = try #require(PageTableWalk.leaf(m.memory, rootTable: m.rootTable(eve.descriptor), va: VirtualAddress(eve.pages[1])))
        m.memory.store(leaf.at, PageTableEntry(frame: a, flags: leaf.entry.raw & 0xFFF | leaf.entry.raw & PageTableEntry.noExecute).raw)
        let shared = MemoryMap(machine: m, childLetters: letters)
        #expect(shared.errors.contains { $0.hasPrefix("PAGE TABLE ERROR: horizontalIsolation") }, "\(shared.errors)")
        // And a kernel structure page (Alice's descriptor) reachable from Eve.
        m.memory.store(leaf.at, PageTableEntry(frame: alice.descriptor, flags: leaf.entry.raw & 0xFFF | leaf.entry.raw & PageTableEntry.noExecute).raw)
        let reachable = MemoryMap(machine: m, childLetters: letters)
        #expect(reachable.errors.contains { $0.hasPrefix("PAGE TABLE ERROR: kernelDataIsolation") }, "\(reachable.errors)")
    }
}
