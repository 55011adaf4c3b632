/// `sprig check --mutant NAME`: the exhaustive explorer, built on a deliberately broken copy of
/// the kernel (Sources/SprigTool/Mutants.swift), finds each planted bug within depth 3 and prints
/// the shortest step sequence that shows it; on the checkout the same search finds nothing
/// (CheckTests). Each mutant's explorer is compiled once here (about 20 s each, debug host build).
import Foundation
import SprigTool
import Testing

@Suite(.serialized) struct CheckMutantTests {
    /// Runs the explorer built from `mutant`'s copy with `arguments`; exit status and stdout.
    static func explore(_ mutant: String?, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let builder = try HostBuild(project: FuzzBuilds.project)
        builder.progress = { _ in }
        let products = try builder.buildChecker(mutant: try mutant.map(Mutants.named))
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
            // Without the generation's advance, the child's cached VIDT outlives its use as a
            // structure page.
            ("translation-cache-stale", "createPartition(", "staleTranslation"),
            // removeVAddr's raw stores leave the generation as it was: the child's cached
            // translation of the page it no longer maps, and root's plan through it, stay live.
            ("table-write-bypass", "removeVAddr(", "stale"),
            // The leaf door without its drop: root's plan through the child's VIDT page, and the
            // child's translation of it, outlive the page's removal.
            ("leaf-write-keeps-caches", "removeVAddr(", "stale"),
            // Root's first return to ring 3 keeps the selectors its marks loaded.
            ("exit-data-selectors", "(", "DS is 0x1b after the kernel's exit, not null"),
            // The spec refuses code on the child's VIDT page; the mutant answers otherwise.
            ("addvaddr-execute-vidt", "addVAddr(", "executeAtVIDT"),
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

    /// Today's way back to ring 3 for break 3: no return-rip check and code allowed on a
    /// child's VIDT page. From the start where root asks for that code, A runs a syscall at the
    /// last bytes of the lower half and the model's iretq rule reports the kernel fault (the
    /// refinement check, left out here, would stop earlier at addVAddr's `executeAtVIDT`). On
    /// the checkout the same search finds nothing.
    @Test("today's return to a non-canonical rip is caught by the model's iretq rule")
    func returnRipMutantIsCaught() throws {
        let arguments = ["--start", "vidt-code", "--depth", "2", "--no-refinement"]
        let r = try Self.explore("exit-return-rip", arguments)
        #expect(r.status == 1, "not caught (exit \(r.status)):\n\(r.output)")
        #expect(r.output.contains("VIOLATION after 2 steps"), "\(r.output)")
        #expect(r.output.contains("at the last two bytes of the lower half"), "\(r.output)")
        #expect(r.output.contains("iretq to the non-canonical rip 0x8000_0000_0000"), "\(r.output)")
        let clean = try Self.explore(nil, arguments)
        #expect(clean.status == 0, "the checkout: \(clean.output)")
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

    /// The yield cache's mutant (a kept plan not dropped when ring 3 rewrites a VIDT entry) by
    /// exhaustive search: its shortest counterexample is four steps (root yields to A, keeping
    /// the plan; A yields back; root rewrites A's entry; the same yield), which the focused menu
    /// of yields and VIDT writes reaches at depth 4 after about 2,600 states.
    @Test("the yield-cache mutant is found by the exhaustive search over a focused menu at depth 4")
    func yieldCacheMutantFoundExhaustively() throws {
        let r = try Self.explore("yield-cache-vidt", ["--menu", "yields,vidt-writes", "--vidt-slots", "1", "--depth", "4"])
        #expect(r.status == 1, "not caught (exit \(r.status)):\n\(r.output.suffix(4000))")
        let violation = try #require(r.output.range(of: "VIOLATION after "), "no counterexample printed:\n\(r.output.suffix(4000))")
        let report = String(r.output[violation.lowerBound...])
        #expect(report.hasPrefix("VIOLATION after 4 steps"), "\(report.prefix(2000))")
        #expect(report.contains("write ["), "the VIDT entry is rewritten:\n\(report.prefix(2000))")
        #expect(report.contains("refinement: outcome: spec returned(SprigABI.Status.calleeContextUnavailable"), "\(report.prefix(2000))")
    }

    /// A mutant whose shortest counterexample is longer than the exhaustive search goes: the
    /// yield cache must first keep a plan (a yield), ring 3 must then rewrite the VIDT entry, and
    /// the same yield must come again, at least four steps; the staging area must be loaded from
    /// a marked straddling context before a straddling save. The seeded random walk finds them.
    @Test("a mutant beyond depth 3 is caught by the seeded random walk",
          arguments: [("yield-cache-vidt", "yield(", "refinement"),
                      // A straddling context of root's with a word in FXSAVE's unwritten bytes is
                      // loaded through the staging area; a later straddling save copies it out.
                      ("fxsave-staging", "write [", "bytes FXSAVE does not write not zero")])
    func mutantIsCaughtByTheRandomWalk(mutant: String, step: String, expected: String) throws {
        let r = try Self.explore(mutant, ["--random", "20000", "--seed", "1"])
        #expect(r.status == 1, "mutant \(mutant) not caught (exit \(r.status)):\n\(r.output.prefix(4000))")
        let violation = try #require(r.output.range(of: "VIOLATION after "), "no counterexample printed:\n\(r.output.prefix(4000))")
        let report = String(r.output[violation.lowerBound...])
        #expect(report.contains(step), "the counterexample shows the call:\n\(report.prefix(4000))")
        #expect(report.contains(expected), "the oracle names the divergence:\n\(report.prefix(4000))")
    }
}
