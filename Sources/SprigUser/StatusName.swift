/// Names of `Status` codes for console output. The switch is exhaustive, so a new code added
/// to SprigABI does not compile until it is named here too.
import SprigABI

public func statusName(_ raw: UInt64) -> StaticString {
    guard let s = Status(rawValue: raw) else { return "(unknown status)" }
    switch s {
    case .success: return "success"
    case .invalidInterruptIndex: return "invalidInterruptIndex"
    case .invalidSaveIndex: return "invalidSaveIndex"
    case .rootHasNoParent: return "rootHasNoParent"
    case .invalidChild: return "invalidChild"
    case .callerVIDTUnavailable: return "callerVIDTUnavailable"
    case .calleeVIDTUnavailable: return "calleeVIDTUnavailable"
    case .calleeContextUnavailable: return "calleeContextUnavailable"
    case .callerContextUnavailable: return "callerContextUnavailable"
    case .interruptMasked: return "interruptMasked"
    case .unknownService: return "unknownService"
    case .rootOnly: return "rootOnly"
    case .invalidArgument: return "invalidArgument"
    case .nonCanonicalAddress: return "nonCanonicalAddress"
    case .misalignedAddress: return "misalignedAddress"
    case .kernelHalfAddress: return "kernelHalfAddress"
    case .addressNotMapped: return "addressNotMapped"
    case .pageNotAccessible: return "pageNotAccessible"
    case .rangeNotAccessible: return "rangeNotAccessible"
    case .pageAlreadyGiven: return "pageAlreadyGiven"
    case .duplicatePage: return "duplicatePage"
    case .pageNotWritable: return "pageNotWritable"
    case .rightsExceedCaller: return "rightsExceedCaller"
    case .notPrepared: return "notPrepared"
    case .childAddressInUse: return "childAddressInUse"
    case .pageGivenFurther: return "pageGivenFurther"
    case .freeListTooShort: return "freeListTooShort"
    case .freeListLoops: return "freeListLoops"
    case .executeAtVIDT: return "executeAtVIDT"
    }
}
