/// Debug builds only: `crashtest=…` on the command line makes the kernel crash on purpose after
/// boot, so a boot test can check the crash report and that the CPU protections hold:
///
/// * `trap`: fail a Swift check; `fault`: read an unmapped kernel address;
/// * `write-text`, `write-text-alias`: write to the kernel's own text, through its link address
///   and through the direct map (both read-only: W^X);
/// * `exec-data`: call into a data page (no-exec);
/// * `stack-guard`: run the kernel stack into its guard page (a #DF, taken on its IST stack);
/// * `smap`, `smep` (with `skim=off`, so root's tables are the kernel's): read, or call, root's
///   image at `AddressSpace.imageBase` from ring 0.
/// * `nmi`: take vector 2 in ring 0 (`int $2`, the NMI's own path) while `sprig_exit_context`
///   names an unmapped address, as between a context load and the exit: the kernel must go on.
///
/// * `corrupt-stack`: fault with a frame-pointer chain that leaves the kernel stack (a frame
///   whose saved rbp and return address are garbage): the report's backtrace must end, not fault.
///
/// Release builds compile this to nothing.
import SprigABI
import SprigCore

@_extern(c, "sprig_debug_overflow_stack") func debugOverflowStack(_ guardTop: UInt64)
@_extern(c, "sprig_debug_corrupt_frame_fault") func debugCorruptFrameFault()

func debugCrashTest(_ boot: MultibootInfo, rootPML4: PhysicalAddress) {
    #if SPRIG_DEBUG
    if boot.commandLineContains("crashtest=trap") {
        Console.line("Sprig: crashtest=trap: failing a kernel check on purpose")
        precondition(boot.moduleCount > 1000, "crashtest: deliberate kernel precondition failure")
    } else if boot.commandLineContains("crashtest=fault") {
        Console.line("Sprig: crashtest=fault: reading an unmapped kernel address on purpose")
        let p = UnsafeMutablePointer<UInt64>(bitPattern: UInt(0xFFFF_A000_0000_0000))!
        Console.hex(p.pointee)
    } else if boot.commandLineContains("crashtest=write-text-alias") {
        Console.line("Sprig: crashtest=write-text-alias: writing the kernel's text through the direct map")
        let p = UnsafeMutablePointer<UInt8>(bitPattern: UInt(X86Platform.directMapBase &+ (KernelTables.textStart &- kernelVMA)))!
        p.pointee = 0xCC
    } else if boot.commandLineContains("crashtest=write-text") {
        Console.line("Sprig: crashtest=write-text: writing the kernel's own text")
        let p = UnsafeMutablePointer<UInt8>(bitPattern: UInt(KernelTables.textStart))!
        p.pointee = 0xCC
    } else if boot.commandLineContains("crashtest=exec-data") {
        Console.line("Sprig: crashtest=exec-data: calling into a data page")
        let p = withUnsafeMutablePointer(to: &fpuAreaSymbol) { UnsafeMutableRawPointer($0) }
        p.storeBytes(of: 0xC3, as: UInt8.self)  // ret
        unsafeBitCast(p, to: (@convention(c) () -> Void).self)()
    } else if boot.commandLineContains("crashtest=stack-guard") {
        Console.line("Sprig: crashtest=stack-guard: running the kernel stack into its guard page")
        debugOverflowStack(symbolAddress(&kernelStackGuardSymbol) + AddressSpace.pageSize)
    } else if boot.commandLineContains("crashtest=smap") {
        Console.line("Sprig: crashtest=smap: reading root's image from ring 0")
        writeCR3(rootPML4.raw)
        Console.hex(UnsafeMutablePointer<UInt64>(bitPattern: UInt(AddressSpace.imageBase))!.pointee)
    } else if boot.commandLineContains("crashtest=smep") {
        Console.line("Sprig: crashtest=smep: calling root's image from ring 0")
        writeCR3(rootPML4.raw)
        unsafeBitCast(UnsafeMutableRawPointer(bitPattern: UInt(AddressSpace.imageBase))!, to: (@convention(c) () -> Void).self)()
    } else if boot.commandLineContains("crashtest=corrupt-stack") {
        Console.line("Sprig: crashtest=corrupt-stack: faulting with a garbage frame chain")
        debugCorruptFrameFault()
    } else if boot.commandLineContains("crashtest=nmi") {
        Console.line("Sprig: crashtest=nmi: vector 2 in the kernel, an exit context pending")
        exitContext = 0xFFFF_A000_0000_0000
        raiseNMIVector()
        let kept = exitContext == 0xFFFF_A000_0000_0000
        exitContext = 0
        Console.line(kept && nmiPending != 0 ? "Sprig: crashtest=nmi: the kernel went on, the NMI pending for root"
                                        : "Sprig: crashtest=nmi: the NMI path touched the exit (FAILED)")
    }
    #endif
}
