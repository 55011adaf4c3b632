/// Serial input on the booted kernel (issue 4; `Partitions/echo`, docs/yield.md "Serial input"):
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
        Array("the quick brown fox jumps over the lazy dog, 0123456789, THE QUICK BROWN FOX #".utf8),
        Array("tab\there\\back".utf8) + [0x0A, 0xFF] + Array("%".utf8),
        Array("bye".utf8) + [0x04],
    ]

    /// Each burst once the console shows the previous one echoed (or root is ready). A burst
    /// ends in one byte found nowhere else: root may echo a burst over several delivery lines,
    /// and a longer marker could be split between two of them.
    static var script: RunInput {
        .script([
            RunInputStep(after: "echo: ready", bytes: bursts[0]),
            RunInputStep(after: "#", bytes: bursts[1]),
            RunInputStep(after: "%", bytes: bursts[2]),
        ])
    }

    /// The bytes as root prints them.
    static func escaped(_ bytes: [UInt8]) -> String {
        bytes.map { b -> String in
            if b == 92 { return "\\\\" }
            if b >= 0x20 && b < 0x7F { return String(UnicodeScalar(b)) }
            return "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
        }.joined()
    }

    /// The delivery lines of `output`: (the line, the text read, the count root printed).
    static func deliveries(_ output: String) -> [(line: Substring, text: String, count: Int)] {
        output.split(separator: "\n").filter { $0.hasPrefix("echo: delivery ") }.compactMap { line in
            guard let read = line.range(of: "; read "), let open = line.range(of: " (", options: .backwards),
                  let n = Int(line[open.upperBound...].prefix { $0.isNumber }) else { return nil }
            return (line, String(line[read.upperBound..<open.lowerBound]), n)
        }
    }
}

@Suite("Serial input through IRQ 4 to root")
struct EchoBootTests {
    @Test("bytes sent to the serial port reach root at VIDT[36] naming the interrupted child, in order and complete")
    func echo() throws {
        let r = try Boot.run("echo", timeout: 60, input: EchoScript.script)
        let out = r.output
        #expect(r.ending == .status(0), "\(r.summary)\n\(out)")
        let d = EchoScript.deliveries(out)
        let sent = EchoScript.bursts.flatMap { $0 }
        // In order and complete: what root read, delivery after delivery, is what was sent.
        #expect(d.map(\.text).joined() == EchoScript.escaped(sent), "\(out)")
        #expect(d.map(\.count).reduce(0, +) == sent.count, "\(out)")
        // Each burst was sent after the previous one was echoed: at least one delivery each,
        // and every one named the spinning child, saved at its STI slot while in its loop.
        #expect(d.count >= EchoScript.bursts.count, "\(out)")
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

    @Test("with nothing on the serial port, no delivery comes: root waits until the timeout")
    func nothingArrives() throws {
        let r = try Boot.run("echo", timeout: 5)
        #expect(r.ending == .timedOut, "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("echo: ready"))
        #expect(!r.output.contains("echo: delivery"), "\(r.output)")
    }

    @Test("the echo run on the trace kernel replays in the model with no divergence, serial input taken from the trace")
    func echoReplays() throws {
        _ = try Boot.products(.release)
        let file = Boot.project.buildDirectory.appendingPathComponent("trace").appendingPathComponent("echo-boottest.trace")
        let run = try TraceRun.record(system: "echo", to: file, project: Boot.project, timeout: 90, input: EchoScript.script)
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
        #expect((report.kinds[.hardwareInterrupt] ?? 0) >= EchoScript.bursts.count)
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
