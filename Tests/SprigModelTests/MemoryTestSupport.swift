/// Shared test helpers: property assertions and the end-of-run count of property checks.
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SprigABI
import SprigCore
@testable import SprigModel

/// Registers (once) an exit hook printing how many property checks the run performed.
let reportAtExit: Void = {
    atexit {
        print("property checks: \(Properties.checksPerformed.load(ordering: .relaxed))")
    }
}()

/// Asserts every property holds on `m`.
func expectProperties(_ m: ModelMachine, _ context: @autoclosure () -> String = "",
                      sourceLocation: SourceLocation = #_sourceLocation) {
    _ = reportAtExit
    let v = m.checkAllProperties()
    #expect(v.isEmpty, "\(context()): \(v.prefix(5).map(\.description).joined(separator: "\n"))",
            sourceLocation: sourceLocation)
}

/// Runs `body` (a call expected to be refused with `status`), asserting the status, that the
/// whole memory is unchanged, and that the properties hold.
func expectRefused(_ m: ModelMachine, _ status: Status, _ context: String = "",
                   sourceLocation: SourceLocation = #_sourceLocation,
                   _ body: () -> (status: Status, value: UInt64)) {
    let before = m.memory.snapshot()
    let r = body()
    #expect(r.status == status, "\(context): got \(r.status)", sourceLocation: sourceLocation)
    let after = m.memory.snapshot()
    if after != before {
        let first = before.indices.first { before[$0] != after[$0] } ?? 0
        Issue.record("\(context): a refused call changed memory, first at paddr 0x\(String(first * 8, radix: 16))",
                     sourceLocation: sourceLocation)
    }
    expectProperties(m, context, sourceLocation: sourceLocation)
}
