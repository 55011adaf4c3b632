/// Boot tests of the generic root (systems/programs/init) on the `cyclic` system: the plan
/// compiled from systems/cyclic/system.toml is what runs, frame by frame; a faulting partition is
/// restarted from its image without disturbing the plan; one that never yields is preempted at
/// its frame's last tick; and root refuses a plan module of the wrong version or size.
import Foundation
import SprigABI
@testable import SprigTool
import Testing

@Suite("The generic root runs a compiled cyclic plan")
struct CyclicBootTests {
    @Test("the minor frames run in the plan's order, three major frames, and the system powers off with 0")
    func framesInOrder() throws {
        let r = try Boot.run("cyclic", icount: true)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("init: 3 partitions, 3 minor frames at 1000 Hz"))
        // Ticks per frame (2, 1, 2; 1000 Hz under -icount, so at the same instructions every run): each frame starts at the tick the plan gives it.
        var steps: [String] = []
        for major in 0..<3 {
            let base = major * 5
            steps += ["init: tick \(base) major \(major) frame 0: ticker\n", "init: tick \(base + 2) major \(major) frame 1: crasher\n",
                      "init: tick \(base + 3) major \(major) frame 2: spinner\n"]
        }
        steps.append("init: 3 major frames, 15 ticks, 0 messages carried, 0 failures; powering off")
        r.output.expectInOrder(steps)
        // Every message, with its content: the ticker's work is a fixed computation.
        r.output.expectInOrder([
            "ticker: line 1 of 5, work 0x9af0\n", "ticker: line 2 of 5, work 0xd0d0\n", "ticker: line 3 of 5, work 0xa1a0\n",
            "ticker: line 4 of 5, work 0xd60\n", "ticker: line 5 of 5, work 0x1410\n", "ticker: done; idle\n",
        ])
        #expect(!r.output.contains("which never happens"))
    }

    @Test("a faulting partition is reported and restarted from its image; the plan goes on")
    func faultAndRestart() throws {
        let r = try Boot.run("cyclic", icount: true)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        r.output.expectInOrder([
            "init: tick 2 major 0 frame 1: crasher\n", "crasher: started; writing to 0x8\n",
            "init: crasher faulted: exception 14 at address 0x8\n", "init: restarted crasher from its image\n",
            "init: tick 3 major 0 frame 2: spinner\n", "spinner: started; never yielding\n",
            "init: tick 5 major 1 frame 0: ticker\n",
        ])
        // The crasher runs only in its own frames: every fault line comes after a crasher frame
        // line and before the next frame line.
        var inCrasherFrame = false
        for line in r.output.split(separator: "\n") {
            if line.hasPrefix("init: tick ") { inCrasherFrame = line.hasSuffix(": crasher") }
            if line.hasPrefix("init: crasher faulted") || line.hasPrefix("crasher: started") {
                #expect(inCrasherFrame, "\(line) outside the crasher's frames:\n\(r.output)")
            }
        }
    }

    /// Boots `cyclic` with its plan module replaced by `bytes`.
    static func runWithPlan(_ bytes: [UInt8]) throws -> RunResult {
        try Boot.run("cyclic", plan: bytes)
    }

    static func compiledPlan() throws -> [UInt8] {
        try PlanCompiler.compile(#require(Systems.named("cyclic").file), images: .notBuilt).encoded()
    }

    @Test("root refuses a plan of another version with one console line")
    func wrongVersionRefused() throws {
        var bytes = try Self.compiledPlan()
        bytes[PlanLayout.versionOffset] = UInt8(PlanLayout.version + 1)
        let r = try Self.runWithPlan(bytes)
        #expect(r.ending == .status(2), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("init: plan refused: version \(PlanLayout.version + 1), this init reads version \(PlanLayout.version); rebuild it with `sprig build --system`\n"))
        #expect(!r.output.contains("init: tick"))
    }

    @Test("root refuses a plan module whose size is not the one its counts give")
    func wrongSizeRefused() throws {
        let bytes = try Self.compiledPlan()
        let r = try Self.runWithPlan(Array(bytes.dropLast(16)))
        #expect(r.ending == .status(2), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("init: plan refused: the module has \(bytes.count - 16) bytes, its counts give another size"))
        #expect(!r.output.contains("init: tick"))
    }
}
