/// The `nested-routing` reader (a child of `nest`): prints every message of channel `pings`
/// (index 0) and each event its parent delivers (`poke` 0xA1, `nudge` 0xA2).
import SprigABI
import SprigUser

@_cdecl("ponger_poke")
func pongerPoke(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Channel.handlerEntered()
    var out = Output()
    out.line("ponger: event poke received (handover, vector 0xa1)")
    Channel.handled()
}

@_cdecl("ponger_nudge")
func pongerNudge(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Channel.handlerEntered()
    var out = Output()
    out.line("ponger: event nudge received (interrupt, vector 0xa2)")
    Channel.handled()
}

@_cdecl("sprig_partition_main")
func pongerMain(_ argument: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    Channel.onEvent(0xA1, pongerPoke)
    Channel.onEvent(0xA2, pongerNudge)
    var out = Output()
    out.line("ponger: started")
    var buffer: InlineArray<64, UInt8> = .init(repeating: 0)
    var count: UInt64 = 0
    while count < 3 {
        var got: Int? = nil
        withUnsafeMutablePointer(to: &buffer) { p in
            got = Channel.receive(0, into: UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt8.self), capacity: 64)
        }
        guard let n = got else { Channel.raise(ChannelLayout.send); continue }
        count += 1
        out.write("ponger: message ")
        out.decimal(count)
        out.write(": ")
        var i = 0
        while i < n { out.byte(buffer[i]); i += 1 }
        out.byte(10)
    }
    out.line("ponger: all 3 messages; idle")
    while true {}
}
