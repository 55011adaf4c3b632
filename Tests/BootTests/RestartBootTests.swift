/// Boot test of `restarts` (systems/restarts/system.toml): root, held to the 2 MiB its
/// description gives it, and `nest` (1 MiB) each restart a partition that faults as soon as it
/// starts, many times. Each restart builds the partition in the pages its first start took, so
/// neither runs out (taking fresh pages instead, they run out after a few restarts); nest masks
/// interrupts while it restarts and counts a tick it missed meanwhile, so its plan goes on.
import Foundation
import SprigTool
import Testing

@Suite("restarts: a restarted partition gets its pages back")
struct RestartBootTests {
    @Test("root and nest restart their crashers dozens of times in their memory; both plans go on to the end")
    func restartsReusePages() throws {
        let r = try Boot.run("restarts", icount: true)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        func count(_ s: String) -> Int { r.output.components(separatedBy: s).count - 1 }
        // Each 256 KiB build takes about 80 pages: without reuse, root's 512 and nest's 256 hold a few.
        for (parent, child) in [("init", "crasher"), ("nest", "crasher2")] {
            let restarts = count("\(parent): restarted \(child) from its image\n")
            let faults = count("\(parent): \(child) faulted: exception 14 at address 0x8\n")
            #expect(restarts >= 20, "\(parent): \(restarts) restarts")
            #expect(faults == restarts || faults == restarts + 1, "every fault but perhaps the last is followed by a restart")
        }
        for major in 0..<3 {
            r.output.expectInOrder(["init: tick \(major * 8) major \(major) frame 0: crasher\n",
                                    "init: restarted crasher from its image\n",
                                    "init: tick \(major * 8 + 3) major \(major) frame 1: idler\n",
                                    "init: tick \(major * 8 + 4) major \(major) frame 2: nest\n",
                                    "nest: tick \(major * 4) major \(major) frame 0: crasher2\n",
                                    "nest: restarted crasher2 from its image\n",
                                    "nest: tick \(major * 4 + 3) major \(major) frame 1: idler2\n"])
        }
        #expect(!r.output.contains("could not"))
        #expect(r.output.contains("init: 3 major frames, 24 ticks, 0 messages carried, 0 failures; powering off\n"))
    }
}
