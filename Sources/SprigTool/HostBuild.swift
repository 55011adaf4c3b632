/// Host builds of the model outside SwiftPM: the libFuzzer target (`sprig fuzz`) and the
/// explorer on a mutant (`sprig check --mutant`), from the checkout's sources or from a mutated
/// copy of them.
///
/// SwiftPM cannot build one package target with `-sanitize=fuzzer` (libFuzzer brings its own
/// `main`), nor compile a mutated copy of SprigCore, so this drives swiftc directly, one module
/// at a time, into `.build/sprig/host/<name>/`:
///
///     SprigABI, SprigCore   -O -wmo -sanitize=fuzzer  (the kernel: coverage-instrumented)
///     SprigModel            -O -wmo                   (model platform, properties, spec, explorer:
///                                                      the oracle, not instrumented, so it runs
///                                                      about 4x faster and adds no noise to coverage)
///     SprigFuzz (Fuzz/Harness)  -sanitize=fuzzer [-D SPRIG_REFINEMENT], linked with libFuzzer
///
/// SprigCore's generic functions are not inlinable, so the kernel code the model runs is
/// SprigCore's own (instrumented) code, whatever module calls it. The checker build has no
/// sanitizer: SprigABI, SprigCore, SprigModel and Fuzz/Check/main.swift.
///
/// Incremental: each module records a digest of its command line and of the contents of every
/// source it depends on (after the mutant's edit) next to its outputs, and is skipped when the
/// digest is unchanged. A mutant build stages the sources in a temporary directory, applies the
/// edit there (`Mutant.apply`, which fails loudly unless the snippet occurs exactly once) and
/// removes the copy afterwards; the checkout is never edited.
import Foundation

/// What a host build produced.
public struct HostProducts: Sendable {
    /// The build directory (.build/sprig/host/<name>/).
    public let directory: URL
    /// The executable.
    public let executable: URL
    /// Whether the refinement check is compiled in (Sources/SprigModel/Spec has it).
    public let refinement: Bool
}

/// See the file overview.
public final class HostBuild {
    /// The checkout whose sources are built.
    public let project: Project
    /// Where swiftc is.
    public let toolchain: Toolchain
    /// Called with one line per module actually compiled.
    public var progress: (String) -> Void = { _ in }

    /// A host builder for `project`.
    public init(project: Project) throws {
        self.project = project
        toolchain = try Toolchain.find()
    }

    /// Where host builds go.
    public var hostDirectory: URL { project.buildDirectory.appendingPathComponent("host") }

    /// The kind of executable.
    enum Product {
        case fuzzer, checker

        var directoryStem: String { self == .fuzzer ? "fuzz" : "check" }
    }

    /// Builds the libFuzzer target, from the checkout or from `mutant`'s copy.
    public func buildFuzzer(mutant: Mutant? = nil) throws -> HostProducts {
        try build(.fuzzer, mutant: mutant)
    }

    /// Builds the explorer's command-line driver (Fuzz/Check/main.swift over `Explorer`), from
    /// the checkout or from `mutant`'s copy.
    public func buildChecker(mutant: Mutant? = nil) throws -> HostProducts {
        try build(.checker, mutant: mutant)
    }

    /// Builds the explorer's driver over a generated copy of SprigCore (`core`: the mutant
    /// schemata of `sprig mutate`) into `directory`.
    public func buildChecker(core: URL, directory: URL) throws -> HostProducts {
        try build(.checker, mutant: nil, core: core, directory: directory)
    }

