/// The `channel-bench` receiver: takes every message of the six channels in turn and checks
/// each byte against what the sender wrote (round k's message on channel i is its k-th there;
/// byte j is `k*31 + i*7 + j` mod 256), asking root to carry more when none waits. Its event
/// handlers only stamp the counter (root measures the latency to that stamp) and return.
import SprigABI
import SprigUser

/// Channel `i`'s message size, in plan order (the description's channels by name).
func size(_ i: Int) -> Int { i % 3 == 0 ? 1024 : i % 3 == 1 ? 4072 : 64 }

nonisolated(unsafe) var buffer: InlineArray<4072, UInt8> = .init(repeating: 0)

@_cdecl("receiver_handover")
func receiverHandover(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Channel.handlerEntered()
    Channel.handled()
}

@_cdecl("receiver_interrupt")
func receiverInterrupt(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Channel.handlerEntered()
    Channel.handled()
}

@_cdecl("sprig_partition_main")
func receiverMain(_ argument: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    Channel.onEvent(0xA1, receiverHandover)
    Channel.onEvent(0xA2, receiverInterrupt)
    var out = Output()
    out.line("receiver: started")
    var rounds: InlineArray<6, UInt64> = .init(repeating: 0)
    while true {
        var took = false
        var i = 0
        while i < 6 {
            var got: Int? = nil
            withUnsafeMutablePointer(to: &buffer) { p in
                got = Channel.receive(UInt64(i), into: UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt8.self), capacity: 4072)
            }
            if let n = got {
                took = true
                rounds[i] += 1
                var wrong = n == size(i) ? 0 : 1
                var j = 0
                while j < n {
                    if buffer[j] != UInt8(truncatingIfNeeded: rounds[i] &* 31 &+ UInt64(i) &* 7 &+ UInt64(j)) { wrong += 1 }
                    j += 1
                }
                if wrong != 0 || rounds[i] <= 2 {
                    out.write("receiver: channel ")
                    out.decimal(UInt64(i))
                    out.write(" message ")
                    out.decimal(rounds[i])
                    out.write(": ")
                    out.decimal(UInt64(n))
                    out.line(wrong == 0 ? " bytes, every byte as sent" : " bytes, WRONG")
                    if wrong != 0 { SharedConsole.countFailure() }
                }
            }
            i += 1
        }
        if !took { Channel.raise(ChannelLayout.send) }
    }
}
