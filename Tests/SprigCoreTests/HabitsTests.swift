/// Comments say what the code does and why, never which piece of work, ticket or sitting it
/// came from: no comment in the project's code names a tracker entry or a numbered session.
import Foundation
import Testing

@Suite("Habits")
struct HabitsTests {
    static let project = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../..").standardized

    /// The comment text of `line`: after `//` or `#` (scripts), or a `/* … */`-style line.
    static func comment(_ line: Substring, hashComments: Bool) -> Substring? {
        if let r = line.range(of: "//") { return line[r.upperBound...] }
        let t = line.drop { $0 == " " || $0 == "\t" }
        if t.hasPrefix("/*") || t.hasPrefix("*") { return t }
        if hashComments, let r = line.range(of: "# ") { return line[r.upperBound...] }
        return nil
    }

    static let citations = [#"(?i)\bissues?\b"#, #"(?i)\bsessions? #?\d"#, #"\(#\d+(, #\d+)*\)"#, #"(?i)\bPR #?\d"#]

    @Test("no comment in Sources, Tests, tools, systems or Fuzz cites a ticket or a session")
    func commentsCiteNoWork() throws {
        let fm = FileManager.default
        var read = 0
        for folder in ["Sources", "Tests", "tools", "systems", "Fuzz"] {
            let base = Self.project.appendingPathComponent(folder)
            for path in fm.subpaths(atPath: base.path) ?? [] {
                let ext = (path as NSString).pathExtension
                guard ["swift", "S", "c", "h", "py", "sh", "toml", "ld"].contains(ext) else { continue }
                guard let text = try? String(contentsOf: base.appendingPathComponent(path), encoding: .utf8) else { continue }
                read += 1
                for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                    guard let c = Self.comment(line, hashComments: ["py", "sh", "toml"].contains(ext)) else { continue }
                    for pattern in Self.citations where c.range(of: pattern, options: .regularExpression) != nil {
                        Issue.record("\(folder)/\(path): a comment cites a piece of work: \(line)")
                    }
                }
            }
        }
        #expect(read > 200)
    }
}
