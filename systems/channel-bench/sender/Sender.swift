/// The `channel-bench` sender: in rounds, sends one message on each of the six channels (in
/// plan order, each its channel's size; byte j of round k on channel i is `BenchMessage.byte`),
/// then raises the handover event (0xA1) and the interrupt event (0xA2) to the receiver, with
/// the counter stamped before each raise for root's latency. A send waits while the channel's
/// page is still full, so a round waits for the receiver's frame.
import SprigABI
import SprigUser

/// Channel `i`'s message size, in plan order (the description's channels by name).
func size(_ i: Int) -> Int { i % 3 == 0 ? 1024 : i % 3 == 1 ? 4072 : 64 }

nonisolated(unsafe) var message: InlineArray<4072, UInt8> = .init(repeating: 0)

@_cdecl("sprig_partition_main")
func senderMain(_ argument: UInt64) {
    SharedConsole.page = ChildLayout.consolePage
    var out = Output()
    out.line("sender: started")
    var round: UInt64 = 1
    while true {
        var i = 0
        while i < 6 {
            withUnsafeMutablePointer(to: &message) { p in
                let m = UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt8.self)
                var j = 0
                while j < size(i) { m[j] = benchByte(round, UInt64(i), UInt64(j)); j += 1 }
                Channel.send(UInt64(i), m, count: size(i))
            }
            i += 1
        }
        if round == 1 { out.line("sender: round 1 sent; raising handover and interrupt") }
        Channel.raiseEvent(0xA1)
        Channel.raiseEvent(0xA2)
        round += 1
    }
}

/// Byte `j` of round `k`'s message on channel `i`.
func benchByte(_ k: UInt64, _ i: UInt64, _ j: UInt64) -> UInt8 { UInt8(truncatingIfNeeded: k &* 31 &+ i &* 7 &+ j) }
