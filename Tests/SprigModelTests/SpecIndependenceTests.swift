/// The specification, the abstraction, the refinement check, the isolation properties and the
/// partition tree they read are written apart from the kernel: they name nothing of SprigCore
/// but the boundary below (`allowed`, each with its reason), so a mistake in the kernel's logic
/// or representation is not repeated by what checks it (docs/spec.md "Independence").
///
/// The scan is mechanical: every top-level name SprigCore declares (types, functions, globals,
/// and members it adds to other modules' types) is looked for, as a whole identifier outside
/// comments and string text, in every checked file; a file may import SprigCore only name by
/// name (`import enum SprigCore.TrapEvent`), which the compiler then enforces too.
import Foundation
import Testing

@Suite("Specification independence")
struct SpecIndependenceTests {
    /// The only SprigCore names the checked files may use, why, and — for the kernel caches the
    /// properties inspect — the only members they may read (nil: any member).
    static let allowed: [String: (reason: String, members: Set<String>?)] = [
        "TrapEvent": ("the event a kernel entry is (system call, interrupt, exception, int n): the input the "
                      + "specification and the kernel both take", nil),
        "TrapOutcome": ("what the platform must do after the entry: the output the refinement compares", nil),
        "SystemCallArguments": ("the five raw argument registers of a system call, carried by TrapEvent", nil),
        "PhysicalAddress": ("the raw memory's address type: SimulatedMemory, ModelCPU and the public signatures of "
                            + "the readers speak it; only its raw value is read", []),
        "ContextLocation": ("how the kernel names a context to the platform (saveCPUState / loadCPUState), which the "
                            + "model CPU records: its three stored fields are read, the words are computed here", []),
        "YieldCache": ("the kernel's yield cache, which the yieldCache property inspects: its word offsets are the "
                       + "kernel's own (no design-level format exists); the decoding and the check are the model's",
                       ["base", "words", "entryWords", "tag", "caller", "calleeName", "callee",
                        "calleeRootTable", "targetEntry", "saveEntry", "targetVA", "saveVA", "target", "save"]),
        "TranslationCache": ("the kernel's translation cache, which the translationCache property inspects: only "
                             + "its size in words", ["words"]),
    ]

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../..").standardized

    /// The files held to independence.
    static func checkedFiles() throws -> [URL] {
        let model = repository.appendingPathComponent("Sources/SprigModel")
        let spec = model.appendingPathComponent("Spec")
        let specFiles = try FileManager.default.contentsOfDirectory(atPath: spec.path)
            .filter { $0.hasSuffix(".swift") }.sorted().map { spec.appendingPathComponent($0) }
        return specFiles + ["Properties.swift", "PartitionTree.swift"].map { model.appendingPathComponent($0) }
    }

    /// Every top-level name SprigCore declares, and every member it declares in an extension of
    /// a type that is not its own.
    static func coreNames() throws -> Set<String> {
        try declaredNames(in: "Sources/SprigCore")
    }