    /// `sprig check --mutant NAME [arguments]`: builds the explorer on the mutant's copy of the
    /// sources and runs it with `arguments` — `sprig check`'s own options (`--depth N`,
    /// `--random STEPS`, `--seed S`, `--pages P`, `--partitions N`, `--vidt-slots N`, `--start S`,
    /// `--max-states N`); a `--mutant NAME` among them is dropped — its output on this terminal.
    /// - Returns: the explorer's exit status (0: no violation, 1: a counterexample).
    public static func checkMutant(_ name: String, arguments: [String] = [],
                                   progress: @escaping (String) -> Void = { print($0) }) throws -> Int32 {
        let mutant = try Mutants.named(name)
        let builder = try HostBuild(project: try Project.current())
        builder.progress = progress
        let products = try builder.buildChecker(mutant: mutant)
        progress("sprig: exploring mutant \(name) (\(mutant.summary))")
        var passed: [String] = []
        var rest = arguments[...]
        while let a = rest.popFirst() {
            if a == "--mutant" { _ = rest.popFirst() } else if !a.hasPrefix("--mutant=") { passed.append(a) }
        }
        let p = Process()
        p.executableURL = products.executable
        p.arguments = passed
        try p.run()
        p.waitUntilExit()
        return p.terminationStatus
    }

    // MARK: Building

