/// `sprig_exit_from_context` (entry.S) loads ring 3's general registers straight from a context
/// with hard-coded offsets: they must be `ContextLayout`'s, every register exactly once.
import Foundation
import SprigABI
import Testing

@Suite struct ExitPathTests {
    @Test func exitFromContextLoadsEveryRegisterAtItsContextOffset() throws {
        let entry = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/SprigX86/entry.S").standardized
        let text = try String(contentsOf: entry, encoding: .utf8)
        let start = try #require(text.range(of: "sprig_exit_from_context:\n"))
        let body = text[start.upperBound...].prefix { _ in true }
        let end = try #require(body.range(of: "iretq"))
        var loaded: [String: Int] = [:]
        for line in body[..<end.lowerBound].split(separator: "\n") {
            // movq OFFSET(%rax), %REG
            let parts = line.trimmingCharacters(in: .whitespaces).split(whereSeparator: { $0 == " " || $0 == "," })
            guard parts.count == 3, parts[0] == "movq", parts[1].hasSuffix("(%rax)"), let offset = Int(parts[1].dropLast(6))
            else { continue }
            let register = String(parts[2].dropFirst())
            #expect(loaded[register] == nil, "\(register) loaded twice")
            loaded[register] = offset
        }
        let expected = ["rax": ContextLayout.rax, "rbx": ContextLayout.rbx, "rcx": ContextLayout.rcx, "rdx": ContextLayout.rdx,
                        "rsi": ContextLayout.rsi, "rdi": ContextLayout.rdi, "rbp": ContextLayout.rbp,
                        "r8": ContextLayout.r8, "r9": ContextLayout.r9, "r10": ContextLayout.r10, "r11": ContextLayout.r11,
                        "r12": ContextLayout.r12, "r13": ContextLayout.r13, "r14": ContextLayout.r14, "r15": ContextLayout.r15]
        #expect(loaded == expected)
    }
}
