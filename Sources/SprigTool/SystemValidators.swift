/// The named validators of a system description (`sprig validate`). Each checks one rule and
/// reports every place that breaks it, one line each: `file:line: key: what is wrong [name]`.
/// `sprig build --system` runs them all first and refuses a description any of them rejects, so
/// a plan that does not fit is refused when it is built, never at boot. docs/systems.md has the
/// table of validators.
import Foundation
import SprigABI

public struct Finding: Sendable, Equatable, CustomStringConvertible {
    public let validator: String
    public let file: String
    public let line: Int
    public let key: String
    public let message: String
    public var description: String { "\(file):\(line): \(key): \(message) [\(validator)]" }
}

public struct SystemValidator: Sendable {
    public let name: String
    public let rule: String
    let check: @Sendable (SystemFile, inout Report) -> Void

    /// Collects the findings of one validator.
    public struct Report {
        let file: SystemFile
        let validator: String
        /// The programs' images, for the validators that count them.
        let images: ProgramImages
        var findings: [Finding] = []
        mutating func fail(_ key: [String], _ message: String) {
            findings.append(Finding(validator: validator, file: file.path, line: file.lines.line(key),
                                    key: key.joined(separator: "."), message: message))
        }
    }
}

public enum SystemValidators {
    /// Bytes the kernel keeps for itself and its boot structures out of the machine's memory
    /// (kernel image, tables, root's window). A description's partitions get the rest.
    public static let kernelReserve: UInt64 = 8 << 20
    public static let defaultMachineMemory: UInt64 = 128 << 20
    public static let pageSize: UInt64 = 4096
    /// Vectors an event or channel may not use: exceptions (0–31) and the PIC's IRQs (32–47).
    public static let firstFreeVector = 48
    /// The setTimer service's range.
    public static let tickRange = 19...10000
    /// Bounds of what the compiled plan holds (SystemPlan.swift).
    public static let maxPartitions = 32
    public static let maxDepth = 6
    public static let maxFrames = 32
    /// Module names are 16 bytes and the partition's name goes into it with ".bin".
    public static let maxNameLength = 12

    /// Where every key may appear and the TOML type it must have. `*` is any name (a
    /// partition, a schedule's owner, an event, a channel, a VIDT vector); `#` an array index.
    static let schema: [(pattern: [String], type: String)] = [
        (["system"], "table"), (["system", "name"], "string"), (["system", "summary"], "string"),
        (["system", "root"], "string"), (["system", "options"], "array"),
        (["system", "reads-console"], "bool"), (["system", "counts-instructions"], "bool"),
        (["system", "kernel-symbols"], "array"),
        (["machine"], "table"), (["machine", "memory"], "string"),
        (["partitions"], "table"), (["partitions", "*"], "table"),
        (["partitions", "*", "program"], "string"), (["partitions", "*", "memory"], "string"),
        (["partitions", "*", "children"], "array"), (["partitions", "*", "vidt"], "table"),
        (["partitions", "*", "vidt", "*"], "string"), (["partitions", "*", "restart"], "bool"),
        (["schedule"], "table"), (["schedule", "*"], "table"),
        (["schedule", "*", "kind"], "string"), (["schedule", "*", "tick-hz"], "integer"),
        (["schedule", "*", "major-ticks"], "integer"), (["schedule", "*", "major-frame"], "array"),
        (["schedule", "*", "major-frame", "#"], "table"),
        (["schedule", "*", "major-frame", "#", "partition"], "string"),
        (["schedule", "*", "major-frame", "#", "ticks"], "integer"),
        (["schedule", "*", "quantum"], "integer"), (["schedule", "*", "partitions"], "array"),
        (["events"], "table"), (["events", "*"], "table"),
        (["events", "*", "source"], "string"), (["events", "*", "target"], "string"),
        (["events", "*", "vector"], "integer"), (["events", "*", "kind"], "string"),
        (["channels"], "table"), (["channels", "*"], "table"),
        (["channels", "*", "writer"], "string"), (["channels", "*", "reader"], "string"),
        (["channels", "*", "size"], "integer"), (["channels", "*", "transfer"], "string"),
        (["channels", "*", "vector"], "integer"),
        (["interrupts"], "table"), (["interrupts", "serial"], "string"), (["interrupts", "print"], "array"),
    ]

    static func schemaType(_ path: [String]) -> String? {
        schema.first { entry in
            entry.pattern.count == path.count && zip(entry.pattern, path).allSatisfy { p, k in
                p == k || p == "*" || (p == "#" && Int(k) != nil)
            }
        }?.type
    }

