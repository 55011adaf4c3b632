/// The files `sprig generate` derives from the service table (Sources/SprigABI/Service.swift)
/// are fresh, are driven by the table, and are the only source of service numbers in assembly;
/// and every Swift file the host package does not compile is compiled by a build some test runs
/// (so a case forgotten in Embedded-only code fails a test, not a later boot).
import Foundation
import SprigABI
import SprigTool
import Testing

@Suite struct ServiceTableGenerationTests {
    static let project: Project = try! Project.locate(from: URL(fileURLWithPath: #filePath))

    static func file(_ files: [(path: String, text: String)], _ path: String) -> String {
        files.first { $0.path == path }!.text
    }

    @Test("the committed generated files are what the service table renders")
    func generatedFilesAreFresh() {
        let stale = Generated.stale(in: Self.project)
        #expect(stale.isEmpty, "\(Generated.staleError(stale))")
    }

    @Test("sprig generate --check names a stale file and the fix in one line, exit 1; sprig generate rewrites it")
    func generateCommand() throws {
        let (fresh, freshOutput) = try CLI.run(["generate", "--check"])
        #expect(fresh == 0, "\(freshOutput)")
        #expect(freshOutput.contains("up to date"), "\(freshOutput)")
        // A checkout whose header is stale: a copy with only what `generate` reads and writes.
        let fm = FileManager.default
        let dir = fm.temporaryDirectory.appendingPathComponent("sprig-generate-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: dir) }
        for sub in ["Sources/SprigX86", "Sources/include", "Sources/SprigUser"] {
            try fm.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try Data().write(to: dir.appendingPathComponent("Package.swift"))
        try fm.copyItem(at: Self.project.path(Generated.userServicesPath), to: dir.appendingPathComponent(Generated.userServicesPath))
        try "#define SERVICE_YIELD 11\n".write(to: dir.appendingPathComponent(Generated.headerPath), atomically: true, encoding: .utf8)
        let (stale, staleOutput) = try CLI.run(["generate", "--check"], in: dir)
        #expect(stale == 1, "\(staleOutput)")
        let lines = staleOutput.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("Sources/include/sprig_abi.h is stale") && lines[0].contains("sprig generate"),
                "\(staleOutput)")
        let (wrote, wroteOutput) = try CLI.run(["generate"], in: dir)
        #expect(wrote == 0 && wroteOutput.contains("wrote Sources/include/sprig_abi.h"), "\(wroteOutput)")
        #expect(try String(contentsOf: dir.appendingPathComponent(Generated.headerPath), encoding: .utf8)
                == String(contentsOf: Self.project.path(Generated.headerPath), encoding: .utf8))
    }

    @Test("the generator renders every row of the table it is given, a synthetic one too")
    func generatorIsDrivenByTheTable() {
        let n = Service.allCases.count
        let synthetic = Generated.ServiceLine(name: "syntheticProbe", number: 0x1FF, route: .machine,
                                              arguments: ["va", "maxLength"], result: "count")
        let files = Generated.files(services: Generated.services + [synthetic])
        let header = Self.file(files, Generated.headerPath), user = Self.file(files, Generated.userServicesPath)
        #expect(header.contains("#define SERVICE_SYNTHETIC_PROBE 0x1ff\n"))
        #expect(user.contains("public static let count = \(n + 1)\n"))
        #expect(user.contains("case .syntheticProbe: return \(n)\n"))
        #expect(user.contains("case \(n): self = .syntheticProbe\n"))
        #expect(user.contains("public static func syntheticProbe(va: UInt64, maxLength: UInt64) -> CallResult { call(.syntheticProbe, va, maxLength) }"))
        // And every real row and status, with its number.
        for s in Service.allCases {
            #expect(header.contains("#define SERVICE_\(Generated.macroName("\(s)")) 0x\(String(s.rawValue, radix: 16))\n"), "\(s)")
            #expect(user.contains("public static func \(s)("), "no wrapper for \(s)")
        }
        for s in Status.allCases {
            #expect(header.contains("#define STATUS_\(Generated.macroName("\(s)")) \(s.rawValue)\n"), "\(s)")
            #expect(user.contains("case .\(s): return \"\(s)\"\n"), "no name for \(s)")
        }
        #expect(Generated.macroName("addVAddr") == "ADD_V_ADDR" && Generated.macroName("executeAtVIDT") == "EXECUTE_AT_VIDT")
    }

    @Test("assembly takes service numbers and statuses from sprig_abi.h only, and uses only ones it defines")
    func assemblyUsesTheGeneratedHeader() throws {
        let header = try String(contentsOf: Self.project.path(Generated.headerPath), encoding: .utf8)
        let defined = Set(header.split(separator: "\n").compactMap { line -> String? in
            let w = line.split(separator: " ")
            return w.count >= 2 && w[0] == "#define" ? String(w[1]) : nil
        })
        let fm = FileManager.default
        var checked = 0
        for dir in ["Sources", Systems.folder] {
            let e = fm.enumerator(at: Self.project.path(dir), includingPropertiesForKeys: nil)!
            for case let url as URL in e where url.pathExtension == "S" || url.pathExtension == "c" {
                let text = try String(contentsOf: url, encoding: .utf8)
                checked += 1
                #expect(!text.contains("#define SERVICE_") && !text.contains("#define STATUS_"),
                        "\(url.lastPathComponent) defines an ABI number of its own: take it from sprig_abi.h")
                let used = text.matches(of: /\b(SERVICE|STATUS)_[A-Z0-9_]+\b/).map { String($0.output.0) }
                for name in used { #expect(defined.contains(name), "\(url.lastPathComponent) uses \(name), which sprig_abi.h does not define") }
                if !used.isEmpty { #expect(text.contains("#include \"sprig_abi.h\""), "\(url.lastPathComponent)") }
            }
        }
        #expect(checked > 5)
    }

    @Test("every Swift file the host package does not compile is compiled by `sprig build` or the fuzz/check builds")
    func everySwiftFileIsCompiledByATest() throws {
        let root = Self.project.root.standardizedFileURL.path + "/"
        let host = ["Sources/SprigABI/", "Sources/SprigCore/", "Sources/SprigModel/", "Sources/SprigTool/", "Sources/sprig/", "Tests/"]
        // `sprig build` (every boot test, and the build below) and HostBuild (FuzzTests builds
        // the harness, CheckMutantTests the checker's driver).
        // `sprig mutate`'s generator is its own package (MutateTests builds it with swift build).
        let built = Builder.swiftSourceDirectories().map { $0 + "/" } + HostBuild.sourceDirectories.map { $0 + "/" }
            + ["tools/mutate/Sources/"]
        var outside: [String] = []
        let e = FileManager.default.enumerator(at: Self.project.root, includingPropertiesForKeys: nil)!
        for case let url as URL in e {
            let path = url.standardizedFileURL.path
            guard path.hasPrefix(root) else { continue }
            let relative = String(path.dropFirst(root.count))
            if relative.hasPrefix(".") { e.skipDescendants(); continue }
            guard url.pathExtension == "swift", url.lastPathComponent != "Package.swift", !host.contains(where: relative.hasPrefix) else { continue }
            outside.append(relative)
            #expect(built.contains { relative.hasPrefix($0) }, "\(relative) is compiled by no build a test runs")
        }
        #expect(outside.contains("Sources/SprigUser/StatusName.swift") && outside.contains("Fuzz/Harness/Step.swift"))
        // The Embedded-only Swift: the kernel, SprigUser and every partition, built now.
        let (_, products) = try Boot.products(.release)
        // Every program some system runs (the compiled plans, `<system>/plan.bin`, are data).
        #expect(Set(products.partitions.keys.filter { !$0.contains("/") }) == Set(Systems.allPartitions))
    }
}
