/// Boot test of `muen-demo` (systems/muen-demo/system.toml) under the generic root: the order of
/// the frames at both levels, of the events, and the content of every message. The system runs
/// under `-icount` (its description counts instructions), so the ticks fall at the same
/// instructions on every run and the interleaving below is exact.
import Foundation
import SprigABI
import SprigTool
import Testing

@Suite("muen-demo: frames, events and channels from a description")
struct MuenDemoBootTests {
    /// The producer's sample `k`, as systems/muen-demo/producer builds it.
    static func sample(_ k: Int) -> [UInt8] {
        var m = Array("sample \(k): ".utf8)
        while m.count < 64 { m.append(97 + UInt8((k * 7 + m.count) % 26)) }
        return m
    }

    static func sum(_ k: Int) -> String { String(sample(k).reduce(0) { $0 + Int($1) }, radix: 16) }

    static func run() throws -> RunResult {
        let r = try Boot.run("muen-demo", icount: true)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        return r
    }

    @Test("root's and nest's frames run in their plans' order; nest counts only the ticks of its own frames")
    func frames() throws {
        let r = try Self.run()
        #expect(r.output.contains("init: 3 partitions, 3 minor frames at 1000 Hz\n"))
        #expect(r.output.contains("nest: 2 partitions, 2 round-robin slots\n"))
        var steps: [String] = []
        var nestTick = 0
        for major in 0..<3 {
            let base = major * 5
            steps += ["init: tick \(base) major \(major) frame 0: producer\n", "init: tick \(base + 2) major \(major) frame 1: nest\n"]
            // Nest's round-robin: one tick each, in the two ticks root gives it.
            steps += ["nest: tick \(nestTick) major \(major) frame 0: checksum\n", "nest: tick \(nestTick + 1) major \(major) frame 1: logger\n"]
            nestTick += 2
            steps += ["init: tick \(base + 4) major \(major) frame 2: console\n"]
        }
        steps.append("init: 3 major frames, 15 ticks, 6 messages carried, 0 failures; powering off\n")
        r.output.expectInOrder(steps)
    }

    @Test("the interrupt event waits for the console's frame; the handover runs nest at once, in the producer's frame")
    func events() throws {
        let r = try Self.run()
        r.output.expectInOrder([
            "init: tick 0 major 0 frame 0: producer\n",
            "producer: raising flush (interrupt to console)\n",
            "init: event flush from producer to console: interrupt, at its next frame\n",
            "init: tick 4 major 0 frame 2: console\n",
            "init: event flush delivered to console at its frame, vector 0xa2\n",
            "console: event flush received (interrupt, vector 0xa2)\n",
            "init: tick 5 major 1 frame 0: producer\n",
            "producer: raising ready (handover to nest)\n",
            "init: event ready from producer to nest: handover, it runs now\n",
            "nest: event ready taken (handover)\n",
            "producer: back after the handover\n",
            "init: tick 7 major 1 frame 1: nest\n",
        ])
        #expect(r.output.components(separatedBy: "console: event flush received").count == 2, "flush is delivered once")
        #expect(r.output.components(separatedBy: "nest: event ready taken").count == 2, "ready is taken once")
    }

    @Test("every message arrives with its content: samples to the checksum service, sums to the console")
    func messages() throws {
        let r = try Self.run()
        for k in 1...3 {
            r.output.expectInOrder([
                "producer: sending sample \(k)\n",
                "init: channel samples: 64 bytes from producer to checksum (copy)\n",
                "checksum: sample \(k) received (64 bytes), sum 0x\(Self.sum(k))\n",
                "init: channel sums: 13 bytes from checksum to console (copy)\n",
                "console: message \(k): sum \(k): 0x\(Self.sum(k))\n",
            ])
        }
        r.output.expectInOrder(["console: message 1:", "console: message 2:", "console: message 3:", "console: all 3 messages; idle\n"])
        #expect(r.output.components(separatedBy: "init: channel ").count == 7, "six messages carried, each once")
        #expect(!r.output.contains("refused") && !r.output.contains("could not"))
    }
}

@Suite("sprig bench: the generic root's scheduling accuracy")
struct ScheduleBenchTests {
    @Test("muen-demo reports each level's frame-start delay; the nested level's includes root's passing the tick on")
    func frameStartDelays() throws {
        let (_, products) = try Boot.products(.release)
        let ms = try Bench.runSchedule(products, variant: .release)
        #expect(ms.map(\.key) == ["sched.depth2.frame_start_delay", "sched.depth1.frame_start_delay"])
        let depth1 = try #require(ms.first { $0.key == "sched.depth1.frame_start_delay" })
        let depth2 = try #require(ms.first { $0.key == "sched.depth2.frame_start_delay" })
        // Under -icount a tick is 999 847 instructions at 1000 Hz: a frame that started a tick
        // late would show it; every frame starts within a small fraction of one.
        #expect(depth1.max < 10_000 && depth2.max < 20_000, "\(ms)")
        #expect(depth1.min <= depth1.median && depth1.median <= depth1.max)
        #expect(depth2.median > depth1.median, "the tick reaches nest through root")
    }
}
