/// `sprig replay`: a trace of the booted kernel run again in the model, reporting the first
/// divergence (docs/replay.md; the replay is `SprigModel/Replay/Replayer.swift`).
import ArgumentParser
import Foundation
import SprigModel
import SprigTool

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Replay a trace of the booted kernel in the model and report the first divergence.",
        discussion: """
            A kernel built with --variant trace writes every kernel entry from ring 3 (system call, yield, \
            software interrupt, exception, hardware interrupt) to port 0xE9, which QEMU's -debugcon saves \
            to a file: the boot state it built root from, then for each entry the event, the registers ring \
            3 trapped with, every request the kernel made of the machine (each word loaded and stored, \
            contexts saved and loaded) and the outcome and registers ring 3 resumed with.

            `sprig replay FILE` boots the model from the same boot state (same memory size, modules and \
            free ranges, the same RootBuilder; root's pages must have the same digests) and runs every \
            event through ModelSystem.trap, the same Kernel.trap, holding each request, the outcome and \
            the resumed registers against the machine's. Words ring 3 wrote are taken from the trace only \
            where some partition can write their page; any other difference is a divergence. Prints the \
            events replayed by kind and either "no divergence" or the first divergence: the event, what \
            the machine did and what the model did.

            `sprig replay --system NAME` first builds the trace kernel, boots NAME with --memory MiB \
            under TCG recording to --save (default .build/sprig/trace/NAME.trace), then replays it and \
            also compares the model's console with the machine's serial output.

            Exit status: 0 no divergence, 1 a divergence (or the console differs), 2 the file is not a \
            whole trace (missing, empty, cut short, garbled).
            """)

    @Argument(help: "A trace file written by a --variant trace kernel.") var file: String?
    @Option(help: "Record a trace of this system first (builds the trace kernel and boots it).") var system: String?
    @Option(help: "With --system: where to save the trace (default .build/sprig/trace/<system>.trace).") var save: String?
    @Option(parsing: .unconditional, help: "With --system: guest memory in MiB (the model simulates that much).") var memory = TraceRun.defaultMemoryMiB
    @Option(parsing: .unconditional, help: "With --system: seconds before the machine is stopped (default 60; for fuzz, 60 + calls / 10).") var timeout: Double?
    @Option(parsing: .unconditional, help: "With --system fuzz: the campaign's seed (default 1).") var seed: String?
    @Option(parsing: .unconditional, help: "With --system fuzz: the number of calls (default 2000).") var calls: String?
    @Flag(help: "Print the model's console (what root printed, as replayed).") var console = false

    func validate() throws {
        guard (file == nil) != (system == nil) else {
            throw ValidationError("give either a trace FILE or --system NAME to record one")
        }
        if let system { try checkSystem(system) }
        if let file { try checkInputFile(file, option: "FILE") }
        if system == nil && save != nil { throw ValidationError("--save goes with --system") }
        guard memory >= 8 && memory <= 1024 else { throw ValidationError("--memory must be between 8 and 1024 MiB") }
        guard (timeout ?? 1) > 0 else { throw ValidationError("--timeout must be positive") }
        if system == nil && (seed != nil || calls != nil) { throw ValidationError("--seed and --calls go with --system") }
    }

    func run() throws {
        var serial: String?
        let url: URL
        if let system {
            let project = try Project.current()
            url = save.map { URL(fileURLWithPath: $0) }
                ?? project.buildDirectory.appendingPathComponent("trace").appendingPathComponent("\(system).trace")
            say("sprig: booting \(system) on the trace kernel (\(memory) MiB, TCG), trace to \(url.path)")
            // A system that reads the console (echo) reads this terminal, as under `sprig run`.
            let described = try Systems.named(system)
            let input: RunInput = described.readsConsole ? .inherit : .none
            var values: [SystemOption: String] = [:]
            values[.seed] = seed
            values[.calls] = calls
            let words = try SystemArguments.commandLine(for: described, values)
            // The trace kernel writes every request to the debug port: about five times slower
            // than `sprig run` per call.
            let limit = timeout ?? (described.options.contains(.calls)
                ? 60 + Double(calls.flatMap(SystemArguments.parse) ?? 2000) / 10 : 60)
            let result = try TraceRun.record(system: system, to: url, project: project, memoryMiB: memory, timeout: limit,
                                             input: input, commandLine: words) {
                say("  \($0)")
            }
            say("sprig: the machine: \(result.summary) after \(String(format: "%.1f", result.seconds)) s")
            if case .status = result.ending { serial = TraceRun.partitionConsole(result.output) }
        } else {
            url = URL(fileURLWithPath: file!)
        }
        let started = Date()
        let trace = try readTrace(url)
        say("sprig: trace \(url.path): \(trace.bytes) bytes, \(trace.events.count) events, "
            + "\(trace.boot.modules.count) boot modules, \(ReplayBoot.pages(trace.boot, trace.built)) pages of memory")
        let report = Replayer(trace: trace).run()
        let seconds = Date().timeIntervalSince(started)
        say("sprig: \(report.summary)")
        if console { say(String(decoding: report.console, as: UTF8.self)) }
        if let d = report.divergence {
            say("sprig: \(d)")
            throw ExitCode(1)
        }
        let ending = report.poweredOff.map { "the model powered off with status \($0)" }
            ?? (report.crashed ? "the model ended in the kernel crash report" : "the trace ends with the model running")
        say("sprig: no divergence in \(String(format: "%.2f", seconds)) s; \(ending)")
        if let serial {
            let mine = String(decoding: report.console, as: UTF8.self)
            if mine == serial {
                say("sprig: the model's console matches the machine's serial output (\(report.console.count) bytes)")
            } else {
                let common = zip(mine, serial).prefix { $0 == $1 }.count
                say("sprig: the model's console differs from the machine's serial output after \(common) characters")
                throw ExitCode(1)
            }
        }
    }
}
