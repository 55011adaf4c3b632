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

    // The memory services (DESIGN.md §4): what was wrong with the pages or the child named.
    /// The page was already given to a child (`addVAddr`), so it cannot be given again, used as
    /// a structure, or mapped into a second child.
    case pageAlreadyGiven = 48
    /// The same physical page was named twice where distinct pages are needed (the five pages of
    /// `createPartition`).
    case duplicatePage = 49
    /// A page offered as a kernel structure is not writable by the caller: the kernel writes
    /// structure pages, and giving a read-only page would let the caller change it through the
    /// kernel and read it back after deletion.
    case pageNotWritable = 50
    /// `addVAddr` asked for a right (write, execute) the caller itself lacks on that page.
    case rightsExceedCaller = 51
    /// The child's tables lack a level for that vaddr: `prepare` it first (`countToMap` says how
    /// many pages that takes).
    case notPrepared = 52
    /// Something is already mapped at that vaddr in the child.
    case childAddressInUse = 53
    /// `removeVAddr` on a page the child has itself given on, to a grandchild or to the kernel as
    /// a structure: take back the subtree first (`deletePartition`).
    case pageGivenFurther = 54
    /// `prepare`'s free list ended (a 0 link) before it held as many pages as `countToMap` says.
    case freeListTooShort = 55
    /// `prepare`'s free list names one page twice (it loops).
    case freeListLoops = 56
    /// `addVAddr` asked for execute rights at the child's VIDT address: the top page of the
    /// lower half never holds code, so that no instruction ends at its last byte (a `syscall` or
    /// `int n` there would leave a return address outside the lower half).
    case executeAtVIDT = 57
}

extension Status {
    /// True for `success`.
    @inlinable public var isSuccess: Bool { self == .success }
}
