/// Boot test of `nested-routing` (systems/nested-routing/system.toml): a nested partition
/// (`nest`, running the generic library with its part of the plan) carries a channel and routes
/// a handover and an interrupt event between its own two children; root carries and routes
/// none of them. Under `-icount` the interleaving is exact.
import Foundation
import SprigTool
import Testing

@Suite("nested-routing: events and channels carried below root")
struct NestedRoutingBootTests {
    @Test("nest carries pings and routes poke (at once) and nudge (at ponger's frame); root routes nothing")
    func routedByNest() throws {
        let r = try Boot.run("nested-routing", icount: true)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        r.output.expectInOrder([
            "nest: tick 0 major 0 frame 0: pinger\n",
            "pinger: sending ping 1\n",
            "nest: channel pings: 6 bytes from pinger to ponger (copy)\n",
            "pinger: raising nudge (interrupt to ponger)\n",
            "nest: event nudge from pinger to ponger: interrupt, at its next frame\n",
            "nest: tick 1 major 0 frame 1: ponger\n",
            "nest: event nudge delivered to ponger at its frame, vector 0xa2\n",
            "ponger: event nudge received (interrupt, vector 0xa2)\n",
            "ponger: message 1: ping 1\n",
            "nest: channel pings: 6 bytes from pinger to ponger (copy)\n",
            "ponger: message 2: ping 2\n",
            "nest: tick 2 major 1 frame 0: pinger\n",
            "nest: channel pings: 6 bytes from pinger to ponger (copy)\n",
            "pinger: raising poke (handover to ponger)\n",
            "nest: event poke from pinger to ponger: handover, it runs now\n",
            "ponger: event poke received (handover, vector 0xa1)\n",
            "pinger: back after the handover\n",
            "nest: tick 3 major 1 frame 1: ponger\n",
            "ponger: message 3: ping 3\n",
            "ponger: all 3 messages; idle\n",
            "init: 3 major frames, 9 ticks, 0 messages carried, 0 failures; powering off\n",
        ])
        #expect(r.output.components(separatedBy: "nest: channel pings:").count == 4, "three messages, each carried once")
        #expect(r.output.components(separatedBy: "ponger: event ").count == 3, "each event delivered once")
        #expect(!r.output.contains("init: channel") && !r.output.contains("init: event"), "root carries and routes none")
    }
}
