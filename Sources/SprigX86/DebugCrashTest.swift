/// Debug builds only: the command line `crashtest=trap` or `crashtest=fault` makes the kernel
/// fail a Swift check or read an unmapped kernel address after boot, so a boot test can check
/// the crash report; `crashtest=nmi` takes vector 2 in ring 0 (`int $2`, the NMI's own path)
/// while `sprig_exit_context` names an unmapped address, as in the window between a context
/// load and the exit, and the kernel must go on. Release builds compile this to nothing.
func debugCrashTest(_ boot: MultibootInfo) {
    #if SPRIG_DEBUG
    if boot.commandLineContains("crashtest=trap") {
        Console.line("Sprig: crashtest=trap: failing a kernel check on purpose")
        precondition(boot.moduleCount > 1000, "crashtest: deliberate kernel precondition failure")
    } else if boot.commandLineContains("crashtest=fault") {
        Console.line("Sprig: crashtest=fault: reading an unmapped kernel address on purpose")
        let p = UnsafeMutablePointer<UInt64>(bitPattern: UInt(0xFFFF_A000_0000_0000))!
        Console.hex(p.pointee)
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