    private func build(_ product: Product, mutant: Mutant?, core: URL? = nil, directory: URL? = nil) throws -> HostProducts {
        let dir = directory ?? hostDirectory.appendingPathComponent(product.directoryStem + (mutant.map { "-" + $0.name } ?? ""))
        let fm = FileManager.default
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        var sourceRoot = project.root
        var staged: URL?
        if let mutant {
            let tmp = fm.temporaryDirectory.appendingPathComponent("sprig-mutant-\(product.directoryStem)-\(mutant.name)-\(ProcessInfo.processInfo.processIdentifier)")
            try? fm.removeItem(at: tmp)
            try stage(into: tmp)
            for edit in mutant.edits {
                let file = tmp.appendingPathComponent(edit.file)
                let text = try String(contentsOf: file, encoding: .utf8)
                try edit.apply(to: text).write(to: file, atomically: true, encoding: .utf8)
            }
            sourceRoot = tmp
            staged = tmp
        }
        defer { if let staged { try? fm.removeItem(at: staged) } }

        func swiftFiles(_ relative: String) throws -> [URL] {
            let base = sourceRoot.appendingPathComponent(relative)
            guard let e = fm.enumerator(at: base, includingPropertiesForKeys: nil) else {
                throw ToolError("no directory \(base.path)")
            }
            return e.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }
                .sorted { $0.path < $1.path }
        }
        let abi = try swiftFiles("Sources/SprigABI")
        // A generated copy keeps SprigCore's folders (Arch/X86_64): every Swift file below it.
        let core = try core.map { dir in
            guard let e = fm.enumerator(at: dir, includingPropertiesForKeys: nil) else { throw ToolError("no directory \(dir.path)") }
            return e.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }.sorted { $0.path < $1.path }
        } ?? swiftFiles("Sources/SprigCore")
        let model = try swiftFiles("Sources/SprigModel")
        let refinement = model.contains { $0.lastPathComponent == "RefinementChecker.swift" }
        let fuzzerFlags = product == .fuzzer ? ["-sanitize=fuzzer"] : []
        let label = mutant.map { " [mutant \($0.name)]" } ?? ""

        try module("SprigABI", abi, flags: fuzzerFlags, dependsOn: [], dir: dir, label: label)
        try module("SprigCore", core, flags: fuzzerFlags, dependsOn: abi, dir: dir, label: label)
        try module("SprigModel", model, flags: [], dependsOn: abi + core, dir: dir, label: label)
        let objects = ["SprigABI", "SprigCore", "SprigModel"].map { dir.appendingPathComponent($0 + ".o") }
        let executable: URL
        switch product {
        case .fuzzer:
            let harness = try swiftFiles("Fuzz/Harness")
            try module("SprigFuzz", harness, flags: fuzzerFlags + (refinement ? ["-D", "SPRIG_REFINEMENT"] : []),
                       dependsOn: abi + core + model, dir: dir, label: label, emitModule: false)
            executable = dir.appendingPathComponent("sprig-fuzz")
            try link(objects + [dir.appendingPathComponent("SprigFuzz.o")], flags: fuzzerFlags, to: executable,
                     label: label)
        case .checker:
            let main = try swiftFiles("Fuzz/Check")
            try module("SprigCheck", main, flags: [], dependsOn: abi + core + model, dir: dir, label: label,
                       emitModule: false, library: false)
            executable = dir.appendingPathComponent("sprig-check")
            try link(objects + [dir.appendingPathComponent("SprigCheck.o")], flags: [], to: executable, label: label)
        }
        return HostProducts(directory: dir, executable: executable, refinement: refinement)
    }

    /// The directories whose Swift files a host build compiles (the fuzzer or the checker).
    public static let sourceDirectories = ["Sources/SprigABI", "Sources/SprigCore", "Sources/SprigModel", "Fuzz/Harness", "Fuzz/Check"]

    /// Copies what a host build compiles (`sourceDirectories`) to `tmp`.
    private func stage(into tmp: URL) throws {
        let fm = FileManager.default
        for relative in HostBuild.sourceDirectories {
            let from = project.root.appendingPathComponent(relative)
            guard fm.fileExists(atPath: from.path) else { continue }
            let to = tmp.appendingPathComponent(relative)
            try fm.createDirectory(at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.copyItem(at: from, to: to)
        }
    }

    /// Compiles one module (whole-module, -O) to `<name>.o` (and `<name>.swiftmodule`) in `dir`,
    /// unless the digest of its command and of its and its dependencies' sources is unchanged.
    private func module(_ name: String, _ sources: [URL], flags: [String], dependsOn: [URL], dir: URL,
                        label: String, emitModule: Bool = true, library: Bool = true) throws {
        let object = dir.appendingPathComponent(name + ".o")
        var args = ["-O", "-wmo", "-module-name", name, "-I", dir.path] + Builder.packageFlags + flags
        if library { args.append("-parse-as-library") }
        if emitModule { args += ["-emit-module", "-emit-module-path", dir.appendingPathComponent(name + ".swiftmodule").path] }
        // The digest covers contents, not paths: a mutant's temporary copy of unchanged files
        // does not rebuild them.
        let shownArgs = args
        args += sources.map(\.path) + ["-c", "-o", object.path]
        let digest = try Self.digest(command: ["swiftc"] + shownArgs + sources.map(\.lastPathComponent),
                                     files: dependsOn + sources)
        let stamp = dir.appendingPathComponent(name + ".digest")
        if FileManager.default.fileExists(atPath: object.path),
           (try? String(contentsOf: stamp, encoding: .utf8)) == digest {
            return
        }
        progress("swiftc  \(name) (host\(flags.contains("-sanitize=fuzzer") ? ", fuzzer coverage" : ""))\(label)")
        try? FileManager.default.removeItem(at: stamp)
        try run(toolchain.tool("swiftc"), args)
        try digest.write(to: stamp, atomically: true, encoding: .utf8)
    }

    private func link(_ objects: [URL], flags: [String], to executable: URL, label: String) throws {
        let args = flags + objects.map(\.path) + ["-o", executable.path]
        let digest = try Self.digest(command: ["swiftc"] + flags, files: objects)
        let stamp = executable.appendingPathExtension("digest")
        if FileManager.default.fileExists(atPath: executable.path),
           (try? String(contentsOf: stamp, encoding: .utf8)) == digest {
            return
        }
        progress("link    \(executable.lastPathComponent)\(label)")
        try? FileManager.default.removeItem(at: stamp)
        try run(toolchain.tool("swiftc"), args)
        try digest.write(to: stamp, atomically: true, encoding: .utf8)
    }

    /// FNV-1a over the command and every file's name and contents, as 16 hex digits.
    static func digest(command: [String], files: [URL]) throws -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
            for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        }
        mix(command.joined(separator: "\u{0}").utf8)
        for f in files {
            mix(f.lastPathComponent.utf8)
            mix(try Data(contentsOf: f))
        }
        return String(h, radix: 16)
    }
}

// MARK: Running libFuzzer

