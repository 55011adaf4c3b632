/// Differential replay (docs/replay.md): the `signal` and `attacks` systems
/// booted on the trace kernel, their traces replayed in the model with no divergence; then the same trace with one thing
/// changed — an outcome, a value the kernel loaded from its own memory, a stored word, a saved
/// context, a resumed register, a module byte — and models broken on purpose, each of which the
/// replay must report at the right place; and files that are not whole traces, refused by name.
import Foundation
import SprigABI
import SprigCore
import SprigModel
import SprigTool
import Testing

/// One traced boot of `signal` per test process, shared by the tests below.
enum SignalTrace {
    struct Recorded: Sendable {
        let run: RunResult
        let bytes: [UInt8]
        let trace: Trace
        let seconds: Double
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var recorded: Result<Recorded, Error>?

    static func get() throws -> Recorded {
        lock.lock()
        defer { lock.unlock() }
        if let r = recorded { return try r.get() }
        let r = Result { () throws -> Recorded in
            // The trace variant shares the release partitions: build them first, under
            // Boot.products' lock, so that no other test builds them at the same time.
            _ = try Boot.products(.release)
            let file = Boot.project.buildDirectory.appendingPathComponent("trace").appendingPathComponent("signal-boottest.trace")
            let start = Date()
            let run = try TraceRun.record(system: "signal", to: file, project: Boot.project, timeout: Boot.hangGuard)
            let seconds = Date().timeIntervalSince(start)
            let bytes = [UInt8](try Data(contentsOf: file))
            return Recorded(run: run, bytes: bytes, trace: try TraceFile.parse(bytes), seconds: seconds)
        }
        recorded = r
        return try r.get()
    }
}

@Suite("Differential replay of the booted kernel in the model")
struct ReplayBootTests {
    @Test("signal's trace replays with no divergence: every event kind the scenario makes, the same console")
    func signalReplays() throws {
        let r = try SignalTrace.get()
        #expect(r.run.ending == .status(0), "\(r.run.summary)\n\(r.run.output)")
        #expect(r.run.output.contains("root: signal scenario done, 0 failures"))
        let start = Date()
        let report = Replayer(trace: r.trace).run()
        let seconds = Date().timeIntervalSince(start)
        print("replay: signal trace \(r.bytes.count) bytes, \(r.trace.events.count) events, recorded in "
              + "\(String(format: "%.1f", r.seconds)) s, replayed in \(String(format: "%.2f", seconds)) s: \(report.summary)")
        #expect(report.divergence == nil, "\(report.divergence.map(String.init(describing:)) ?? "")")
        #expect(report.replayed == report.events)
        // The scenario's kernel entries, by kind: the memory services that build and take back
        // two children, the yields between them, root's console and power-off, and the `int 0x80`
        // console forwarding, each delivered to a handler.
        let kinds = report.kinds
        #expect(report.events > 1000)
        #expect((kinds[.service] ?? 0) > 1000)
        #expect((kinds[.yield] ?? 0) >= 20)
        #expect((kinds[.machineService] ?? 0) >= 15)
        #expect((kinds[.softwareInterrupt] ?? 0) >= 10)
        #expect(report.deliveries == kinds[.softwareInterrupt])
        // signal never faults and never starts the timer.
        #expect(kinds[.exception] == nil && kinds[.hardwareInterrupt] == nil)
        #expect(report.requests > 50_000)
        // The kernel read what ring 3 wrote (VIDTs, contexts, free lists, console text), and the
        // model took it, and only it.
        #expect(report.adoptedWords > 0 && report.adoptedConsoleBytes > 0)
        #expect(report.poweredOff == 0)
        #expect(String(decoding: report.console, as: UTF8.self) == TraceRun.partitionConsole(r.run.output))
        // Every request kind the scenario needs appears in the trace.
        var saves = 0, loads = 0, switches = 0, zeroes = 0
        for e in r.trace.events {
            for q in e.requests {
                switch q {
                case .saveContext: saves += 1
                case .loadContext: loads += 1
                case .switchAddressSpace: switches += 1
                case .zeroPage: zeroes += 1
                default: break
                }
            }
        }
        #expect(saves > 10 && loads > 20 && switches > 20 && zeroes > 50)
    }

