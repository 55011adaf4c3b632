/// `sprig run` as a user runs it: on a real terminal (a pseudo-terminal the test owns, never a
/// pipe), and stopped by a signal. Typed keys reach the guest, Ctrl-D ends the echo system, the
/// terminal's mode comes back on every way out, and no QEMU outlives sprig.
import Foundation
import Testing

@Suite("sprig run on a terminal and on signals", .serialized)
struct TerminalTests {
    init() throws { _ = try Boot.products(.release) }

    @Test("typed keys reach the echo system through the terminal, unechoed by the terminal; Ctrl-D ends it; the mode comes back")
    func typing() throws {
        let pty = try PseudoTerminal()
        let before = pty.mode
        let sprig = try Spawned(sprigArguments: ["run", "--system", "echo"], on: pty)
        try pty.waitForScreen(of: sprig) { $0.contains("echo: ready") }
        // Raw while the guest reads: no line editing, no echo by the terminal.
        let raw = pty.mode
        #expect(raw.c_lflag & tcflag_t(ICANON | ECHO) == 0)
        pty.type(Array("typed on a terminal".utf8))
        // However the UART splits the keys into deliveries.
        try pty.waitForScreen(of: sprig) { EchoScript.echoed($0) == "typed on a terminal" }
        // Only the guest's delivery lines show the keys, not the terminal's own echo.
        let shown = pty.screen.text.split(separator: "\n").filter { $0.contains("typed") && !$0.hasPrefix("echo: delivery ") }
        #expect(shown.isEmpty, "\(pty.screen.text)")
        pty.type([0x04])
        try sprig.waitForExit()
        #expect(sprig.process.terminationStatus == 0, "\(pty.screen.text)")
        #expect(pty.screen.text.contains("echo: done: 20 bytes"), "\(pty.screen.text)")
        #expect(pty.screen.text.contains("sprig: the system powered off with status 0"))
        #expect(pty.mode.flags == before.flags, "the terminal's mode was not restored")
    }

    @Test("Ctrl-C on the terminal, or a SIGTERM, stops sprig and its QEMU and restores the terminal's mode",
          arguments: ["Ctrl-C", "SIGTERM"])
    func interrupted(_ how: String) throws {
        let pty = try PseudoTerminal()
        let before = pty.mode
        let sprig = try Spawned(sprigArguments: ["run", "--system", "echo"], on: pty)
        try pty.waitForScreen(of: sprig) { $0.contains("echo: ready") }
        let qemu = try #require(CLI.qemu(of: sprig.pid))
        if how == "Ctrl-C" {
            pty.type([0x03])
        } else {
            // setsid runs sprig as its child.
            kill(try #require(CLI.children(of: sprig.pid).first { CLI.command($0) == "sprig" }), SIGTERM)
        }
        try sprig.waitForExit()
        #expect(CLI.wait(timeout: 10) { CLI.isGone(qemu) }, "QEMU \(qemu) outlived sprig")
        #expect(sprig.process.terminationStatus != 0)
        #expect(pty.mode.flags == before.flags, "the terminal's mode was not restored")
    }

    @Test("SIGINT, SIGTERM or SIGHUP to sprig ends its QEMU too, and sprig dies of that signal",
          arguments: [SIGINT, SIGTERM, SIGHUP])
    func signalEndsQEMU(_ signal: Int32) throws {
        let sprig = try Spawned(sprigArguments: ["run", "--system", "echo", "--timeout", "600"])
        try sprig.waitForOutput { $0.contains("echo: ready") }
        let qemu = try #require(CLI.qemu(of: sprig.pid))
        kill(sprig.pid, signal)
        try sprig.waitForExit()
        #expect(sprig.process.terminationReason == .uncaughtSignal)
        #expect(sprig.process.terminationStatus == signal)
        #expect(CLI.wait(timeout: 10) { CLI.isGone(qemu) }, "QEMU \(qemu) outlived sprig")
    }
}
