/// Alice of the `alice-eve` system (WeensyOS's p-alice): counts, says hello every 1024
/// iterations (her argument: root may ask for another count) and yields to her parent after
/// every iteration.
///
/// Her lines go through her own console page (`SharedConsole`; root drains it when she raises
/// `int 0x80`). Each yield saves her at her `VIDT[300]` and enters root at its `VIDT[300]`, the
/// scheduler, which runs Eve next and resumes Alice there on her next turn.
import SprigABI
import SprigUser

/// Where Alice saves herself when she yields, and where root's scheduler is entered.
let resumeIndex: UInt64 = 300

@_cdecl("sprig_partition_main")
func aliceMain(_ argument: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    Contexts.setVIDT(resumeIndex, ChildLayout.contextSlot(2))
    let every = argument == 0 ? 1024 : argument
    var n: UInt64 = 0
    while true {
        n += 1
        if n % every == 0 {
            var out = Output()
            out.write("Hi, I'm Alice! #")
            out.decimal(n)
            out.byte(10)
        }
        Sprig.yield(0, target: resumeIndex, save: resumeIndex)
    }
}
