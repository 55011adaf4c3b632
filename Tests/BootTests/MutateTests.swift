/// `sprig mutate` (docs/mutate.md): the generator derives mutants of every operator from
/// SprigCore, the schemata compile into one checker, the unmutated kernel passes the oracle's
/// stages (so a kill means the mutant, not the oracle), a refusal turned into success in
/// addVAddr's rights check is caught, mutants only the boot oracle sees are caught by it, and a
/// bounded sample — every 100th mutant, 17, five cheap stages — scores at least 70 %. The whole score is `make mutate`'s (docs/mutate.md).
/// The generator and the schemata are built once here (swift-syntax the first time: 1–3
/// minutes; the schemata about 3).
import Foundation
import SprigTool
import Testing

@Suite(.serialized) struct MutateTests {
    static let prepared: Result<(checker: URL, mutants: [GeneratedMutant], uncompilable: [Int]), Error> = Result {
        try MutationRun.prepare(project: FuzzBuilds.project, progress: { _ in })
    }

    static let cheapStages: [[String]] = [
        ["--boot"], ["--random", "300", "--seed", "1"], ["--scenario", "reclaim", "--depth", "1"],
        ["--scenario", "faults", "--depth", "1"], ["--depth", "1"],
    ]

    @Test func generatorCoversEveryOperator() throws {
        let p = try Self.prepared.get()
        #expect(p.mutants.count > 1000, "only \(p.mutants.count) mutants generated")
        let operators = Set(p.mutants.map(\.operator))
        #expect(operators == ["guard-true", "negate", "if-false", "flip", "boundary", "success", "drop", "plus-one", "minus-one"])
        #expect(p.uncompilable.count * 20 < p.mutants.count, "\(p.uncompilable.count) mutants do not compile")
        // Each mutant names real lines and changes them.
        for m in p.mutants.prefix(200) {
            #expect(!m.original.isEmpty && m.original != m.mutated, "mutant \(m.id)")
        }
    }

    @Test func unmutatedKernelPassesTheStages() throws {
        let p = try Self.prepared.get()
        var options = MutateOptions()
        options.stages = Self.cheapStages
        let original = GeneratedMutant(id: 0, file: "", line: 0, operator: "none", original: [], mutated: [])
        let outcome = MutationRun.runOne(checker: p.checker, mutant: original, options: options)
        #expect(outcome.verdict == .survived, "the unmutated kernel fails a stage: \(outcome.reason ?? "")")
    }

    @Test func rightsRefusalTurnedIntoSuccessIsCaught() throws {
        let p = try Self.prepared.get()
        let m = try #require(p.mutants.first {
            $0.file.hasSuffix("Sharing.swift") && $0.operator == "success" && $0.original.joined().contains("!callerLeaf.isExecutable")
        })
        var options = MutateOptions()
        options.stages = [["--depth", "2"]]
        let outcome = MutationRun.runOne(checker: p.checker, mutant: m, options: options)
        #expect(outcome.verdict == .killed, "\(m.diff)")
        #expect(outcome.reason?.contains("rightsExceedCaller") == true, "\(outcome.reason ?? "")")
    }

    /// Mutants no exploration can see, each killed by the `--boot` stage (Sources/SprigModel/Oracles):
    /// root's boot context without its argument register, the boot allocator's insertion sort
    /// without its shift, the FXSAVE padding bytes the kernel believes the CPU writes, and the
    /// reference walk taking a 4 KiB page's PAT bit for a large page.
    @Test(arguments: [
        ("UserRegisters.swift", "PartitionMemory.write(p, context.adding(UInt64(ContextLayout.rdi)), argument)", ""),
        ("BootAllocator.swift", "ranges[i] = ranges[i - 1]", ""),
        ("UserRegisters.swift", "w >= 5 && w <= 19 && w & 1 == 1", "w & 0 == 1"),
        ("PageTableWalk.swift", "level == 1 || !e.isLargePage", "level == 0 || !e.isLargePage"),
    ])
    func bootStageKills(file: String, original: String, mutated: String) throws {
        let p = try Self.prepared.get()
        let m = try #require(p.mutants.first {
            $0.file.hasSuffix(file) && $0.original.joined().contains(original)
                && (mutated.isEmpty ? $0.mutated.isEmpty : $0.mutated.joined().contains(mutated))
        })
        var options = MutateOptions()
        options.stages = [["--boot"]]
        let outcome = MutationRun.runOne(checker: p.checker, mutant: m, options: options)
        #expect(outcome.verdict != .survived, "\(m.diff)")
    }

    @Test func boundedSampleScores() throws {
        let p = try Self.prepared.get()
        var options = MutateOptions()
        options.stages = Self.cheapStages
        options.every = 100
        options.stageTimeout = 20
        let report = MutationRun.runAll(checker: p.checker, mutants: p.mutants, uncompilable: p.uncompilable, options: options)
        print(report.text)
        #expect(report.outcomes.count == p.mutants.filter { ($0.id - 1) % 100 == 0 }.count)
        // A floor under the oracles' strength, not the target (95%): this sample of 17 scores
        // 12/17 on today's SprigCore with these stages; its five survivors and their reasons
        // are in docs/check.md "Mutation survivors".
        // Raise it as checks are added; a change that weakens an oracle drops below it.
        #expect(report.score >= 0.70, "score \(report.score) on the sample")
        #expect(report.text.contains("mutation score:"))
        _ = try JSONEncoder().encode(report)
    }
}
