/// The `faulty` system's root: reads an unmapped address. Root has no parent to take the page
/// fault, so the kernel's exception routing must end it with the crash report (status 0x70)
/// naming vector 14 and the address, instead of looping or resetting.
import SprigABI
import SprigUser

@_cdecl("sprig_partition_main")
func faultyMain(_ bootInfoAddress: UInt64) {
    var out = Output()
    out.line("root: reading 0x7000_0000_0000, which nobody mapped")
    let p = UnsafeMutablePointer<UInt64>(bitPattern: UInt(0x7000_0000_0000))!
    out.hex(p.pointee)
    out.line("root: still running after the fault (wrong)")
    Sprig.powerOff(4)
}
