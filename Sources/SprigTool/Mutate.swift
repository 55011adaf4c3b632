/// `sprig mutate`: generated mutants of the kernel's logic and the score of the checks on them
/// (docs/mutate.md).
///
/// 1. The generator (tools/mutate, a package of its own over swift-syntax) reads
///    Sources/SprigCore and writes its mutant schemata into .build/sprig/mutate/: one copy of the
///    sources with every mutant compiled in behind `__sprigMutant(id)`, and mutants.json.
/// 2. `HostBuild` compiles that copy with SprigABI, SprigModel and the explorer's driver
///    (Fuzz/Check/main.swift) once. Mutants the compiler rejects are left out and the copy is
///    generated again (their ids are kept out of the score: they are not programs).
/// 3. Each mutant runs as its own process with SPRIG_MUTANT=id through the oracle's stages, in
///    order, until one catches it: each stage is a `sprig-check` command line (random walks and
///    the exhaustive search over the same menu `sprig check` uses; every check on). Exit status 1
///    (a violation), a crash (a trap in the kernel's logic or in the model) or a stage running
///    past its time limit (the mutant hangs) kill it; a mutant that passes every stage survives.
///
/// 4. The registry of equivalent mutants (tools/mutate/equivalent.json) names mutants by
///    fingerprint, each with why no execution the specification constrains tells it from the
///    kernel. Registered mutants still run: one that is caught is a registry error, and the
///    score leaves out only the registered mutants that survive.
///
/// The checkout's sources are never edited; everything generated stays in .build.
import Foundation

/// One generated mutant, as mutants.json has it.
public struct GeneratedMutant: Codable, Sendable {
    public var id: Int
    /// Stable across edits elsewhere in SprigCore (the generator's overview says what it hashes);
    /// the id is not.
    public var fingerprint: String
    public var file: String
    /// The enclosing declarations, e.g. `ConfigList.remove(_:from:)`.
    public var function: String
    public var line: Int
    public var `operator`: String
    public var original: [String]
    public var mutated: [String]

    public init(id: Int, fingerprint: String = "", file: String, function: String = "", line: Int, operator op: String,
                original: [String], mutated: [String]) {
        self.id = id; self.fingerprint = fingerprint; self.file = file; self.function = function; self.line = line
        self.operator = op; self.original = original; self.mutated = mutated
    }

    /// `#id fingerprint operator file:line function`.
    public var title: String {
        "#\(id) \(fingerprint) \(self.operator) \(file.replacingOccurrences(of: "Sources/SprigCore/", with: "")):\(line) \(function)"
    }

    /// The change as diff lines.
    public var diff: [String] {
        original.map { "- " + $0.trimmingCharacters(in: .whitespaces) }
            + mutated.map { "+ " + $0.trimmingCharacters(in: .whitespaces) }
    }
}

/// What became of one mutant.
public struct MutantOutcome: Codable, Sendable {
    public enum Verdict: String, Codable, Sendable {
        /// A check found a violation.
        case killed
        /// The kernel's logic or the model trapped: the mutant cannot run.
        case crashed
        /// A stage ran past its time limit.
        case timedOut
        /// Every stage passed.
        case survived
    }
    public var mutant: GeneratedMutant
    public var verdict: Verdict
    /// The stage that caught it (its command line), nil for a survivor.
    public var stage: String?
    /// The first finding (a `!` line of the explorer), or how it crashed.
    public var reason: String?
    public var seconds: Double

    public init(mutant: GeneratedMutant, verdict: Verdict, stage: String?, reason: String?, seconds: Double) {
        self.mutant = mutant; self.verdict = verdict; self.stage = stage; self.reason = reason; self.seconds = seconds
    }
}

/// A mutant registered as equivalent: no execution of the kernel the specification constrains
/// tells it from the original.
public struct EquivalentMutant: Codable, Sendable, Equatable {
    public var fingerprint: String
    /// Where and what, for the reader (`file function: the change`); the fingerprint decides.
    public var mutant: String
    public var reason: String

