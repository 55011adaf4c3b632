/// `sprig run-gdb`: the debug variant carries DWARF, QEMU waits for a debugger on the port asked
/// for (`--wait-only`), and gdb, driven in batch mode as a user would type, stops in a partition
/// and in the kernel at Swift source lines, with a backtrace.
import Foundation
import SprigABI
import SprigTool
import Testing

@Suite("sprig run-gdb", .serialized)
struct GDBTests {
    static let gdb = URL(fileURLWithPath: "/usr/bin/gdb")

    /// The line of the function that follows `@_cdecl("symbol")` in `file`.
    static func line(after symbol: String, in file: String) throws -> Int {
        let text = try String(contentsOf: Boot.project.path(file), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let k = try #require(lines.firstIndex { $0.contains("@_cdecl(\"\(symbol)\")") || $0.contains("@_silgen_name(\"\(symbol)\")") },
                             "no \(symbol) in \(file)")
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
        let rootLine = try Self.line(after: "sprig_partition_main", in: "systems/hello/root/Root.swift")
        // The kernel's entry: its first statement (its `func` line is the prologue's, which
        // gdb steps past to the next line when the arguments are spilled there).
        let trapLine = try Self.line(after: "sprig_trap_syscall", in: "Sources/SprigX86/Trap.swift") + 1

        let (ended, text) = try Self.batch(["-batch", "-nx", products.kernelELF.path,
                         "-ex", "set pagination off", "-ex", "set confirm off",
                         "-ex", "add-symbol-file \(products.partitionELF("root").path)",
                         "-ex", "target remote 127.0.0.1:\(port)",
                         "-ex", "break Root.swift:\(rootLine)", "-ex", "break Trap.swift:\(trapLine)",
                         "-ex", "continue", "-ex", "bt", "-ex", "continue", "-ex", "bt", "-ex", "kill"])
        #expect(ended, "gdb did not finish:\n\(text)")
        // Root first (it runs before any kernel entry), then the kernel on root's first call.
        text.expectInOrder([
            "Breakpoint 1 at ", "Root.swift, line \(rootLine)",
            "Breakpoint 2 at ", "Trap.swift, line \(trapLine)",
            "Breakpoint 1, ", "systems/hello/root/Root.swift:\(rootLine)", "func rootMain(",
            "#0  ", "Root.swift:\(rootLine)", "#1  ", "sprig_partition_main", "_start () at ", "start.S:",
            "Breakpoint 2, ", "Sources/SprigX86/Trap.swift:\(trapLine)", "guard TrapFrame(words: trappedFrame)[TrapFrame.rax] == Service.yield.rawValue",
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

    /// Runs gdb in batch mode with `arguments`, until it ends; its output.
    static func batch(_ arguments: [String]) throws -> (ended: Bool, text: String) {
        let gdb = Process()
        gdb.executableURL = Self.gdb
        gdb.arguments = arguments
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
        pipe.fileHandleForReading.readabilityHandler = nil
        output.append(pipe.fileHandleForReading.readDataToEndOfFile())
        return (ended, output.text)
    }

    @Test("sprig run-gdb's helpers: sprig-partitions, sprig-vidt and sprig-walk read the partitions as the kernel and the MMU do",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb")))
    func partitionHelpers() throws {
        let (_, products) = try Boot.products(.debug)
        let port = try Self.freePort()
        let sprig = try Spawned(sprigArguments: ["run-gdb", "--wait-only", "--system", "signal", "--port", "\(port)"])
        defer { kill(sprig.pid, SIGTERM) }
        try sprig.waitForOutput { $0.contains("QEMU waits for a debugger on 127.0.0.1:\(port)") }
        let system = try Systems.named("signal")
        let rootELF = products.partitionELF(system.partitions[0])
        // Root's entry point from its ELF header (e_entry, bytes 24…31).
        let header = try Data(contentsOf: rootELF)
        let entry = header[24..<32].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        // sprig's own arguments (every partition's symbols, the helpers), in batch mode. First
        // stop: the kernel's first entry (kernel CR3); second: root's console handler, which the
        // mini-OS reaches once root built it and ran it (root's CR3, the kernel unmapped).
        let arguments = ["-batch", "-nx"] + Debugger.arguments(kernel: products.kernelELF, partitions: system.partitions.map { products.partitionELF($0) },
                                                               helpers: Debugger.helpers(Boot.project), port: port)
            + ["-ex", "set pagination off", "-ex", "break sprig_trap_syscall", "-ex", "continue",
               "-ex", "echo ==kernel==\\n", "-ex", "x/gx &'$e8SprigX8614rootDescriptors6UInt64Vvp'",
               "-ex", "sprig-partitions", "-ex", "sprig-vidt root",
               "-ex", "delete", "-ex", "break root_console", "-ex", "continue",
               "-ex", "echo ==root==\\n", "-ex", "x/gx &'$e6signal6miniOSs6UInt64Vvp'",
               "-ex", "sprig-partitions", "-ex", "sprig-walk current 0x\(String(AddressSpace.imageBase, radix: 16))", "-ex", "kill"]
        let (ended, text) = try Self.batch(arguments)
        #expect(ended, "gdb did not finish:\n\(text)")
        let parts = text.components(separatedBy: "==root==")
        try #require(parts.count == 2 && parts[0].contains("==kernel=="), "\(text)")
        let inKernel = parts[0], inRoot = parts[1]

        // Root's descriptor as the kernel's variable holds it, read through the kernel's tables.
        let rootLine = try #require(inKernel.line(containing: "<$e8SprigX8614rootDescriptors6UInt64Vvp>:"), "\(text)")
        let root = try #require(UInt64(rootLine.split(separator: "0x").last!.prefix { $0.isHexDigit }, radix: 16))
        #expect(root != 0 && root % 4096 == 0)
        let rootHex = "0x" + String(root, radix: 16)
        let tree = try #require(inKernel.line(containing: "root: descriptor "), "\(text)")
        #expect(tree.hasPrefix("root: descriptor \(rootHex) pml4 0x") && tree.hasSuffix("<- running"), "\(tree)")
        #expect(inKernel.contains("current descriptor \(rootHex)\n"), "\(text)")
        // VIDT[0] names root's boot context, whose rip is root's entry.
        let context = "0x" + String(AddressSpace.rootInitialContext, radix: 16)
        #expect(inKernel.contains("VIDT[0] = context \(context) rip 0x\(String(entry, radix: 16)) rsp 0x"), "\(text)")

        // In root, the kernel unmapped: the same root, running, and the mini-OS as its child,
        // named as root named it.
        let miniLine = try #require(inRoot.line(containing: "<$e6signal6miniOSs6UInt64Vvp>:"), "\(text)")
        let miniOS = try #require(UInt64(miniLine.split(separator: "0x").last!.prefix { $0.isHexDigit }, radix: 16))
        #expect(miniOS != 0)
        let rootAgain = try #require(inRoot.line(containing: "root: descriptor "), "\(text)")
        #expect(rootAgain == tree, "\(rootAgain) vs \(tree)")
        let child = try #require(inRoot.line(containing: "  child 0x\(String(miniOS, radix: 16)): descriptor 0x"), "\(text)")
        #expect(child.contains(" depth 1 ") && !child.hasSuffix("<- running"), "\(child)")
        // Root's image page as the MMU sees it: present and user at every level, then a frame.
        text.expectInOrder(["partition \(rootHex), pml4 0x", "va 0x400000",
                            "PML4[  0] = 0x", "P=1 W=1 U=1", "PDPT[  0] = 0x", "P=1 W=1 U=1",
                            "PD  [  2] = 0x", "P=1 W=1 U=1", "PT  [  0] = 0x", "P=1", "U=1", "-> physical 0x"])
        try sprig.waitForExit(timeout: 60)
    }

    @Test("make run-gdb on a terminal: gdb in the foreground reads what is typed, stops in the kernel, quits; the machine stops with it",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb")))
    func interactive() throws {
        _ = try Boot.products(.debug)
        let trapLine = try Self.line(after: "sprig_trap_syscall", in: "Sources/SprigX86/Trap.swift") + 1
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
