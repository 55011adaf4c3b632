/// Every result a service can return, defined once.
///
/// Pip returns a bare boolean from most services; Sprig says why. Codes 1–9 are Pip's yield codes
/// in the order of yield's check chain (DESIGN.md §5) and never change. Each code names what was
/// wrong with the *caller's* request; a refused call changes nothing.
public enum Status: UInt64, CaseIterable, Sendable, Error {
    case success = 0

    // yield's check chain, Pip's numbering (DESIGN.md §5).
    case invalidInterruptIndex = 1
    case invalidSaveIndex = 2
    case rootHasNoParent = 3
    case invalidChild = 4
    case callerVIDTUnavailable = 5
    case calleeVIDTUnavailable = 6
    case calleeContextUnavailable = 7
    case callerContextUnavailable = 8
    case interruptMasked = 9

    // Calls the kernel does not serve.
    /// `rax` is not a service number.
    case unknownService = 16
    /// A root-only service (console, power) called by another partition.
    case rootOnly = 17
    /// A numeric argument outside its documented range (rights bits, exit status, length, state).
    case invalidArgument = 18

    // Addresses handed in by the caller (checked before anything is looked up).
    /// Bits 63…47 are not copies of bit 47.
    case nonCanonicalAddress = 32
    /// An address that must be page-aligned is not.
    case misalignedAddress = 33
    /// A canonical address in the kernel half: never a partition's.
    case kernelHalfAddress = 34
    /// No page is mapped there in the caller's address space.
    case addressNotMapped = 35
    /// The page is mapped but the caller may not use it: it was given to the kernel as a
    /// structure page, by the caller or a descendant.
    case pageNotAccessible = 36
    /// A byte range runs past the end of the caller's accessible memory.
    case rangeNotAccessible = 37
}

extension Status {
    /// True for `success`.
    @inlinable public var isSuccess: Bool { self == .success }
}
