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
    /// Stop the machine once the console shows something (nil: only the timeout stops it).
    public var stop: RunStop?
    /// Where gdb connects (`-gdb tcp::port`), and whether QEMU waits for it before the first
    /// instruction (`-S`); nil: no gdb stub.
    public var gdbPort: Int?
    public var waitForDebugger = true
    public init() {}
}

/// What QEMU's standard input — the guest's serial input — is.
public enum RunInput: Sendable {
    /// Nothing (/dev/null): the receive side of the serial port stays empty.
    case none
    /// This process's standard input: a user typing into `sprig run`. A terminal this process
    /// owns is put in raw mode and relayed (`Terminal`); a pipe or file is given to QEMU as is.
    case inherit
    /// A script: each step waits until the console satisfies its condition, then writes its
    /// bytes. Steps left when the machine stops are not written.
    case script([RunInputStep])
}

/// A condition on the console so far (all of it, CRLF read as LF), never on one read or one
/// line: the serial port may deliver a burst in pieces, and a line may arrive in two reads.
public struct ConsoleCondition: Sendable {
    public let holds: @Sendable (String) -> Bool
    public init(_ holds: @escaping @Sendable (String) -> Bool) { self.holds = holds }

    /// The console contains `text`.
    public static func contains(_ text: String) -> ConsoleCondition { ConsoleCondition { $0.contains(text) } }
}

public struct RunInputStep: Sendable {
    public var when: ConsoleCondition
    public var bytes: [UInt8]
    public init(when: ConsoleCondition, bytes: [UInt8]) { self.when = when; self.bytes = bytes }
    /// Once the console contains `text`.
    public init(after text: String, bytes: [UInt8]) { self.init(when: .contains(text), bytes: bytes) }

    /// Switches to QEMU's monitor (Ctrl-A c, with `RunOptions.monitorOnSerial`) and types
    /// `command` there, once the console shows `after`.
    public static func monitor(after: String, command: String) -> RunInputStep {
        RunInputStep(after: after, bytes: [0x01, 0x63] + Array((command + "\n").utf8))
    }
}

/// Stopping a machine that does not stop by itself: `grace` seconds after the console satisfies
/// `when` (a test that checks nothing more happens once a system is waiting).
public struct RunStop: Sendable {
    public var when: ConsoleCondition
    public var grace: Double
    public init(when: ConsoleCondition, grace: Double) { self.when = when; self.grace = grace }
}

public enum RunEnding: Equatable, Sendable {
    /// A partition or the kernel wrote this status to the debug-exit port.
    case status(UInt64)
    /// QEMU exited without the debug port (reset, triple fault) with this code.
    case qemuExit(Int32)
    case timedOut
    /// Stopped by `RunOptions.stop`, its condition met.
    case stopped
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
        case .stopped: return 0
        }
    }

    public var summary: String {
        switch ending {
        case .status(let s) where s == ExitStatus.kernelCrash: return "the kernel crashed (status 0x70); see the report above"
        case .status(let s) where s == ExitStatus.bootFailure: return "the kernel could not boot the system (status 0x71)"
        case .status(let s): return "the system powered off with status \(s)"
        case .qemuExit(let c): return "QEMU exited with \(c) without the debug-exit device: the machine reset (triple fault?)"
        case .timedOut: return "timed out after \(Int(seconds)) s; the machine was stopped"
        case .stopped: return "stopped as asked after \(Int(seconds)) s"
        }
    }
}

public enum QEMU {
    public static let executable = "qemu-system-x86_64"
    /// Instruction counting: the virtual clock, and so the TSC, advances one per guest instruction.
    public static let icountArguments = ["-icount", "shift=0,align=off"]

    public static func find() throws -> URL {
        if let u = findExecutable(executable) { return u }
        throw ToolError("\(executable) is not installed. Install it with: apt-get install qemu-system-x86 (make run and make test do this when run as root)")
    }

    public static func arguments(_ products: BuildProducts, system: SystemDescription, options: RunOptions) -> [String] {
        let modules = system.bootModules.map { products.partitions[$0]!.path }.joined(separator: ",")
        var args = [
            "-kernel", products.kernelImage.path, "-initrd", modules,
            "-m", "\(options.memoryMiB)M", "-display", "none",
        ] + (options.monitorOnSerial ? ["-serial", "mon:stdio"] : ["-monitor", "none", "-serial", "stdio"]) + [
            "-cpu", options.cpu,
            "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
        ]
        if !options.commandLine.isEmpty { args += ["-append", options.commandLine] }
        args += ["-accel", options.kvm ? KVMProbe.accelerator : "tcg"]
        if options.icount { args += icountArguments }
        if let port = options.gdbPort {
            args += ["-gdb", "tcp:127.0.0.1:\(port)"]
            if options.waitForDebugger { args.append("-S") }
        }
        if let d = options.debugConsole { args += ["-debugcon", "file:\(d.path)"] }
        if let image = options.image { args = image.qemuArguments(replacingKernelIn: args) }
        return args
    }