    /// Every top-level name the sources under `folder` declare (and every member they declare
    /// in an extension of a type that is not their own).
    static func declaredNames(in folder: String) throws -> Set<String> {
        let core = repository.appendingPathComponent(folder)
        let files = (FileManager.default.subpaths(atPath: core.path) ?? []).filter { $0.hasSuffix(".swift") }
        let declaration = try Regex(#"^(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|fileprivate|private|final|static|mutating|nonisolated)\s+)*(?:struct|enum|class|protocol|typealias|func|let|var|actor)\s+(\w+)"#)
        let extensionHead = try Regex(#"^extension\s+(\w+)"#)
        var names: Set<String> = []
        var extensions: [(type: String, lines: [Substring])] = []
        for file in files {
            let text = try String(contentsOf: core.appendingPathComponent(file), encoding: .utf8)
            var current: (type: String, lines: [Substring])? = nil
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if var open = current {
                    if line.hasPrefix("}") { extensions.append(open); current = nil } else { open.lines.append(line); current = open }
                    continue
                }
                if let m = try declaration.firstMatch(in: line), let name = m.output[1].substring { names.insert(String(name)) }
                if let m = try extensionHead.firstMatch(in: line), let type = m.output[1].substring { current = (String(type), []) }
            }
        }
        // Members SprigCore adds to a type of another module are SprigCore's names too.
        for e in extensions where !names.contains(e.type) {
            for line in e.lines {
                let trimmed = line.drop { $0 == " " }
                guard line.count - trimmed.count == 4 else { continue }
                if let m = try declaration.firstMatch(in: trimmed), let name = m.output[1].substring { names.insert(String(name)) }
            }
        }
        return names
    }

    /// A use of a SprigCore name the allow-list does not admit.
    struct Finding: CustomStringConvertible {
        var file: String, line: Int, what: String
        var description: String { "\(file):\(line): \(what)" }
    }

    /// Scans `text` (Swift source) for SprigCore names outside `allowed`.
    static func findings(in text: String, file: String, core: Set<String>) -> [Finding] {
        var out: [Finding] = []
        for (k, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(rawLine)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("import ") {
                let parts = trimmed.split(separator: " ")
                guard parts.contains(where: { $0 == "SprigCore" || $0.hasPrefix("SprigCore.") }) else { continue }
                let named = parts.last.map { String($0.split(separator: ".").last ?? "") } ?? ""
                if parts.count < 3 || !parts.last!.hasPrefix("SprigCore.") {
                    out.append(Finding(file: file, line: k + 1, what: "imports all of SprigCore (import only allowed names)"))
                } else if allowed[named] == nil {
                    out.append(Finding(file: file, line: k + 1, what: "imports SprigCore.\(named), not on the allow-list"))
                }
                continue
            }
            let tokens = codeTokens(line)
            for (i, token) in tokens.enumerated() where core.contains(token) || token == "SprigCore" {
                let before = i > 0 ? tokens[i - 1] : ""
                let declares = ["struct", "enum", "class", "protocol", "typealias", "func", "let", "var", "case"].contains(before)
                let qualified = before == "." && (i < 2 || tokens[i - 2] != "SprigCore")
                if declares || qualified { continue }
                if token == "SprigCore" {
                    if tokens.count > i + 2, tokens[i + 1] == ".", core.contains(tokens[i + 2]), allowed[tokens[i + 2]] != nil { continue }
                    out.append(Finding(file: file, line: k + 1, what: "names the module SprigCore"))
                    continue
                }
                guard let rule = allowed[token] else {
                    out.append(Finding(file: file, line: k + 1, what: "uses SprigCore's \(token)"))
                    continue
                }
                if let members = rule.members, tokens.count > i + 2, tokens[i + 1] == ".", !members.contains(tokens[i + 2]) {
                    out.append(Finding(file: file, line: k + 1, what: "uses \(token).\(tokens[i + 2]), not one of its allowed members"))
                }
            }
        }
        return out
    }

    /// The identifiers and dots of `line`, outside comments and string text (interpolations
    /// inside strings are code and are kept). Block comments are assumed not to hold code.
    static func codeTokens(_ line: String) -> [String] {
        var tokens: [String] = []
        var chars = Array(line)
        if let start = line.range(of: "///") ?? line.range(of: "//"), !line[..<start.lowerBound].contains("\"") {
            chars = Array(line[..<start.lowerBound])
        }
        var i = 0
        var inString = false
        var depth = 0  // parentheses inside an interpolation
        while i < chars.count {
            let c = chars[i]
            if inString && depth == 0 {
                if c == "\\" && i + 1 < chars.count && chars[i + 1] == "(" { depth = 1; i += 2; continue }
                if c == "\\" { i += 2; continue }
                if c == "\"" { inString = false }
                i += 1
                continue
            }
            if c == "\"" && depth == 0 { inString = true; i += 1; continue }
            if inString {
                if c == "(" { depth += 1 } else if c == ")" { depth -= 1 }
            }
            if c == "/" && i + 1 < chars.count && chars[i + 1] == "/" { break }
            if c.isLetter || c == "_" {
                var j = i
                while j < chars.count && (chars[j].isLetter || chars[j].isNumber || chars[j] == "_") { j += 1 }
                tokens.append(String(chars[i..<j]))
                i = j
                continue
            }
            if c == "." { tokens.append(".") } else if !c.isWhitespace { tokens.append(String(c)) }
            i += 1
        }
        return tokens
    }

    @Test("the specification, abstraction, refinement and properties name only the allowed SprigCore boundary")
    func specificationSharesNothingWithTheKernel() throws {
        // A name the model declares itself (the specification's own `Structures`) is the model's
        // where the model uses it: SprigCore is imported name by name, so the compiler does not
        // let such a use reach SprigCore's declaration of the same name.
        let core = try Self.coreNames().subtracting(Self.declaredNames(in: "Sources/SprigModel"))
        // The scan sees the kernel's logic: a scan that found nothing to look for could not fail.
        for name in ["PageTableWalk", "Yield", "DescriptorLayout", "ConfigList", "Shadow", "UserRegisters", "Prepare", "Reclaim"] {
            #expect(core.contains(name), "SprigCore's \(name) is not among the names the scan looks for")
        }
        let files = try Self.checkedFiles()
        #expect(files.count >= 10)
        var findings: [Finding] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            findings += Self.findings(in: text, file: file.lastPathComponent, core: core)
        }
        #expect(findings.isEmpty, "\(findings.map(\.description).joined(separator: "\n"))")
        for (name, rule) in Self.allowed {
            #expect(core.contains(name), "allowed name \(name) is not SprigCore's any more: take it off the list")
            #expect(!rule.reason.isEmpty)
        }
    }

    @Test("the scan catches a kernel function, a whole-module import, a member outside the list and a qualified name")
    func theScanCatchesWhatItShould() throws {
        let core = try Self.coreNames()
        let planted = """
            import SprigCore
            import enum SprigCore.Yield
            let a = PageTableWalk.userTranslate(p, rootTable: r, va: v, write: false)  // PageTableWalk in a comment is fine
            let b = YieldCache.plan(m, entry: e)
            let c = SprigCore.Prepare.self
            let d = "Prepare in a string is text, \\(Reclaim.self) in its interpolation is code"
            let e = YieldCache.base + SpecLayout.Descriptor.rootTable
            """
        let found = Self.findings(in: planted, file: "planted.swift", core: core)
        let lines = Set(found.map(\.line))
        #expect(lines == [1, 2, 3, 4, 5, 6], "\(found)")
        #expect(found.contains { $0.what.contains("YieldCache.plan") })
    }
}
