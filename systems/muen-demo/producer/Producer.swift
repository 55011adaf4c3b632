/// The `muen-demo` producer: sends three 64-byte samples on channel `samples` (index 0) to the
/// checksum service, raises the interrupt event `flush` (0xA2, to `console`) after the second
/// and the handover event `ready` (0xA1, to `nest`) after the third, then idles.
import SprigABI
import SprigUser

/// Sample `k`: "sample k: " and 54 letters that depend on k.
func sample(_ k: UInt64, into m: UnsafeMutablePointer<UInt8>) {
    let head: StaticString = "sample 0: "
    var i = 0
    head.withUTF8Buffer { b in for c in b { m[i] = c; i += 1 } }
    m[7] = 48 + UInt8(k)
    while i < 64 { m[i] = 97 + UInt8((k * 7 + UInt64(i)) % 26); i += 1 }
}

@_cdecl("sprig_partition_main")
func producerMain(_ argument: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    var out = Output()
    out.line("producer: started")
    var message: InlineArray<64, UInt8> = .init(repeating: 0)
    var k: UInt64 = 1
    while k <= 3 {
        withUnsafeMutablePointer(to: &message) { p in
            let m = UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt8.self)
            sample(k, into: m)
            out.write("producer: sending sample ")
            out.decimal(k)
            out.byte(10)
            Channel.send(0, m, count: 64)
        }
        if k == 2 {
            out.line("producer: raising flush (interrupt to console)")
            let r = Channel.raise(0xA2)
            if !r.succeeded { out.write("producer: flush refused: "); out.line(statusName(r.raw)) }
        }
        if k == 3 {
            out.line("producer: raising ready (handover to nest)")
            let r = Channel.raise(0xA1)
            if !r.succeeded { out.write("producer: ready refused: "); out.line(statusName(r.raw)) }
            out.line("producer: back after the handover")
        }
        k += 1
    }
    out.line("producer: done; idle")
    while true {}
}
