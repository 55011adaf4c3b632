/// The fuzzer (`sprig fuzz`, docs/fuzz.md): a short run on the real kernel logic finds nothing,
/// a run on a deliberately broken copy (mutant `addvaddr-rights`) finds the planted bug, and a
/// mutant whose snippet is not in its file stops the build with a clear error.
///
/// Each fuzz target is built once per test process (`FuzzBuilds`); the host build skips modules
/// whose sources and command are unchanged. Corpora go to fresh temporary directories, so a run
/// does not depend on what earlier runs found; the committed seeds in Fuzz/corpus are read.
import Foundation
import SprigTool
import Testing

enum FuzzBuilds {
    static let project: Project = {
        try! Project.locate(from: URL(fileURLWithPath: #filePath))
    }()

    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: [String: Result<(HostBuild, HostProducts), Error>] = [:]

    /// The fuzz target of the checkout (nil) or of a mutant, built once.
    static func fuzzer(_ mutant: Mutant? = nil) throws -> (HostBuild, HostProducts) {
        lock.lock()
        defer { lock.unlock() }
        let key = mutant?.name ?? ""
        if let r = built[key] { return try r.get() }
        let r = Result { () throws -> (HostBuild, HostProducts) in
            let b = try HostBuild(project: project)
            return (b, try b.buildFuzzer(mutant: mutant))
        }
        built[key] = r
        return try r.get()
    }

    /// Fuzzes `mutant` (or the checkout) for `runs` inputs with libFuzzer seed `seed`: the same
    /// inputs however loaded the host is (the time bound only guards against a hang).
    static func run(_ mutant: Mutant?, runs: Int, seed: UInt32) throws -> FuzzResult {
        let (builder, products) = try fuzzer(mutant)
        let corpus = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-fuzz-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: corpus) }
        var o = FuzzOptions()
        o.seconds = Int(Boot.hangGuard)
        o.runs = runs
        o.seed = seed
        o.corpus = corpus
        let result = try builder.fuzz(products, name: "test-" + (mutant?.name ?? "fuzz"), options: o)
        print("fuzz \(mutant?.name ?? "real logic"): \(result.summary)")
        return result
    }
}

@Suite(.serialized) struct FuzzTests {
    @Test func shortRunOnTheRealLogicFindsNothing() throws {
        let result = try FuzzBuilds.run(nil, runs: 5000, seed: 1)
        #expect(result.clean, "the real kernel logic violated the oracle:\n\(result.report ?? "") (\(result.reproducer?.path ?? ""))")
        #expect(result.executions >= 5000, "the fuzzer stopped early: \(result.summary)")
        #expect(result.coverage > 300, "coverage too low to mean anything: \(result.summary)")
    }

    @Test func theAddVAddrRightsMutantIsCaught() throws {
        let mutant = try Mutants.named("addvaddr-rights")
        // Seed 1 catches it within 20 inputs; 100000 leaves room for a change of the harness.
        let result = try FuzzBuilds.run(mutant, runs: 100_000, seed: 1)
        let report = try #require(result.report, "mutant \(mutant.name) not caught in 100000 inputs: \(result.summary)")
        #expect(result.reproducer != nil)
        #expect(report.contains("rights not monotonic") || report.contains("rightsExceedCaller"), "\(report)")
        #expect(report.contains("addVAddr("), "the report shows the decoded call sequence:\n\(report)")
        print(report)
    }

    @Test func aMutantWhoseSnippetIsNotInItsFileFailsClearly() throws {
        let bogus = Mutant(name: "bogus", summary: "not a real edit", file: "Sources/SprigCore/Sharing.swift",
                           original: "this text is in no kernel file", replacement: "")
        let builder = try HostBuild(project: FuzzBuilds.project)
        let error = try #require(throws: MutantError.self) { try builder.buildFuzzer(mutant: bogus) }
        #expect(error.occurrences == 0)
        #expect(error.description.contains("occurs 0 times in Sources/SprigCore/Sharing.swift"), "\(error)")
        let sharing = try String(contentsOf: FuzzBuilds.project.path("Sources/SprigCore/Sharing.swift"), encoding: .utf8)
        #expect(!sharing.contains("_ = callerLeaf"), "the checkout's kernel source was edited")
    }

    @Test func everyNamedMutantStillAppliesExactlyOnce() throws {
        for m in Mutants.all.flatMap(\.edits) {
            let text = try String(contentsOf: FuzzBuilds.project.path(m.file), encoding: .utf8)
            let mutated = try m.apply(to: text)
            #expect(mutated != text, "mutant \(m.name) changes nothing")
        }
    }
}
