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

    /// `register → offset` of every `movq OFFSET(BASE), %REG` (BASE `%rax` unless given) after
    /// `label` and then each of `after` in turn, up to the routine's `last` instruction.
    static func loads(
        in file: String, from label: String, after: [String] = [], to last: String, base: String = "%rax"
    ) throws -> [String: Int] {
        let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
        let opening = label.hasPrefix(".macro") ? label + "\n" : label + ":\n"
        var start = try #require(text.range(of: opening), "\(label) not in \(file)").upperBound
        for marker in after {
            start = try #require(text[start...].range(of: marker), "\(label) has no \(marker)").upperBound
        }
        let rest = text[start...]
        let end = try #require(rest.range(of: last), "\(label) has no \(last)")
        var loaded: [String: Int] = [:]
        for line in rest[..<end.lowerBound].split(separator: "\n") {
            // `movq OFFSET(BASE), %REG`; the base may hold a comma (`%rax,%rax`).
            let text = line.trimmingCharacters(in: .whitespaces)
            guard text.hasPrefix("movq "), let comma = text.lastIndex(of: ",") else { continue }
            let source = text[text.index(text.startIndex, offsetBy: 5)..<comma].trimmingCharacters(in: .whitespaces)
            let target = text[text.index(after: comma)...].trimmingCharacters(in: .whitespaces)
            let suffix = "(\(base))"
            guard source.hasSuffix(suffix), let offset = Int(source.dropLast(suffix.count)), target.hasPrefix("%")
            else { continue }
            let register = String(target.dropFirst())
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

    static let delivered = [Delivery.sourceRegister, Delivery.vectorRegister, Delivery.errorCodeRegister,
                            Delivery.faultAddressRegister, Delivery.savedAtRegister]

    /// The exit from a context (label 94) and from a delivery (95) share the loads of the
    /// registers no delivery sets (`LOAD_KEPT_REGISTERS`), from the context at `2 * %rax`.
    static func kept() throws -> [String: Int] {
        try loads(in: "SprigX86/entry.S", from: ".macro LOAD_KEPT_REGISTERS", to: ".endm", base: "%rax,%rax")
    }

    static func block(_ label: String, base: String) throws -> [String: Int] {
        try loads(in: "SprigX86/entry.S", from: label, to: "EXIT_TAIL", base: base)
    }

    /// Whether the block at `label` runs `LOAD_KEPT_REGISTERS` before its `EXIT_TAIL`.
    static func loadsKept(_ label: String) throws -> Bool {
        let text = try String(contentsOf: sources.appendingPathComponent("SprigX86/entry.S"), encoding: .utf8)
        let start = try #require(text.range(of: "\n" + label + ":\n")).upperBound
        let end = try #require(text[start...].range(of: "EXIT_TAIL")).lowerBound
        return text[start..<end].contains("LOAD_KEPT_REGISTERS")
    }

    @Test func kernelExitLoadsEveryRegisterAtItsContextOffset() throws {
        let kept = try Self.kept()
        #expect(kept.count == 9 && kept["rax"] == nil && Set(kept.values).isDisjoint(with: Self.delivered))
        #expect(try Self.loadsKept("94"))
        let rest = try Self.block("94", base: "%rax,%rax")
        #expect(Set(rest.keys).isDisjoint(with: kept.keys))
        #expect(kept.merging(rest) { a, _ in a } == Self.generalRegisters)
    }

    /// A delivery's exit (label 95): the five delivery registers from the frame, which keeps
    /// the general registers in the context's order from word 0 (rsp is the frame then), the
    /// others from the context.
    @Test func kernelExitAfterADeliveryTakesTheDeliveryRegistersFromTheFrame() throws {
        let fromContext = Self.generalRegisters.filter { !Self.delivered.contains($0.value) }
        let fromFrame = Self.generalRegisters.filter { Self.delivered.contains($0.value) }.mapValues { $0 - ContextLayout.gprs }
        #expect(fromFrame.count == 5)
        #expect(try Self.loadsKept("95"))
        #expect(try Self.kept().merging(Self.block("95", base: "%rax,%rax")) { a, _ in a } == fromContext)
        #expect(try Self.block("95", base: "%rsp") == fromFrame)
    }

    @Test func ringThreeResumeLoadsEveryRegisterAtItsContextOffset() throws {
        // The 15 registers come after the FXSAVE image, rip, rsp and the flags (`popfq`).
        #expect(try Self.loads(in: "SprigUser/Registers.S", from: "sprig_resume_context", after: ["popfq"], to: "jmp *")
                == Self.generalRegisters)
    }

    /// The save's copy of rbx…r15 through SSE registers (SprigX86/include/fpu_instructions.h):
    /// every 16 bytes it loads from the frame (rax at word 0, the context's order) go to the
    /// same registers' context offsets, and together they are rbx…r15, each once.
    @Test func saveCopiesRbxToR15ToTheirContextOffsets() throws {
        let file = "SprigX86/include/fpu_instructions.h"
        let text = try String(contentsOf: Self.sources.appendingPathComponent(file), encoding: .utf8)
        let start = try #require(text.range(of: "sprig_copy_saved_registers(")).upperBound
        let body = text[start...].prefix { $0 != "}" }
        var loads: [String: Int] = [:], stores: [String: Int] = [:]
        for line in body.split(separator: "\n") {
            // "movdqu 8(%1), %%xmm0\n\t" (frame to register) or "movdqu %%xmm0, 32(%0)…" (register to context)
            let t = line.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\\n\\t", with: "")
                .replacingOccurrences(of: "\\n", with: "").replacingOccurrences(of: "\"", with: "")
            guard t.hasPrefix("movdqu ") else { continue }
            let operands = t.dropFirst(7).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            #expect(operands.count == 2, "\(t)")
            guard operands.count == 2 else { continue }
            func offset(_ o: String, _ base: String) -> Int? { o.hasSuffix("(\(base))") ? Int(o.dropLast(base.count + 2)) : nil }
            if let f = offset(operands[0], "%1"), operands[1].hasPrefix("%%xmm") {
                #expect(loads[operands[1]] == nil); loads[operands[1]] = f
            } else if let c = offset(operands[1], "%0"), operands[0].hasPrefix("%%xmm") {
                #expect(stores[operands[0]] == nil); stores[operands[0]] = c
            } else {
                Issue.record("unexpected operands in \(t)")
            }
        }
        #expect(loads.count == 7 && Set(loads.keys) == Set(stores.keys))
        var covered: [Int] = []
        for (register, frameOffset) in loads {
            // Frame word r (rax = 0) is the context's general register r.
            #expect(stores[register] == ContextLayout.gprs + frameOffset, "\(register)")
            covered += [frameOffset, frameOffset + 8]
        }
        #expect(covered.sorted() == Array(stride(from: ContextLayout.rbx - ContextLayout.gprs, through: ContextLayout.r15 - ContextLayout.gprs, by: 8)))
    }
}
