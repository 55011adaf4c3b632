/// A `Timeline` written out: Chrome/Perfetto trace-event JSON (ui.perfetto.dev,
/// chrome://tracing) and a static SVG picture for docs (docs/trace.md).
import Foundation
import SprigModel

extension Timeline {
    /// The process every track belongs to.
    static let pid = 1

    /// Trace-event JSON: `process_name`/`thread_name` metadata, an `X` slice per stretch, an `i`
    /// instant per kernel entry (`args.entry` its index), an `s`/`f` pair per switch. `ts` is
    /// in microseconds on the axis, one per kernel entry (`Timeline`'s clock).
    public func perfettoJSON(title: String) throws -> Data {
        var events: [[String: Any]] = [
            ["ph": "M", "name": "process_name", "pid": Self.pid, "tid": 0, "args": ["name": title]],
        ]
        for (k, t) in tracks.enumerated() {
            events.append(["ph": "M", "name": "thread_name", "pid": Self.pid, "tid": k + 1, "args": ["name": t.name]])
            events.append(["ph": "M", "name": "thread_sort_index", "pid": Self.pid, "tid": k + 1, "args": ["sort_index": k]])
        }
        for s in slices {
            var args: [String: Any] = ["descriptor": Domain.hex(tracks[s.track].descriptor)]
            if let f = s.fromEntry { args["switched to at entry"] = f }
            if let t = s.toEntry { args["switched away at entry"] = t }
            events.append(["ph": "X", "cat": "run", "name": tracks[s.track].program ?? "ring 3", "pid": Self.pid,
                           "tid": s.track + 1, "ts": s.start, "dur": s.end - s.start, "args": args])
        }
        for i in instants {
            events.append(["ph": "i", "s": "t", "cat": i.category.rawValue, "name": i.name, "pid": Self.pid, "tid": i.track + 1,
                           "ts": i.time, "args": ["entry": i.entry, "event": i.event, "outcome": i.outcome]])
        }
        // Each end lies inside its slice: the one that ends at the entry, the one that starts
        // `switchTime` after it.
        for (k, f) in flows.enumerated() {
            events.append(["ph": "s", "cat": f.kind, "name": f.kind, "id": k + 1, "pid": Self.pid, "tid": f.from + 1,
                           "ts": f.time - Self.switchTime / 2, "args": ["entry": f.entry]])
            events.append(["ph": "f", "bp": "e", "cat": f.kind, "name": f.kind, "id": k + 1, "pid": Self.pid, "tid": f.to + 1,
                           "ts": f.time + Self.switchTime * 1.5, "args": ["entry": f.entry]])
        }
        let document: [String: Any] = [
            "traceEvents": events,
            "displayTimeUnit": "ms",
            "otherData": ["clock": "kernel entries: entry n (from 0) at n + 1 µs; the trace records no time",
                          "entries": entries],
        ]
        return try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
    }

