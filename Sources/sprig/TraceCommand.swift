/// `sprig trace`: a trace-kernel recording as a timeline of every switch, for ui.perfetto.dev or
/// chrome://tracing (`--perfetto`) and as a picture (`--svg`) (docs/trace.md).
import ArgumentParser
import Foundation
import SprigModel
import SprigTool

struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Draw a trace of the booted kernel as a timeline: Perfetto/Chrome JSON or an SVG picture.",
        discussion: """
            Reads a trace written by a --variant trace kernel (`sprig replay --system S --save FILE`), or \
            records one first with --system (as `sprig replay --system`). One track per partition, named \
            by its descriptor and by the boot module it runs; a slice for each stretch a partition ran; \
            an instant event for every kernel entry (services, yields, interrupts, faults, int n), with \
            the event and its outcome; a flow arrow for every yield or delivery that switched partition. \
            The trace has no clock, so the time axis counts kernel entries: entry n (from 0) is at n + 1 \
            (microseconds in the JSON).

            Exit status: 0 written, 2 the file is not a whole trace.
            """)

    @Option(help: "A trace file written by a --variant trace kernel.") var trace: String?
    @Option(help: "Record a trace of this system first (builds the trace kernel and boots it under TCG).") var system: String?
    @Option(help: "Write Chrome/Perfetto trace-event JSON here.") var perfetto: String?
    @Option(help: "Write an SVG picture here.") var svg: String?
    @Option(help: "With --system: guest memory in MiB.") var memory = TraceRun.defaultMemoryMiB
    @Option(help: "With --system: seconds before the machine is stopped.") var timeout: Double = 60

    func validate() throws {
        guard (trace == nil) != (system == nil) else { throw ValidationError("give either --trace FILE or --system NAME to record one") }
        guard perfetto != nil || svg != nil else { throw ValidationError("say what to write: --perfetto FILE, --svg FILE or both") }
        if let system { _ = try Systems.named(system) }
        guard memory >= 8 && memory <= 1024 else { throw ValidationError("--memory must be between 8 and 1024 MiB") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        let url: URL
        var name: String
        if let system {
            let project = try Project.current()
            url = project.buildDirectory.appendingPathComponent("trace").appendingPathComponent("\(system).trace")
            say("sprig: booting \(system) on the trace kernel (\(memory) MiB, TCG), trace to \(url.path)")
            let input: RunInput = try Systems.named(system).readsConsole ? .inherit : .none
            let result = try TraceRun.record(system: system, to: url, project: project, memoryMiB: memory, timeout: timeout, input: input) {
                say("  \($0)")
            }
            say("sprig: the machine: \(result.summary)")
            name = system
        } else {
            url = URL(fileURLWithPath: trace!)
            name = url.deletingPathExtension().lastPathComponent
        }
        let recording = try readTrace(url)
        let timeline = Timeline(recording)
        name = "Sprig: \(name), \(timeline.entries) kernel entries"
        say("sprig: \(timeline.entries) kernel entries, \(timeline.tracks.count) partitions, \(timeline.slices.count) stretches, "
            + "\(timeline.flows.count) switches")
        if let perfetto {
            try timeline.perfettoJSON(title: name).write(to: URL(fileURLWithPath: perfetto))
            say("sprig: \(perfetto): open it in ui.perfetto.dev or chrome://tracing")
        }
        if let svg {
            try timeline.svg(title: name).write(to: URL(fileURLWithPath: svg), atomically: true, encoding: .utf8)
            say("sprig: \(svg)")
        }
    }
}

/// The whole trace in `url`, or one line on stderr saying why there is none and exit status 2
/// (`sprig replay`, `sprig trace`).
func readTrace(_ url: URL) throws -> Trace {
    func fail(_ why: String) -> ExitCode {
        FileHandle.standardError.write(Data("sprig: \(why)\n".utf8))
        return ExitCode(2)
    }
    var directory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &directory) else { throw fail("no trace at \(url.path)") }
    guard !directory.boolValue else { throw fail("\(url.path) is a directory; give a trace file (e.g. .build/sprig/trace/signal.trace)") }
    guard FileManager.default.isReadableFile(atPath: url.path) else { throw fail("\(url.path) cannot be read (permissions)") }
    do {
        return try TraceRun.read(url)
    } catch let e as TraceError {
        throw fail("\(url.path) is not a whole trace: \(e)")
    } catch {
        throw fail("cannot read a trace at \(url.path): \(error.localizedDescription)")
    }
}
