/// `sprig memmap`: WeensyOS's memory viewer drawn from the model, as SVG and PNG (docs/alice-eve.md).
import ArgumentParser
import Foundation
import SprigModel
import SprigTool

struct MemmapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memmap",
        abstract: "Draw a system's physical memory map from the model, as text, SVG and PNG.",
        discussion: """
            Records a trace of the system on the trace kernel (or reads --trace FILE), boots the model \
            from its boot state and, with --at EVENT, replays the trace through event EVENT (from 0). Then \
            draws every physical page, 64 a row, one letter and colour per owner, as the alice-eve system's \
            root draws it: K kernel image, S kernel structure pages, R root, a letter per child of root \
            (the first letter of its partition: A Alice, E Eve), . root's free memory given to no child, \
            - not RAM. A page table error (an isolation property the model finds violated) is printed \
            as PAGE TABLE ERROR.

            The recording asks the system to stop by itself (`<system>.exit=1` on the command line: \
            alice-eve then prints every 16 iterations and powers off once Eve's attacks are done); a system that never stops is \
            stopped at --timeout.

            Exit status: 0 drawn, 1 a page table error or a divergence, 2 the trace is not whole.
            """)

    @Option(help: "The system to record and draw.") var system: String?
    @Option(help: "Read this trace instead of recording one (with --system: its letters).") var trace: String?
    @Option(help: "Replay the trace through this event (a number from 0, or `end`) first; default: the boot state.") var at: String?
    @Option(help: "Write the SVG here (default .build/sprig/memmap/<system>[-at-N].svg).") var svg: String?
    @Option(help: "Write the PNG here (default .build/sprig/memmap/<system>[-at-N].png).") var png: String?
    @Option(help: "Guest memory in MiB for the recording.") var memory = TraceRun.defaultMemoryMiB
    @Option(help: "Seconds before the recording machine is stopped.") var timeout: Double = 120

    func validate() throws {
        guard system != nil || trace != nil else { throw ValidationError("give --system NAME (and optionally --trace FILE)") }
        if let system { try checkSystem(system) }
        if let trace { try checkInputFile(trace, option: "--trace") }
        if let at, at != "end", (Int(at) ?? -1) < 0 { throw ValidationError("--at must be an event number from 0, or end, not '\(at)'") }
        guard memory >= 8 && memory <= 1024 else { throw ValidationError("--memory must be between 8 and 1024 MiB") }
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
    }

    func run() throws {
        let project = try Project.current()
        let name = system ?? URL(fileURLWithPath: trace!).deletingPathExtension().lastPathComponent
        let letters = system.flatMap { try? Systems.named($0) }.map(MemoryMapRun.childLetters) ?? []
        let url: URL
        if let trace {
            url = URL(fileURLWithPath: trace)
        } else {
            url = project.buildDirectory.appendingPathComponent("trace").appendingPathComponent("\(name)-memmap.trace")
            say("sprig: booting \(name) on the trace kernel (\(memory) MiB, TCG) until it stops, trace to \(url.path)")
            let result = try TraceRun.record(system: name, to: url, project: project, memoryMiB: memory, timeout: timeout,
                                             commandLine: "\(name).record=1") { say("  \($0)") }
            say("sprig: the machine: \(result.summary)")
        }
        let recording = try readTrace(url)
        let at = self.at.map { $0 == "end" ? recording.events.count - 1 : Int($0)! }
        if let at, at >= recording.events.count {
            throw ValidationError("--at \(at): the trace has \(recording.events.count) events (0…\(recording.events.count - 1))")
        }
        say("sprig: the model's map at " + (at.map { "event \($0) of \(recording.events.count)" } ?? "the boot state"))
        let drawn: MemoryMap
        do {
            drawn = try MemoryMapRun.map(recording, letters: letters, until: at.map { n in { index, _ in index >= n } }).map
        } catch let e as ToolError {
            say("sprig: \(e.description)")
            throw ExitCode(1)
        }
        say(drawn.text, terminator: "")
        let base = project.buildDirectory.appendingPathComponent("memmap")
            .appendingPathComponent(name + (self.at.map { "-at-\($0)" } ?? ""))
        try FileManager.default.createDirectory(at: base.deletingLastPathComponent(), withIntermediateDirectories: true)
        let svgURL = svg.map { URL(fileURLWithPath: $0) } ?? base.appendingPathExtension("svg")
        let pngURL = png.map { URL(fileURLWithPath: $0) } ?? base.appendingPathExtension("png")
        let title = "Sprig: \(name), physical memory " + (at.map { "after event \($0)" } ?? "at boot") + " (the model)"
        try Data(MemoryMapImage.svg(drawn, title: title).utf8).write(to: svgURL)
        let image = MemoryMapImage.png(drawn)
        try Data(image).write(to: pngURL)
        say("sprig: wrote \(svgURL.path) and \(pngURL.path) (\(image.count) bytes)")
        for e in drawn.errors { say(e) }
        if !drawn.errors.isEmpty { throw ExitCode(1) }
        say("sprig: no PAGE TABLE ERROR")
    }
}

private func say(_ text: String, terminator: String) { FileHandle.standardOutput.write(Data((text + terminator).utf8)) }
