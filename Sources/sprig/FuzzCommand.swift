/// `sprig fuzz`: coverage-guided fuzzing of the kernel's logic in the model (docs/fuzz.md).
import ArgumentParser
import Foundation
import SprigTool

/// Builds the libFuzzer target (Fuzz/Harness over SprigCore and SprigModel) and runs it.
struct Fuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fuzz the kernel's logic in the model with libFuzzer; the isolation properties and the refinement check are the oracle.",
        discussion: """
            Builds .build/sprig/host/fuzz[-<mutant>]/sprig-fuzz (swiftc -sanitize=fuzzer) and runs it for \
            --seconds. Each input is decoded as a call sequence of ring-3 steps against a freshly booted \
            model; after every kernel entry the properties, the refusal rule, register hygiene and the \
            refinement check must hold. New inputs go to .build/sprig/host/corpus/<name>/ (or --corpus); the \
            committed seeds in Fuzz/corpus are read too. On a violation: exit status 1, the reproducer's \
            path and its decoded call sequence. --mutant fuzzes a deliberately broken copy of the kernel \
            (see --list-mutants); the checkout is never edited.
            """)

    @Option(parsing: .unconditional, help: "Seconds to fuzz.") var seconds = 60
    @Option(parsing: .unconditional, help: "Parallel fuzzing processes (libFuzzer -fork).") var jobs = 1
    @Option(help: "Corpus directory (default .build/sprig/host/corpus/<name>).") var corpus: String?
    @Option(help: "Fuzz a mutant of the kernel instead (see --list-mutants).") var mutant: String?
    @Option(help: "libFuzzer's random seed (default: libFuzzer picks one).") var seed: UInt32?
    @Option(parsing: .unconditional, help: "Longest input in bytes.") var maxLen = 512
    @Flag(help: "Do not read the committed seed inputs in Fuzz/corpus.") var noSeeds = false
    @Flag(help: "Leave the refinement check out of the oracle.") var noRefinement = false
    @Option(help: "Decode and run one input (a reproducer) instead of fuzzing.") var replay: String?
    @Flag(help: "List the mutants and exit.") var listMutants = false
    @Option(help: "Instead of fuzzing, run the explorer (sprig check's search) to this depth on the --mutant's copy.")
    var exploreDepth: Int?

    func validate() throws {
        guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
        guard jobs >= 1 && jobs <= 64 else { throw ValidationError("--jobs must be between 1 and 64") }
        guard maxLen >= 16 else { throw ValidationError("--max-len must be at least 16") }
        if let mutant {
            do { _ = try Mutants.named(mutant) } catch let e as ToolError { throw ValidationError(e.description) }
        }
        if let replay { try checkInputFile(replay, option: "--replay") }
        if exploreDepth != nil && mutant == nil {
            throw ValidationError("--explore-depth needs --mutant (sprig check explores the checkout)")
        }
    }

    func run() throws {
        if listMutants {
            for m in Mutants.all { print("\(m.name) — \(m.summary) (\(m.file))") }
            return
        }
        if let exploreDepth, let mutant {
            let status = try HostBuild.checkMutant(mutant, arguments: ["--depth", "\(exploreDepth)"]) { say($0) }
            if status != 0 { throw ExitCode(status) }
            return
        }
        let builder = try HostBuild(project: try Project.current())
        builder.progress = { say("  " + $0) }
        let m = try mutant.map(Mutants.named)
        let name = "fuzz" + (m.map { "-" + $0.name } ?? "")
        say("sprig: building the fuzz target\(m.map { " on mutant \($0.name): \($0.summary)" } ?? "")")
        let products = try builder.buildFuzzer(mutant: m)
        if !products.refinement { say("sprig: no RefinementChecker in Sources/SprigModel/Spec: the oracle is the properties, refusals and hygiene") }

        if let replay {
            say(try builder.replay(products, URL(fileURLWithPath: replay), refinement: !noRefinement, trace: true))
            return
        }
        var o = FuzzOptions()
        o.seconds = seconds; o.jobs = jobs; o.seed = seed; o.maxLength = maxLen
        o.corpus = corpus.map { URL(fileURLWithPath: $0) }
        o.useSeeds = !noSeeds; o.refinement = !noRefinement
        o.echo = { say($0) }
        say("sprig: fuzzing \(products.executable.path) for \(seconds) s\(jobs > 1 ? " with \(jobs) processes" : "")")
        let result = try builder.fuzz(products, name: name, options: o)
        say("sprig fuzz: \(result.summary)")
        if let reproducer = result.reproducer {
            say("sprig fuzz: VIOLATION — reproducer \(reproducer.path)")
            say(result.report ?? "")
            say("sprig fuzz: replay with: sprig fuzz\(m.map { " --mutant \($0.name)" } ?? "") --replay \(reproducer.path)")
            throw ExitCode(1)
        }
        guard result.status == 0 else {
            say("sprig fuzz: libFuzzer exited with status \(result.status)")
            throw ExitCode(result.status)
        }
        say("sprig fuzz: no violation")
    }
}
