/// A system description, `systems/<name>/system.toml`, read with TOMLKit into plain values.
///
/// The reader is lenient: a key of the wrong type or a value it cannot read is left out of the
/// typed fields, and the validators (SystemValidators.swift) report it with its line. So one run
/// of `sprig validate` names every problem of a file, not only the first. docs/systems.md
/// describes the format.
import Foundation
import TOMLKit

/// One partition of the tree.
public struct PartitionDecl: Sendable, Equatable {
    public var name: String
    public var program: String?
    /// Bytes, when the description gives `memory`.
    public var memory: UInt64?
    public var children: [String] = []
    /// VIDT vector → entry (the program's `@_cdecl` symbol).
    public var vidt: [Int: String] = [:]
    /// Restarted from its image when it faults (by a parent running the generic library).
    public var restart = false
}

/// One minor frame of a cyclic plan: a child of the plan's owner and how many ticks it runs.
public struct MinorFrame: Sendable, Equatable {
    public var partition: String
    public var ticks: Int
}

/// How a partition with children divides the time it is given among them.
public struct ScheduleDecl: Sendable, Equatable {
    public enum Kind: String, Sendable { case cyclic, roundRobin = "round-robin" }
    public var owner: String
    public var kind: Kind?
    /// The timer rate, root's level only (setTimer: 19…10000 Hz).
    public var tickHz: Int?
    /// The major frame's length in ticks, when given (it must equal the minor frames' sum).
    public var majorTicks: Int?
    public var frames: [MinorFrame] = []
    /// Round-robin: the ticks each member runs before the next, and the members in order.
    public var quantum: Int?
    public var members: [String] = []

    /// Ticks one round of this plan takes.
    public var roundTicks: Int {
        kind == .roundRobin ? (quantum ?? 0) * members.count : frames.reduce(0) { $0 + $1.ticks }
    }
}

public struct EventDecl: Sendable, Equatable {
    public enum Kind: String, Sendable { case handover, interrupt }
    public var name: String
    public var source: String?
    public var target: String?
    public var vector: Int?
    public var kind: Kind?
}

public struct ChannelDecl: Sendable, Equatable {
    public enum Transfer: String, Sendable { case copy, handover, auto }
    public var name: String
    public var writer: String?
    public var reader: String?
    /// Bytes of one message.
    public var size: Int?
    /// nil when the file names no transfer this format knows.
    public var transfer: Transfer? = .auto
    /// The reader's VIDT vector a message arrives at.
    public var vector: Int?
}

/// A parsed description and where its keys are.
public struct SystemFile: Sendable {
    /// The path as shown in messages (relative to the checkout when inside it).
    public let path: String
    /// The folder holding the description and its programs' folders.
    public let folder: URL
    public let source: String
    public let lines: KeyLines
    /// The TOML parse error, when the text is not TOML (everything else is then empty).
    public var syntaxError: (line: Int, message: String)?

    public var name: String?
    public var summary: String?
    public var root: String?
    public var options: [String] = []
    public var readsConsole = false
    public var countsInstructions = false
    /// Kernel symbols whose addresses root is given on the command line (`KernelSymbols`).
    public var kernelSymbols: [String] = []
    public var machineMemory: UInt64?
    /// Partitions by name, and their names in the order the file declares them.
    public var partitions: [String: PartitionDecl] = [:]
    public var declarationOrder: [String] = []
    public var schedules: [String: ScheduleDecl] = [:]
    public var events: [String: EventDecl] = [:]
    public var channels: [String: ChannelDecl] = [:]
    public var serial: String?
    public var printers: [String] = []
    /// Every key present, with the type TOMLKit read, for the schema validators.
    public var keys: [(path: [String], type: String)] = []

    /// The program every partition of a description may name to run the generic library.
    public static let genericProgram = "init"

