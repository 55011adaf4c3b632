/// The numbers `Partition/Switch.S` writes by hand are the ones SprigABI defines: a context's
/// offsets and the masked flag (the service number comes from the generated sprig_abi.h).
import Foundation
import SprigABI
import Testing

@Suite("Threads: Switch.S agrees with SprigABI")
struct SwitchConstantsTests {
    @Test("every #define of Switch.S is ContextLayout's offset")
    func constants() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/SprigThreads/Partition/Switch.S").standardized
        let text = try String(contentsOf: source, encoding: .utf8)
        var defines: [String: Int] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("#define ") {
            let f = line.split(separator: " ")
            if f.count >= 3, let v = Int(f[2]) { defines[String(f[1])] = v }
        }
        let expected: [String: Int] = [
            "CONTEXT_RIP": ContextLayout.rip, "CONTEXT_RSP": ContextLayout.rsp, "CONTEXT_RFLAGS": ContextLayout.rflags,
            "CONTEXT_RAX": ContextLayout.rax, "CONTEXT_RBX": ContextLayout.rbx, "CONTEXT_RBP": ContextLayout.rbp,
            "CONTEXT_R12": ContextLayout.r12, "CONTEXT_R13": ContextLayout.r13, "CONTEXT_R14": ContextLayout.r14,
            "CONTEXT_R15": ContextLayout.r15, "CONTEXT_FLAGS": ContextLayout.flags, "CONTEXT_VALID": ContextLayout.valid,
            "CONTEXT_FPU": ContextLayout.fpu,
        ]
        for (name, value) in expected { #expect(defines[name] == value, "\(name)") }
        // The scratch word lies between `valid` and the FPU image, which the kernel zeroes.
        let scratch = try #require(defines["CONTEXT_SCRATCH"])
        #expect(scratch > ContextLayout.valid && scratch + 8 <= ContextLayout.fpu)
        // The pops walk the general registers in ContextLayout's order, ending at `flags`.
        #expect(ContextLayout.rax + 8 * ContextLayout.gprCount == ContextLayout.flags)
        #expect(InterruptFlags.masked == 1, "Switch.S stores 1 as the masked flags word")
        // The final `popfq; ret $128` frame sits below the 128-byte red zone.
        #expect(defines["RESUME_FRAME"] == 128 + 16)
    }
}