    /// A static picture: one lane per track, its stretches as bars, kernel entries as ticks
    /// coloured by kind (ticks that fall on one pixel are drawn once), switches as arrows. The
    /// axis counts entries, but a stretch of more than `longest` entries without a switch is drawn
    /// `longest` wide and marked, so that the switches, not the services between them, get the room.
    public func svg(title: String, width: Int = 960, longest: Double = 40) -> String {
        let label = 250.0, lane = 26.0, top = 42.0, plot = Double(width) - label - 16
        let height = top + lane * Double(tracks.count) + 60
        // The axis: segments between switches, each as wide as its entries, at most `longest`.
        let cuts = Array(Set([0, end] + flows.map(\.time))).sorted()
        var offsets = [0.0]
        for k in 1..<max(cuts.count, 1) { offsets.append(offsets[k - 1] + min(cuts[k] - cuts[k - 1], longest)) }
        let total = max(offsets.last ?? 1, 1)
        func x(_ t: Double) -> Double {
            var k = 0
            while k + 2 < cuts.count && t > cuts[k + 1] { k += 1 }
            guard cuts.count > 1 else { return label }
            let span = cuts[k + 1] - cuts[k]
            let into = span > 0 ? (t - cuts[k]) / span * min(span, longest) : 0
            return label + (offsets[k] + into) / total * plot
        }
        func y(_ track: Int) -> Double { top + lane * Double(track) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        func escaped(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        let bars = ["#8ecae6", "#b7e4c7", "#ffd6a5", "#cdb4db", "#f4a3a8", "#d9ed92"]
        let colours: [Category: String] = [.service: "#6c757d", .yield: "#1d3557", .interrupt: "#e76f51", .fault: "#c1121f",
                                           .softwareInterrupt: "#2a9d8f"]
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <defs><marker id="arrow" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#1d3557"/></marker></defs>
            <rect width="100%" height="100%" fill="white"/>
            <text x="8" y="20" font-size="14" font-weight="bold">\(escaped(title))</text>

            """
        for (k, t) in tracks.enumerated() {
            out += "<text x=\"8\" y=\"\(f(y(k) + lane / 2 + 4))\">\(escaped(t.name))</text>\n"
            out += "<line x1=\"\(f(label))\" x2=\"\(f(label + plot))\" y1=\"\(f(y(k) + lane - 1))\" y2=\"\(f(y(k) + lane - 1))\" stroke=\"#eee\"/>\n"
        }
        for s in slices {
            out += "<rect x=\"\(f(x(s.start)))\" y=\"\(f(y(s.track) + 11))\" width=\"\(f(max(x(s.end) - x(s.start), 0.5)))\" height=\"\(f(lane - 15))\" fill=\"\(bars[s.track % bars.count])\"/>\n"
        }
        // One path per kind keeps the file small: a short vertical stroke per tick.
        var drawn = Set<String>()
        var ticks: [Category: String] = [:]
        for i in instants {
            let px = Int(x(i.time).rounded())
            guard drawn.insert("\(i.track) \(i.category) \(px)").inserted else { continue }
            ticks[i.category, default: ""] += "M\(px) \(Int(y(i.track)) + 2)v8"
        }
        for c in Category.allCases { if let d = ticks[c] { out += "<path d=\"\(d)\" stroke=\"\(colours[c]!)\"/>\n" } }
        for fl in flows {
            let (y0, y1) = (y(fl.from) + lane / 2 + 4, y(fl.to) + lane / 2 + 4)
            let dy = y1 > y0 ? -5.0 : 5.0
            out += "<line x1=\"\(f(x(fl.time)))\" y1=\"\(f(y0))\" x2=\"\(f(x(fl.time + Self.switchTime)))\" y2=\"\(f(y1 + dy))\" stroke=\"#1d3557\" stroke-width=\"0.8\" marker-end=\"url(#arrow)\"/>\n"
        }
        let axis = top + lane * Double(tracks.count) + 14
        out += "<line x1=\"\(f(label))\" x2=\"\(f(label + plot))\" y1=\"\(f(axis))\" y2=\"\(f(axis))\" stroke=\"black\"/>\n"
        var lastLabel = -100.0, lastLength = -100.0
        for (k, c) in cuts.enumerated() {
            let cx = x(c)
            if k > 0 && cuts[k] - cuts[k - 1] > longest {
                let mid = (x(cuts[k - 1]) + cx) / 2
                out += "<text x=\"\(f(mid))\" y=\"\(f(axis + 4))\" text-anchor=\"middle\" font-size=\"14\">≈</text>"
                if mid - lastLength >= 70 {
                    lastLength = mid
                    out += "<text x=\"\(f(mid))\" y=\"\(f(axis + 28))\" text-anchor=\"middle\" font-size=\"9\" fill=\"#555\">\(Int(cuts[k] - cuts[k - 1])) entries</text>"
                }
                out += "\n"
            }
            guard cx - lastLabel >= 28 || k == cuts.count - 1 else { continue }
            lastLabel = cx
            out += "<line x1=\"\(f(cx))\" x2=\"\(f(cx))\" y1=\"\(f(axis))\" y2=\"\(f(axis + 4))\" stroke=\"black\"/>"
            out += "<text x=\"\(f(cx))\" y=\"\(f(axis + 15))\" text-anchor=\"middle\" font-size=\"10\">\(Int(c))</text>\n"
        }
        var legend = "kernel entries (the trace has no clock; ≈ a stretch shortened) — ticks:"
        for c in Category.allCases { legend += " <tspan fill=\"\(colours[c]!)\">■ \(c == .softwareInterrupt ? "int n" : c.rawValue)</tspan>" }
        legend += " — arrows: yields, deliveries"
        out += "<text x=\"8\" y=\"\(f(axis + 44))\" font-size=\"11\">\(legend)</text>\n</svg>\n"
        return out
    }
}
