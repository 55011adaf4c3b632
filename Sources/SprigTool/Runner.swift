/// `sprig run`: boots a system under QEMU and reports how it ended.
///
/// The kernel image is QEMU's `-kernel` (multiboot), the partitions its modules (`-initrd`,
/// root first). The serial console goes to stdout (and is captured for tests); the machine
/// ends through the isa-debug-exit device, so the exit status is the partition's or the
/// kernel's (`SprigABI.ExitStatus`). Tests always use TCG; KVM is only ever asked for by a user.
import Foundation
import SprigABI

public struct RunOptions: Sendable {
    public var system: String = Systems.defaultName
    public var variant: Variant = .release
    public var timeout: Double = 60
    public var kvm = false
    /// Kernel command line (multiboot), e.g. `crashtest=trap` in a debug build.
    public var commandLine = ""
    /// Count guest instructions: `-icount shift=0,align=off` (one TSC tick per instruction).
    public var icount = false
    /// Copy the console to this process's stdout as it arrives.
    public var echo = false
    /// Wait for gdb on tcp::1234 before the first instruction.
    public var gdb = false
    public var memoryMiB = 128
    /// Where QEMU writes what the guest sends to port 0xE9 (`-debugcon file:`): the trace of a
    /// trace-variant kernel (docs/replay.md).
    public var debugConsole: URL?
    public init() {}
}

public enum RunEnding: Equatable, Sendable {
    /// A partition or the kernel wrote this status to the debug-exit port.
    case status(UInt64)
    /// QEMU exited without the debug port (reset, triple fault) with this code.
    case qemuExit(Int32)
    case timedOut
}

public struct RunResult: Sendable {
    public let output: String
    public let ending: RunEnding
    public let seconds: Double

    /// The status as a process exit code for `sprig run`.
    public var exitCode: Int32 {
        switch ending {
        case .status(let s): return Int32(truncatingIfNeeded: s)
        case .qemuExit: return 125
        case .timedOut: return 124
        }
    }

    public var summary: String {
        switch ending {
        case .status(let s) where s == ExitStatus.kernelCrash: return "the kernel crashed (status 0x70); see the report above"
        case .status(let s) where s == ExitStatus.bootFailure: return "the kernel could not boot the system (status 0x71)"
        case .status(let s): return "the system powered off with status \(s)"
        case .qemuExit(let c): return "QEMU exited with \(c) without the debug-exit device: the machine reset (triple fault?)"
        case .timedOut: return "timed out after \(Int(seconds)) s; the machine was stopped"
        }
    }
}

public enum QEMU {
    public static let executable = "qemu-system-x86_64"

    public static func find() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let u = URL(fileURLWithPath: String(dir)).appendingPathComponent(executable)
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        throw ToolError("\(executable) is not installed. Install it with: apt-get install qemu-system-x86 (make run and make test do this when run as root)")
    }

    public static func arguments(_ products: BuildProducts, system: SystemDescription, options: RunOptions) -> [String] {
        let modules = system.partitions.map { products.partitions[$0]!.path }.joined(separator: ",")
        var args = [
            "-kernel", products.kernelImage.path, "-initrd", modules,
            "-m", "\(options.memoryMiB)M", "-display", "none", "-monitor", "none", "-serial", "stdio",
            "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
        ]
        if !options.commandLine.isEmpty { args += ["-append", options.commandLine] }
        if options.kvm { args += ["-accel", "kvm", "-accel", "tcg"] } else { args += ["-accel", "tcg"] }
        if options.icount { args += ["-icount", "shift=0,align=off"] }
        if options.gdb { args += ["-s", "-S"] }
        if let d = options.debugConsole { args += ["-debugcon", "file:\(d.path)"] }
        return args
    }

    /// Boots and waits for the machine to stop or the timeout.
    public static func run(_ products: BuildProducts, options: RunOptions) throws -> RunResult {
        let system = try Systems.named(options.system)
        let qemu = try find()
        let p = Process()
        p.executableURL = qemu
        p.arguments = arguments(products, system: system, options: options)
        p.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        let collected = OutputCollector(echo: options.echo)
        pipe.fileHandleForReading.readabilityHandler = { h in
            let d = h.availableData
            if !d.isEmpty { collected.append(d) }
        }
        let start = Date()
        try p.run()
        let deadline = start.addingTimeInterval(options.timeout)
        var timedOut = false
        while p.isRunning {
            if Date() > deadline {
                timedOut = true
                p.terminate()
                Thread.sleep(forTimeInterval: 0.5)
                if p.isRunning { kill(p.processIdentifier, SIGKILL) }
                break
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        p.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        collected.append(pipe.fileHandleForReading.readDataToEndOfFile())
        let seconds = Date().timeIntervalSince(start)
        let code = p.terminationStatus
        let ending: RunEnding
        if timedOut { ending = .timedOut }
        else if let s = ExitStatus.decode(qemuExitCode: code) { ending = .status(s) }
        else { ending = .qemuExit(code) }
        return RunResult(output: collected.text, ending: ending, seconds: seconds)
    }
}

final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let echo: Bool
    init(echo: Bool) { self.echo = echo }
    func append(_ d: Data) {
        lock.lock(); data.append(d); lock.unlock()
        if echo { FileHandle.standardOutput.write(d) }
    }
    var text: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
    }
}
