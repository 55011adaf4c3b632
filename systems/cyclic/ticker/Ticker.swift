/// The `cyclic` system's well-behaved partition: prints five numbered lines with some work
/// between them, then waits in a loop for its frames to end (the timer preempts it).
import SprigABI
import SprigUser

@_cdecl("sprig_partition_main")
func tickerMain(_ argument: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    var out = Output()
    var line: UInt64 = 1
    var sum: UInt64 = 0
    while line <= 5 {
        var k: UInt64 = 0
        while k < 20_000 { sum = sum &+ k &* line; k += 1 }
        out.write("ticker: line ")
        out.decimal(line)
        out.write(" of 5, work ")
        out.hex(sum & 0xFFFF)
        out.byte(10)
        line += 1
    }
    out.line("ticker: done; idle")
    while true {}
}