    public init(fingerprint: String, mutant: String, reason: String) {
        self.fingerprint = fingerprint; self.mutant = mutant; self.reason = reason
    }
}

/// The score of a run.
public struct MutationReport: Codable, Sendable {
    public var outcomes: [MutantOutcome]
    /// Mutants generated in all (before any sample), and left out because they do not compile.
    public var generated: Int
    public var uncompilable: [Int]
    public var stages: [String]
    public var seconds: Double
    /// The registry of equivalent mutants the run was scored with.
    public var registry: [EquivalentMutant]
    /// Registry entries whose fingerprint no generated mutant has (the code changed there).
    public var stale: [EquivalentMutant]

    public init(outcomes: [MutantOutcome], generated: Int, uncompilable: [Int], stages: [String], seconds: Double,
                registry: [EquivalentMutant] = [], generatedFingerprints: Set<String> = []) {
        self.outcomes = outcomes; self.generated = generated; self.uncompilable = uncompilable
        self.stages = stages; self.seconds = seconds; self.registry = registry
        self.stale = registry.filter { !generatedFingerprints.contains($0.fingerprint) }
    }

    func isRegistered(_ o: MutantOutcome) -> Bool { registry.contains { $0.fingerprint == o.mutant.fingerprint } }

    /// Caught: killed, crashed or timed out.
    public var caught: Int { outcomes.filter { $0.verdict != .survived }.count }
    /// Survivors the registry explains.
    public var equivalent: [MutantOutcome] { outcomes.filter { $0.verdict == .survived && isRegistered($0) } }
    /// Survivors it does not.
    public var survivors: [MutantOutcome] { outcomes.filter { $0.verdict == .survived && !isRegistered($0) } }
    /// Registered as equivalent, yet caught: the registry is wrong about them.
    public var registryErrors: [MutantOutcome] { outcomes.filter { $0.verdict != .survived && isRegistered($0) } }
    /// The mutation score: caught / (run − equivalent), equivalent being the registered mutants
    /// that survive (a registered mutant that is caught counts as caught).
    public var score: Double {
        let scored = outcomes.count - equivalent.count
        return scored == 0 ? 0 : Double(caught) / Double(scored)
    }
}

/// Options of `sprig mutate`.
public struct MutateOptions: Sendable {
    /// The oracle's stages, each a `sprig-check` argument list, cheapest first.
    public var stages: [[String]] = MutateOptions.defaultStages
    /// Run every k-th mutant only (1: all). Deterministic: ids 1+offset, 1+offset+k, ...
    public var every = 1
    /// Which of the k residues `every` runs (0..<every): samples with different offsets are
    /// disjoint, so several bounded runs together cover different mutants.
    public var offset = 0
    /// Run only these ids and fingerprints (both empty: all).
    public var ids: Set<Int> = []
    public var fingerprints: Set<String> = []
    /// Run only mutants of files whose path contains this.
    public var file: String?
    /// Parallel mutant processes.
    public var jobs = 2
    /// CPU-time limit of one stage, seconds (prlimit, so that a loaded machine does not turn a
    /// slow stage into a hang): a stage past it hangs, and the mutant is caught. A stage of the
    /// unmutated kernel takes at most a few CPU seconds.
    public var stageTimeout = 30.0
    /// Called with progress lines.
    public var progress: @Sendable (String) -> Void = { _ in }
    /// Called with each outcome as it is decided (`sprig mutate` appends them to
    /// outcomes.jsonl, so an interrupted run keeps what it found).
    public var outcome: @Sendable (MutantOutcome) -> Void = { _ in }