    /// Reads `text` (the contents of `path`, in `folder`).
    public init(text: String, path: String, folder: URL) {
        self.path = path
        self.folder = folder
        self.source = text
        self.lines = KeyLines(text)
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            syntaxError = (e.source.begin.line, e.description)
            return
        } catch {
            syntaxError = (1, "\(error)")
            return
        }
        collectKeys(table, prefix: [])
        read(table)
    }

    public static func load(_ url: URL, relativeTo base: URL? = nil) throws -> SystemFile {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw ToolError("cannot read \(url.path): no such file, or not UTF-8")
        }
        var shown = url.standardizedFileURL.path
        if let base, shown.hasPrefix(base.standardizedFileURL.path + "/") {
            shown = String(shown.dropFirst(base.standardizedFileURL.path.count + 1))
        }
        return SystemFile(text: text, path: shown, folder: url.deletingLastPathComponent())
    }

    private mutating func collectKeys(_ t: TOMLTable, prefix: [String]) {
        for (k, v) in t {
            let p = prefix + [k]
            keys.append((p, "\(v.type)"))
            if let sub = v.table { collectKeys(sub, prefix: p) }
            if let a = v.array {
                for (i, e) in a.enumerated() {
                    if let sub = e.table { keys.append((p + ["\(i)"], "table")); collectKeys(sub, prefix: p + ["\(i)"]) }
                }
            }
        }
    }

    private mutating func read(_ t: TOMLTable) {
        if let s = t["system"]?.table {
            name = s["name"]?.string
            summary = s["summary"]?.string
            root = s["root"]?.string
            options = Self.strings(s["options"])
            readsConsole = s["reads-console"]?.bool ?? false
            countsInstructions = s["counts-instructions"]?.bool ?? false
            kernelSymbols = Self.strings(s["kernel-symbols"])
        }
        if let m = t["machine"]?.table, let text = m["memory"]?.string { machineMemory = Self.bytes(text) }
        if let ps = t["partitions"]?.table {
            let order = lines.order(under: ["partitions"])
            for k in ps.keys.sorted(by: { (order[$0] ?? Int.max, $0) < (order[$1] ?? Int.max, $1) }) {
                guard let p = ps[k]?.table else { continue }
                var d = PartitionDecl(name: k)
                d.program = p["program"]?.string
                if let m = p["memory"]?.string { d.memory = Self.bytes(m) }
                d.children = Self.strings(p["children"])
                if let v = p["vidt"]?.table {
                    for (vk, entry) in v { if let n = Self.integer(vk), let e = entry.string { d.vidt[n] = e } }
                }
                d.restart = p["restart"]?.bool ?? false
                partitions[k] = d
                declarationOrder.append(k)
            }
        }
        if let ss = t["schedule"]?.table {
            for k in ss.keys {
                guard let s = ss[k]?.table else { continue }
                var d = ScheduleDecl(owner: k)
                d.kind = (s["kind"]?.string).map { ScheduleDecl.Kind(rawValue: $0) } ?? .cyclic
                d.tickHz = s["tick-hz"]?.int
                d.majorTicks = s["major-ticks"]?.int
                d.quantum = s["quantum"]?.int
                d.members = Self.strings(s["partitions"])
                if let frames = s["major-frame"]?.array {
                    for f in frames {
                        guard let ft = f.table else { continue }
                        d.frames.append(MinorFrame(partition: ft["partition"]?.string ?? "", ticks: ft["ticks"]?.int ?? 0))
                    }
                }
                schedules[k] = d
            }
        }
        if let es = t["events"]?.table {
            for k in es.keys {
                guard let e = es[k]?.table else { continue }
                events[k] = EventDecl(name: k, source: e["source"]?.string, target: e["target"]?.string,
                                      vector: e["vector"]?.int, kind: (e["kind"]?.string).flatMap(EventDecl.Kind.init(rawValue:)))
            }
        }
        if let cs = t["channels"]?.table {
            for k in cs.keys {
                guard let c = cs[k]?.table else { continue }
                var d = ChannelDecl(name: k, writer: c["writer"]?.string, reader: c["reader"]?.string,
                                    size: c["size"]?.int, vector: c["vector"]?.int)
                if let tr = c["transfer"]?.string { d.transfer = ChannelDecl.Transfer(rawValue: tr) }
                channels[k] = d
            }
        }
        if let i = t["interrupts"]?.table {
            serial = i["serial"]?.string
            printers = Self.strings(i["print"])
        }
    }

    static func strings(_ v: TOMLValueConvertible?) -> [String] {
        guard let a = v?.array else { return [] }
        return a.compactMap { $0.string }
    }

    /// A decimal or 0x-hexadecimal integer key (VIDT vectors are keys).
    public static func integer(_ text: String) -> Int? {
        let l = text.lowercased()
        if l.hasPrefix("0x") { return Int(l.dropFirst(2), radix: 16) }
        return Int(l)
    }

    /// "64 KiB", "2 MiB", "4096" (bytes) → bytes; nil when it is none of these.
    public static func bytes(_ text: String) -> UInt64? {
        let parts = text.split(separator: " ")
        guard let first = parts.first, let n = UInt64(first), parts.count <= 2 else { return nil }
        guard parts.count == 2 else { return n }
        switch parts[1] {
        case "B": return n
        case "KiB": return n.multipliedReportingOverflow(by: 1024).overflow ? nil : n * 1024
        case "MiB": return n.multipliedReportingOverflow(by: 1 << 20).overflow ? nil : n << 20
        case "GiB": return n.multipliedReportingOverflow(by: 1 << 30).overflow ? nil : n << 30
        default: return nil
        }
    }

    // MARK: The tree

    /// The parent of each partition some partition names as a child (the first such parent).
    public var parents: [String: String] {
        var out: [String: String] = [:]
        for n in declarationOrder { for c in partitions[n]?.children ?? [] where out[c] == nil { out[c] = n } }
        return out
    }

    /// The partitions from root down, parents before children, each child in its parent's
    /// order; stops at a partition seen before (a cycle) and at undeclared names.
    public var preorder: [String] {
        guard let root, partitions[root] != nil else { return [] }
        var out: [String] = []
        func visit(_ n: String) {
            guard !out.contains(n), let p = partitions[n] else { return }
            out.append(n)
            for c in p.children { visit(c) }
        }
        visit(root)
        return out
    }

    /// The path from root to `name` (both included), nil when `name` is not in root's tree.
    public func ancestry(_ name: String) -> [String]? {
        let up = parents
        var path = [name]
        var at = name
        while at != root {
            guard let p = up[at], !path.contains(p) else { return nil }
            path.insert(p, at: 0)
            at = p
        }
        return path
    }

    /// The nearest common ancestor of `a` and `b` (one of them when one holds the other).
    public func carrier(_ a: String, _ b: String) -> String? {
        guard let pa = ancestry(a), let pb = ancestry(b) else { return nil }
        var last: String?
        for (x, y) in zip(pa, pb) where x == y { last = x }
        return last
    }

    /// Where a program's sources are: the system's own folder, else systems/programs (programs
    /// several systems run).
    public func programDirectory(_ program: String) -> URL? {
        for dir in [folder.appendingPathComponent(program),
                    folder.deletingLastPathComponent().appendingPathComponent("programs/\(program)")] {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue { return dir }
        }
        return nil
    }
}

