/// Boot test of `restarts` (systems/restarts/system.toml): root, held to the 1 MiB its
/// description gives it, restarts a partition that faults as soon as it starts, many times. Each
/// restart builds the partition in the pages its first start took, so root never runs out;
/// taking fresh pages instead, root's megabyte is gone before the first restart completes.
import Foundation
import SprigTool
import Testing

@Suite("restarts: a restarted partition gets its pages back")
struct RestartBootTests {
    @Test("root restarts the crasher dozens of times in 1 MiB; the plan goes on to the end")
    func restartsReusePages() throws {
        let r = try Boot.run("restarts", icount: true)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        let restarts = r.output.components(separatedBy: "init: restarted crasher from its image\n").count - 1
        let faults = r.output.components(separatedBy: "init: crasher faulted: exception 14 at address 0x8\n").count - 1
        // Each 256 KiB build takes about 80 of root's 256 pages: without reuse, no more than two.
        #expect(restarts >= 20, "\(restarts) restarts")
        #expect(faults == restarts || faults == restarts + 1, "every fault but perhaps the last is followed by a restart")
        for major in 0..<3 {
            r.output.expectInOrder(["init: tick \(major * 4) major \(major) frame 0: crasher\n",
                                    "init: restarted crasher from its image\n",
                                    "init: tick \(major * 4 + 3) major \(major) frame 1: idler\n"])
        }
        #expect(r.output.contains("init: 3 major frames, 12 ticks, 0 messages carried, 0 failures; powering off\n"))
    }
}
