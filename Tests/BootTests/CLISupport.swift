/// The built `sprig` command as a user runs it: from a pipe, or on a pseudo-terminal the test
/// owns (the terminal sprig is given is the pty's slave; the test types into the master and reads
/// what the terminal shows from it), and the processes it leaves behind.
import Foundation
import Testing

enum CLI {
    /// The `sprig` that `swift build` made next to this test bundle.
    static var sprig: URL {
        get throws {
            let url = Boot.project.path(".build/debug/sprig")
            guard FileManager.default.isExecutableFile(atPath: url.path) else {
                throw CLIError("no \(url.path): build it with `swift build --build-tests`")
            }
            return url
        }
    }

    /// Runs `sprig arguments` to its end with no input; its exit status and all it printed.
    static func run(_ arguments: [String], environment: [String: String] = [:], in directory: URL? = nil,
                    timeout: Double = Boot.hangGuard) throws -> (status: Int32, output: String) {
        let p = try Spawned(sprigArguments: arguments, environment: environment, in: directory)
        try p.waitForExit(timeout: timeout)
        return (p.process.terminationStatus, p.output.text)
    }

    /// The pids whose parent is `pid` (from /proc).
    static func children(of pid: pid_t) -> [pid_t] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return names.compactMap { name -> pid_t? in
            guard let child = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.range(of: ") ", options: .backwards) else { return nil }
            let fields = stat[close.upperBound...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid ? child : nil
        }
    }

    /// The command name of `pid` (`/proc/pid/comm`), nil when it is gone.
    static func command(_ pid: pid_t) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether `pid` no longer runs (gone, or a zombie nobody has reaped yet).
    static func isGone(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.range(of: ") ", options: .backwards) else { return true }
        return stat[close.upperBound...].hasPrefix("Z") || stat[close.upperBound...].hasPrefix("X")
    }

    /// Waits (at most `timeout` seconds, a hang guard) until `condition` holds; false if it never did.
    @discardableResult
    static func wait(timeout: Double = Boot.hangGuard, until condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > deadline { return false }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return true
    }

    /// The QEMU a running sprig started (waits until there is one).
    static func qemu(of sprig: pid_t, timeout: Double = Boot.hangGuard) -> pid_t? {
        var found: pid_t?
        wait(timeout: timeout) {
            found = descendants(of: sprig).first { command($0)?.hasPrefix("qemu-system") == true }
            return found != nil
        }
        return found
    }

    static func descendants(of pid: pid_t) -> [pid_t] {
        let direct = children(of: pid)
        return direct + direct.flatMap(descendants)
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Everything a process printed so far, collected as it arrives; carriage returns dropped (the
/// guest ends lines with CR LF, and a terminal's output processing adds a CR of its own).
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ d: Data) { lock.lock(); data.append(d); lock.unlock() }
    var text: String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r", with: "")
    }
}

/// A process the test started, its output collected from a pipe or a pty master.
final class Spawned {
    let process = Process()
    let output = Collected()
    /// The pipe of the output, when not a terminal.
    private var pipe: Pipe?
    var pid: pid_t { process.processIdentifier }

    /// `sprig arguments` with standard input empty and its output in a pipe.
    init(sprigArguments arguments: [String], environment: [String: String] = [:], in directory: URL? = nil) throws {
        process.executableURL = try CLI.sprig
        process.arguments = arguments
        process.currentDirectoryURL = directory ?? Boot.project.root
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        self.pipe = pipe
        process.standardOutput = pipe
        process.standardError = pipe
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { h in
            let d = h.availableData
            if !d.isEmpty { output.append(d) }
        }
        try start()
    }

    /// Starts the process as a shell would: with no signal blocked. The test's own threads
    /// block most signals, and a child inherits its parent thread's mask through exec.
    private func start() throws {
        let process = self.process
        let result = LockedResult()
        let starter = Thread {
            var none = sigset_t()
            sigemptyset(&none)
            pthread_sigmask(SIG_SETMASK, &none, nil)
            result.set(Result { try process.run() })
        }
        starter.start()
        CLI.wait(timeout: 60) { result.value != nil }
        try result.value?.get()
    }

