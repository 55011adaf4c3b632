/// The `muen-demo` console writer: prints every message of channel `sums` (index 1), and the
/// interrupt event `flush` (0xA2) when it is delivered at the start of one of its frames.
import SprigABI
import SprigUser

@_cdecl("console_flush")
func consoleFlush(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    var out = Output()
    out.line("console: event flush received (interrupt, vector 0xa2)")
    Channel.handled()
}

@_cdecl("sprig_partition_main")
func consoleMain(_ argument: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    Channel.onEvent(0xA2, consoleFlush)
    var out = Output()
    out.line("console: started")
    var buffer: InlineArray<64, UInt8> = .init(repeating: 0)
    var count: UInt64 = 0
    while count < 3 {
        var got: Int? = nil
        withUnsafeMutablePointer(to: &buffer) { p in
            got = Channel.receive(1, into: UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt8.self), capacity: 64)
        }
        guard let n = got else { Channel.raise(ChannelLayout.send); continue }
        count += 1
        out.write("console: message ")
        out.decimal(count)
        out.write(": ")
        var i = 0
        while i < n { out.byte(buffer[i]); i += 1 }
        out.byte(10)
    }
    out.line("console: all 3 messages; idle")
    while true {}
}
