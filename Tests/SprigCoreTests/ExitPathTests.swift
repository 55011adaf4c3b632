/// Two assembly routines load a context's general registers with hard-coded offsets: the
/// kernel's exit from a context (entry.S's `EXIT_PATH` macro at its local label 94, the return
/// to ring 3 after a yield or a delivery) and ring 3's `sprig_resume_context` (SprigUser/Registers.S). Both must use
/// `ContextLayout`'s offsets, every register exactly once.
import Foundation
import SprigABI
import Testing

@Suite struct ExitPathTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources").standardized

    /// `register → offset` of every `movq OFFSET(%rax), %REG` after `label` and then each of
    /// `after` in turn, up to the routine's `last` instruction.
    static func loads(in file: String, from label: String, after: [String] = [], to last: String) throws -> [String: Int] {
        let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
        var start = try #require(text.range(of: label + ":\n"), "\(label) not in \(file)").upperBound
        for marker in after {
            start = try #require(text[start...].range(of: marker), "\(label) has no \(marker)").upperBound
        }
        let rest = text[start...]
        let end = try #require(rest.range(of: last), "\(label) has no \(last)")
        var loaded: [String: Int] = [:]
        for line in rest[..<end.lowerBound].split(separator: "\n") {
            let parts = line.trimmingCharacters(in: .whitespaces).split(whereSeparator: { $0 == " " || $0 == "," })
            guard parts.count == 3, parts[0] == "movq", parts[1].hasSuffix("(%rax)"), let offset = Int(parts[1].dropLast(6)),
                  parts[2].hasPrefix("%")
            else { continue }
            let register = String(parts[2].dropFirst())
            #expect(loaded[register] == nil, "\(label): \(register) loaded twice")
            loaded[register] = offset
        }
        return loaded
    }

    static let generalRegisters = [
        "rax": ContextLayout.rax, "rbx": ContextLayout.rbx, "rcx": ContextLayout.rcx, "rdx": ContextLayout.rdx,
        "rsi": ContextLayout.rsi, "rdi": ContextLayout.rdi, "rbp": ContextLayout.rbp,
        "r8": ContextLayout.r8, "r9": ContextLayout.r9, "r10": ContextLayout.r10, "r11": ContextLayout.r11,
        "r12": ContextLayout.r12, "r13": ContextLayout.r13, "r14": ContextLayout.r14, "r15": ContextLayout.r15]

    @Test func kernelExitLoadsEveryRegisterAtItsContextOffset() throws {
        #expect(try Self.loads(in: "SprigX86/entry.S", from: "94", to: "EXIT_TAIL") == Self.generalRegisters)
    }

    @Test func ringThreeResumeLoadsEveryRegisterAtItsContextOffset() throws {
        // The 15 registers come after the FXSAVE image, rip, rsp and the flags (`popfq`).
        #expect(try Self.loads(in: "SprigUser/Registers.S", from: "sprig_resume_context", after: ["popfq"], to: "jmp *")
                == Self.generalRegisters)
    }
}
