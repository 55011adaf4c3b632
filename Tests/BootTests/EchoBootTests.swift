/// Serial input on the booted kernel (`systems/echo/echo`, docs/yield.md "Serial input"):
/// bytes written to QEMU's standard input reach root through IRQ 4 at `VIDT[36]`, each delivery
/// naming the child it interrupted, and root's `consoleRead` drains them in order and complete.
/// The same run on the trace kernel replays in the model with no divergence, the bytes read
/// taken from the trace. Bursts are sent only once root has echoed the previous one, so the
/// child is resumed and spins between them.
import Foundation
import SprigABI
import SprigModel
import SprigTool
import Testing

enum EchoScript {
    /// Three bursts: a line longer than the UART's FIFO (16 bytes) and `readSize` (64), a
    /// short one with bytes root escapes (a backslash, a tab, a newline, 0xFF), and the end.
    static let bursts: [[UInt8]] = [
        Array("the quick brown fox jumps over the lazy dog, 0123456789, THE QUICK BROWN FOX <1>".utf8),
        Array("tab\there\\back".utf8) + [0x0A, 0xFF] + Array("<2>".utf8),
        Array("bye".utf8) + [0x04],
    ]

    /// What is written, piece by piece: the bursts, the first cut in two inside its `<1>` mark,
    /// so that every run has root echo a mark in two deliveries, as the UART may always do on
    /// its own. A wait for the text `<1>` never ends here; the script waits for what root has
    /// echoed in all, however it came.
    static let pieces: [[UInt8]] = [Array(bursts[0].dropLast(2)), Array(bursts[0].suffix(2)), bursts[1], bursts[2]]

    /// Each piece once root has echoed every byte before it (the first once root is ready).
    static var script: RunInput {
        .script([RunInputStep(after: "echo: ready", bytes: pieces[0])]
                + (1..<pieces.count).map { RunInputStep(when: echoedThrough(piece: $0), bytes: pieces[$0]) })
    }

    /// Root has echoed exactly the pieces before `piece`.
    static func echoedThrough(piece: Int) -> ConsoleCondition {
        let expected = escaped(pieces[..<piece].flatMap { $0 })
        return ConsoleCondition { echoed($0) == expected }
    }

    /// Every byte root has echoed so far, in order: the text read of each complete delivery line.
    static func echoed(_ output: String) -> String { deliveries(output).map(\.text).joined() }

    /// The bytes as root prints them.
    static func escaped(_ bytes: [UInt8]) -> String {
        bytes.map { b -> String in
            if b == 92 { return "\\\\" }
            if b >= 0x20 && b < 0x7F { return String(UnicodeScalar(b)) }
            return "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
        }.joined()
    }

    /// The complete delivery lines of `output` (a line still arriving is not one yet): the line,
    /// the text read, the count root printed.
    static func deliveries(_ output: String) -> [(line: Substring, text: String, count: Int)] {
        output.completeLines.filter { $0.hasPrefix("echo: delivery ") }.compactMap { line in
            guard let read = line.range(of: "; read "), let open = line.range(of: " (", options: .backwards),
                  read.upperBound <= open.lowerBound, line.hasSuffix(" bytes)"),
                  let n = Int(line[open.upperBound...].prefix { $0.isNumber }) else { return nil }
            return (line, String(line[read.upperBound..<open.lowerBound]), n)
        }
    }
}

@Suite("Serial input through IRQ 4 to root")
struct EchoBootTests {
    @Test("the script waits for what root echoed in all, not for a mark on one line: a mark split across deliveries and a line still arriving")
    func scriptWaitsForEchoedBytes() {
        let ready = "Sprig: entering the root partition\necho: ready: serial input on at VIDT[36]; type, Ctrl-D ends\n"
        func delivery(_ n: Int, _ text: String) -> String {
            "echo: delivery \(n) at VIDT[36] from the spinning child, saved at 257 in its loop, it counted +5; read \(text) (\(text.count) bytes)\n"
        }
        let first = String(decoding: EchoScript.pieces[0], as: UTF8.self)
        let split = first.index(first.startIndex, offsetBy: 40)
        // The first piece in two deliveries: not yet all of it, then all of it.
        let half = ready + delivery(1, String(first[..<split]))
        #expect(!EchoScript.echoedThrough(piece: 1).holds(half))
        let whole = half + delivery(2, String(first[split...]))
        #expect(EchoScript.echoedThrough(piece: 1).holds(whole))
        #expect(!EchoScript.echoedThrough(piece: 2).holds(whole))
        // The mark `<1>` in two deliveries, the second line still arriving: not yet, then yes.
        let mark = whole + delivery(3, "1>").dropLast(9)
        #expect(!EchoScript.echoedThrough(piece: 2).holds(String(mark)))
        #expect(!mark.contains("<1>"))
        #expect(EchoScript.echoedThrough(piece: 2).holds(whole + delivery(3, "1>")))
    }

