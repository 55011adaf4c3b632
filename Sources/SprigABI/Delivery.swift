/// What a handler is told when the kernel enters it for an event (DESIGN.md §6).
///
/// When the kernel *delivers* an event — a hardware interrupt to root, a CPU exception or an
/// `int n` to the parent, a double fault to an ancestor — it loads the handler's context from
/// the receiver's VIDT and then overrides these five registers of it (all others are exactly
/// the context's, FPU/SSE included):
///
///     rdi = source: the partition the event came from, named as the receiver names it — the
///           virtual address of its descriptor in the receiver's address space; 0 when the
///           receiver itself was interrupted (root interrupted in ring 3)
///     rsi = the vector (the VIDT index the handler was entered at)
///     rdx = the CPU error code for exceptions that push one (8, 10–14, 17, 21, 29, 30), else 0
///     rcx = for a page fault (14) the faulting address (CR2), else 0
///     r8  = the VIDT index, in the *source's* VIDT, where its context was saved
///           (`VIDTIndex.cliSave` / `stiSave`), or `Delivery.notSaved` when the kernel could not
///           save it there (no VIDT, entry 0, or a slot that fails yield's check 8) or did not
///           (a double fault: the source was not running)
///
/// `yield` never overrides a register: a yield target is often a saved context being resumed,
/// which must come back exactly as it was saved (with rax = 0, the caller's status).
public enum Delivery {
    public static let sourceRegister = ContextLayout.rdi
    public static let vectorRegister = ContextLayout.rsi
    public static let errorCodeRegister = ContextLayout.rdx
    public static let faultAddressRegister = ContextLayout.rcx
    public static let savedAtRegister = ContextLayout.r8

    /// `r8` when the source's context was not saved.
    public static let notSaved: UInt64 = ~0

    /// The x86 exception vectors that push an error code (8, 10–14, 17, 21, 29, 30), one bit
    /// per vector: the entry stubs read the same mask (`kernel_constants.h`).
    public static let errorCodeVectors: UInt64 = 1 << 8 | 1 << 10 | 1 << 11 | 1 << 12 | 1 << 13 | 1 << 14
        | 1 << 17 | 1 << 21 | 1 << 29 | 1 << 30
    @inlinable public static func hasErrorCode(vector: UInt64) -> Bool {
        vector < 64 && errorCodeVectors >> vector & 1 != 0
    }
    public static let pageFaultVector: UInt64 = 14
}