    @Test("the attacks system's trace replays with no divergence: faults, double faults, timer interrupts, hygiene probes")
    func attacksReplays() throws {
        _ = try Boot.products(.release)
        let file = Boot.project.buildDirectory.appendingPathComponent("trace").appendingPathComponent("attacks-boottest.trace")
        let start = Date()
        // Counting instructions (-icount), as the attacks boot test does: the timer's ticks come
        // at fixed instruction counts, so the spinning child's progress check holds however
        // slow the trace kernel's thousands of debug-port writes per entry make each one.
        let run = try TraceRun.record(system: "attacks", to: file, project: Boot.project, timeout: Boot.hangGuard, icount: true)
        let recorded = Date().timeIntervalSince(start)
        #expect(run.ending == .status(0), "\(run.summary)\n\(run.output)")
        guard case .status(let status) = run.ending else { return }
        let trace = try TraceRun.read(file)
        let replayStart = Date()
        let report = Replayer(trace: trace).run()
        print("replay: attacks trace \(trace.bytes) bytes, \(trace.events.count) events, recorded in "
              + "\(String(format: "%.1f", recorded)) s, replayed in \(String(format: "%.2f", Date().timeIntervalSince(replayStart))) s: \(report.summary)")
        #expect(report.divergence == nil, "\(report.divergence.map(String.init(describing:)) ?? "")")
        #expect(report.replayed == report.events)
        #expect(report.poweredOff == status)
        #expect(String(decoding: report.console, as: UTF8.self) == TraceRun.partitionConsole(run.output))
        let kinds = report.kinds
        // A child faulting 1000 times, Fig. 4 by faults, 200 timer ticks over a spinning child.
        #expect((kinds[.exception] ?? 0) >= 1000)
        #expect((kinds[.hardwareInterrupt] ?? 0) >= 100)
        #expect((kinds[.yield] ?? 0) >= 100 && (kinds[.service] ?? 0) >= 100)
        #expect(report.deliveries >= 1000)
    }

    /// The fuzz partition's campaign (random calls with random FPU state in the contexts it
    /// writes): the model's FXSAVE/FXRSTOR must be the CPU's (FIP, FDP and FOP as QEMU writes
    /// them, FSW.B from ES, the bytes FXSAVE leaves alone) for the resumed FPU image to match.
    /// 100 calls keep it to about 10 s of recording.
    @Test("the fuzz system's trace replays with no divergence, FXSAVE image and all")
    func fuzzReplays() throws {
        _ = try Boot.products(.release)
        let file = Boot.project.buildDirectory.appendingPathComponent("trace").appendingPathComponent("fuzz-boottest.trace")
        let run = try TraceRun.record(system: "fuzz", to: file, project: Boot.project, timeout: 120,
                                      commandLine: "fuzz.seed=1 fuzz.calls=100")
        guard case .status(let status) = run.ending else {
            Issue.record("\(run.summary)\n\(run.output)")
            return
        }
        let trace = try TraceRun.read(file)
        let report = Replayer(trace: trace).run()
        print("replay: fuzz trace \(trace.bytes) bytes, \(trace.events.count) events: \(report.summary)")
        #expect(report.divergence == nil, "\(report.divergence.map(String.init(describing:)) ?? "")")
        #expect(report.replayed == report.events)
        #expect(report.poweredOff == status)
        #expect(String(decoding: report.console, as: UTF8.self) == TraceRun.partitionConsole(run.output))
        #expect((report.kinds[.yield] ?? 0) >= 20 && (report.kinds[.exception] ?? 0) >= 5)
    }

    /// Replays `trace` and returns the divergence it must report.
    func divergence(_ trace: Trace, afterBoot: @escaping (ModelSystem) -> Void = { _ in },
                    sourceLocation: SourceLocation = #_sourceLocation) -> Divergence? {
        let report = Replayer(trace: trace, afterBoot: afterBoot).run()
        #expect(report.divergence != nil, "the change went unnoticed: \(report.summary)", sourceLocation: sourceLocation)
        if let d = report.divergence { print("replay, as expected: \(d)") }
        return report.divergence
    }

    @Test("a changed outcome, loaded kernel word, stored word, translation-cache word, saved context, resumed register or module byte is reported where it is")
    func changedTracesDiverge() throws {
        let original = try SignalTrace.get().trace
        let events = original.events

        // The refused SIGINT (interruptMasked) claimed to have succeeded.
        let refused = try #require(events.firstIndex { $0.outcome == .returned(.interruptMasked, value: 0) })
        var t = original
        t.events[refused].outcome = .returned(.success, value: 0)
        var d = divergence(t)
        #expect(d?.event == refused && d?.what == "the outcome")

        // A word of the caller's own descriptor (kernel-held memory) read differently.
        let (k, q) = try #require(Self.first(in: events) { e, r in
            if case .load(let pa, _) = r { return pa & ~0xFFF == e.trapped.current } else { return false }
        })
        t = original
        if case .load(let pa, let v) = t.events[k].requests[q] { t.events[k].requests[q] = .load(pa, value: v ^ 0x1000) }
        d = divergence(t)
        #expect(d?.event == k && d?.what.contains("kernel-held") == true)

        // A store with another value.
        let (sk, sq) = try #require(Self.first(in: events) { _, r in if case .store = r { return true } else { return false } })
        t = original
        if case .store(let pa, let v) = t.events[sk].requests[sq] { t.events[sk].requests[sq] = .store(pa, value: v &+ 1) }
        d = divergence(t)
        #expect(d?.event == sk && d?.what == "request #\(sq) of the event")

