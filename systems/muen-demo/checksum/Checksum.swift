/// The `muen-demo` checksum service (a child of `nest`): for each sample on channel `samples`
/// (index 0) sends "sum k: 0x…" (the sum of its 64 bytes) on channel `sums` (index 1).
import SprigABI
import SprigUser

@_cdecl("sprig_partition_main")
func checksumMain(_ argument: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    var out = Output()
    out.line("checksum: started")
    var buffer: InlineArray<64, UInt8> = .init(repeating: 0)
    var reply: InlineArray<32, UInt8> = .init(repeating: 0)
    var done: UInt64 = 0
    while done < 3 {
        var got: Int? = nil
        withUnsafeMutablePointer(to: &buffer) { p in
            got = Channel.receive(0, into: UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt8.self), capacity: 64)
        }
        guard let n = got else { Channel.raise(ChannelLayout.send); continue }
        var sum: UInt64 = 0
        var i = 0
        while i < n { sum += UInt64(buffer[i]); i += 1 }
        let k = buffer[7]
        out.write("checksum: sample ")
        out.byte(k)
        out.write(" received (")
        out.decimal(UInt64(n))
        out.write(" bytes), sum ")
        out.hex(sum)
        out.byte(10)
        // "sum k: 0x" and four hex digits.
        let head: StaticString = "sum 0: 0x"
        var j = 0
        head.withUTF8Buffer { b in for c in b { reply[j] = c; j += 1 } }
        reply[4] = k
        var shift: UInt64 = 12
        while true {
            let d = UInt8((sum >> shift) & 0xF)
            reply[j] = d < 10 ? 48 + d : 87 + d
            j += 1
            if shift == 0 { break }
            shift -= 4
        }
        let length = j
        withUnsafeMutablePointer(to: &reply) { p in
            Channel.send(1, UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt8.self), count: length)
        }
        done += 1
    }
    out.line("checksum: done; idle")
    while true {}
}
