/// `sprig run-gdb`: the debug variant carries DWARF, QEMU waits for a debugger on the port asked
/// for (`--wait-only`), and gdb, driven in batch mode as a user would type, stops in a partition
/// and in the kernel at Swift source lines, with a backtrace.
import Foundation
import Testing

@Suite("sprig run-gdb", .serialized)
struct GDBTests {
    static let gdb = URL(fileURLWithPath: "/usr/bin/gdb")

    /// The line of the function that follows `@_cdecl("symbol")` in `file`.
    static func line(after symbol: String, in file: String) throws -> Int {
        let text = try String(contentsOf: Boot.project.path(file), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let k = try #require(lines.firstIndex { $0.contains("@_cdecl(\"\(symbol)\")") }, "no \(symbol) in \(file)")
        return k + 2
    }

    /// A TCP port nobody listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw CLIError("no free port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    @Test("gdb stops in root's main and in the kernel's trap handler at their Swift lines, with a backtrace",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb")))
    func breakpointsAndBacktrace() throws {
        let (_, products) = try Boot.products(.debug)
        let port = try Self.freePort()
        let sprig = try Spawned(sprigArguments: ["run-gdb", "--wait-only", "--system", "hello", "--port", "\(port)"])
        defer { kill(sprig.pid, SIGTERM) }
        try sprig.waitForOutput { $0.contains("QEMU waits for a debugger on 127.0.0.1:\(port)") }
        let rootLine = try Self.line(after: "sprig_partition_main", in: "Partitions/root/Root.swift")
        let trapLine = try Self.line(after: "sprig_trap", in: "Sources/SprigX86/Trap.swift")

        let gdb = Process()
        gdb.executableURL = Self.gdb
        gdb.arguments = ["-batch", "-nx", products.kernelELF.path,
                         "-ex", "set pagination off", "-ex", "set confirm off",
                         "-ex", "add-symbol-file \(products.partitionELF("root").path)",
                         "-ex", "target remote 127.0.0.1:\(port)",
                         "-ex", "break Root.swift:\(rootLine)", "-ex", "break Trap.swift:\(trapLine)",
                         "-ex", "continue", "-ex", "bt", "-ex", "continue", "-ex", "bt", "-ex", "kill"]
        let pipe = Pipe()
        gdb.standardOutput = pipe
        gdb.standardError = pipe
        gdb.standardInput = FileHandle.nullDevice
        let output = Collected()
        pipe.fileHandleForReading.readabilityHandler = { h in
            let d = h.availableData
            if !d.isEmpty { output.append(d) }
        }
        try gdb.run()
        let ended = CLI.wait { !gdb.isRunning }
        if !ended { gdb.terminate() }
        gdb.waitUntilExit()
        let text = output.text
        #expect(ended, "gdb did not finish:\n\(text)")
        // Root first (it runs before any kernel entry), then the kernel on root's first call.
        text.expectInOrder([
            "Breakpoint 1 at ", "Root.swift, line \(rootLine)",
            "Breakpoint 2 at ", "Trap.swift, line \(trapLine)",
            "Breakpoint 1, ", "Partitions/root/Root.swift:\(rootLine)", "func rootMain(",
            "#0  ", "Root.swift:\(rootLine)", "#1  ", "sprig_partition_main", "_start () at ", "start.S:",
            "Breakpoint 2, ", "Sources/SprigX86/Trap.swift:\(trapLine)", "func sprigTrap(",
            "#0  ", "Trap.swift:\(trapLine)", "#1  ", "sprig_syscall_entry () at ", "entry.S:",
        ])
        // The entry code is where the kernel's backtrace ends (its CFI marks rip undefined): no
        // frame past it, whatever the stack above the frame holds. Without that, gdb unwinds
        // into the frame's words (#2 0x100, the syscall vector) and, on a terminal, pages on.
        let kernelTrace = text.range(of: "Breakpoint 2, ").map { String(text[$0.upperBound...]) } ?? ""
        #expect(!kernelTrace.contains("#2  "), "\(kernelTrace)")
        try sprig.waitForExit(timeout: 60)
        #expect(CLI.descendants(of: sprig.pid).isEmpty)
    }

    @Test("make run-gdb on a terminal: gdb in the foreground reads what is typed, stops in the kernel, quits; the machine stops with it",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb")))
    func interactive() throws {
        _ = try Boot.products(.debug)
        let trapLine = try Self.line(after: "sprig_trap", in: "Sources/SprigX86/Trap.swift")
        let pty = try PseudoTerminal()
        let before = pty.mode
        let sprig = try Spawned(sprigArguments: ["run-gdb", "--system", "hello", "--port", "\(try Self.freePort())"], on: pty)
        // gdb's prompts, counted (readline may follow each with a terminal control sequence).
        func prompts(_ screen: String) -> Int { screen.components(separatedBy: "(gdb) ").count - 1 }
        try pty.waitForScreen(of: sprig) { prompts($0) >= 1 }
        pty.type(Array("break Trap.swift:\(trapLine)\n".utf8))
        try pty.waitForScreen(of: sprig) { prompts($0) >= 2 }
        pty.type(Array("continue\n".utf8))
        try pty.waitForScreen(of: sprig) { $0.contains("Breakpoint 1, ") && prompts($0) >= 3 }
        pty.type(Array("bt\n".utf8))
        try pty.waitForScreen(of: sprig) { $0.contains("sprig_syscall_entry") && $0.contains("entry.S") && prompts($0) >= 4 }
        let qemu = try #require(CLI.qemu(of: sprig.pid))
        pty.type(Array("quit\n".utf8))
        try pty.waitForScreen(of: sprig) { $0.contains("(y or n)") }
        pty.type(Array("y\n".utf8))
        try sprig.waitForExit()
        #expect(CLI.wait(timeout: 10) { CLI.isGone(qemu) }, "QEMU \(qemu) outlived gdb")
        #expect(pty.screen.text.contains("sprig: gdb exited"), "\(pty.screen.text)")
        #expect(pty.mode.flags == before.flags, "the terminal's mode was not restored")
    }

    @Test("--wait-only refuses a port outside 1...65535 in one line, exit 64")
    func badPort() throws {
        let (status, output) = try CLI.run(["run-gdb", "--wait-only", "--port", "70000"])
        #expect(status == 64, "\(output)")
        #expect(output.contains("--port must be between 1 and 65535"), "\(output)")
    }
}
