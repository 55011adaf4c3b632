/// `sprig mutate`: generated mutants of SprigCore and the score of the model's checks on them
/// (docs/mutate.md). The engine is `SprigTool.MutationRun`; this file parses options and prints.
import ArgumentParser
import Foundation
import SprigTool

struct Mutate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate mutants of the kernel's logic (SprigCore) and report which the model's checks catch.",
        discussion: """
            The generator (tools/mutate, swift-syntax) writes every mutant of Sources/SprigCore into one \
            copy of it in .build/sprig/mutate (mutant schemata: the mutant is chosen at run time by \
            SPRIG_MUTANT), compiled once with the model and the explorer; the checkout is never edited. \
            Operators: a guard removed, a condition negated, an if skipped, a comparison flipped or moved \
            by one, && and || swapped, a refusal returned as success, a store or call dropped, an integer \
            constant moved by one. Each mutant then runs through the stages (random walks and the \
            exhaustive search, every check on) until one catches it: a violation, a crash or a hang.

            Prints a table by operator and by file, each survivor with its diff, and the score; --json \
            prints the whole report instead. The report is also written to .build/sprig/mutate/report.json, \
            and each outcome as it is decided to .build/sprig/mutate/outcomes.jsonl. \
            The score is caught / (run - equivalent): the registered equivalent mutants \
            (tools/mutate/equivalent.json, by fingerprint) still run; one that survives is left out of the \
            score, one that is caught is a registry error, and an entry no mutant matches is stale (a warning). \
            Exit status: 0 when the score reaches --target and the registry has no error, 1 otherwise, 64 on a bad option.
            """)

    @Option(parsing: .unconditional, help: "Run every k-th mutant only (ids 1, 1+k, ...): a bounded, deterministic sample.") var every = 1
    @Option(parsing: .unconditional, help: "With --every k: start at id 1+offset (0 <= offset < k), a sample disjoint from the others.") var offset = 0
    @Option(help: "Run only these mutants: ids or fingerprints, comma-separated (e.g. 12,40,3fa9c01b22de).") var ids: String?
    @Flag(help: "Run only the mutants registered as equivalent (tools/mutate/equivalent.json): checks the registry.") var registered = false
    @Option(help: "Run only mutants of files whose path contains this (e.g. Yield.swift).") var file: String?
    @Option(parsing: .unconditional, help: "Mutant processes run at once.") var jobs = 2
    @Option(parsing: .unconditional, help: "CPU-time limit of one stage in seconds; a stage past it counts as a hang (caught).") var stageTimeout = 30.0
    @Option(parsing: .unconditional, help: ArgumentHelp("The oracle's stages, ';'-separated sprig check argument lists, cheapest first (default: '"
        + MutateOptions.defaultStages.map { $0.joined(separator: " ") }.joined(separator: "; ") + "')."))
    var stages: String?
    @Option(parsing: .unconditional, help: "Score (percent) below which the exit status is 1.") var target = 95.0
    @Flag(help: "Print the report as JSON on standard output.") var json = false
    @Flag(help: "List the generated mutants with their diffs and exit (nothing is run).") var list = false

    func validate() throws {
        guard every >= 1 else { throw ValidationError("--every must be at least 1 (got \(every))") }
        guard (0..<every).contains(offset) else { throw ValidationError("--offset must be between 0 and --every minus 1 (got \(offset))") }
        guard (1...64).contains(jobs) else { throw ValidationError("--jobs must be between 1 and 64 (got \(jobs))") }
        guard stageTimeout > 0 else { throw ValidationError("--stage-timeout must be positive (got \(stageTimeout))") }
        if let ids, ids.split(separator: ",").contains(where: { Self.selector($0) == nil }) {
            throw ValidationError("--ids takes comma-separated ids or 12-digit fingerprints, e.g. --ids 12,40,3fa9c01b22de (got \(ids))")
        }
        if let stages, parsedStages(stages).isEmpty { throw ValidationError("--stages has no stage (e.g. --stages '--depth 1; --depth 2')") }
    }

    /// An id (a number) or a fingerprint (12 hex digits).
    static func selector(_ text: Substring) -> Either? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t.count == 12, t.allSatisfy(\.isHexDigit) { return .fingerprint(t) }
        return Int(t).map { .id($0) }
    }

    enum Either { case id(Int), fingerprint(String) }

    func parsedStages(_ text: String) -> [[String]] {
        text.split(separator: ";").map { $0.split(separator: " ").map(String.init) }.filter { !$0.isEmpty }
    }

    func run() throws {
        let project = try Project.current()
        let log: @Sendable (String) -> Void = { line in FileHandle.standardError.write(Data((line + "\n").utf8)) }
        let registry = try MutationRun.loadRegistry(MutationRun.registryFile(project))
        // Where the outcomes and the report go, made writable before minutes of building: each
        // outcome is appended as it is decided, the report written at the end.
        let work = MutationRun.directory(project)
        let jsonl = work.appendingPathComponent("outcomes.jsonl"), reportFile = work.appendingPathComponent("report.json")
        func cannotWrite(_ file: URL) -> ToolError {
            ToolError("cannot write \(file.path): make \(work.path) writable (or remove it) and run again")
        }
        var sink: FileHandle?
        if !list {
            try? FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            for file in [jsonl, reportFile] {
                guard FileManager.default.createFile(atPath: file.path, contents: nil) else { throw cannotWrite(file) }
            }
            guard let handle = try? FileHandle(forWritingTo: jsonl) else { throw cannotWrite(jsonl) }
            sink = handle
        }
        let prepared = try MutationRun.prepare(project: project, progress: log)
        if list {
            for m in prepared.mutants {
                print(m.title)
                for d in m.diff { print("    " + d) }
            }
            return
        }
        var options = MutateOptions()
        options.every = every
        options.offset = offset
        for s in (ids ?? "").split(separator: ",").compactMap(Self.selector) {
            switch s {
            case .id(let n): options.ids.insert(n)
            case .fingerprint(let f): options.fingerprints.insert(f)
            }
        }
        if registered {
            guard !registry.isEmpty else { throw ToolError("--registered: tools/mutate/equivalent.json registers no mutant; drop --registered") }
            options.fingerprints.formUnion(registry.map(\.fingerprint))
        }
        options.file = file
        options.jobs = jobs
        options.stageTimeout = stageTimeout
        if let stages { options.stages = parsedStages(stages) }
        options.progress = log
        log("sprig mutate: the unmutated kernel through the \(options.stages.count) stages first (a stage it fails would catch every mutant)")
        try MutationRun.checkBaseline(checker: prepared.checker, options: options)
        guard let sink else { throw cannotWrite(jsonl) }
        options.outcome = { o in
            if let line = try? JSONEncoder().encode(o) { sink.write(line + Data("\n".utf8)) }
        }
        let selected = prepared.mutants.filter(options.selects).count
        log("sprig mutate: running \(selected) mutants, \(jobs) at a time; stages: \(options.stages.map { $0.joined(separator: " ") }.joined(separator: " | "))")
        let report = MutationRun.runAll(checker: prepared.checker, mutants: prepared.mutants, uncompilable: prepared.uncompilable,
                                        options: options, registry: registry)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(report)
        guard (try? data.write(to: reportFile)) != nil else { throw cannotWrite(reportFile) }
        if json {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        } else {
            print(report.text)
            print("report: \(reportFile.path)")
        }
        // With nothing scored (every mutant run is a registered survivor) only the registry decides.
        let scored = report.outcomes.count - report.equivalent.count
        if scored > 0 && report.score * 100 < target || !report.registryErrors.isEmpty { throw ExitCode(1) }
    }
}
