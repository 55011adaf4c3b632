/// `sprig check --mutant NAME`: the exhaustive explorer, built on a deliberately broken copy of
/// the kernel (Sources/SprigTool/Mutants.swift), finds each planted bug within depth 3 and prints
/// the shortest step sequence that shows it; on the checkout the same search finds nothing
/// (CheckTests). Each mutant's explorer is compiled once here (about 20 s each, debug host build).
import Foundation
import SprigTool
import Testing

@Suite(.serialized) struct CheckMutantTests {
    /// Runs the explorer built from `mutant`'s copy with `arguments`; exit status and stdout.
    static func explore(_ mutant: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let builder = try HostBuild(project: FuzzBuilds.project)
        builder.progress = { _ in }
        let products = try builder.buildChecker(mutant: try Mutants.named(mutant))
        let p = Process()
        p.executableURL = products.executable
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("each mutant is caught by the exhaustive explorer at depth 3, with its shortest sequence",
          arguments: [
            // mutant, the step that goes wrong, what the oracle says
            ("addvaddr-rights", "addVAddr(", "rightsExceedCaller"),
            ("yield-save-overlap", "yield(", "callerContextUnavailable"),
            ("context-straddle", "yield(", "callerContextUnavailable"),
            // Without the emptying, the child's cached VIDT outlives its use as a structure page.
            ("translation-cache-stale", "createPartition(", "staleTranslation"),
            // Without the invlpg, ring 3 keeps the translation of a page it just gave as a structure.
            ("tlb-flush", "createPartition(", "staleTLB"),
          ])
    func mutantIsCaught(mutant: String, step: String, expected: String) throws {
        let r = try Self.explore(mutant, ["--depth", "3"])
        #expect(r.status == 1, "mutant \(mutant) not caught (exit \(r.status)):\n\(r.output)")
        let violation = try #require(r.output.range(of: "VIOLATION after "), "no counterexample printed:\n\(r.output)")
        let report = String(r.output[violation.lowerBound...])
        let steps = Int(report.dropFirst("VIOLATION after ".count).prefix { $0.isNumber }) ?? 0
        #expect((1...3).contains(steps), "counterexample of \(steps) steps:\n\(report)")
        #expect(report.contains(step), "the counterexample shows the call:\n\(report)")
        #expect(report.contains(expected), "the oracle names the expected refusal:\n\(report)")
    }

    /// With every other check off: a kernel whose context translation ignores the user bit saves
    /// root's state on a kernel structure page (the paper's Fig. 4), and the dereference
    /// property names it.
    @Test("the dereference oracle alone catches a kernel that saves a context on a kernel structure page")
    func dereferenceOracleAlone() throws {
        let r = try Self.explore("context-user-bit", ["--depth", "3", "--only", "dereference"])
        #expect(r.status == 1, "mutant not caught (exit \(r.status)):\n\(r.output)")
        let violation = try #require(r.output.range(of: "VIOLATION after "), "no counterexample printed:\n\(r.output)")
        let report = String(r.output[violation.lowerBound...])
        #expect(report.contains("yield("), "\(report)")
        #expect(report.contains("! dereference: partition ") && report.contains("a context on a page the partition cannot"), "\(report)")
        #expect(!report.contains("! refinement") && !report.contains("! property"), "only the dereference check ran:\n\(report)")
    }

    /// A mutant whose shortest counterexample is longer than the exhaustive search goes: the
    /// yield cache must first keep a plan (a yield), ring 3 must then rewrite the VIDT entry, and
    /// the same yield must come again, at least four steps. The seeded random walk finds it.
    @Test("a mutant beyond depth 3 is caught by the seeded random walk",
          arguments: [("yield-cache-vidt", "yield(", "refinement")])
    func mutantIsCaughtByTheRandomWalk(mutant: String, step: String, expected: String) throws {
        let r = try Self.explore(mutant, ["--random", "20000", "--seed", "1"])
        #expect(r.status == 1, "mutant \(mutant) not caught (exit \(r.status)):\n\(r.output.prefix(4000))")
        let violation = try #require(r.output.range(of: "VIOLATION after "), "no counterexample printed:\n\(r.output.prefix(4000))")
        let report = String(r.output[violation.lowerBound...])
        #expect(report.contains(step), "the counterexample shows the call:\n\(report.prefix(4000))")
        #expect(report.contains(expected), "the oracle names the divergence:\n\(report.prefix(4000))")
    }
}
