/// `sprig memmap`'s pictures of a `MemoryMap`: SVG (with addresses and a legend) and PNG (the
/// cells only). A row repeated N times (` xN` in the text) is drawn once, followed by a gap.
import Foundation
import SprigABI
import SprigModel

public enum MemoryMapImage {
    /// The colour of each letter (as root's ANSI colours: red, magenta, yellow, green, cyan).
    static let colours: [(letter: UInt8, rgb: (UInt8, UInt8, UInt8), name: String)] = [
        (UInt8(ascii: "K"), (0xD6, 0x27, 0x28), "kernel image"),
        (UInt8(ascii: "S"), (0x94, 0x67, 0xBD), "kernel structure"),
        (UInt8(ascii: "R"), (0xE6, 0xA7, 0x00), "root"),
        (UInt8(ascii: "A"), (0x2C, 0xA0, 0x2C), "Alice (root's first child)"),
        (UInt8(ascii: "E"), (0x17, 0xBE, 0xCF), "Eve (root's second child)"),
        (UInt8(ascii: "."), (0xE8, 0xE8, 0xE8), "free (root's, given to no child)"),
        (UInt8(ascii: "-"), (0x60, 0x60, 0x60), "not RAM / unused"),
        (UInt8(ascii: "?"), (0x00, 0x00, 0x00), "other"),
    ]
    static let cell = 6
    static let pitch = 7
    static let repeatGap = 4

    static func colourIndex(_ l: UInt8) -> Int { colours.firstIndex { $0.letter == l } ?? colours.count - 1 }

    /// The PNG: 64 cells a row, background white.
    public static func png(_ map: MemoryMap) -> [UInt8] {
        let rows = map.rows
        let width = MemoryMap.pagesPerRow * pitch + 1
        let height = rows.reduce(1) { $0 + pitch + ($1.count > 1 ? repeatGap : 0) }
        let white = UInt8(colours.count)
        var px = [UInt8](repeating: white, count: width * height)
        var y = 1
        for r in rows {
            for (x, l) in r.letters.enumerated() {
                let c = UInt8(colourIndex(l))
                for dy in 0..<cell { for dx in 0..<cell { px[(y + dy) * width + 1 + x * pitch + dx] = c } }
            }
            y += pitch + (r.count > 1 ? repeatGap : 0)
        }
        return PNG.encode(width: width, height: height, palette: colours.map(\.rgb) + [(0xFF, 0xFF, 0xFF)], indices: px)
    }

    /// The SVG: each row's physical address on its left, ×N after a repeated row, a legend.
    public static func svg(_ map: MemoryMap, title: String) -> String {
        let rows = map.rows
        let left = 90, top = 30
        func hex(_ v: UInt8) -> String { (v < 16 ? "0" : "") + String(v, radix: 16) }
        func fill(_ l: UInt8) -> String { let c = colours[colourIndex(l)].rgb; return "#" + hex(c.0) + hex(c.1) + hex(c.2) }
        var body: [String] = []
        var y = top
        for r in rows {
            let a = String(r.address, radix: 16)
            body.append("<text x=\"\(left - 6)\" y=\"\(y + cell)\" text-anchor=\"end\">0x\(String(repeating: "0", count: max(0, 8 - a.count)) + a)</text>")
            for (x, l) in r.letters.enumerated() {
                body.append("<rect x=\"\(left + x * pitch)\" y=\"\(y)\" width=\"\(cell)\" height=\"\(cell)\" fill=\"\(fill(l))\"/>")
            }
            if r.count > 1 { body.append("<text x=\"\(left + MemoryMap.pagesPerRow * pitch + 4)\" y=\"\(y + cell)\">×\(r.count)</text>") }
            y += pitch + (r.count > 1 ? repeatGap : 0)
        }
        y += 12
        for (k, c) in colours.dropLast().enumerated() {
            let x = left + (k % 4) * 130, ly = y + (k / 4) * 14
            body.append("<rect x=\"\(x)\" y=\"\(ly)\" width=\"\(cell + 2)\" height=\"\(cell + 2)\" fill=\"\(fill(c.letter))\"/>")
            body.append("<text x=\"\(x + 12)\" y=\"\(ly + 8)\">\(String(UnicodeScalar(c.letter))) \(c.name)</text>")
        }
        let height = y + 34
        let width = left + MemoryMap.pagesPerRow * pitch + 50
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" font-family="monospace" font-size="9">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="16" font-size="11">\(title)</text>
            \(body.joined(separator: "\n"))
            </svg>

            """
    }
}

extension MemoryMap {
    /// The letters of root's map text (`root: physical memory` …), page by page: its rows
    /// expanded (` xN`), ANSI colours dropped; nil when `console` holds no whole map.
    public static func parseRootMap(_ console: String) -> [UInt8]? {
        guard let start = console.range(of: "root: physical memory, 64 pages a row") else { return nil }
        let plain = console[start.upperBound...].replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression)
        var letters: [UInt8] = []
        for line in plain.split(separator: "\n").dropFirst() {
            if line.hasPrefix("root: map checked") { return letters }
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let address = UInt64(parts[0], radix: 16), parts[1].utf8.count == MemoryMap.pagesPerRow,
                  address == UInt64(letters.count) * AddressSpace.pageSize else { return nil }
            var count = 1
            if parts.count == 3, parts[2].hasPrefix("x"), let n = Int(parts[2].dropFirst()) { count = n }
            for _ in 0..<count { letters += Array(parts[1].utf8) }
        }
        return nil
    }
}

/// The model's map of a recorded system: its boot state, or the state after replaying the
/// trace up to an event (`sprig memmap`, the alice-eve boot test).
public enum MemoryMapRun {
    /// Letters of root's children, in the order root creates them: the first letter, upper
    /// case, of each partition after root's in the system (Alice's A, Eve's E).
    public static func childLetters(_ system: SystemDescription) -> [UInt8] {
        system.partitions.dropFirst().map { UInt8(ascii: Character($0.prefix(1).uppercased()).unicodeScalars.first ?? "?") }
    }

    /// The map at the boot state (`stop` nil), or after the first event after which `stop`
    /// holds (all of them when it never does).
    /// - Throws: `ToolError` when the model diverges from the machine before that.
    public static func map(_ trace: Trace, letters: [UInt8], until stop: ((Int, ModelSystem) -> Bool)?) throws -> (map: MemoryMap, events: Int) {
        guard let stop else {
            switch ReplayBoot.boot(trace) {
            case .failure(let d): throw ToolError("the model cannot boot this trace: \(d)")
            case .success(let s): return (MemoryMap(machine: s.machine, childLetters: letters), 0)
            }
        }
        let replayer = Replayer(trace: trace)
        let report = replayer.run(until: stop)
        if let d = report.divergence { throw ToolError("the model diverged from the machine: \(d)") }
        guard let system = replayer.system else { throw ToolError("the model did not boot the trace") }
        return (MemoryMap(machine: system.machine, childLetters: letters), report.replayed)
    }
}