        // A word of the translation cache (kernel storage outside RAM) the machine read otherwise.
        let (tk, tq) = try #require(Self.first(in: events) { _, r in if case .translationCacheLoad = r { return true } else { return false } })
        t = original
        if case .translationCacheLoad(let i, let v) = t.events[tk].requests[tq] { t.events[tk].requests[tq] = .translationCacheLoad(i, value: v ^ 1) }
        d = divergence(t)
        #expect(d?.event == tk && d?.what == "request #\(tq) of the event")

        // A saved context whose rip (word 0) the machine saw otherwise.
        let (ck, cq) = try #require(Self.first(in: events) { _, r in if case .saveContext = r { return true } else { return false } })
        t = original
        if case .saveContext(let p, let f, let rv, var words) = t.events[ck].requests[cq] {
            words[0] ^= 1
            t.events[ck].requests[cq] = .saveContext(p, flags: f, returnValue: rv, words: words)
        }
        d = divergence(t)
        #expect(d?.event == ck && d?.model.contains("context word at offset 0") == true)

        // A yield that resumed ring 3 elsewhere.
        let yield = try #require(events.firstIndex { if case .systemCall(Service.yield.rawValue, _) = $0.event { return $0.outcome == .resume } else { return false } })
        t = original
        t.events[yield].resumed?.registers.rip &+= 16
        d = divergence(t)
        #expect(d?.event == yield && d?.what == "the state ring 3 resumes with: rip")

        // A byte of root's image: root's image pages differ after boot.
        t = original
        t.boot.modules[0].bytes[64] ^= 0xFF
        d = divergence(t)
        #expect(d != nil && d?.event == nil && d?.what.contains("a page root's boot built") == true)
    }

    @Test("a model broken on purpose diverges: kernel memory it holds differently, a CPU that loads FPU state differently")
    func brokenModelsDiverge() throws {
        let trace = try SignalTrace.get().trace
        // Root's PML4 entry over its VIDT with an ignored bit (9) set: every walk of root's VIDT
        // reads it, and a page table is no page ring 3 could have written. (A word the kernel
        // overwrites before reading it, such as a descriptor's interrupt state that a yield
        // records, changes nothing observable, and the replay rightly says nothing.)
        var d = divergence(trace) { system in
            let pml4 = system.machine.rootTable(system.machine.root)
            let at = pml4.adding(UInt64(VirtualAddress(AddressSpace.vidt).index(level: 4)) * 8)
            system.memory.store(at, system.memory.load(at) ^ (1 << 9))
        }
        #expect(d?.event != nil && d?.what.contains("kernel-held") == true)

        // A CPU whose MXCSR_MASK is not the machine's: the first context load shows it.
        d = divergence(trace) { system in system.cpu.mxcsrMask ^= 0x40 }
        #expect(d?.event != nil && d?.what.contains("FXSAVE word 3") == true)
    }

    @Test("files that are not whole traces are refused with the byte and the reason")
    func brokenFilesAreRefused() throws {
        let r = try SignalTrace.get()
        let bytes = r.bytes
        func refusal(_ b: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> String {
            do {
                _ = try TraceFile.parse(b)
                Issue.record("parsed a broken trace", sourceLocation: sourceLocation)
                return ""
            } catch let e as TraceError {
                return e.description
            } catch {
                Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
                return ""
            }
        }
        #expect(refusal([]).contains("the file is empty"))
        #expect(refusal(Array(bytes.prefix(5))).contains("cut short inside its 8-byte header"))
        var b = bytes
        b[0] = UInt8(ascii: "X")
        #expect(refusal(b).contains("not a Sprig trace"))
        b = bytes
        b[8] = 99
        #expect(refusal(b).contains("version 99"))
        // Cut inside an event's record, or between an event's requests and its resume record.
        let e = r.trace.events[100]
        #expect(refusal(Array(bytes.prefix(e.offset + 3))).contains("cut short inside a record"))
        #expect(refusal(Array(bytes.prefix(r.trace.events[101].offset - 1))).contains("cut short"))
        // A byte that is no record tag where a record starts.
        b = bytes
        b[e.offset] = 0xEE
        #expect(refusal(b).contains("trace byte \(e.offset): garbled: 0xee is not a record tag"))
        // A number longer than 64 bits.
        b = bytes
        b.replaceSubrange((e.offset + 1)..<(e.offset + 2), with: [UInt8](repeating: 0xFF, count: 10) + [0x01])
        #expect(refusal(b).contains("does not fit in 64 bits"))
        // A clean cut between two events is a trace of a machine stopped there (a timeout).
        let cut = try TraceFile.parse(Array(bytes.prefix(e.offset)))
        #expect(cut.events.count == 100)
        let report = Replayer(trace: cut).run()
        #expect(report.divergence == nil && report.replayed == 100 && report.poweredOff == nil)
    }

    /// The first (event, request) index pair whose request satisfies `match`.
    static func first(in events: [EventRecord], _ match: (EventRecord, PlatformRequest) -> Bool) -> (Int, Int)? {
        for (k, e) in events.enumerated() {
            if let q = e.requests.firstIndex(where: { match(e, $0) }) { return (k, q) }
        }
        return nil
    }
}