    /// The boot state, allocator and hardware constants against their independent description
    /// (`--boot`: the exploration starts after boot), a random walk, the exhaustive search to
    /// depth 1 from the `reclaim` scenario (three configuration pages, tables' edge entries) and
    /// the `faults` scenario (the fifth partition of a chain running), the `wrap` scenario's
    /// start (the caches at the generation's wrap; no step can keep its generation), the
    /// `addresses` scenario (pages at 512 MiB and at the VIDT address less 2^46, a page given
    /// further, bytes on the serial port, a warm yield cache) at depth 1, over yields and VIDT
    /// writes to depth 2 and in a walk of yields and table changes (which, unlike the exhaustive
    /// search, carries the cache generation from step to step), yields and events to depth 2
    /// from the `deliveries` scenario (root's double fault, a warm yield cache), depth 1 from the
    /// `ten-pages` scenario (a `prepare` of ten pages), then from the tree start:
    /// depth 1, yields and VIDT writes alone to depth 3 (the yield cache's three-step keys),
    /// another walk and the exhaustive search to depth 2.
    public static let defaultStages: [[String]] = [
        ["--boot"],
        ["--random", "300", "--seed", "1"],
        ["--scenario", "reclaim", "--depth", "1"],
        ["--scenario", "faults", "--depth", "1"],
        ["--scenario", "wrap", "--depth", "0"],
        ["--scenario", "addresses", "--depth", "1"],
        ["--scenario", "addresses", "--menu", "yields,vidt-writes", "--vidt-slots", "1", "--depth", "2"],
        ["--scenario", "addresses", "--menu", "yields,table-change", "--random", "300", "--seed", "1"],
        ["--scenario", "deliveries", "--menu", "yields,events", "--depth", "2"],
        ["--scenario", "ten-pages", "--depth", "1"],
        ["--depth", "1"],
        ["--menu", "yields,vidt-writes", "--vidt-slots", "1", "--depth", "3"],
        ["--random", "1500", "--seed", "2"],
        ["--depth", "2"],
    ]

    public init() {}

    /// Whether `mutant` is in the selection (ids, file, every and offset).
    public func selects(_ mutant: GeneratedMutant) -> Bool {
        (ids.isEmpty && fingerprints.isEmpty || ids.contains(mutant.id) || fingerprints.contains(mutant.fingerprint))
            && (file.map { mutant.file.contains($0) } ?? true)
            && (mutant.id - 1) % max(1, every) == offset % max(1, every)
    }
}

/// See the file overview.
public enum MutationRun {
    /// Where `sprig mutate` works.
    public static func directory(_ project: Project) -> URL { project.buildDirectory.appendingPathComponent("mutate") }

    /// The registry of equivalent mutants, checked in.
    public static func registryFile(_ project: Project) -> URL { project.path("tools/mutate/equivalent.json") }

