/// The kernel's only door to the machine (Pip's MAL/IAL).
///
/// SprigCore never touches memory or the CPU directly: everything goes through a `Platform`.
/// `SprigX86` implements it on the real machine (physical memory through the kernel's direct
/// map); `SprigModel` implements it on simulated memory for tests, exploration and fuzzing. In
/// Embedded Swift every use is specialized for the one concrete platform, so the surface stays
/// small and concrete: words and pages of physical memory (`Platform`), and, for yield and
/// event delivery, the trapped CPU state (`CPUPlatform`).
///
/// ## What the core expects of a CPU platform (register hygiene)
///
/// The platform holds the *trapped state*: the registers of the partition that entered the
/// kernel (trap frame + FPU/SSE state). The core decides; the platform moves bits:
///
/// * `saveCPUState` writes every register, `flags`, `valid` = 1 and the FXSAVE image, and
///   never the owner's words: the reserved bytes `ContextLayout.reserved..<fpu` (160…255) and
///   FXSAVE bytes `ContextLayout.fpuAvailable…` (464…511) keep what the slot's owner wrote
///   (the slot is in its memory: nothing crosses a partition). The other bytes FXSAVE does not
///   write (`UserRegisters.fxsaveWrittenBytes`) are zero when the image goes through a staging
///   buffer; written in place, they keep the slot's own bytes.
/// * `loadCPUState` makes the context the state ring 3 resumes with, and nothing else: every
///   register the context does not hold (FS/GS base, segment registers, debug registers, any
///   AVX/AVX-512 state) is zero or the kernel's fixed user value — which on x86 means XCR0 has
///   x87|SSE only, CR4.FSGSBASE off, DS/ES/FS/GS null, FS/GS base 0. The values it loads are
///   sanitized with `UserRegisters` (the same functions on every platform): the flags register keeps only
///   the user flags and gets IF from the core, a `rip` outside the partition half becomes 0 (so
///   a bad context faults in ring 3, never in the kernel's `sysret`/`iretq`), MXCSR loses its
///   reserved bits (FXRSTOR would #GP in ring 0). The same rip rule is applied once more by
///   `Kernel.trap` to whatever the trapped state holds at the end (`Kernel.returnAddress`), for
///   the paths that load no context.
/// * Neither may fault: every physical address in a `ContextLocation` was checked by the core.
import SprigABI

package protocol Platform {
    /// The 8-byte word at `paddr` (8-byte aligned, inside RAM).
    func load(_ paddr: PhysicalAddress) -> UInt64
    /// Writes the 8-byte word at `paddr` (8-byte aligned, inside RAM). The three writers take a
    /// `WriteAccess`, which only KernelWrites.swift can make: every write SprigCore makes goes
    /// through `Structures` (advancing the cache generation) or `PartitionMemory` there.
    func store(_ paddr: PhysicalAddress, _ value: UInt64, _ access: WriteAccess)
    /// Fills the page at `page` (page-aligned) with zeros.
    func zeroPage(_ page: PhysicalAddress, _ access: WriteAccess)
    /// Copies `bytes` bytes from `source` to `destination` (both inside RAM, not overlapping).
    func copy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64, _ access: WriteAccess)
    /// Word `index` (below `KernelCache.words`) of the kernel caches' storage: kernel memory
    /// outside the physical memory partitions are given, zero at boot.
    func translationCacheLoad(_ index: Int) -> UInt64
    func translationCacheStore(_ index: Int, _ value: UInt64)
    /// Drops whatever translation of the page at `va` the CPU has cached for the running
    /// partition (x86 `invlpg`). The core asks for it whenever it changes the U bit of a leaf of
    /// the running partition's own tables (`PageOwnership.setAccessible`): without it the
    /// partition keeps reaching through a stale TLB entry a page that just became a kernel
    /// structure (Intel SDM vol. 3 §4.10.4). Other partitions' tables need no request: every
    /// switch to a partition loads CR3, which drops all non-global translations.
    func invalidateTranslation(_ va: VirtualAddress)
}

/// A `Platform` that also holds the trapped CPU state: what yield and event delivery need.
package protocol CPUPlatform: Platform {
    /// The root partition (fixed at boot: `RootBuilder`'s descriptor).
    var rootPartition: Descriptor { get }
    /// The partition whose state is trapped (the one running in ring 3): root at boot, then
    /// whatever `setCurrentPartition` last gave.
    var currentPartition: Descriptor { get }
    /// Makes `descriptor` the current partition; called with the `switchAddressSpace` of its root table.
    func setCurrentPartition(_ descriptor: Descriptor)
    /// Makes `rootTable` the tables ring 3 runs on (CR3 on x86-64).
    func switchAddressSpace(_ rootTable: RootTable)
    /// Writes the trapped state as a context at `location` (see the hygiene notes above), with
    /// `flags` in `ContextLayout.flags`, 1 in `valid`, and `returnValue` instead of the trapped
    /// `rax` when not nil (a yield caller resumes with status 0 in rax).
    func saveCPUState(to location: ContextLocation, flags: UInt64, returnValue: UInt64?)
    /// Replaces the trapped state by the context at `location`, sanitized (`UserRegisters`),
    /// with the interrupt flag = `interruptsEnabled`; when `delivery` is not nil, its five values then
    /// replace the registers `SprigABI.Delivery` names.
    func loadCPUState(from location: ContextLocation, interruptsEnabled: Bool, delivery: DeliveryInfo?)
    /// Sets the interrupt flag of the trapped state (root's `setIntState` takes effect at once).
    func setTrappedInterruptFlag(_ enabled: Bool)
    /// The rip of the trapped state: where ring 3 resumes.
    var trappedRIP: UInt64 { get }
    /// Replaces the rip of the trapped state (`Kernel.returnAddress`).
    func setTrappedRIP(_ rip: UInt64)
}

/// What a handler is told about the event it is entered for (`SprigABI.Delivery`).
package struct DeliveryInfo: Sendable {
    package private(set) var source: UInt64
    package private(set) var vector: UInt64
    package private(set) var errorCode: UInt64
    package private(set) var faultAddress: UInt64
    package private(set) var savedAt: UInt64
    @inlinable package init(source: UInt64, vector: UInt64, errorCode: UInt64, faultAddress: UInt64, savedAt: UInt64) {
        self.source = source; self.vector = vector; self.errorCode = errorCode
        self.faultAddress = faultAddress; self.savedAt = savedAt
    }
}
