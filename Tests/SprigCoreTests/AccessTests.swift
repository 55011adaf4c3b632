/// SprigCore's state is private by default: every module that uses it (the kernel, the model, the
/// tool, the tests, the fuzz harness, the mutant builds) is inside the Sprig package and compiled
/// with `-package-name Sprig`, so nothing in SprigCore is `public` or `open`: its API is `package`,
/// the rest internal or private.
import Foundation
import Testing

@Suite("SprigCore access")
struct AccessTests {
    @Test("SprigCore declares nothing public or open")
    func nothingPublic() throws {
        let core = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/SprigCore").standardized
        let files = (FileManager.default.subpaths(atPath: core.path) ?? []).filter { $0.hasSuffix(".swift") }
        #expect(files.count > 10)
        var declarations = 0
        for file in files {
            let text = try String(contentsOf: core.appendingPathComponent(file), encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                // The code part of the line: comments may say "public".
                let code = line.range(of: "//").map { line[..<$0.lowerBound] } ?? line[...]
                let words = code.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") })
                if words.contains("package") { declarations += 1 }
                #expect(!words.contains("public") && !words.contains("open"),
                        "Sources/SprigCore/\(file):\(n + 1) is public: make it package (or narrower)")
            }
        }
        // The scan sees the declarations it is meant to judge.
        #expect(declarations > 50)
    }
}