    @Test("bytes sent to the serial port reach root at VIDT[36] naming the interrupted child, in order and complete")
    func echo() throws {
        let r = try Boot.run("echo", timeout: Boot.hangGuard, input: EchoScript.script)
        let out = r.output
        #expect(r.ending == .status(0), "\(r.summary)\n\(out)")
        let d = EchoScript.deliveries(out)
        let sent = EchoScript.bursts.flatMap { $0 }
        // In order and complete: what root read, delivery after delivery, is what was sent.
        #expect(d.map(\.text).joined() == EchoScript.escaped(sent), "\(out)")
        #expect(d.map(\.count).reduce(0, +) == sent.count, "\(out)")
        // Each piece was sent after the previous one was echoed: at least one delivery each,
        // and every one named the spinning child, saved at its STI slot while in its loop.
        #expect(d.count >= EchoScript.pieces.count, "\(out)")
        for line in d.map(\.line) {
            #expect(line.contains("at VIDT[36] from the spinning child, saved at 257 in its loop"), "\(line)")
        }
        let done = try #require(out.line(containing: "echo: done: "), "\(out)")
        #expect(done.contains("\(sent.count) bytes in \(d.count) deliveries"), "\(done)")
        #expect(done.contains("; 0 not from the child's loop at its STI slot"), "\(done)")
        // Resumed between bursts, the child counted on (the first delivery may come before its
        // first instruction, one right after a resume before its next).
        let progressed = String.number(after: "counted further before ", in: done) ?? 0
        #expect(progressed >= 2, "\(done)")
        #expect(done.contains("failures 0"), "\(done)")
        // After the interrupt is off, hostile reads were refused by name (a failure would say so).
        #expect(!out.contains("FAILED"), "\(out)")
    }

    @Test("with nothing on the serial port, no delivery comes: root waits until it is stopped")
    func nothingArrives() throws {
        // However long the boot takes: stopped 3 s after root is ready (the timeout only
        // guards against a hang).
        let r = try Boot.run("echo", stop: RunStop(when: .contains("echo: ready"), grace: 3))
        #expect(r.ending == .stopped, "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("echo: ready"))
        #expect(!r.output.contains("echo: delivery"), "\(r.output)")
    }

    @Test("the echo run on the trace kernel replays in the model with no divergence, serial input taken from the trace")
    func echoReplays() throws {
        _ = try Boot.products(.release)
        let file = Boot.project.buildDirectory.appendingPathComponent("trace").appendingPathComponent("echo-boottest.trace")
        let run = try TraceRun.record(system: "echo", to: file, project: Boot.project, timeout: Boot.hangGuard, input: EchoScript.script)
        #expect(run.ending == .status(0), "\(run.summary)\n\(run.output)")
        let trace = try TraceRun.read(file)
        let sent = EchoScript.bursts.flatMap { $0 }
        // The trace holds every byte read, in order, in consoleRead events only.
        let recorded = trace.events.flatMap { $0.consoleInput.flatMap(\.bytes) }
        #expect(recorded == sent)
        let start = Date()
        let report = Replayer(trace: trace).run()
        print("replay: echo trace \(trace.bytes) bytes, \(trace.events.count) events, recorded in "
              + "\(String(format: "%.1f", run.seconds)) s, replayed in \(String(format: "%.2f", Date().timeIntervalSince(start))) s: \(report.summary)")
        #expect(report.divergence == nil, "\(report.divergence.map(String.init(describing:)) ?? "")")
        #expect(report.replayed == report.events)
        #expect(report.consoleInputBytes == sent.count)
        #expect((report.kinds[.hardwareInterrupt] ?? 0) >= EchoScript.pieces.count)
        #expect(report.poweredOff == 0)
        #expect(String(decoding: report.console, as: UTF8.self) == TraceRun.partitionConsole(run.output))

        // Serial input anywhere but in a consoleRead is refused when the file is read: here in
        // the last event, root's powerOff, which the machine stopped in.
        #expect(trace.events.last?.outcome == .machineService(.powerOff))
        let bytes = [UInt8](try Data(contentsOf: file)) + [TraceFormat.Tag.consoleInput.rawValue, 0x10, 1, 0x61]
        #expect(throws: TraceError.self) { _ = try TraceFile.parse(bytes) }
        do { _ = try TraceFile.parse(bytes) } catch let e as TraceError {
            #expect(e.message.contains("console input in an event that is not a consoleRead"), "\(e)")
        }

        // The same trace with a byte fewer in its first read: the model reads less than the
        // machine did, and the count it returns (rdx) differs at that very event.
        guard let k = trace.events.firstIndex(where: { !$0.consoleInput.isEmpty }) else { return }
        var cut = trace
        cut.events[k].consoleInput[0].bytes.removeLast()
        let broken = Replayer(trace: cut).run()
        #expect(broken.divergence?.event == k, "\(broken.divergence.map(String.init(describing:)) ?? "no divergence")")
    }
}
