/// `sprig trace` (docs/trace.md): the `signal` system's trace (recorded once, shared with the
/// replay tests) as Perfetto/Chrome trace-event JSON and as SVG, read back and held to the trace.
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import SprigABI
import SprigCore
import SprigModel
import SprigTool
import Testing

@Suite("Timeline of a trace")
struct TimelineTests {
    /// The JSON parsed back, its events by phase.
    struct Parsed {
        let events: [[String: Any]]
        func phase(_ ph: String) -> [[String: Any]] { events.filter { $0["ph"] as? String == ph } }
    }

    static func parse(_ timeline: Timeline) throws -> Parsed {
        let data = try timeline.perfettoJSON(title: "test")
        let top = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let events = try #require(top["traceEvents"] as? [[String: Any]])
        return Parsed(events: events)
    }

    @Test("the JSON: every event has ph/pid/tid (and ts off metadata), every kernel entry is one instant, flows pair up inside slices")
    func perfettoStructure() throws {
        let trace = try SignalTrace.get().trace
        let parsed = try Self.parse(Timeline(trace))
        for e in parsed.events {
            let ph = try #require(e["ph"] as? String, "\(e)")
            #expect(e["pid"] as? Int == 1, "\(e)")
            #expect(e["tid"] is Int, "\(e)")
            if ph != "M" { #expect(e["ts"] is Double || e["ts"] is Int, "\(e)") }
            #expect(["M", "X", "i", "s", "f"].contains(ph), "\(e)")
        }

        // One track per partition, named by descriptor and program.
        let names = parsed.phase("M").filter { $0["name"] as? String == "thread_name" }
            .compactMap { ($0["args"] as? [String: Any])?["name"] as? String }
        #expect(names.count == 3, "\(names)")
        #expect(names.contains { $0.hasPrefix("root: signal (descriptor 0x") }, "\(names)")
        #expect(names.contains { $0.hasPrefix("minios (descriptor 0x") }, "\(names)")
        #expect(names.contains { $0.hasPrefix("server (descriptor 0x") }, "\(names)")

        // Every kernel entry of the trace, once, on the track of the partition that trapped.
        let instants = parsed.phase("i")
        let entries = instants.compactMap { ($0["args"] as? [String: Any])?["entry"] as? Int }
        #expect(entries.count == instants.count)
        #expect(entries.sorted() == Array(0..<trace.events.count), "\(entries.count) instants for \(trace.events.count) entries")

        // The slices: at most one partition runs at any time.
        let slices = parsed.phase("X").map { (tid: $0["tid"] as! Int, ts: $0["ts"] as! Double, dur: $0["dur"] as! Double) }
            .sorted { $0.ts < $1.ts }
        #expect(!slices.isEmpty)
        for (a, b) in zip(slices, slices.dropFirst()) {
            #expect(a.dur >= 0 && a.ts + a.dur <= b.ts, "slices overlap: \(a) \(b)")
        }
        func inSlice(_ tid: Int, _ ts: Double) -> Bool { slices.contains { $0.tid == tid && $0.ts <= ts && ts <= $0.ts + $0.dur } }

        // Flows: one start and one end per id, the end after the start on another track, each inside
        // a slice of its track; one per entry after which another partition runs.
        let starts = Dictionary(grouping: parsed.phase("s"), by: { $0["id"] as! Int })
        let ends = Dictionary(grouping: parsed.phase("f"), by: { $0["id"] as! Int })
        #expect(Set(starts.keys) == Set(ends.keys))
        var flowEntries: [Int] = []
        for (id, s) in starts {
            guard s.count == 1, let f = ends[id], f.count == 1 else { Issue.record("flow \(id) is not one start and one end"); continue }
            let (a, b) = (s[0], f[0])
            #expect(a["cat"] as? String == b["cat"] as? String)
            #expect(b["bp"] as? String == "e")
            #expect((a["ts"] as! Double) < (b["ts"] as! Double))
            #expect(a["tid"] as! Int != b["tid"] as! Int)
            #expect(inSlice(a["tid"] as! Int, a["ts"] as! Double), "flow \(id) starts outside a slice")
            #expect(inSlice(b["tid"] as! Int, b["ts"] as! Double), "flow \(id) ends outside a slice")
            flowEntries.append((a["args"] as! [String: Any])["entry"] as! Int)
        }
        let switches = trace.events.indices.filter { k in trace.events[k].resumed.map { $0.current != trace.events[k].trapped.current } ?? false }
        #expect(flowEntries.sorted() == switches)
        // signal: the yields between root, the mini-OS and the server, and the server's `int 0x80`s
        // delivered to the mini-OS.
        let kinds = Dictionary(grouping: parsed.phase("s"), by: { $0["cat"] as! String }).mapValues(\.count)
        #expect(kinds["yield", default: 0] > 0 && kinds["delivery", default: 0] > 0, "\(kinds)")
    }

    @Test("instants say what the entry was: a service's status when refused, an interrupt, a fault, int n")
    func instantCategories() throws {
        var trace = try SignalTrace.get().trace
        trace.events[3].event = .hardwareInterrupt(vector: 32)
        trace.events[4].event = .exception(vector: 14, errorCode: 4, faultAddress: 0x1000)
        let instants = try Self.parse(Timeline(trace)).phase("i")
        func instant(_ entry: Int) throws -> [String: Any] {
            try #require(instants.first { ($0["args"] as? [String: Any])?["entry"] as? Int == entry })
        }
        #expect(try instant(3)["cat"] as? String == "interrupt")
        #expect(try instant(3)["name"] as? String == "timer (IRQ 0)")
        #expect(try instant(4)["cat"] as? String == "fault")
        #expect(try instant(4)["name"] as? String == "#PF")
        #expect(instants.contains { $0["cat"] as? String == "int" && $0["name"] as? String == "int 0x80" })
        #expect(instants.contains { $0["cat"] as? String == "yield" && $0["name"] as? String == "yield → interruptMasked" },
                "SIGINT is refused while the server masks it")
        #expect(instants.contains { $0["cat"] as? String == "service" && $0["name"] as? String == "consoleWrite" })
    }

    @Test("the SVG is well-formed XML with a bar per stretch and each track's name")
    func svgPicture() throws {
        let timeline = Timeline(try SignalTrace.get().trace)
        let svg = timeline.svg(title: "signal")
        final class Counter: NSObject, XMLParserDelegate {
            var rects = 0
            var text = ""
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) { if name == "rect" { rects += 1 } }
            func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
        }
        let counter = Counter()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = counter
        #expect(parser.parse(), "\(parser.parserError.map(String.init(describing:)) ?? "")")
        #expect(counter.rects == timeline.slices.count + 1, "a bar per stretch and the background")
        for t in timeline.tracks { #expect(counter.text.contains(t.name)) }
    }
}