    /// The registry at `url`: a JSON array of `EquivalentMutant`, each fingerprint once.
    public static func loadRegistry(_ url: URL) throws -> [EquivalentMutant] {
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        let entries: [EquivalentMutant]
        do {
            entries = try JSONDecoder().decode([EquivalentMutant].self, from: Data(contentsOf: url))
        } catch {
            throw ToolError("\(url.path): not a list of {fingerprint, mutant, reason} (\(error)); fix the JSON")
        }
        var seen: Set<String> = []
        for e in entries {
            guard !e.reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw ToolError("\(url.path): \(e.fingerprint) has no reason; say why it is equivalent")
            }
            guard seen.insert(e.fingerprint).inserted else {
                throw ToolError("\(url.path): \(e.fingerprint) is registered twice; keep one entry")
            }
        }
        return entries
    }

    /// Builds the generator, generates the schemata, compiles them (leaving out what does not
    /// compile) and returns the checker and the mutants.
    public static func prepare(project: Project, progress: @escaping (String) -> Void) throws
        -> (checker: URL, mutants: [GeneratedMutant], uncompilable: [Int])
    {
        let fm = FileManager.default
        let work = directory(project)
        try fm.createDirectory(at: work, withIntermediateDirectories: true)
        progress("sprig mutate: building the generator (tools/mutate, swift-syntax; a few minutes the first time)")
        let generator = try buildGenerator(project: project)
        let excludeFile = work.appendingPathComponent("uncompilable.txt")
        var uncompilable: [Int] = []
        try "".write(to: excludeFile, atomically: true, encoding: .utf8)
        let builder = try HostBuild(project: project)
        builder.progress = { progress("  " + $0) }
        for round in 1...4 {
            let line = try run(generator, [project.path("Sources/SprigCore").path, work.path, "--exclude", excludeFile.path])
            progress("sprig mutate: " + line.trimmingCharacters(in: .whitespacesAndNewlines))
            progress("sprig mutate: compiling the schemata with the model and the explorer (one build, about 3 minutes)")
            do {
                let products = try builder.buildChecker(core: work.appendingPathComponent("SprigCore"),
                                                        directory: work.appendingPathComponent("build"))
                let data = try Data(contentsOf: work.appendingPathComponent("mutants.json"))
                let mutants = try JSONDecoder().decode([GeneratedMutant].self, from: data)
                return (products.executable, mutants, uncompilable)
            } catch let e as ToolError {
                // Leave out every mutant named on a line the compiler rejected, then try again.
                let bad = rejectedMutants(e.description, sources: work.appendingPathComponent("SprigCore"))
                guard !bad.isEmpty, round < 4 else { throw e }
                progress("sprig mutate: \(bad.count) mutants do not compile; leaving them out")
                uncompilable += bad
                try uncompilable.map(String.init).joined(separator: "\n").write(to: excludeFile, atomically: true, encoding: .utf8)
            }
        }
        throw ToolError("sprig mutate: the schemata do not compile")
    }

    /// Builds the generator (a no-op when built) and returns it.
    public static func buildGenerator(project: Project) throws -> URL {
        let scratch = project.path(".build/mutagen")
        try run(Toolchain.find().tool("swift"), ["build", "--package-path", project.path("tools/mutate").path,
                                                 "--scratch-path", scratch.path])
        return scratch.appendingPathComponent("debug/sprig-mutagen")
    }

    /// The ids `__sprigMutant(N)` on each line of the generated sources the compiler's output
    /// names with an error.
    static func rejectedMutants(_ output: String, sources: URL) -> [Int] {
        var ids: Set<Int> = []
        for line in output.split(separator: "\n") where line.contains(": error:") {
            let parts = line.split(separator: ":", maxSplits: 3)
            guard parts.count >= 3, let n = Int(parts[1]),
                  let text = try? String(contentsOfFile: String(parts[0]), encoding: .utf8) else { continue }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard n >= 1, n <= lines.count else { continue }
            var rest = lines[n - 1][...]
            while let r = rest.range(of: "__sprigMutant(") {
                rest = rest[r.upperBound...]
                if let id = Int(rest.prefix { $0.isNumber }) { ids.insert(id) }
            }
        }
        return ids.sorted()
    }

    /// The kernel with no mutant chosen (id 0), through the same stages first: a stage that
    /// fails on it would "catch" every mutant, so the run stops instead of scoring.
    /// - Throws: `ToolError` naming the stage and what it found.
    public static func checkBaseline(checker: URL, options: MutateOptions) throws {
        let original = GeneratedMutant(id: 0, file: "", line: 0, operator: "none", original: [], mutated: [])
        let outcome = runOne(checker: checker, mutant: original, options: options)
        guard outcome.verdict == .survived else {
            throw ToolError("the unmutated kernel fails the stage '\(outcome.stage ?? "")' (\(outcome.verdict.rawValue): "
                            + "\(outcome.reason ?? "no reason given")); every mutant would count as caught. Fix the stage (--stages) or the kernel and run again")
        }
    }

    /// Runs `mutants` (after the options' selection) through the stages.
    /// `registry` scores it (registered mutants run too: see `MutationReport`).
    public static func runAll(checker: URL, mutants: [GeneratedMutant], uncompilable: [Int], options: MutateOptions,
                              registry: [EquivalentMutant] = []) -> MutationReport {
        let chosen = mutants.filter(options.selects)
        let clock = ContinuousClock()
        let started = clock.now
        let lock = NSLock()
        nonisolated(unsafe) var outcomes: [MutantOutcome] = []
        nonisolated(unsafe) var next = 0
        let group = DispatchGroup()
        for _ in 0..<max(1, options.jobs) {
            group.enter()
            Thread.detachNewThread {
                while true {
                    lock.lock()
                    let i = next
                    next += 1
                    lock.unlock()
                    guard i < chosen.count else { break }
                    let outcome = runOne(checker: checker, mutant: chosen[i], options: options)
                    lock.lock()
                    options.outcome(outcome)
                    outcomes.append(outcome)
                    let done = outcomes.count
                    lock.unlock()
                    if done % 25 == 0 || done == chosen.count {
                        let caught = outcomes.filter { $0.verdict != .survived }.count
                        options.progress("sprig mutate: \(done)/\(chosen.count) run, \(caught) caught, \(done - caught) survived")
                    }
                }
                group.leave()
            }
        }
        group.wait()
        let d = clock.now - started
        return MutationReport(outcomes: outcomes.sorted { $0.mutant.id < $1.mutant.id }, generated: mutants.count + uncompilable.count,
                              uncompilable: uncompilable, stages: options.stages.map { $0.joined(separator: " ") },
                              seconds: Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18,
                              registry: registry, generatedFingerprints: Set(mutants.map(\.fingerprint)))
    }

    /// One mutant through the stages.
    public static func runOne(checker: URL, mutant: GeneratedMutant, options: MutateOptions) -> MutantOutcome {
        let clock = ContinuousClock()
        let started = clock.now
        func elapsed() -> Double {
            let d = clock.now - started
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        for stage in options.stages {
            let (status, signaled, timedOut, output) = runChecker(checker, stage, mutant: mutant.id, timeout: options.stageTimeout)
            let command = stage.joined(separator: " ")
            if timedOut {
                return MutantOutcome(mutant: mutant, verdict: .timedOut, stage: command,
                                     reason: "still running after \(Int(options.stageTimeout)) CPU seconds", seconds: elapsed())
            }
            if signaled || status > 2 {
                let why = output.split(separator: "\n").first { $0.contains("Fatal error") || $0.contains("fatal error") }
                return MutantOutcome(mutant: mutant, verdict: .crashed, stage: command,
                                     reason: why.map(String.init) ?? "exit \(status)\(signaled ? " (signal)" : "")", seconds: elapsed())
            }
            if status == 1 {
                let finding = output.split(separator: "\n").first { $0.hasPrefix("  ! ") }
                return MutantOutcome(mutant: mutant, verdict: .killed, stage: command,
                                     reason: finding.map { String($0.dropFirst(4)) }, seconds: elapsed())
            }
            if status == 2 {
                return MutantOutcome(mutant: mutant, verdict: .crashed, stage: command,
                                     reason: "the checker refused its arguments: " + output, seconds: elapsed())
            }
        }
        return MutantOutcome(mutant: mutant, verdict: .survived, stage: nil, reason: nil, seconds: elapsed())
    }

    /// Runs the checker for mutant `id`; kills it after `timeout` seconds.
    static func runChecker(_ checker: URL, _ arguments: [String], mutant id: Int, timeout: Double)
        -> (status: Int32, signaled: Bool, timedOut: Bool, output: String)
    {
        let p = Process()
        let prlimit = URL(fileURLWithPath: "/usr/bin/prlimit")
        let limitCPU = FileManager.default.isExecutableFile(atPath: prlimit.path)
        if limitCPU {
            p.executableURL = prlimit
            p.arguments = ["--cpu=\(Int(timeout.rounded(.up)))", "--", checker.path] + arguments
        } else {
            p.executableURL = checker
            p.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        env["SPRIG_MUTANT"] = String(id)
        env["SWIFT_BACKTRACE"] = "enable=no"
        p.environment = env
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-mutant-\(id)-\(ProcessInfo.processInfo.processIdentifier).txt")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: out) }
        guard let handle = try? FileHandle(forWritingTo: out) else { return (3, false, false, "cannot write \(out.path)") }
        p.standardOutput = handle
        p.standardError = handle
        let done = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in done.signal() }
        do { try p.run() } catch { return (3, false, false, "cannot run the checker: \(error)") }
        // Wall-clock backstop: the CPU limit decides, unless the machine is starved for long.
        var timedOut = false
        if done.wait(timeout: .now() + (limitCPU ? max(600, 20 * timeout) : timeout)) == .timedOut {
            timedOut = true
            kill(p.processIdentifier, SIGKILL)
            done.wait()
        }
        try? handle.close()
        let output = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        let signaled = p.terminationReason == .uncaughtSignal
        // Past the CPU limit the kernel sends SIGXCPU, then SIGKILL.
        if signaled && limitCPU && (p.terminationStatus == SIGXCPU || p.terminationStatus == SIGKILL) { timedOut = true }
        return (p.terminationStatus, signaled, timedOut, output)
    }
}

