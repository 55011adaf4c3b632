/// `sprig run`: boots a system under QEMU and reports how it ended.
///
/// The kernel image is QEMU's `-kernel` (multiboot), the partitions its modules (`-initrd`,
/// root first). The serial console goes to stdout (and is captured for tests); the machine
/// ends through the isa-debug-exit device, so the exit status is the partition's or the
/// kernel's (`SprigABI.ExitStatus`). Tests always use TCG; KVM is only ever asked for by a user.
///
/// The serial port's input is QEMU's standard input (`RunInput`): nothing by default, the
/// terminal for a system that reads the console (`sprig run --system echo`), or a script a test
/// writes as the console shows what it waits for.
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
    /// QEMU's CPU model. The kernel refuses to boot without NX, SMEP, SMAP and UMIP: QEMU's
    /// default model has none of the last three; `max` has them under TCG (and is the host's
    /// CPU under KVM).
    public var cpu = "max"
    /// Where QEMU writes what the guest sends to port 0xE9 (`-debugcon file:`): the trace of a
    /// trace-variant kernel (docs/replay.md).
    public var debugConsole: URL?
    /// What arrives on the guest's serial port.
    public var input: RunInput = .none
    /// Boot this GRUB image from the CD-ROM instead of `-kernel` (`sprig iso`, BootImage.swift).
    public var image: ImageBoot?
    /// QEMU's monitor multiplexed on the serial port (`-serial mon:stdio`): the input bytes
    /// Ctrl-A c then switch to the monitor, so a script can type a monitor command such as
    /// `nmi` (`RunInputStep.monitor`).
    public var monitorOnSerial = false
    public init() {}
}

/// What QEMU's standard input — the guest's serial input — is.
public enum RunInput: Sendable {
    /// Nothing (/dev/null): the receive side of the serial port stays empty.
    case none
    /// This process's standard input: a user typing into `sprig run`.
    case inherit
    /// A script: each step waits until the console shows its `after` text (past where the
    /// previous step's text was found), then writes its bytes. Steps left when the machine
    /// stops are not written.
    case script([RunInputStep])
}

public struct RunInputStep: Sendable {
    public var after: String
    public var bytes: [UInt8]
    public init(after: String, bytes: [UInt8]) { self.after = after; self.bytes = bytes }

    /// Switches to QEMU's monitor (Ctrl-A c, with `RunOptions.monitorOnSerial`) and types
    /// `command` there, once the console shows `after`.
    public static func monitor(after: String, command: String) -> RunInputStep {
        RunInputStep(after: after, bytes: [0x01, 0x63] + Array((command + "\n").utf8))
    }
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
        if let u = findExecutable(executable) { return u }
        throw ToolError("\(executable) is not installed. Install it with: apt-get install qemu-system-x86 (make run and make test do this when run as root)")
    }

    public static func arguments(_ products: BuildProducts, system: SystemDescription, options: RunOptions) -> [String] {
        let modules = system.partitions.map { products.partitions[$0]!.path }.joined(separator: ",")
        var args = [
            "-kernel", products.kernelImage.path, "-initrd", modules,
            "-m", "\(options.memoryMiB)M", "-display", "none",
        ] + (options.monitorOnSerial ? ["-serial", "mon:stdio"] : ["-monitor", "none", "-serial", "stdio"]) + [
            "-cpu", options.cpu,
            "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
        ]
        if !options.commandLine.isEmpty { args += ["-append", options.commandLine] }
        if options.kvm { args += ["-accel", "kvm", "-accel", "tcg"] } else { args += ["-accel", "tcg"] }
        if options.icount { args += ["-icount", "shift=0,align=off"] }
        if options.gdb { args += ["-s", "-S"] }
        if let d = options.debugConsole { args += ["-debugcon", "file:\(d.path)"] }
        if let image = options.image { args = image.qemuArguments(replacingKernelIn: args) }
        return args
    }

    /// Boots and waits for the machine to stop or the timeout.
    public static func run(_ products: BuildProducts, options: RunOptions) throws -> RunResult {
        let system = try Systems.named(options.system)
        let qemu = try find()
        let p = Process()
        p.executableURL = qemu
        p.arguments = arguments(products, system: system, options: options)
        var script: [RunInputStep] = []
        var inputPipe: Pipe?
        switch options.input {
        case .none: p.standardInput = FileHandle.nullDevice
        case .inherit: p.standardInput = FileHandle.standardInput
        case .script(let steps):
            script = steps
            let i = Pipe()
            p.standardInput = i
            inputPipe = i
            // A write after QEMU has gone must fail, not kill this process.
            signal(SIGPIPE, SIG_IGN)
        }
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
        var searchFrom = 0
        while p.isRunning {
            if let step = script.first, let i = inputPipe {
                let text = collected.text
                if let found = text.range(of: step.after, range: text.index(text.startIndex, offsetBy: min(searchFrom, text.count))..<text.endIndex) {
                    searchFrom = text.distance(from: text.startIndex, to: found.upperBound)
                    try? i.fileHandleForWriting.write(contentsOf: Data(step.bytes))
                    script.removeFirst()
                }
            }
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
        try? inputPipe?.fileHandleForWriting.close()
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

/// What a child process writes, collected from its pipe's handler thread (boot tests use it to
/// talk to QEMU's monitor too).
public final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let echo: Bool
    public init(echo: Bool) { self.echo = echo }
    public func append(_ d: Data) {
        lock.lock(); data.append(d); lock.unlock()
        if echo { FileHandle.standardOutput.write(d) }
    }
    public var text: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
    }
}
