/// VIDT indices with a fixed meaning, and the virtual interrupt state (DESIGN.md §5–6).
///
/// A partition's VIDT (`AddressSpace.vidt`) has `AddressSpace.vidtEntries` (512) entries, each
/// the virtual address, in that partition, of a context, or 0. Every index is both a possible
/// *target* (the context the kernel loads to enter the partition there) and a possible *save
/// slot* (where the kernel stores the partition's registers when it leaves it). The kernel reads
/// an entry as an allegation and checks it every time it uses it.
///
/// The index ranges:
///
///     0 …  31   CPU exceptions: a child's fault with vector v enters its parent at VIDT[v]
///               (`doubleFault` = 8 when a grandchild's fault could not be taken by the child).
///               Never masked. Index 0 is also the context root boots from (`main`).
///    32 … 255   interrupts and signals: hardware IRQs enter root at VIDT[vector]; `int n` enters
///               the parent at VIDT[n]; yield may target any of them. Masked while the target
///               partition's interrupt state is `InterruptFlags.masked` (its VCLI).
///   256 … 511   resume slots: not interrupt vectors, never masked. The kernel saves an
///               interrupted or faulting partition at `cliSave` / `stiSave`; a parent resumes
///               it by yielding to that same index.
///
/// Pip keeps its CLI/STI save indices at 8 and 9, which on x86 are the #DF and reserved-9
/// exception vectors; Sprig moves them out of the vector range so that a saved context can
/// never be mistaken for an exception handler and resuming a masked partition is never refused.
public enum VIDTIndex {
    /// Number of entries; a target or save index must be below it (yield checks 1 and 2).
    public static let count: UInt64 = AddressSpace.vidtEntries
    /// The context root starts from at boot.
    public static let main: UInt64 = 0
    /// The double-fault vector: where a partition learns that a child could not take a fault
    /// of one of its own children.
    public static let doubleFault: UInt64 = 8
    /// Root's handler for a non-maskable interrupt: a hardware event, routed to root like an
    /// IRQ (never the interrupted partition's own exception 2), and masked by nothing.
    public static let nmi: UInt64 = 2
    /// First index that is not a CPU exception.
    public static let firstInterrupt: UInt64 = 32
    /// The hardware interrupts root can turn on: the timer (IRQ 0, `Service.setTimer`) and the
    /// serial port's receive interrupt (IRQ 4, `Service.setConsoleInterrupt`), on the legacy
    /// PICs remapped to vectors 32…47.
    public static let timer: UInt64 = 32
    public static let serial: UInt64 = 36
    /// One past the last interrupt vector; also the first resume slot.
    public static let endInterrupts: UInt64 = 256
    /// Where the kernel saves a partition it interrupts or that faults while its interrupt state
    /// is `InterruptFlags.masked` (Pip's `CLI_SAVE_INDEX`).
    public static let cliSave: UInt64 = 256
    /// Likewise while its interrupt state is `InterruptFlags.enabled` (Pip's `STI_SAVE_INDEX`).
    public static let stiSave: UInt64 = 257

    /// Whether a partition in interrupt state `state` refuses to be entered at `index`
    /// (yield check 9): only interrupt vectors 32…255 are maskable. The state first, and as
    /// the unlikely case: entered with interrupts enabled, a partition costs the fastpath one
    /// test and no computation on the index (docs/bench.md, "Down to 200").
    @inlinable public static func isMasked(_ index: UInt64, state: UInt64) -> Bool {
        _slowPath(state != InterruptFlags.enabled) && index >= firstInterrupt && index < endInterrupts
    }

    /// The save slot the kernel uses for a partition it interrupts, by its interrupt state.
    @inlinable public static func saveSlot(state: UInt64) -> UInt64 {
        state != InterruptFlags.enabled ? cliSave : stiSave
    }
}

/// A partition's virtual interrupt state (Pip's VCLI/VSTI), one word in its descriptor
/// (`DescriptorLayout.interruptState`; `getIntState`/`setIntState` read and write it).
///
/// yield's `flagsOnYield` and `flagsOnWake` and a context's `ContextLayout.flags` word are such
/// states. 0 is `enabled`, so a zeroed descriptor or context means "interrupts on"; any nonzero
/// value a partition passes to yield or leaves in a context means `masked` (the kernel stores
/// 0 or 1 only). For root, `masked` also clears the real `rflags.IF` while root runs (only root
/// masks hardware interrupts for real); every other partition always runs with IF set.
public enum InterruptFlags {
    /// VSTI: every index may be entered.
    public static let enabled: UInt64 = 0
    /// VCLI: interrupt vectors 32…255 are refused (`Status.interruptMasked`).
    public static let masked: UInt64 = 1

    /// The stored form of a state word a partition passed: 0 stays `enabled`, anything else is
    /// `masked`.
    @inlinable public static func normalized(_ raw: UInt64) -> UInt64 { raw == 0 ? enabled : masked }
}