    static let required: [(key: [String], what: String)] = [
        (["system", "name"], "the system's name"), (["system", "summary"], "one line saying what the system shows"),
        (["system", "root"], "the root partition's name"),
    ]

    static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= maxNameLength && s.first!.isLetter
            && s.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
    }

    static func isSymbol(_ s: String) -> Bool {
        !s.isEmpty && !(s.first!.isNumber) && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
    }

    /// The partitions that run the generic library (and so can carry channels, schedule, restart).
    static func generic(_ f: SystemFile, _ name: String) -> Bool {
        f.partitions[name]?.program == SystemFile.genericProgram
    }

    /// Every validator, in the order their findings are reported.
    public static let all: [SystemValidator] = [
        SystemValidator(name: "toml-syntax", rule: "the file is TOML") { f, r in
            if let e = f.syntaxError { r.findings.append(Finding(validator: "toml-syntax", file: f.path, line: e.line, key: "-", message: e.message)) }
        },
        SystemValidator(name: "unknown-key", rule: "every key is one the format defines (a misspelt key is never ignored)") { f, r in
            for (path, _) in f.keys where schemaType(path) == nil {
                // Report a key under an unknown key once, at the outermost unknown one.
                if path.count > 1 && schemaType(Array(path.dropLast())) == nil { continue }
                r.fail(path, "unknown key '\(path.last!)'; see docs/systems.md for the keys of this table")
            }
        },
        SystemValidator(name: "key-type", rule: "every key has the type the format gives it") { f, r in
            for (path, type) in f.keys {
                if let want = schemaType(path), want != type { r.fail(path, "must be a \(want), not a \(type)") }
            }
        },
        SystemValidator(name: "required-key", rule: "system.name, system.summary and system.root are given") { f, r in
            guard f.syntaxError == nil else { return }
            for (key, what) in required where !f.keys.contains(where: { $0.path == key }) {
                r.fail(Array(key.prefix(1)), "'\(key.joined(separator: "."))' is missing: \(what)")
            }
        },
        SystemValidator(name: "name-matches-folder", rule: "system.name is the name of the folder the file is in") { f, r in
            if let n = f.name, n != f.folder.lastPathComponent {
                r.fail(["system", "name"], "'\(n)' differs from the folder '\(f.folder.lastPathComponent)'; `sprig run --system` finds systems by folder")
            }
        },
        SystemValidator(name: "name-form", rule: "partition, event and channel names are lowercase letters, digits and '-', at most 12 characters, starting with a letter") { f, r in
            for n in f.declarationOrder where !isName(n) { r.fail(["partitions", n], "'\(n)' is not a name (a-z, 0-9, '-', at most \(maxNameLength), a letter first)") }
            for n in f.events.keys.sorted() where !isName(n) { r.fail(["events", n], "'\(n)' is not a name (a-z, 0-9, '-', at most \(maxNameLength), a letter first)") }
            for n in f.channels.keys.sorted() where !isName(n) { r.fail(["channels", n], "'\(n)' is not a name (a-z, 0-9, '-', at most \(maxNameLength), a letter first)") }
        },
        SystemValidator(name: "unique-names", rule: "no name is both a partition, an event or a channel") { f, r in
            for n in f.events.keys.sorted() where f.partitions[n] != nil { r.fail(["events", n], "'\(n)' is already a partition's name") }
            for n in f.channels.keys.sorted() where f.partitions[n] != nil || f.events[n] != nil {
                r.fail(["channels", n], "'\(n)' is already a \(f.partitions[n] != nil ? "partition" : "event")'s name")
            }
        },
        SystemValidator(name: "root-exists", rule: "system.root names a declared partition") { f, r in
            if let root = f.root, f.partitions[root] == nil { r.fail(["system", "root"], "no partition '\(root)' is declared ([partitions.\(root)])") }
        },
        SystemValidator(name: "program-given", rule: "every partition names its program") { f, r in
            for n in f.declarationOrder where f.partitions[n]?.program == nil { r.fail(["partitions", n], "partition '\(n)' has no 'program'") }
        },
        SystemValidator(name: "program-exists", rule: "every program is a folder of Swift sources in the system's folder or in systems/programs") { f, r in
            for n in f.declarationOrder {
                guard let prog = f.partitions[n]?.program, prog != SystemFile.genericProgram else { continue }
                guard let dir = f.programDirectory(prog) else {
                    r.fail(["partitions", n, "program"], "no folder '\(prog)' in \(f.folder.lastPathComponent)/ nor in programs/"); continue
                }
                let swift = (try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.filter { $0.hasSuffix(".swift") } ?? []
                if swift.isEmpty { r.fail(["partitions", n, "program"], "the folder \(dir.lastPathComponent)/ has no Swift source") }
            }
        },
        SystemValidator(name: "child-exists", rule: "every child a partition names is declared") { f, r in
            for n in f.declarationOrder {
                for c in f.partitions[n]?.children ?? [] where f.partitions[c] == nil {
                    r.fail(["partitions", n, "children"], "child '\(c)' is not a declared partition")
                }
            }
        },
        SystemValidator(name: "one-parent", rule: "a partition is the child of one parent, once") { f, r in
            var parent: [String: String] = [:]
            for n in f.declarationOrder {
                for c in f.partitions[n]?.children ?? [] {
                    if let p = parent[c] { r.fail(["partitions", n, "children"], "'\(c)' is already a child of '\(p)'") } else { parent[c] = n }
                }
            }
        },
        SystemValidator(name: "root-has-no-parent", rule: "no partition names root as its child") { f, r in
            guard let root = f.root else { return }
            for n in f.declarationOrder where f.partitions[n]?.children.contains(root) == true {
                r.fail(["partitions", n, "children"], "'\(root)' is the root: it has no parent")
            }
        },
        SystemValidator(name: "no-cycle", rule: "no partition is its own ancestor") { f, r in
            let up = f.parents
            for n in f.declarationOrder {
                var seen: Set<String> = [n]
                var at = n
                while let p = up[at] {
                    if seen.contains(p) { if p == n { r.fail(["partitions", n, "children"], "'\(n)' is its own ancestor") }; break }
                    seen.insert(p); at = p
                }
            }
        },
        SystemValidator(name: "reachable", rule: "every partition is in root's tree") { f, r in
            guard let root = f.root, f.partitions[root] != nil else { return }
            let tree = Set(f.preorder)
            for n in f.declarationOrder where !tree.contains(n) { r.fail(["partitions", n], "'\(n)' is not a descendant of root '\(root)': nothing would start it") }
        },
        SystemValidator(name: "tree-bounds", rule: "at most 32 partitions and 6 levels (what the compiled plan holds)") { f, r in
            if f.partitions.count > maxPartitions { r.fail(["partitions"], "\(f.partitions.count) partitions; at most \(maxPartitions)") }
            for n in f.preorder where (f.ancestry(n)?.count ?? 0) > maxDepth {
                r.fail(["partitions", n], "'\(n)' is at depth \(f.ancestry(n)!.count); at most \(maxDepth) levels")
            }
        },
        SystemValidator(name: "memory-form", rule: "memory sizes are 'N KiB', 'N MiB' or bytes, whole pages, not zero") { f, r in
            if f.keys.contains(where: { $0.path == ["machine", "memory"] }) {
                if let m = f.machineMemory { if m == 0 || m % pageSize != 0 { r.fail(["machine", "memory"], "\(m) bytes is not a positive number of 4 KiB pages") } }
                else { r.fail(["machine", "memory"], "not a size: write e.g. \"128 MiB\"") }
            }
            for n in f.declarationOrder where f.keys.contains(where: { $0.path == ["partitions", n, "memory"] && $0.type == "string" }) {
                guard let m = f.partitions[n]?.memory else { r.fail(["partitions", n, "memory"], "not a size: write e.g. \"256 KiB\""); continue }
                if m == 0 || m % pageSize != 0 { r.fail(["partitions", n, "memory"], "\(m) bytes is not a positive number of 4 KiB pages") }
            }
        },
        SystemValidator(name: "memory-given", rule: "under a generic root every partition says how much memory it gets") { f, r in
            guard let root = f.root, generic(f, root) else { return }
            for n in f.preorder where n != root && f.partitions[n]?.memory == nil {
                r.fail(["partitions", n], "'\(n)' has no 'memory': the generic root gives each partition what its description says")
            }
        },
        SystemValidator(name: "memory-fits-machine", rule: "root's memory (a generic root's holds its whole tree; a hand-written root's children are counted beside it) fits in the machine's memory less the kernel's") { f, r in
            let machine = f.machineMemory ?? defaultMachineMemory
            guard machine > kernelReserve, let root = f.root, let p = f.partitions[root] else { return }
            let children = generic(f, root) ? [] : p.children.compactMap { f.partitions[$0]?.memory }
            let need = (p.memory ?? 0) + children.reduce(0, +)
            if need > machine - kernelReserve {
                r.fail(["partitions", root, "memory"], "\(children.isEmpty ? "root needs" : "root and its children need") \(need >> 10) KiB; the machine leaves \((machine - kernelReserve) >> 10) KiB (machine.memory less \(kernelReserve >> 20) MiB for the kernel)")
            }
        },
        SystemValidator(name: "child-fits-parent", rule: "a partition that does not run init fits its children in its memory, with 8 pages each for their kernel structures (init's own need is plan-fits')") { f, r in
            for n in f.preorder {
                guard let p = f.partitions[n], let own = p.memory, n != f.root, !generic(f, n) else { continue }
                let kids = p.children.compactMap { f.partitions[$0]?.memory }
                let need = kids.reduce(0, +) + UInt64(kids.count) * 8 * pageSize
                if need > own { r.fail(["partitions", n, "memory"], "its children need \(need >> 10) KiB with their structures; '\(n)' has \(own >> 10) KiB") }
            }
        },
        SystemValidator(name: "plan-fits", rule: "every partition that runs init has the pages init takes to build its children: their memory, copies of their images, their kernel structures and page tables, stacks, VIDT, context, console, stamp and channel pages (counted as init takes them, with the built images' sizes)") { f, r in
            guard let root = f.root, generic(f, root) else { return }
            for n in f.preorder where generic(f, n) && !(f.partitions[n]?.children.isEmpty ?? true) {
                guard let have = f.partitions[n]?.memory else { continue }
                let need = InitMemory.need(of: n, in: f, imageBytes: r.images.bytes(of:))
                guard need.total * pageSize > have else { continue }
                func kib(_ pages: UInt64) -> String { "\(pages * pageSize >> 10) KiB" }
                r.fail(["partitions", n, "memory"], "init in '\(n)' takes \(kib(need.total)) to build its children (\(kib(need.pools)) of their memory, \(kib(need.copies)) of image and plan copies, \(kib(need.structures)) of kernel structures and page tables, \(kib(need.pages)) of stacks, VIDT, context, console, stamp and channel pages\(r.images.built ? "" : "; images not built yet, counted as a page each")); '\(n)' has \(have >> 10) KiB: give it memory = \"\(kib(need.total))\"")
            }
        },
        SystemValidator(name: "vidt-vector", rule: "VIDT keys are indices 0-511 of the partition's VIDT (decimal or 0x hex)") { f, r in
            let last = Int(VIDTIndex.count) - 1
            for (path, _) in f.keys where path.count == 4 && path[0] == "partitions" && path[2] == "vidt" {
                if let v = SystemFile.integer(path[3]), (0...last).contains(v) { continue }
                r.fail(path, "'\(path[3])' is not a VIDT index 0-\(last)")
            }
        },
        SystemValidator(name: "vidt-entry", rule: "a VIDT entry is a symbol name its program defines with @_cdecl") { f, r in
            for n in f.declarationOrder {
                guard let p = f.partitions[n], let prog = p.program else { continue }
                let dir = f.programDirectory(prog)
                let text: String? = dir.map { d in
                    let names = ((try? FileManager.default.contentsOfDirectory(atPath: d.path)) ?? []).filter { $0.hasSuffix(".swift") }
                    return names.compactMap { try? String(contentsOf: d.appendingPathComponent($0), encoding: .utf8) }.joined()
                }
                for (vector, entry) in p.vidt.sorted(by: { $0.key < $1.key }) {
                    let key = ["partitions", n, "vidt", vidtKey(f, n, vector)]
                    if !isSymbol(entry) { r.fail(key, "'\(entry)' is not a symbol name"); continue }
                    if let text, !text.contains("@_cdecl(\"\(entry)\")") {
                        r.fail(key, "program '\(prog)' defines no @_cdecl(\"\(entry)\")")
                    }
                }
            }
        },
        SystemValidator(name: "schedule-owner", rule: "a [schedule.X] belongs to a declared partition that has children") { f, r in
            for o in f.schedules.keys.sorted() {
                guard let p = f.partitions[o] else { r.fail(["schedule", o], "no partition '\(o)' to own this plan"); continue }
                if p.children.isEmpty { r.fail(["schedule", o], "'\(o)' has no children to schedule") }
            }
        },
        SystemValidator(name: "schedule-kind", rule: "a plan's kind is 'cyclic' or 'round-robin'") { f, r in
            for o in f.schedules.keys.sorted() where f.schedules[o]?.kind == nil { r.fail(["schedule", o, "kind"], "kind must be 'cyclic' or 'round-robin'") }
        },
        SystemValidator(name: "scheduled-exists", rule: "nothing is scheduled that is not a declared partition") { f, r in
            for o in f.schedules.keys.sorted() {
                guard let s = f.schedules[o] else { continue }
                for (i, m) in s.frames.enumerated() where f.partitions[m.partition] == nil {
                    r.fail(["schedule", o, "major-frame", "\(i)"], "'\(m.partition)' is not a declared partition")
                }
                for m in s.members where f.partitions[m] == nil { r.fail(["schedule", o, "partitions"], "'\(m)' is not a declared partition") }
            }
        },
        SystemValidator(name: "scheduled-is-child", rule: "a plan schedules its owner's own children only (yield reaches a child or the parent)") { f, r in
            for o in f.schedules.keys.sorted() {
                guard let s = f.schedules[o], let kids = f.partitions[o]?.children else { continue }
                for (i, m) in s.frames.enumerated() where f.partitions[m.partition] != nil && !kids.contains(m.partition) {
                    r.fail(["schedule", o, "major-frame", "\(i)"], "'\(m.partition)' is not a child of '\(o)'")
                }
                for m in s.members where f.partitions[m] != nil && !kids.contains(m) { r.fail(["schedule", o, "partitions"], "'\(m)' is not a child of '\(o)'") }
            }
        },
        SystemValidator(name: "children-scheduled", rule: "under a generic root, every child of a partition with a plan runs in it") { f, r in
            guard let root = f.root, generic(f, root) else { return }
            for o in f.schedules.keys.sorted() {
                guard let s = f.schedules[o], let kids = f.partitions[o]?.children else { continue }
                let planned = Set(s.frames.map(\.partition) + s.members)
                for k in kids where !planned.contains(k) { r.fail(["schedule", o], "child '\(k)' of '\(o)' is never scheduled") }
            }
        },
        SystemValidator(name: "plan-needed", rule: "under a generic root, every partition with children has a plan") { f, r in
            guard let root = f.root, generic(f, root) else { return }
            for n in f.preorder where !(f.partitions[n]?.children.isEmpty ?? true) && f.schedules[n] == nil {
                r.fail(["partitions", n, "children"], "'\(n)' has children but no [schedule.\(n)]")
            }
        },
        SystemValidator(name: "planner-generic", rule: "a partition with a plan runs the generic library (program = \"init\")") { f, r in
            for o in f.schedules.keys.sorted() where f.partitions[o] != nil && !generic(f, o) {
                r.fail(["schedule", o], "'\(o)' runs '\(f.partitions[o]?.program ?? "?")', which does not read plans; give it program = \"\(SystemFile.genericProgram)\"")
            }
        },
        SystemValidator(name: "tick-rate", rule: "root's plan gives tick-hz in 19-10000 (setTimer's range); nested plans use their parent's ticks") { f, r in
            for o in f.schedules.keys.sorted() {
                guard let s = f.schedules[o] else { continue }
                if o == f.root {
                    if let hz = s.tickHz { if !tickRange.contains(hz) { r.fail(["schedule", o, "tick-hz"], "\(hz) Hz is outside \(tickRange.lowerBound)-\(tickRange.upperBound)") } }
                    else { r.fail(["schedule", o], "root's plan needs 'tick-hz'") }
                } else if s.tickHz != nil {
                    r.fail(["schedule", o, "tick-hz"], "only root's plan sets the tick rate; '\(o)' counts its parent's ticks")
                }
            }
        },
        SystemValidator(name: "frame-ticks", rule: "every minor frame and quantum is 1-1000 ticks") { f, r in
            for o in f.schedules.keys.sorted() {
                guard let s = f.schedules[o] else { continue }
                for (i, m) in s.frames.enumerated() where !(1...1000).contains(m.ticks) {
                    r.fail(["schedule", o, "major-frame", "\(i)"], "\(m.ticks) ticks; a minor frame is 1-1000 ticks")
                }
                if let q = s.quantum, !(1...1000).contains(q) { r.fail(["schedule", o, "quantum"], "\(q) ticks; a quantum is 1-1000 ticks") }
            }
        },
        SystemValidator(name: "plan-shape", rule: "a cyclic plan has a major-frame and no quantum; a round-robin one a quantum and partitions, no major-frame") { f, r in
            for o in f.schedules.keys.sorted() {
                guard let s = f.schedules[o] else { continue }
                switch s.kind {
                case .cyclic?:
                    if s.frames.isEmpty { r.fail(["schedule", o], "a cyclic plan needs a non-empty 'major-frame'") }
                    if s.quantum != nil || !s.members.isEmpty { r.fail(["schedule", o], "'quantum' and 'partitions' are for round-robin plans") }
                    if s.frames.count > maxFrames { r.fail(["schedule", o, "major-frame"], "\(s.frames.count) minor frames; at most \(maxFrames)") }
                case .roundRobin?:
                    if s.quantum == nil || s.members.isEmpty { r.fail(["schedule", o], "a round-robin plan needs 'quantum' and 'partitions'") }
                    if !s.frames.isEmpty { r.fail(["schedule", o, "major-frame"], "'major-frame' is for cyclic plans") }
                case nil: break
                }
            }
        },
        SystemValidator(name: "major-frame-filled", rule: "a plan's minor frames add up to its major-ticks") { f, r in
            for o in f.schedules.keys.sorted() {
                guard let s = f.schedules[o], let major = s.majorTicks, s.kind == .cyclic else { continue }
                if s.roundTicks != major { r.fail(["schedule", o, "major-ticks"], "the minor frames add up to \(s.roundTicks) ticks, not \(major)") }
            }
        },
        SystemValidator(name: "nested-frame-fits", rule: "a nested plan's round takes exactly the ticks its parent's plan gives its owner per major frame") { f, r in
            for o in f.schedules.keys.sorted() where o != f.root {
                guard let s = f.schedules[o], let parent = f.parents[o], let ps = f.schedules[parent] else { continue }
                let given = ps.kind == .roundRobin ? (ps.members.contains(o) ? ps.quantum ?? 0 : 0)
                    : ps.frames.filter { $0.partition == o }.reduce(0) { $0 + $1.ticks }
                if given > 0 && given % max(s.roundTicks, 1) != 0 {
                    r.fail(["schedule", o], "one round takes \(s.roundTicks) ticks but '\(parent)' gives '\(o)' \(given) per major frame: not a whole number of rounds")
                }
            }
        },
        SystemValidator(name: "event-endpoints", rule: "an event's source and target are declared partitions, and differ") { f, r in
            for n in f.events.keys.sorted() {
                guard let e = f.events[n] else { continue }
                for (k, v) in [("source", e.source), ("target", e.target)] {
                    guard let v else { r.fail(["events", n], "event '\(n)' has no '\(k)'"); continue }
                    if f.partitions[v] == nil { r.fail(["events", n, k], "'\(v)' is not a declared partition") }
                }
                if e.source != nil && e.source == e.target { r.fail(["events", n, "target"], "an event goes to another partition") }
            }
        },
        SystemValidator(name: "event-kind", rule: "an event's kind is 'handover' (the target runs now) or 'interrupt' (when it next runs)") { f, r in
            for n in f.events.keys.sorted() where f.events[n]?.kind == nil { r.fail(["events", n, "kind"], "kind must be 'handover' or 'interrupt'") }
        },
        SystemValidator(name: "event-vector", rule: "event and channel vectors are 48-255 (below are exceptions and IRQs)") { f, r in
            for n in f.events.keys.sorted() {
                guard let v = f.events[n]?.vector else { r.fail(["events", n], "event '\(n)' has no 'vector'"); continue }
                if !(firstFreeVector...255).contains(v) { r.fail(["events", n, "vector"], "vector \(v) is not in \(firstFreeVector)-255") }
            }
            for n in f.channels.keys.sorted() {
                if let v = f.channels[n]?.vector, !(firstFreeVector...255).contains(v) { r.fail(["channels", n, "vector"], "vector \(v) is not in \(firstFreeVector)-255") }
            }
        },
        SystemValidator(name: "vector-has-handler", rule: "the target of an event and the reader of a channel have a VIDT entry at its vector") { f, r in
            for n in f.events.keys.sorted() {
                guard let e = f.events[n], let t = e.target, let v = e.vector, let p = f.partitions[t] else { continue }
                if p.vidt[v] == nil { r.fail(["events", n, "vector"], "'\(t)' has no handler at vector \(v) (partitions.\(t).vidt)") }
            }
            for n in f.channels.keys.sorted() {
                guard let c = f.channels[n], let t = c.reader, let v = c.vector, let p = f.partitions[t] else { continue }
                if p.vidt[v] == nil { r.fail(["channels", n, "vector"], "'\(t)' has no handler at vector \(v) (partitions.\(t).vidt)") }
            }
        },
        SystemValidator(name: "vector-one-use", rule: "a partition's vector is the end of one event or channel only") { f, r in
            var used: [String: String] = [:]
            for n in f.events.keys.sorted() {
                guard let e = f.events[n], let t = e.target, let v = e.vector else { continue }
                if let o = used["\(t)/\(v)"] { r.fail(["events", n, "vector"], "vector \(v) of '\(t)' is already '\(o)''s") } else { used["\(t)/\(v)"] = n }
            }
            for n in f.channels.keys.sorted() {
                guard let c = f.channels[n], let t = c.reader, let v = c.vector else { continue }
                if let o = used["\(t)/\(v)"] { r.fail(["channels", n, "vector"], "vector \(v) of '\(t)' is already '\(o)''s") } else { used["\(t)/\(v)"] = n }
            }
        },
        SystemValidator(name: "channel-endpoints", rule: "a channel's writer and reader are declared partitions, and differ") { f, r in
            for n in f.channels.keys.sorted() {
                guard let c = f.channels[n] else { continue }
                for (k, v) in [("writer", c.writer), ("reader", c.reader)] {
                    guard let v else { r.fail(["channels", n], "channel '\(n)' has no '\(k)'"); continue }
                    if f.partitions[v] == nil { r.fail(["channels", n, k], "'\(v)' is not a declared partition") }
                }
                if c.writer != nil && c.writer == c.reader { r.fail(["channels", n, "reader"], "a channel goes to another partition") }
            }
        },
        SystemValidator(name: "channel-size", rule: "a message is 1-4072 bytes (one page, the one a hand-over moves, less its 24-byte header)") { f, r in
            for n in f.channels.keys.sorted() {
                guard let size = f.channels[n]?.size else { r.fail(["channels", n], "channel '\(n)' has no 'size'"); continue }
                let most = Int(PlanLayout.maxMessageBytes)
                if !(1...most).contains(size) { r.fail(["channels", n, "size"], "\(size) bytes; a message is 1-\(most)") }
            }
        },
        SystemValidator(name: "channel-transfer", rule: "a channel's transfer is 'copy', 'handover' or 'auto'") { f, r in
            for n in f.channels.keys.sorted() where f.channels[n]?.transfer == nil {
                r.fail(["channels", n, "transfer"], "transfer must be 'copy', 'handover' or 'auto'")
            }
        },
        SystemValidator(name: "channel-carrier", rule: "a channel's carrier (the ends' nearest common ancestor) and every partition between it and each end run the generic library, so the carrier reaches both ends") { f, r in
            for n in f.channels.keys.sorted() {
                guard let c = f.channels[n], let w = c.writer, let rd = c.reader, f.partitions[w] != nil, f.partitions[rd] != nil else { continue }
                guard let carrier = f.carrier(w, rd) else { r.fail(["channels", n], "'\(w)' and '\(rd)' are not both in root's tree"); continue }
                for end in [w, rd] {
                    let path = f.ancestry(end) ?? []
                    guard let from = path.firstIndex(of: carrier) else { continue }
                    for hop in path[from..<(path.count - 1)] where !generic(f, hop) {
                        r.fail(["channels", n], "'\(hop)' is on the way from carrier '\(carrier)' to '\(end)' but runs '\(f.partitions[hop]?.program ?? "?")', which carries no channels")
                    }
                }
            }
        },
        SystemValidator(name: "event-carrier", rule: "an event's source and target meet at an ancestor that runs the generic library, which routes it") { f, r in
            for n in f.events.keys.sorted() {
                guard let e = f.events[n], let s = e.source, let t = e.target, f.partitions[s] != nil, f.partitions[t] != nil, s != t else { continue }
                guard let carrier = f.carrier(s, t) else { r.fail(["events", n], "'\(s)' and '\(t)' are not both in root's tree"); continue }
                if !generic(f, carrier) { r.fail(["events", n], "the events' router '\(carrier)' runs '\(f.partitions[carrier]?.program ?? "?")', which routes no events") }
            }
        },
        SystemValidator(name: "event-ends-are-children", rule: "under a generic root, an event's source and target are both children of its router (their nearest common ancestor), which enters the target itself") { f, r in
            guard let root = f.root, generic(f, root) else { return }
            for n in f.events.keys.sorted() {
                guard let e = f.events[n], let s = e.source, let t = e.target, f.partitions[s] != nil, f.partitions[t] != nil,
                      let router = f.carrier(s, t) else { continue }
                for (key, end) in [("source", s), ("target", t)] where f.parents[end] != router {
                    r.fail(["events", n, key], "'\(end)' is not a child of the event's router '\(router)' (its parent is '\(f.parents[end] ?? "none")'); init routes an event between its own children only")
                }
            }
        },
        SystemValidator(name: "handover-between-children", rule: "a channel carried by hand-over ('handover') joins two children of its carrier: the carrier moves only pages it gave itself") { f, r in
            for n in f.channels.keys.sorted() where f.channels[n]?.transfer == .handover {
                guard let c = f.channels[n], let w = c.writer, let rd = c.reader, let carrier = f.carrier(w, rd) else { continue }
                for end in [w, rd] where f.parents[end] != carrier {
                    r.fail(["channels", n, "transfer"], "'\(end)' is not a child of the carrier '\(carrier)', whose page it would hold through '\(f.parents[end] ?? "?")'; use 'copy'")
                }
            }
        },
        SystemValidator(name: "serial-handler", rule: "interrupts.serial names a partition with a VIDT entry at 36 (IRQ 4)") { f, r in
            guard let s = f.serial else { return }
            guard let p = f.partitions[s] else { r.fail(["interrupts", "serial"], "'\(s)' is not a declared partition"); return }
            if p.vidt[36] == nil { r.fail(["interrupts", "serial"], "'\(s)' has no handler at vector 36 (partitions.\(s).vidt)") }
        },
        SystemValidator(name: "printers-exist", rule: "interrupts.print names declared partitions, once each") { f, r in
            var seen: Set<String> = []
            for p in f.printers {
                if f.partitions[p] == nil { r.fail(["interrupts", "print"], "'\(p)' is not a declared partition") }
                if !seen.insert(p).inserted { r.fail(["interrupts", "print"], "'\(p)' is named twice") }
            }
        },
        SystemValidator(name: "option-known", rule: "system.options are options `sprig run` knows (seed, calls)") { f, r in
            for o in f.options where SystemOption(rawValue: o) == nil {
                r.fail(["system", "options"], "unknown option '\(o)'; the options are \(SystemOption.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        },
        SystemValidator(name: "restart-supervised", rule: "a partition restarted on a fault has a parent that runs the generic library") { f, r in
            for n in f.declarationOrder where f.partitions[n]?.restart == true {
                guard let parent = f.parents[n] else { r.fail(["partitions", n, "restart"], "'\(n)' has no parent to restart it"); continue }
                if !generic(f, parent) { r.fail(["partitions", n, "restart"], "'\(parent)' runs '\(f.partitions[parent]?.program ?? "?")', which restarts nothing") }
            }
        },
    ]

    /// The VIDT key as the file spells it (`0xB7` or `183`).
    static func vidtKey(_ f: SystemFile, _ partition: String, _ vector: Int) -> String {
        for (path, _) in f.keys where path.count == 4 && path[0] == "partitions" && path[1] == partition && path[2] == "vidt" {
            if SystemFile.integer(path[3]) == vector { return path[3] }
        }
        return "\(vector)"
    }

    /// Every finding of every validator on `file`, in validator order, counting `images` where
    /// a validator counts the programs' images.
    public static func validate(_ file: SystemFile, images: ProgramImages = .notBuilt) -> [Finding] {
        var out: [Finding] = []
        for v in all {
            if file.syntaxError != nil && v.name != "toml-syntax" { continue }
            var r = SystemValidator.Report(file: file, validator: v.name, images: images)
            v.check(file, &r)
            out += r.findings
        }
        return out
    }
}

/// The sizes of the programs' flat images, which validator `plan-fits` counts: the built ones,
/// or, before a build, each counted as one page (the least an image takes), so that a
/// description is refused before its build when it cannot fit whatever its images are, and by
/// the build (which counts the real sizes) when it does not fit with them.
public struct ProgramImages: Sendable {
    let sizes: [String: UInt64]
    /// Whether `sizes` holds every program's built image.
    public let built: Bool

    public static let notBuilt = ProgramImages(sizes: [:], built: false)

    public init(sizes: [String: UInt64]) {
        self.sizes = sizes
        built = true
    }

    init(sizes: [String: UInt64], built: Bool) {
        self.sizes = sizes
        self.built = built
    }

    /// The images of `file`'s programs in `directory` (`<program>.bin`, as `sprig build` writes
    /// them); `notBuilt` unless every one is there.
    public static func built(in directory: URL, for file: SystemFile) -> ProgramImages {
        var sizes: [String: UInt64] = [:]
        for p in Set(file.partitions.values.compactMap(\.program)) {
            let url = directory.appendingPathComponent("\(p).bin")
            guard let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber else { return .notBuilt }
            sizes[p] = size.uint64Value
        }
        return ProgramImages(sizes: sizes)
    }

    func bytes(of program: String) -> UInt64 { sizes[program] ?? SystemValidators.pageSize }
}
