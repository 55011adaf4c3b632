/// The constants assembly and the linker script share with Swift are generated from SprigABI:
/// the checked-in `kernel_constants.h` and `.ld` are exactly what `KernelConstants` gives, and
/// the assembly and linker script use them instead of their own copies.
import Foundation
import SprigABI
import SprigTool
import Testing

@Suite("Constants shared with assembly")
struct KernelConstantsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    func text(_ path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test("the generated header and linker fragment are fresh")
    func fresh() throws {
        #expect(try text(KernelConstants.headerPath) == KernelConstants.header,
                "stale \(KernelConstants.headerPath): run `sprig build`")
        #expect(try text(KernelConstants.linkerScriptPath) == KernelConstants.linkerScript,
                "stale \(KernelConstants.linkerScriptPath): run `sprig build`")
    }

    @Test("the kernel base and the error-code vectors are written nowhere else")
    func writtenOnce() throws {
        for path in ["Sources/SprigX86/boot.S", "Sources/SprigX86/entry.S", "Sources/SprigX86/kernel.ld",
                     "Sources/SprigX86/Main.swift", "Sources/SprigX86/CrashReport.swift", "Sources/SprigTool/CrashSymbols.swift",
                     "Sources/SprigModel/ModelMachine.swift"] {
            let t = try text(path).replacingOccurrences(of: "_", with: "").uppercased()
            #expect(!t.contains("FFFFFFFF80000000"), "\(path) spells the kernel base itself")
            #expect(!t.contains("(\\VECTOR == 14)"), "\(path) lists the error-code vectors itself")
        }
    }

    @Test("the error-code vectors are the SDM's: 8, 10–14, 17, 21, 29, 30")
    func errorCodeVectors() {
        let pushes: Set<UInt64> = [8, 10, 11, 12, 13, 14, 17, 21, 29, 30]
        for v in UInt64(0)..<256 { #expect(Delivery.hasErrorCode(vector: v) == pushes.contains(v), "vector \(v)") }
    }
}
