/// Debug builds only: the command line `crashtest=trap` or `crashtest=fault` makes the kernel
/// fail a Swift check or read an unmapped kernel address after boot, so a boot test can check
/// the crash report. Release builds compile this to nothing.
func debugCrashTest(_ boot: MultibootInfo) {
    #if SPRIG_DEBUG
    if boot.commandLineContains("crashtest=trap") {
        Console.line("Sprig: crashtest=trap: failing a kernel check on purpose")
        precondition(boot.moduleCount > 1000, "crashtest: deliberate kernel precondition failure")
    } else if boot.commandLineContains("crashtest=fault") {
        Console.line("Sprig: crashtest=fault: reading an unmapped kernel address on purpose")
        let p = UnsafeMutablePointer<UInt64>(bitPattern: UInt(0xFFFF_A000_0000_0000))!
        Console.hex(p.pointee)
    }
    #endif
}