/// The line of each key in a TOML text, found by reading the text (TOMLKit gives no positions):
/// table headers, `key = value` lines, the keys of one-line inline tables, and each inline
/// table of an array (`major-frame.0`, `major-frame.1`, …).
public struct KeyLines: Sendable {
    private var lineOf: [String: Int] = [:]
    private var sequence: [[String]] = []

    public init(_ text: String) {
        var header: [String] = []
        let all = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var i = 0
        while i < all.count {
            let number = i + 1
            let line = Self.stripComment(all[i]).trimmingCharacters(in: .whitespaces)
            i += 1
            if line.hasPrefix("[") {
                let inner = line.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
                header = Self.dotted(inner)
                record(header, number)
                continue
            }
            guard let eq = Self.assignment(line) else { continue }
            let key = header + Self.dotted(String(line[..<eq]))
            record(key, number)
            var value = String(line[line.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("{") { recordInline(value, under: key, line: number) }
            if value.hasPrefix("[") {
                // An array, perhaps over several lines: each top-level inline table gets the
                // index of its position and the line it opens on.
                var depth = 0, index = 0, lineNumber = number
                var done = false
                while !done {
                    var inString = false
                    for ch in value {
                        if ch == "\"" { inString.toggle(); continue }
                        if inString { continue }
                        switch ch {
                        case "[": depth += 1
                        case "]": depth -= 1; if depth == 0 { done = true }
                        case "{":
                            if depth == 1 { record(key + ["\(index)"], lineNumber); index += 1 }
                        default: break
                        }
                    }
                    if done || i >= all.count { break }
                    value = Self.stripComment(all[i]); lineNumber = i + 1; i += 1
                }
            }
        }
    }

    private mutating func record(_ key: [String], _ line: Int) {
        let k = key.joined(separator: ".")
        if lineOf[k] == nil { lineOf[k] = line; sequence.append(key) }
    }

    private mutating func recordInline(_ value: String, under key: [String], line: Int) {
        let body = value.trimmingCharacters(in: CharacterSet(charactersIn: "{} "))
        for part in body.split(separator: ",").map(String.init) {
            if let eq = Self.assignment(part) {
                record(key + Self.dotted(String(part[..<eq])), line)
            }
        }
    }

    /// The line of `key`, else of its nearest enclosing key that has one, else 1.
    public func line(_ key: [String]) -> Int {
        var k = key
        while !k.isEmpty {
            if let l = lineOf[k.joined(separator: ".")] { return l }
            k.removeLast()
        }
        return 1
    }

    /// The position in the text of each direct sub-key of `prefix` (declaration order).
    public func order(under prefix: [String]) -> [String: Int] {
        var out: [String: Int] = [:]
        for (i, k) in sequence.enumerated() where k.count == prefix.count + 1 && Array(k.prefix(prefix.count)) == prefix {
            if out[k.last!] == nil { out[k.last!] = i }
        }
        return out
    }

    static func stripComment(_ s: String) -> String {
        var inString = false
        for (i, ch) in s.enumerated() {
            if ch == "\"" { inString.toggle() }
            if ch == "#" && !inString { return String(s.prefix(i)) }
        }
        return s
    }

    /// The `=` of a `key = value` line (outside quotes), nil when there is none.
    static func assignment(_ s: String) -> String.Index? {
        var inString = false
        var i = s.startIndex
        while i < s.endIndex {
            let ch = s[i]
            if ch == "\"" { inString.toggle() }
            if ch == "=" && !inString { return i }
            i = s.index(after: i)
        }
        return nil
    }

    static func dotted(_ s: String) -> [String] {
        s.split(separator: ".").map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
    }
}