/// How `HostBuild.fuzz` runs libFuzzer.
public struct FuzzOptions: Sendable {
    /// Wall-clock bound (libFuzzer's -max_total_time).
    public var seconds = 60
    /// Bound on the inputs run (libFuzzer's -runs), nil: none. A run bounded by inputs, not by
    /// time, does the same work however loaded the host is (with a seed, the same inputs).
    public var runs: Int?
    /// Parallel fuzzing processes (libFuzzer's -fork); 1 runs in-process.
    public var jobs = 1
    /// Where new inputs go; nil: .build/sprig/host/corpus/<build name>/ (out of git).
    public var corpus: URL?
    /// Also read the committed seed inputs in Fuzz/corpus (read-only).
    public var useSeeds = true
    /// libFuzzer's random seed; nil: libFuzzer picks one.
    public var seed: UInt32?
    /// Longest input in bytes.
    public var maxLength = 512
    /// Check refinement (when compiled in); off with SPRIG_FUZZ_REFINEMENT=0.
    public var refinement = true
    /// Called with each line worth showing (libFuzzer's progress, the crash report).
    public var echo: @Sendable (String) -> Void = { _ in }

    /// The defaults: 60 s, one process, the default corpus and the seeds.
    public init() {}
}

/// What a fuzzing run did.
public struct FuzzResult: Sendable {
    /// Inputs run.
    public var executions = 0
    /// Executions per second, libFuzzer's average.
    public var executionsPerSecond = 0
    /// Coverage: edges reached ("cov").
    public var coverage = 0
    /// Features reached ("ft": edges with hit counts and more).
    public var features = 0
    /// Inputs in the corpus at the end.
    public var corpusSize = 0
    /// Wall time in seconds.
    public var elapsed = 0.0
    /// The reproducer libFuzzer wrote, when an input crashed (a violation, or a crash of the
    /// harness itself).
    public var reproducer: URL?
    /// The oracle's report for the reproducer: the violations and the decoded call sequence.
    public var report: String?
    /// libFuzzer's exit status.
    public var status: Int32 = 0

    /// True when no input crashed.
    public var clean: Bool { reproducer == nil && status == 0 }

    /// One line: executions, rate, coverage, corpus, time.
    public var summary: String {
        "\(executions) executions in \(String(format: "%.1f", elapsed)) s (\(executionsPerSecond) exec/s), "
            + "coverage \(coverage) edges / \(features) features, corpus \(corpusSize) inputs"
    }
}

extension HostBuild {
    /// Runs the fuzzer `products` (from `buildFuzzer`) under `options`.
    /// - Returns: the run's numbers and, on a crash, the reproducer and the decoded sequence.
    public func fuzz(_ products: HostProducts, name: String, options: FuzzOptions) throws -> FuzzResult {
        let fm = FileManager.default
        let corpus = options.corpus ?? hostDirectory.appendingPathComponent("corpus/\(name)")
        let artifacts = hostDirectory.appendingPathComponent("artifacts/\(name)")
        for d in [corpus, artifacts] { try fm.createDirectory(at: d, withIntermediateDirectories: true) }
        var args = [corpus.path]
        let seeds = project.path("Fuzz/corpus")
        if options.useSeeds, fm.fileExists(atPath: seeds.path) { args.append(seeds.path) }
        args += ["-max_total_time=\(options.seconds)", "-max_len=\(options.maxLength)", "-timeout=10",
                 "-print_final_stats=1", "-artifact_prefix=\(artifacts.path)/"]
        if let seed = options.seed { args.append("-seed=\(seed)") }
        if let runs = options.runs { args.append("-runs=\(runs)") }
        if options.jobs > 1 { args.append("-fork=\(options.jobs)") }

        let p = Process()
        p.executableURL = products.executable
        p.arguments = args
        p.currentDirectoryURL = products.directory
        p.environment = Self.fuzzEnvironment(refinement: options.refinement)
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        let clock = ContinuousClock()
        let started = clock.now
        try p.run()
        var result = FuzzResult()
        var pending = Data()
        func consume(_ line: String) {
            result.absorb(line)
            if Self.worthShowing(line) { options.echo(line) }
        }
        while true {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let nl = pending.firstIndex(of: UInt8(ascii: "\n")) {
                consume(String(decoding: pending[pending.startIndex..<nl], as: UTF8.self))
                pending.removeSubrange(pending.startIndex...nl)
            }
        }
        if !pending.isEmpty { consume(String(decoding: pending, as: UTF8.self)) }
        p.waitUntilExit()
        let d = clock.now - started
        result.elapsed = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        result.status = p.terminationStatus
        if let reproducer = result.reproducer {
            result.report = try replay(products, reproducer, refinement: options.refinement)
        }
        return result
    }

