/// `sprig check`: bounded exhaustive exploration of the kernel's logic in the model, or a long
/// random walk (docs/check.md). The engine is `SprigModel.Explorer`; this file only parses
/// options and prints.
import ArgumentParser
import Foundation
import SprigModel
import SprigTool

extension ExplorationStart: ExpressibleByArgument {}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Explore every step sequence up to --depth on the model machine; check the isolation properties, register hygiene and refusals after each step.",
        discussion: """
            A step is one move of the running partition: a system call of any service (yield and the \
            root-only services included), a CPU exception, a hardware interrupt, `int n`, or a ring-3 \
            write of a VIDT entry or a free list (through the MMU: an unwritable word is a page fault). \
            Arguments come from a domain computed from each state: fresh pages, given pages, structure \
            pages, kernel pages, other partitions' pages, misaligned, non-canonical, kernel-half and \
            unmapped addresses, the VIDT, 0, children's names, VIDT indices, flags 0/1 (docs/check.md). \
            Every kernel entry runs the same Kernel.trap the booted kernel runs.

            States are deduplicated by a 128-bit hash; the search is breadth first, so a violation is \
            reported with a shortest step sequence from the start. With --random STEPS the explorer \
            takes a seeded random walk instead (same --seed, same walk).

            Progress goes to standard error about once a second. Exit status: 0 when no violation was \
            found, 1 on a violation (the sequence is printed), 64 on a bad option.
            """)

    @Option(parsing: .unconditional, help: "Longest step sequence explored exhaustively (0-12).") var depth = 3
    @Option(parsing: .unconditional, help: "Physical pages of the model machine (64-4096; the tree start needs 140).") var pages = 160
    @Option(parsing: .unconditional, help: "Bound on live partitions, root included: no createPartition beyond it (1-16).") var partitions = 4
    @Option(parsing: .unconditional, help: "How many VIDT indices are in the domain, from 32, 257, 0, 255, 256, 258 (1-6).") var vidtSlots = 3
    @Option(help: "Start state: tree (root, a child, a grandchild, VIDT entries set), vidt-code (the tree, root having asked for code on the child's VIDT page) or boot (root alone).") var start = ExplorationStart.tree
    @Option(help: "Start from a generated tree instead of --start: the parents of partitions 1, 2, … in preorder (0 is root), e.g. 0,0,1 (root with two children, the first with a child); +config pre-fills the first child's configuration list to two pages (0,1+config).")
    var shape: String?
    @Option(parsing: .unconditional, help: "Explore from every generated start tree of up to N partitions (1-6), depth at most 3, each shape once up to the order of siblings, then the tree with a pre-filled configuration list; --depth from each.")
    var shapes: Int?
    @Option(help: "Which steps the menu offers: all, or a comma-separated list of \(StepGroup.allCases.map(\.rawValue).joined(separator: ", ")) (a focused menu goes deeper).")
    var menu = "all"
    @Option(parsing: .unconditional, help: "Stop the exhaustive search after this many distinct states.") var maxStates: Int?
    @Option(parsing: .unconditional, help: "Threads of the exhaustive search (1-64; default: the processors available); the states and the result are the same for every count.")
    var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(parsing: .unconditional, help: "Take a random walk of this many steps instead of the exhaustive search.") var random: Int?
    @Option(name: .customLong("seed"), parsing: .unconditional, help: "Seed of the random walk (with --random; default 1).") var seedOption: UInt64?
    var seed: UInt64 { seedOption ?? 1 }
    var seedGiven: Bool { seedOption != nil }
    @Flag(help: "Print the report as one JSON object on standard output.") var json = false
    @Flag(help: "Leave out the refinement check against the specification (the other checks still run).") var noRefinement = false
    @Option(help: "Start from the state this system's root builds: the system boots on the trace kernel, the model replays it until its first timer tick (its setup done), and the exploration starts there (see `sprig systems`; --pages and --start do not apply).")
    var system: String?
    @Option(parsing: .unconditional, help: "Memory of the machine --system boots, in MiB (8-128).") var memory = 16
    @Option(help: "Explore a deliberately broken copy of the kernel instead of the checkout (names: sprig fuzz --list-mutants); the other options apply to it, --json excepted.")
    var mutant: String?

    func validate() throws {
        if let system {
            try checkSystem(system)
            guard (8...128).contains(memory) else { throw ValidationError("--memory must be between 8 and 128 MiB (got \(memory))") }
            guard mutant == nil else { throw ValidationError("--system and --mutant cannot be combined: a mutant explores its own start states") }
        }
        guard (0...12).contains(depth) else { throw ValidationError("--depth must be between 0 and 12 (got \(depth))") }
        guard (64...4096).contains(pages) else { throw ValidationError("--pages must be between 64 and 4096 (got \(pages))") }
        if start != .boot && pages < 140 {
            throw ValidationError("--start \(start.rawValue) needs at least 140 pages (got \(pages)); use --start boot for a smaller machine")
        }
        guard (1...16).contains(partitions) else { throw ValidationError("--partitions must be between 1 and 16 (got \(partitions))") }
        guard (1...Domain.vidtIndexOrder.count).contains(vidtSlots) else {
            throw ValidationError("--vidt-slots must be between 1 and \(Domain.vidtIndexOrder.count) (got \(vidtSlots))")
        }
        if StepGroup.parse(menu).groups == nil {
            throw ValidationError("--menu: unknown group '\(StepGroup.parse(menu).unknown ?? menu)'; use all or a comma-separated list of \(StepGroup.allCases.map(\.rawValue).joined(separator: ","))")
        }
        if let shape, TreeShape(shape) == nil {
            throw ValidationError("--shape must list each partition's parent in preorder, e.g. 0,0,1 or 0,1+config (got \(shape))")
        }
        if let shapes, !(1...6).contains(shapes) { throw ValidationError("--shapes must be between 1 and 6 (got \(shapes))") }
        if shapes != nil && (shape != nil || random != nil || system != nil) {
            throw ValidationError("--shapes explores every generated tree exhaustively: leave out --shape, --random and --system")
        }
        guard (1...64).contains(threads) else { throw ValidationError("--threads must be between 1 and 64 (got \(threads))") }
        if let maxStates, maxStates < 1 { throw ValidationError("--max-states must be positive (got \(maxStates))") }
        if let random, random < 1 { throw ValidationError("--random must be a positive number of steps (got \(random))") }
        if random == nil && seedGiven { throw ValidationError("--seed applies to the random walk: give --random STEPS too (e.g. --random 100000 --seed \(seed))") }
        if mutant != nil && shapes != nil { throw ValidationError("--shapes is not available with --mutant; give one tree with --shape") }
        if mutant != nil && json { throw ValidationError("--json is not available with --mutant (the mutant's explorer prints its own report)") }
    }

    func run() throws {
        if let mutant {
            // The mutant's copy of the kernel is compiled with Fuzz/Check/main.swift, which takes
            // this command's options; exit status 1 means the explorer caught the mutant.
            let status = try HostBuild.checkMutant(mutant, arguments: Array(CommandLine.arguments.dropFirst(2)), progress: note)
            if status != 0 { throw ExitCode(status) }
            return
        }
        var c = Explorer.Configuration()
        c.start = start
        c.pages = pages
        c.depth = depth
        c.maxStates = maxStates
        c.threads = threads
        c.oracle.refinement = !noRefinement
        c.domain = DomainConfiguration(vidtSlots: vidtSlots, maxPartitions: partitions, menu: StepGroup.parse(menu).groups ?? [])
        var startLine = "start \(start.rawValue) (\(start.summary)); \(pages) pages"
        if let shape, let s = TreeShape(shape) {
            c.shape = s
            c.domain.maxPartitions = max(partitions, s.partitions)
            startLine = "start tree \(s) (\(s.partitions) partitions, built through the services); \(s.fillConfiguration ? TreeShape.pagesFilled : TreeShape.pages) pages"
        }
        if let shapes {
            try runShapes(TreeShape.generated(maxPartitions: shapes), c)
            return
        }
        if let system {
            note("sprig check: booting \(system) on the trace kernel (\(memory) MiB) and replaying it until its setup is done")
            let s = try SystemCheck.start(system: system, project: try Project.current(), memoryMiB: memory) { note("  \($0)") }
            c.startSystem = s.make
            c.pages = s.pages
            // Room for the domain's own children beside the system's partitions.
            c.domain = DomainConfiguration(vidtSlots: vidtSlots, maxPartitions: s.partitions + partitions - 1)
            startLine = "start: \(system) as its root built it (\(s.partitions) partitions after \(s.events) kernel entries); \(s.pages) pages"
        }
        let explorer = Explorer(c)
        let what = random.map { "random walk of \($0) steps, seed \(seed)" } ?? "every sequence up to depth \(depth) on \(threads) thread\(threads == 1 ? "" : "s")"
        note("sprig check: \(what); \(startLine), "
             + "at most \(c.domain.maxPartitions) partitions, VIDT indices \(c.domain.vidtIndices.map(String.init).joined(separator: ",")) "
            + "(and \(Domain.unusedVIDTIndices.map(String.init).joined(separator: ",")) as yield arguments), menu \(menu)")
        let progress: (ExplorationProgress) -> Void = { p in
            let r = p.report
            let where_ = random == nil ? "depth \(p.depth)/\(depth), frontier \(p.frontier), next \(p.next)" : "walk length \(p.depth)"
            note("  \(Int(r.elapsed)) s: \(where_), \(r.states) states, \(r.transitions) transitions, "
                 + "\(Int(r.statesPerSecond)) states/s, \(Int(r.transitionsPerSecond)) transitions/s")
        }
        let report = random.map { explorer.randomWalk(steps: $0, seed: seed, progress: progress) }
            ?? explorer.run(progress: progress)
        if json { printJSON(report) } else { printSummary(report) }
        if report.counterexample != nil { throw ExitCode(1) }
    }

    /// Every generated start tree in turn, a line per tree and the totals.
    private func runShapes(_ trees: [TreeShape], _ c: Explorer.Configuration) throws {
        note("sprig check: every sequence up to depth \(depth) from each of \(trees.count) generated start trees "
             + "(up to \(shapes ?? 0) partitions, depth at most 3, and 0,1+config), menu \(menu), VIDT indices "
             + c.domain.vidtIndices.map(String.init).joined(separator: ","))
        var last = ContinuousClock.now
        let results = Explorer.run(shapes: trees, c) { shape, p in
            guard ContinuousClock.now - last >= .seconds(5) else { return }
            last = ContinuousClock.now
            note("  tree \(shape): \(Int(p.report.elapsed)) s, depth \(p.depth)/\(depth), \(p.report.states) states, \(Int(p.report.statesPerSecond)) states/s")
        }
        var states = 0, transitions = 0, elapsed = 0.0
        for (shape, r) in results {
            states += r.states; transitions += r.transitions; elapsed += r.elapsed
            print("tree \(shape): depth \(r.depthReached), \(r.states) states, \(r.transitions) transitions, "
                  + "\(Double(Int(r.elapsed * 10)) / 10) s, \(Int(r.statesPerSecond)) states/s")
        }
        print("\(results.count) of \(trees.count) trees: \(states) states, \(transitions) transitions, \(Double(Int(elapsed * 10)) / 10) s, "
              + "\(Int(elapsed > 0 ? Double(states) / elapsed : 0)) states/s")
        if let (shape, r) = results.last, let cex = r.counterexample {
            print("VIOLATION after \(cex.steps.count) steps from the tree \(shape):")
            for (k, line) in cex.lines.enumerated() { print("  \(k + 1). \(line)") }
            for f in cex.findings { print("  ✗ \(f)") }
            throw ExitCode(1)
        }
        print("no violation")
    }

    private func printSummary(_ r: ExplorationReport) {
        let depthLine = random == nil
            ? "depth reached \(r.depthReached)\(r.stoppedAtStateBound ? " (stopped at --max-states)" : "")"
            : "longest walk without restart \(r.depthReached), restarts \(r.restarts)"
        print("\(depthLine): \(r.states) states, \(r.transitions) transitions (\(r.terminalTransitions) stopped the machine), "
              + "\(Double(Int(r.elapsed * 10)) / 10) s, \(Int(r.statesPerSecond)) states/s, \(Int(r.transitionsPerSecond)) transitions/s")
        let successes = r.outcomes.filter { $0.key.hasSuffix("→ success") || $0.key.hasSuffix("→ resume") }
            .sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        print("successful entries: " + successes.joined(separator: ", "))
        guard let cex = r.counterexample else {
            print("no violation")
            return
        }
        print("VIOLATION after \(cex.steps.count) step\(cex.steps.count == 1 ? "" : "s") from the \(start.rawValue) start:")
        for (k, line) in cex.lines.enumerated() { print("  \(k + 1). \(line)") }
        for f in cex.findings { print("  ✗ \(f)") }
    }

    private func printJSON(_ r: ExplorationReport) {
        var o: [String: Any] = [
            "mode": random == nil ? "exhaustive" : "random",
            "start": start.rawValue, "pages": pages, "partitions": partitions, "vidtSlots": vidtSlots,
            "states": r.states, "transitions": r.transitions, "terminalTransitions": r.terminalTransitions,
            "depthReached": r.depthReached, "elapsedSeconds": r.elapsed,
            "statesPerSecond": r.statesPerSecond, "transitionsPerSecond": r.transitionsPerSecond,
            "outcomes": r.outcomes, "violation": NSNull(),
        ]
        if random == nil {
            o["depth"] = depth
            o["stoppedAtStateBound"] = r.stoppedAtStateBound
        } else {
            o["seed"] = seed
            o["restarts"] = r.restarts
            o["traceDigest"] = r.traceDigest?.description
        }
        if let cex = r.counterexample {
            o["violation"] = ["steps": cex.lines, "findings": cex.findings.map { ["check": $0.check.rawValue, "detail": $0.detail] }]
        }
        if let data = try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .prettyPrinted]) {
            FileHandle.standardOutput.write(data + Data("\n".utf8))
        }
    }
}

/// A progress line on standard error, so that standard output stays the report.
private func note(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
