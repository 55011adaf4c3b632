/// The faulting partition of `cyclic` and `restarts`: says it starts and writes to an address it does
/// not have (a page fault). Its description has `restart = true`, so init builds it again from
/// its image and it starts over.
import SprigABI
import SprigUser

@_cdecl("sprig_partition_main")
func crasherMain(_ argument: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    var out = Output()
    out.line("crasher: started; writing to 0x8")
    UnsafeMutablePointer<UInt64>(bitPattern: 8)!.pointee = argument
    out.line("crasher: still running after the write, which never happens")
    while true {}
}
