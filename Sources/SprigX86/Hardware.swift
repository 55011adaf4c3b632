/// The instructions Swift cannot emit, implemented in `support.c`, `boot.S` and `entry.S`, and
/// the FPU instructions of `include/fpu_instructions.h`.
///
/// Everything that touches a port, a control register or a descriptor table goes through one of
/// these functions, so the Swift kernel code above them reads as plain logic.
import SprigFPUInstructions

@_extern(c, "sprig_outb") func outb(_ port: UInt16, _ value: UInt8)
@_extern(c, "sprig_inb") func inb(_ port: UInt16) -> UInt8
@_extern(c, "sprig_outl") func outl(_ port: UInt16, _ value: UInt32)
@_extern(c, "sprig_read_cr2") func readCR2() -> UInt64
@_extern(c, "sprig_read_cr3") func readCR3() -> UInt64
@_extern(c, "sprig_read_cr0") func readCR0() -> UInt64
@_extern(c, "sprig_read_cr4") func readCR4() -> UInt64
@_extern(c, "sprig_write_cr4") func writeCR4(_ value: UInt64)
@_extern(c, "sprig_rdmsr") func rdmsr(_ msr: UInt32) -> UInt64
@_extern(c, "sprig_wrmsr") func wrmsr(_ msr: UInt32, _ value: UInt64)
@_extern(c, "sprig_cpuid") func cpuidC(_ leaf: UInt32, _ subleaf: UInt32, _ a: UnsafeMutablePointer<UInt32>,
                                         _ b: UnsafeMutablePointer<UInt32>, _ c: UnsafeMutablePointer<UInt32>, _ d: UnsafeMutablePointer<UInt32>)
@_extern(c, "sprig_invlpg") func invlpg(_ va: UInt64)
@_extern(c, "sprig_raise_nmi_vector") func raiseNMIVector()
@_extern(c, "sprig_halt_forever") func haltForeverC()
@_extern(c, "sprig_cpu_init") func cpuInit()
@_extern(c, "sprig_enter_user") func enterUserC(_ frame: UnsafeMutablePointer<UInt64>)

/// Linker-script and assembly symbols, read through their addresses.
@_extern(c, "sprig_image_start_phys") nonisolated(unsafe) var imageStartPhysSymbol: UInt8
@_extern(c, "sprig_image_end_phys") nonisolated(unsafe) var imageEndPhysSymbol: UInt8
@_extern(c, "sprig_boot_pml4") nonisolated(unsafe) var bootPML4Symbol: UInt8
@_extern(c, "sprig_kernel_stack_top") nonisolated(unsafe) var kernelStackTopSymbol: UInt8

/// Stops the CPU for good (interrupts off, hlt in a loop).
func haltForever() -> Never {
    haltForeverC()
    while true {}
}

/// Leaves for ring 3 with the registers in `frame` (a TrapFrame). Does not return.
func enterUser(_ frame: UnsafeMutablePointer<UInt64>) -> Never {
    enterUserC(frame)
    while true {}
}

/// The CR3 load: inline assembly in include/fpu_instructions.h, inlined (no call).
@inline(__always) func writeCR3(_ value: UInt64) { sprig_write_cr3(value) }

/// FXSAVE, FXRSTOR, FNINIT: inline assembly in include/fpu_instructions.h, inlined (no call).
@inline(__always) func fxsave(_ area: UnsafeMutablePointer<UInt64>) { sprig_fxsave(area) }
@inline(__always) func fxrstor(_ area: UnsafeMutablePointer<UInt64>) { sprig_fxrstor(area) }
@inline(__always) func fninit() { sprig_fninit() }
/// rbx…r15 from a TrapFrame to a context, through SSE registers: only right after the trapped
/// partition's FXSAVE (include/fpu_instructions.h says why that is the one place).
@inline(__always) func copySavedRegisters(_ context: UnsafeMutablePointer<UInt64>, _ frame: UnsafeMutablePointer<UInt64>) {
    sprig_copy_saved_registers(context, frame)
}
/// 512 bytes, 16-aligned: where FXSAVE/FXRSTOR stage a partition's FPU/SSE image.
@_extern(c, "sprig_fpu_area") nonisolated(unsafe) var fpuAreaSymbol: UInt64
/// 144 bytes, 16-aligned: the general registers of a context over two pages, for the exit path.
@_extern(c, "sprig_exit_registers") nonisolated(unsafe) var exitRegistersSymbol: UInt64
/// When nonzero, the address of the context whose general registers ring 3 resumes with
/// (`sprig_trap_return` loads them from there, then zeroes this word): set by every
/// `X86Platform.loadCPUState`, to the context's direct-map address when it lies on one page,
/// else to `sprig_exit_registers`, which holds its general registers (include/kernel_words.h).
var exitContext: UInt64 {
    @inline(__always) get { sprig_exit_context }
    @inline(__always) set { sprig_exit_context = newValue }
}
/// Nonzero while an NMI that came during a kernel entry waits for the way back to ring 3
/// (entry.S checks it there and calls `deliverPendingNMI`).
@_extern(c, "sprig_nmi_pending") nonisolated(unsafe) var nmiPending: UInt64
/// `KernelCache.words` words of BSS (entry.S): the translation and yield caches.
@_extern(c, "sprig_translation_cache_end") nonisolated(unsafe) var translationCacheEndSymbol: UInt64