extension MutationReport {
    /// The score, a table by operator and by file, and every survivor with its diff.
    public var text: String {
        var lines: [String] = []
        func pct(_ a: Int, _ b: Int) -> String { b == 0 ? "-" : String(format: "%.1f%%", 100 * Double(a) / Double(b)) }
        func table(_ title: String, _ key: (MutantOutcome) -> String) {
            lines.append("")
            lines.append("| \(title) | run | killed | crashed | timed out | survived | score |")
            lines.append("|---|---:|---:|---:|---:|---:|---:|")
            let groups = Dictionary(grouping: outcomes, by: key)
            for k in groups.keys.sorted() {
                let g = groups[k]!
                func n(_ v: MutantOutcome.Verdict) -> Int { g.filter { $0.verdict == v }.count }
                lines.append("| \(k) | \(g.count) | \(n(.killed)) | \(n(.crashed)) | \(n(.timedOut)) | \(n(.survived)) | \(pct(g.count - n(.survived), g.count)) |")
            }
        }
        table("operator") { $0.mutant.operator }
        table("file") { $0.mutant.file.replacingOccurrences(of: "Sources/SprigCore/", with: "") }
        let stageCounts = Dictionary(grouping: outcomes.compactMap(\.stage), by: { $0 }).mapValues(\.count)
        lines.append("")
        lines.append("caught by stage: " + stages.map { "\($0): \(stageCounts[$0] ?? 0)" }.joined(separator: ", "))
        func list(_ title: String, _ items: [MutantOutcome]) {
            guard !items.isEmpty else { return }
            lines.append("")
            lines.append(title)
            for s in items {
                lines.append("  " + s.mutant.title + (s.stage.map { "  [caught by \($0): \(s.reason ?? s.verdict.rawValue)]" } ?? ""))
                for d in s.mutant.diff { lines.append("      " + d) }
            }
        }
        list("survivors:", survivors)
        list("equivalent (registered in tools/mutate/equivalent.json, survived):", equivalent)
        list("registry errors (registered as equivalent, but caught: remove them from tools/mutate/equivalent.json):", registryErrors)
        lines.append("")
        for e in stale {
            lines.append("warning: stale registry entry \(e.fingerprint) (\(e.mutant)): no generated mutant has this fingerprint; "
                         + "re-register the mutant under its new fingerprint or remove the entry")
        }
        let scored = outcomes.count - equivalent.count
        lines.append("mutation score: \(caught)/\(scored) (\(pct(caught, scored))) = caught / (run - equivalent); "
                     + "\(outcomes.count) run: \(caught) caught, \(survivors.count) survived, \(equivalent.count) equivalent (registered), "
                     + "\(registryErrors.count) registry errors; \(generated) generated, \(uncompilable.count) left out as uncompilable; "
                     + "\(stale.count) stale registry entries; \(Int(seconds)) s")
        return lines.joined(separator: "\n")
    }
}
