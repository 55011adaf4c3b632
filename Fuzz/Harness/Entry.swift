/// The libFuzzer entry points of the Sprig fuzz target (built by `sprig fuzz`, see docs/fuzz.md).
///
/// Each input is one `Session`: a freshly booted model and a call sequence decoded from the
/// bytes. A violation is a crash (`fatalError` with the violations and the decoded sequence),
/// which libFuzzer records as a reproducer. `SPRIG_FUZZ_TRACE=1` prints every decoded step and
/// its outcome as it runs: `SPRIG_FUZZ_TRACE=1 sprig-fuzz crash-…` shows a reproducer as a
/// program; `SPRIG_FUZZ_REFINEMENT=0` leaves the refinement check out.
#if canImport(Glibc)
import Glibc
#endif

private let checkRefinement = getenv("SPRIG_FUZZ_REFINEMENT").map { String(cString: $0) != "0" } ?? true
private let traceSteps = getenv("SPRIG_FUZZ_TRACE").map { String(cString: $0) == "1" } ?? false

/// libFuzzer calls this once per input.
@_cdecl("LLVMFuzzerTestOneInput")
public func sprigFuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let failure = Session(trace: traceSteps, refinement: checkRefinement).run(bytes) {
        fatalError(failure.report)
    }
    return 0
}
