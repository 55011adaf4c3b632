/// A partition that says it starts, then never yields: its scheduler preempts it at the end of
/// each of its frames (the `cyclic` system's overrunning partition, `muen-demo`'s logger).
import SprigABI
import SprigUser

@_cdecl("sprig_partition_main")
func spinnerMain(_ argument: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    var out = Output()
    out.line("spinner: started; never yielding")
    var n: UInt64 = 0
    while true { n &+= 1 }
}
