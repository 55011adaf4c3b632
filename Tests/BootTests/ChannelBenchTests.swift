/// Boot test of `channel-bench` (systems/channel-bench) under `sprig bench`'s method: every
/// message of the six channels arrives as sent (the receiver checks each byte and counts a
/// failure otherwise), and the numbers have the shape the two transfers must give: a copy costs
/// more the longer the message, a hand-over (the page moved, never shared) about the same at
/// every size.
import Foundation
import SprigABI
import SprigTool
import Testing

@Suite("sprig bench: the generic root's channels and events")
struct ChannelBenchTests {
    @Test("copy grows with the message, hand-over does not; both events are timed; every byte arrives")
    func carrierCosts() throws {
        let (_, products) = try Boot.products(.release)
        let ms = try Bench.runCarrier(products, variant: .release)
        func m(_ key: String) throws -> BenchMeasurement { try #require(ms.first { $0.key == key }, "\(key) in \(ms)") }
        #expect(Set(ms.map(\.key)) == Set(Bench.carrierKeys))
        let copy = try [64, 1024, 4072].map { try m("channel.copy.\($0)").median }
        let handover = try [64, 1024, 4072].map { try m("channel.handover.\($0)").median }
        #expect(copy[0] < copy[1] && copy[1] < copy[2], "a copy costs more for more bytes: \(copy)")
        // A hand-over moves one page whatever it holds: its cost does not grow with the message.
        // It is not exactly the same on every channel: removeVAddr's leaf write compares the
        // seven page words of the yield plans whose page filter has the moved page's bit
        // (docs/yield.md, "Leaf writes"), which depends on where the page lies, not on its bytes.
        #expect(handover.max()! - handover.min()! < (copy[1] - copy[0]) / 4, "a hand-over moves one page whatever it holds: \(handover)")
        // The compiler's crossover is where the measured lines meet (PlanCompiler.handoverFromBytes).
        #expect(copy[0] < handover[0] && copy[2] > handover[2])
        let handoverEvent = try m("event.handover"), interruptEvent = try m("event.interrupt")
        #expect(handoverEvent.median > 0 && handoverEvent.median < 10_000, "handover runs the target at once: \(handoverEvent)")
        // An interrupt waits for the target's next frame: within a tick (999 847 instructions at 1000 Hz).
        #expect(interruptEvent.median > handoverEvent.median && interruptEvent.max < 1_000_000, "\(interruptEvent)")
    }

    @Test("every message of every channel arrives as the sender wrote it")
    func content() throws {
        let r = try Boot.run("channel-bench", icount: true)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        for i in 0..<6 {
            r.output.expectInOrder(["receiver: channel \(i) message 1:", "receiver: channel \(i) message 2:"])
        }
        #expect(r.output.components(separatedBy: "bytes, every byte as sent\n").count == 13)
        #expect(!r.output.contains("WRONG"))
        r.output.expectInOrder([
            "init: channel handover-4k: 4072 bytes from sender to receiver (hand-over)\n",
            "receiver: channel 4 message 1: 4072 bytes, every byte as sent\n",
            "init: channel handover-4k: 4072 bytes from sender to receiver (hand-over)\n",
            "receiver: channel 4 message 2: 4072 bytes, every byte as sent\n",
        ])
        #expect(r.output.contains(" 0 failures; powering off\n"))
    }
}