    /// Boots and waits for the machine to stop or the timeout.
    public static func run(_ products: BuildProducts, options: RunOptions) throws -> RunResult {
        try Machine.start(products, options: options).wait()
    }
}

/// A QEMU running a system. It is registered with `ProcessGuard` from its start until `wait()`
/// has seen it end, so that sprig stopping any way stops it too.
public final class Machine {
    let process = Process()
    let options: RunOptions
    let collected: OutputCollector
    /// The build whose kernel ELF names the addresses of a crash report.
    var products: BuildProducts?
    let outputPipe = Pipe()
    var inputPipe: Pipe?
    var script: [RunInputStep] = []
    /// Whether this process's terminal is in raw mode and relayed to QEMU.
    var relaying = false
    let start = Date()

    public var pid: pid_t { process.processIdentifier }

    init(options: RunOptions) {
        self.options = options
        collected = OutputCollector(echo: options.echo)
    }

    public static func start(_ products: BuildProducts, options: RunOptions) throws -> Machine {
        let system = try Systems.named(options.system)
        let m = Machine(options: options)
        m.products = products
        let p = m.process
        p.executableURL = try QEMU.find()
        var withSymbols = options
        let symbols = try KernelSymbols.commandLine(for: system, elf: products.kernelELF)
        withSymbols.commandLine = [options.commandLine, symbols].filter { !$0.isEmpty }.joined(separator: " ")
        p.arguments = QEMU.arguments(products, system: system, options: withSymbols)
        switch options.input {
        case .none: p.standardInput = FileHandle.nullDevice
        case .inherit:
            if isatty(STDIN_FILENO) == 0 {
                p.standardInput = FileHandle.standardInput
            } else if Terminal.ownsStandardInput {
                m.relaying = true
            } else {
                p.standardInput = FileHandle.nullDevice
                FileHandle.standardError.write(Data("sprig: not in the terminal's foreground: the serial input stays empty\n".utf8))
            }
        case .script(let steps):
            m.script = steps
        }
        if m.relaying || !m.script.isEmpty {
            let i = Pipe()
            p.standardInput = i
            m.inputPipe = i
            // A write after QEMU has gone must fail, not kill this process.
            signal(SIGPIPE, SIG_IGN)
        }
        p.standardOutput = m.outputPipe
        p.standardError = m.outputPipe
        let collected = m.collected
        m.outputPipe.fileHandleForReading.readabilityHandler = { h in
            let d = h.availableData
            if !d.isEmpty { collected.append(d) }
        }
        try p.run()
        ProcessGuard.register(p.processIdentifier)
        if m.relaying {
            do { try Terminal.makeRaw() } catch { m.end(); throw error }
        }
        return m
    }

    /// Ends QEMU now (the guest's state is not worth saving).
    public func end() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Waits for the machine to stop, the stop condition, or the timeout; writes the script's
    /// steps and relays the terminal meanwhile.
    public func wait() -> RunResult {
        defer {
            if relaying { Terminal.restore() }
            ProcessGuard.release(process.processIdentifier)
        }
        let deadline = start.addingTimeInterval(options.timeout)
        var timedOut = false
        var stopAt: Date?
        var stopped = false
        var relayOpen = relaying
        let writeFD = inputPipe?.fileHandleForWriting.fileDescriptor ?? -1
        while process.isRunning {
            if script.first != nil || (options.stop != nil && stopAt == nil) {
                let text = collected.text
                if let step = script.first, step.when.holds(text) {
                    _ = step.bytes.withUnsafeBytes { write(writeFD, $0.baseAddress, $0.count) }
                    script.removeFirst()
                }
                if let stop = options.stop, stopAt == nil, stop.when.holds(text) {
                    stopAt = Date().addingTimeInterval(stop.grace)
                }
            }
            let now = Date()
            if let stopAt, now > stopAt { stopped = true }
            if now > deadline { timedOut = true }
            if stopped || timedOut {
                process.terminate()
                Thread.sleep(forTimeInterval: 0.5)
                end()
                break
            }
            if relayOpen {
                relayOpen = Terminal.relay(to: writeFD, timeout: 0.02)
            } else {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        process.waitUntilExit()
        try? inputPipe?.fileHandleForWriting.close()
        outputPipe.fileHandleForReading.readabilityHandler = nil
        collected.append(outputPipe.fileHandleForReading.readDataToEndOfFile())
        let seconds = Date().timeIntervalSince(start)
        let code = process.terminationStatus
        let ending: RunEnding
        if timedOut { ending = .timedOut }
        else if stopped { ending = .stopped }
        else if let s = ExitStatus.decode(qemuExitCode: code) { ending = .status(s) }
        else { ending = .qemuExit(code) }
        var output = collected.text
        // A crash report's addresses named with the kernel ELF, after the report.
        if ending == .status(ExitStatus.kernelCrash), let products, let named = CrashSymbols.annotate(output, products: products) {
            if options.echo { FileHandle.standardOutput.write(Data(named.utf8)) }
            output += named
        }
        return RunResult(output: output, ending: ending, seconds: seconds)
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
