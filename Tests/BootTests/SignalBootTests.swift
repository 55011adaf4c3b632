/// Boot test of the paper's signal scenario (Pip §6) on the real kernel: root starts a
/// mini-OS, the mini-OS starts a server; SIGINT (0xA3) is refused while the server masks it,
/// then taken; the server's handler exits through the mini-OS's 0xB7; the mini-OS reclaims the
/// server and root reclaims the mini-OS; every page comes back.
import Foundation
import SprigABI
import SprigTool
import Testing

@Suite("The signal scenario on the booted kernel")
struct SignalBootTests {
    @Test("the scenario's steps happen in order, the masked SIGINT is refused, and all memory comes back")
    func signalSystem() throws {
        let r = try Boot.run("signal")
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(!r.output.contains("FAILED"), "\(r.output)")
        let steps = [
            "root: starting the mini-OS",
            "minios: started; starting the server",
            "server: started; SIGINT handler installed; masking interrupts",
            "minios: sending SIGINT (0xA3) while the server masks it",
            "minios: SIGINT refused: \(Status.interruptMasked)",
            "server: resumed; unmasking interrupts and waiting for SIGINT",
            "minios: sending SIGINT (0xA3)",
            "server: SIGINT received; closing up and calling exit (0xB7)",
            "minios: the server exited through 0xB7; reclaiming it",
            "minios: collect gave back ",
            "minios: server deleted",
            "minios: free pool pages: before 96, after 96",
            "minios: done",
            "root: the mini-OS is done; deleting it",
            "root: free pages among the first 512 of my range: before 512, after 512",
            "root: signal scenario done, 0 failures",
        ]
        r.output.expectInOrder(steps)
        // The server's handler ran exactly once: the masked send changed nothing.
        #expect(r.output.components(separatedBy: "server: SIGINT received").count == 2)
    }

    @Test("make run and sprig run boot the signal system by default")
    func signalIsTheDefault() throws {
        #expect(Systems.defaultName == "signal")
        let makefile = try String(contentsOf: Boot.project.path("Makefile"), encoding: .utf8)
        #expect(makefile.contains("SYSTEM  ?= signal"))
    }
}