    /// `sprig arguments` on `pty`'s slave as its controlling terminal, in the terminal's
    /// foreground process group (a session of its own, as a login shell gives a command).
    init(sprigArguments arguments: [String], on pty: PseudoTerminal) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["--wait", "--ctty", try CLI.sprig.path] + arguments
        process.currentDirectoryURL = Boot.project.root
        process.standardInput = pty.slave
        process.standardOutput = pty.slave
        process.standardError = pty.slave
        try start()
    }

    /// Waits for the process to end.
    func waitForExit(timeout: Double = Boot.hangGuard) throws {
        guard CLI.wait(timeout: timeout, until: { !process.isRunning }) else {
            process.terminate()
            throw CLIError("still running after \(Int(timeout)) s:\n\(output.text)")
        }
        process.waitUntilExit()
        // What the handler has not collected yet is still in the pipe: read it to its end.
        if let pipe {
            pipe.fileHandleForReading.readabilityHandler = nil
            try? pipe.fileHandleForWriting.close()
            output.append(pipe.fileHandleForReading.readDataToEndOfFile())
        }
    }

    /// Waits until the output satisfies `condition` (while the process runs).
    func waitForOutput(timeout: Double = Boot.hangGuard, _ condition: (String) -> Bool) throws {
        try waitFor(timeout: timeout, what: output) { condition(output.text) }
    }

    /// Waits until `condition` holds; fails when the process ends first or the hang guard passes.
    func waitFor(timeout: Double = Boot.hangGuard, what shown: Collected, _ condition: () -> Bool) throws {
        var ended = false
        let held = CLI.wait(timeout: timeout) {
            if condition() { return true }
            ended = !process.isRunning
            return ended && !condition()
        }
        guard held && !ended else {
            throw CLIError("\(ended ? "the process ended (status \(process.terminationStatus))" : "still waiting after \(Int(timeout)) s") before the awaited output:\n\(shown.text)")
        }
    }
}

final class LockedResult: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Result<Void, Error>?
    func set(_ r: Result<Void, Error>) { lock.lock(); stored = r; lock.unlock() }
    var value: Result<Void, Error>? { lock.lock(); defer { lock.unlock() }; return stored }
}

/// A pseudo-terminal pair opened by the test: the slave is the terminal a command runs on, the
/// master is the keyboard and the screen.
final class PseudoTerminal {
    let master: Int32
    let slave: FileHandle
    let screen = Collected()
    private let reader: Thread

    init() throws {
        // posix_openpt, unlockpt and ptsname as Linux does them (glibc hides those functions and
        // Swift imports no _IOW macro): TIOCSPTLCK = _IOW('T', 0x31, int), TIOCGPTN = _IOR('T', 0x30, unsigned).
        let unlockRequest: UInt = 0x4004_5431, numberRequest: UInt = 0x8004_5430
        master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0, number: UInt32 = 0
        guard master >= 0, ioctl(master, unlockRequest, &unlock) == 0, ioctl(master, numberRequest, &number) == 0 else {
            throw CLIError("cannot open a pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        let fd = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        guard fd >= 0 else { throw CLIError("cannot open the pty's slave: \(String(cString: strerror(errno)))") }
        slave = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        let master = self.master, screen = self.screen
        reader = Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 100) <= 0 { if Thread.current.isCancelled { return } else { continue } }
                let n = read(master, &buffer, buffer.count)
                if n <= 0 { if Thread.current.isCancelled { return } else { Thread.sleep(forTimeInterval: 0.05); continue } }
                screen.append(Data(buffer[..<n]))
            }
        }
        reader.start()
    }

    deinit {
        reader.cancel()
        Thread.sleep(forTimeInterval: 0.2)
        close(master)
    }

    /// Types `bytes` on the keyboard.
    func type(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    }

    /// The terminal's mode now.
    var mode: termios {
        var t = termios()
        tcgetattr(slave.fileDescriptor, &t)
        return t
    }

    /// Waits until the screen satisfies `condition`, while `process` runs.
    func waitForScreen(of process: Spawned, timeout: Double = Boot.hangGuard, _ condition: (String) -> Bool) throws {
        try process.waitFor(timeout: timeout, what: screen) { condition(screen.text) }
    }
}

extension termios {
    /// The flags a program changes to take raw input: equal when a mode was restored.
    var flags: [UInt32] { [c_iflag, c_oflag, c_cflag, c_lflag] }
}
