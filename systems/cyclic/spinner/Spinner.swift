/// The `cyclic` system's overrunning partition: says it starts, then never yields. The timer
/// preempts it at the end of each of its minor frames.
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
