/// Recording a trace: the trace-variant kernel booted under QEMU with its debug port going to a
/// file (docs/replay.md). `sprig replay --system` and the replay boot test start here.
import Foundation
import SprigModel

public enum TraceRun {
    /// Guest memory of a traced boot: the model replays over a simulated memory that large.
    public static let defaultMemoryMiB = 32

    /// Builds the trace kernel and `system`'s partitions, boots it with the trace written to
    /// `file` (replaced), and returns how the run ended (its console is the serial output).
    /// `input` is what arrives on the serial port (`RunInput`); `commandLine` the system's options
    /// (`SystemArguments.commandLine`, e.g. `fuzz.calls=200`); `icount` counts guest instructions
    /// (the timer then ticks at fixed instruction counts, `RunOptions.icount`).
    public static func record(
        system name: String, to file: URL, project: Project, memoryMiB: Int = defaultMemoryMiB,
        timeout: Double = 60, input: RunInput = .none, commandLine: String = "", icount: Bool = false,
        progress: @escaping (String) -> Void = { _ in }
    ) throws -> RunResult {
        let system = try Systems.named(name)
        let builder = try Builder(project: project, variant: .trace)
        builder.progress = progress
        var partitions: [String] = []
        for p in system.partitions where !partitions.contains(p) { partitions.append(p) }
        let products = try builder.build(partitions: partitions)
        try? FileManager.default.removeItem(at: file)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        var o = RunOptions()
        o.system = name
        o.variant = .trace
        o.memoryMiB = memoryMiB
        o.timeout = timeout
        o.debugConsole = file
        o.input = input
        o.commandLine = commandLine
        o.icount = icount
        return try QEMU.run(products, options: o)
    }

    /// The trace in `file`, checked whole (`TraceFile.parse`).
    /// - Throws: the file system's error, or `TraceError` for a file that is not a whole trace.
    public static func read(_ file: URL) throws -> Trace {
        try TraceFile.parse([UInt8](Data(contentsOf: file)))
    }

    /// What root printed, as the serial console shows it: everything after the kernel's
    /// "entering the root partition" line and before a crash report (the kernel's own lines are
    /// not `consoleWrite`s; the report starts with a newline of its own).
    public static func partitionConsole(_ serial: String) -> String {
        let marker = "Sprig: entering the root partition\n"
        guard let r = serial.range(of: marker) else { return "" }
        let rest = serial[r.upperBound...]
        let crash = rest.range(of: "\n*** SPRIG KERNEL CRASH ***")
        return String(rest[..<(crash?.lowerBound ?? rest.endIndex)])
    }
}
