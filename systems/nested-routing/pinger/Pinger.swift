/// The `nested-routing` writer (a child of `nest`): sends "ping 1" … "ping 3" on channel
/// `pings` (index 0), raises the interrupt event `nudge` (0xA2) after the first and the
/// handover event `poke` (0xA1) after the third (which waits for ponger's frame to take the
/// first two, so ponger has started and takes the handover at once), then idles. Every event and message is routed
/// by its parent `nest`, not by root.
import SprigABI
import SprigUser

@_cdecl("sprig_partition_main")
func pingerMain(_ argument: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    var out = Output()
    out.line("pinger: started")
    var message: InlineArray<8, UInt8> = .init(repeating: 0)
    var k: UInt8 = 1
    while k <= 3 {
        let text: StaticString = "ping 0"
        var n = 0
        text.withUTF8Buffer { b in for c in b { message[n] = c; n += 1 } }
        message[5] = 48 + k
        out.write("pinger: sending ping ")
        out.decimal(UInt64(k))
        out.byte(10)
        withUnsafeMutablePointer(to: &message) { p in
            Channel.send(0, UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt8.self), count: n)
        }
        if k == 1 {
            out.line("pinger: raising nudge (interrupt to ponger)")
            Channel.raiseEvent(0xA2)
        }
        if k == 3 {
            out.line("pinger: raising poke (handover to ponger)")
            Channel.raiseEvent(0xA1)
            out.line("pinger: back after the handover")
        }
        k += 1
    }
    out.line("pinger: done; idle")
    while true {}
}