    /// Runs one input (a reproducer) through the fuzzer binary.
    /// - Parameter trace: also show every decoded step and its outcome as it ran.
    /// - Returns: the oracle's report ("SPRIG FUZZ VIOLATION", the violations and the decoded call
    ///   sequence), "no violation" when the input runs clean, or the run's whole output when the
    ///   harness itself crashed.
    public func replay(_ products: HostProducts, _ input: URL, refinement: Bool = true, trace: Bool = false) throws -> String {
        let p = Process()
        p.executableURL = products.executable
        p.arguments = [input.path]
        var env = Self.fuzzEnvironment(refinement: refinement)
        if trace { env["SPRIG_FUZZ_TRACE"] = "1" }
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let steps = trace ? lines.filter { $0.hasPrefix("     ") || ($0.first?.isNumber ?? false) } : []
        guard let start = lines.firstIndex(where: { $0.contains("SPRIG FUZZ VIOLATION") }) else {
            guard p.terminationStatus == 0 else { return out }
            return (steps + ["no violation"]).joined(separator: "\n")
        }
        var report = ["SPRIG FUZZ VIOLATION"]
        for line in lines[(start + 1)...] {
            if trace && line == "decoded call sequence:" { break }
            if line.hasPrefix("==") || line.hasPrefix("*** ") || line.hasPrefix("NOTE:") { break }
            report.append(line)
        }
        return (steps + report).joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// libFuzzer must see the crash: Swift's own backtracer would otherwise take the signal.
    static func fuzzEnvironment(refinement: Bool) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        env["SPRIG_FUZZ_REFINEMENT"] = refinement ? "1" : "0"
        env["SPRIG_FUZZ_TRACE"] = "0"
        return env
    }

    /// libFuzzer's lines minus the flood: every new input ("NEW", "REDUCE") and the
    /// recommended dictionary.
    static func worthShowing(_ line: String) -> Bool {
        !(line.contains("\tNEW ") || line.hasPrefix("    #") || line.contains("\tREDUCE ") || line.contains("NEW_FUNC") || line.hasPrefix("\"")
          || line.hasPrefix("###### "))
    }
}

extension FuzzResult {
    /// Takes what it can from one line of libFuzzer's output.
    mutating func absorb(_ line: String) {
        func number(after key: String) -> Int? {
            guard let r = line.range(of: key) else { return nil }
            let digits = line[r.upperBound...].drop { $0 == " " || $0 == "\t" }.prefix { $0.isNumber }
            return Int(digits)
        }
        if line.hasPrefix("#"), let cov = number(after: "cov: ") {
            coverage = cov
            features = number(after: "ft: ") ?? features
            corpusSize = number(after: "corp: ") ?? corpusSize
            executionsPerSecond = number(after: "exec/s: ") ?? executionsPerSecond
            executions = Int(line.dropFirst().prefix { $0.isNumber }) ?? executions
        }
        if let n = number(after: "stat::number_of_executed_units:") { executions = n }
        if let n = number(after: "stat::average_exec_per_sec:") { executionsPerSecond = n }
        if let r = line.range(of: "Test unit written to ") {
            reproducer = URL(fileURLWithPath: String(line[r.upperBound...]).trimmingCharacters(in: .whitespaces))
        }
    }
}
