/// `sprig mutate` (docs/mutate.md): the generator derives mutants of every operator from
/// SprigCore, the schemata compile into one checker, the unmutated kernel passes the oracle's
/// stages (so a kill means the mutant, not the oracle), a refusal turned into success in
/// addVAddr's rights check is caught (and registering it as equivalent is a registry error), mutants
/// only the boot oracle sees are caught by it, fingerprints survive an unrelated edit, the score
/// leaves out registered survivors and reports stale entries, and a
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
        // The cheap stages and every scenario stage of the default list.
        options.stages = Self.cheapStages + MutateOptions.defaultStages.filter { $0.contains("--scenario") && !Self.cheapStages.contains($0) }
        let original = GeneratedMutant(id: 0, file: "", line: 0, operator: "none", original: [], mutated: [])
        let outcome = MutationRun.runOne(checker: p.checker, mutant: original, options: options)
        #expect(outcome.verdict == .survived, "the unmutated kernel fails a stage: \(outcome.reason ?? "")")
    }

    @Test func baselineRefusesAStageTheUnmutatedKernelFails() throws {
        let p = try Self.prepared.get()
        var options = MutateOptions()
        options.stages = [["--boot"], ["--scenario", "no-such-scenario"]]
        #expect {
            try MutationRun.checkBaseline(checker: p.checker, options: options)
        } throws: { error in
            "\(error)".contains("the unmutated kernel fails the stage '--scenario no-such-scenario' (crashed: the checker refused its arguments")
        }
        options.stages = [["--boot"]]
        try MutationRun.checkBaseline(checker: p.checker, options: options)
    }

    @Test func rightsRefusalTurnedIntoSuccessIsCaught() throws {
        let p = try Self.prepared.get()
        let m = try #require(p.mutants.first {
            $0.file.hasSuffix("Sharing.swift") && $0.operator == "success" && $0.original.joined().contains("!callerLeaf.isExecutable")
        })
        var options = MutateOptions()
        options.stages = [["--depth", "2"]]
        options.fingerprints = [m.fingerprint]
        // Registered as equivalent, it still runs, is caught, and the registry is reported wrong.
        let wrong = EquivalentMutant(fingerprint: m.fingerprint, mutant: m.title, reason: "wrongly registered")
        let report = MutationRun.runAll(checker: p.checker, mutants: p.mutants, uncompilable: p.uncompilable, options: options, registry: [wrong])
        let outcome = try #require(report.outcomes.first)
        #expect(report.outcomes.count == 1)
        #expect(outcome.verdict == .killed, "\(m.diff)")
        #expect(outcome.reason?.contains("rightsExceedCaller") == true, "\(outcome.reason ?? "")")
        #expect(report.registryErrors.map(\.mutant.id) == [m.id] && report.equivalent.isEmpty && report.score == 1)
        #expect(report.text.contains("registry errors") && report.text.contains(m.fingerprint))
    }

    /// An unrelated edit — a new function at the top of a file, comments and blank lines inside
    /// another — moves ids but no fingerprint; fingerprints are unique.
    @Test func fingerprintsSurviveAnUnrelatedEdit() throws {
        _ = try Self.prepared.get()
        let project = FuzzBuilds.project
        let generator = try MutationRun.buildGenerator(project: project)
        let fm = FileManager.default
        let work = fm.temporaryDirectory.appendingPathComponent("sprig-fingerprints-\(getpid())")
        defer { try? fm.removeItem(at: work) }
        let edited = work.appendingPathComponent("edited")
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        try fm.copyItem(at: project.path("Sources/SprigCore"), to: edited)
        let reclaim = edited.appendingPathComponent("Reclaim.swift")
        var text = try String(contentsOf: reclaim, encoding: .utf8)
        let firstDecl = try #require(text.range(of: "\n\n"))
        text.insert(contentsOf: "\n\nfunc unrelatedHelper(_ x: Int) -> Int {\n    guard x < 7 else { return 0 }\n    return x + 1\n}\n", at: firstDecl.lowerBound)
        text = text.replacingOccurrences(of: "        guard ", with: "        // an unrelated comment\n\n        guard ")
        try text.write(to: reclaim, atomically: true, encoding: .utf8)
        func generate(_ sources: URL, _ name: String) throws -> [GeneratedMutant] {
            let out = work.appendingPathComponent(name)
            let p = Process()
            p.executableURL = generator
            p.arguments = [sources.path, out.path]
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            return try JSONDecoder().decode([GeneratedMutant].self, from: Data(contentsOf: out.appendingPathComponent("mutants.json")))
        }
        let before = try generate(project.path("Sources/SprigCore"), "before")
        let after = try generate(edited, "after")
        #expect(Set(before.map(\.fingerprint)).count == before.count, "fingerprints repeat")
        #expect(Set(after.map(\.fingerprint)).count == after.count, "fingerprints repeat")
        let afterByFingerprint = Dictionary(uniqueKeysWithValues: after.map { ($0.fingerprint, $0) })
        let lost = before.filter { afterByFingerprint[$0.fingerprint] == nil }
        #expect(lost.isEmpty, "fingerprints lost: \(lost.prefix(5).map(\.title))")
        #expect(after.count > before.count)
        // The edit moved ids: the same mutant, another number.
        #expect(before.contains { old in afterByFingerprint[old.fingerprint].map { $0.id != old.id } ?? false })
        #expect(before.allSatisfy { m in afterByFingerprint[m.fingerprint].map { $0.diff == m.diff && $0.operator == m.operator } ?? true })
    }

    /// Score = caught / (run − equivalent); a registered mutant that is caught is an error and
    /// counts as caught; an entry no generated mutant has is stale.
    @Test func scoreLeavesOutRegisteredSurvivorsOnly() {
        func outcome(_ id: Int, _ verdict: MutantOutcome.Verdict) -> MutantOutcome {
            let m = GeneratedMutant(id: id, fingerprint: String(format: "%012x", id), file: "Sources/SprigCore/X.swift", function: "f()",
                                    line: id, operator: "negate", original: ["a"], mutated: ["b"])
            return MutantOutcome(mutant: m, verdict: verdict, stage: verdict == .survived ? nil : "--depth 1", reason: nil, seconds: 0)
        }
        let outcomes = (1...6).map { outcome($0, $0 == 6 ? .crashed : .killed) } + (7...10).map { outcome($0, .survived) }
        let registry = [7, 8, 3].map { EquivalentMutant(fingerprint: String(format: "%012x", $0), mutant: "#\($0)", reason: "r") }
            + [EquivalentMutant(fingerprint: "0000000000ff", mutant: "gone", reason: "r")]
        let generated = Set(outcomes.map(\.mutant.fingerprint))
        let report = MutationReport(outcomes: outcomes, generated: 10, uncompilable: [], stages: ["--depth 1"], seconds: 0,
                                    registry: registry, generatedFingerprints: generated)
        #expect(report.caught == 6)
        #expect(report.equivalent.map(\.mutant.id) == [7, 8])
        #expect(report.survivors.map(\.mutant.id) == [9, 10])
        #expect(report.registryErrors.map(\.mutant.id) == [3])
        #expect(report.stale.map(\.fingerprint) == ["0000000000ff"])
        #expect(report.score == 6.0 / 8.0)
        #expect(report.text.contains("mutation score: 6/8 (75.0%) = caught / (run - equivalent)"))
        #expect(report.text.contains("warning: stale registry entry 0000000000ff"))
        let unregistered = MutationReport(outcomes: outcomes, generated: 10, uncompilable: [], stages: [], seconds: 0)
        #expect(unregistered.score == 0.6 && unregistered.stale.isEmpty)
    }

    /// Every registered equivalent names a mutant the generator makes of today's SprigCore: an
    /// edit that changes a registered mutant's fingerprint fails here, not as a warning only
    /// `sprig mutate` would print.
    @Test func registryNamesGeneratedMutants() throws {
        let p = try Self.prepared.get()
        let generated = Set(p.mutants.map(\.fingerprint))
        let stale = try MutationRun.loadRegistry(MutationRun.registryFile(FuzzBuilds.project))
            .filter { !generated.contains($0.fingerprint) }.map { "\($0.fingerprint): \($0.mutant)" }
        #expect(stale.isEmpty, "stale registry entries: \(stale.joined(separator: "; "))")
    }

    /// The checked-in registry loads; a repeated fingerprint or an entry without a reason is refused.
    @Test func registryLoadsAndRefusesBadEntries() throws {
        let registry = try MutationRun.loadRegistry(MutationRun.registryFile(FuzzBuilds.project))
        #expect(!registry.isEmpty)
        let fm = FileManager.default
        let file = fm.temporaryDirectory.appendingPathComponent("sprig-registry-\(getpid()).json")
        defer { try? fm.removeItem(at: file) }
        let e = EquivalentMutant(fingerprint: "0123456789ab", mutant: "m", reason: "r")
        for bad in [[e, e], [EquivalentMutant(fingerprint: "0123456789ab", mutant: "m", reason: " ")]] {
            try JSONEncoder().encode(bad).write(to: file)
            #expect(throws: ToolError.self) { try MutationRun.loadRegistry(file) }
        }
        try Data("{".utf8).write(to: file)
        #expect(throws: ToolError.self) { try MutationRun.loadRegistry(file) }
    }

    /// A place for the outcomes that cannot be written is refused in one line before anything is
    /// built (it was found only after the schemata's build and the baseline, minutes in): a
    /// checkout whose `.build/sprig/mutate/outcomes.jsonl` is a folder (a permission would not
    /// stop the tests' root user).
    @Test func unwritableOutcomesAreRefusedBeforeTheBuild() throws {
        let fm = FileManager.default
        let checkout = fm.temporaryDirectory.appendingPathComponent("sprig-mutate-out-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: checkout) }
        try fm.createDirectory(at: checkout.appendingPathComponent("Sources/SprigX86"), withIntermediateDirectories: true)
        try fm.createDirectory(at: checkout.appendingPathComponent("tools/mutate"), withIntermediateDirectories: true)
        try fm.createDirectory(at: checkout.appendingPathComponent(".build/sprig/mutate/outcomes.jsonl"), withIntermediateDirectories: true)
        try Data().write(to: checkout.appendingPathComponent("Package.swift"))
        try Data("[]".utf8).write(to: checkout.appendingPathComponent("tools/mutate/equivalent.json"))
        let (status, output) = try CLI.run(["mutate", "--every", "100"], in: checkout, timeout: 60)
        #expect(status == 1, "\(output)")
        #expect(output.split(separator: "\n").count == 1, "\(output)")
        #expect(output.contains("cannot write") && output.contains(".build/sprig/mutate/outcomes.jsonl"), "\(output)")
        #expect(!output.contains("building the generator"), "\(output)")
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
        // A floor under the oracles' strength, not the target (95%): this sample of 17 scored
        // 12/17 on an older SprigCore and 13/17 on the current one with these stages (the
        // current four survivors are not all analysed in docs/check.md yet).
        // Raise it as checks are added; a change that weakens an oracle drops below it.
        #expect(report.score >= 0.70, "score \(report.score) on the sample")
        #expect(report.text.contains("mutation score:"))
        _ = try JSONEncoder().encode(report)
    }
}
