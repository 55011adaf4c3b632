/// `sprig check --system NAME`: the explorer starting from the state a system's own root builds,
/// not from a generated tree. The system boots on the trace kernel; its recording is replayed
/// in the model up to the first timer tick (a root that schedules sets the timer last, once its
/// tree, handlers and pages are in place: its setup is done), and that model state is the start.
import Foundation
import SprigABI
import SprigCore
import SprigModel

public enum SystemCheck {
    public struct Start: Sendable {
        /// Pages of the replayed machine (the explorer's `pages`).
        public let pages: Int
        /// Kernel entries replayed to reach the start.
        public let events: Int
        /// Partitions in the start's tree.
        public let partitions: Int
        /// A fresh copy of the start (the replay again).
        public let make: @Sendable () -> ModelSystem
    }

    /// Boots `name` (traced, `memoryMiB`), replays it in the model until its setup is done.
    /// - Throws: `ToolError` when the system never sets up (no timer tick in its recording) or
    ///   the model diverges from the machine on the way.
    public static func start(system name: String, project: Project, memoryMiB: Int = 16,
                             progress: @escaping (String) -> Void = { _ in }) throws -> Start {
        let described = try Systems.named(name)
        let url = project.buildDirectory.appendingPathComponent("trace").appendingPathComponent("\(name)-check.trace")
        let result = try TraceRun.record(system: name, to: url, project: project, memoryMiB: memoryMiB, timeout: 120,
                                         icount: described.countsInstructions, progress: progress)
        progress("\(name) on the trace kernel: \(result.summary)")
        var trace = try TraceRun.read(url)
        guard let setupDone = trace.events.firstIndex(where: { e in
            if case .hardwareInterrupt(let v) = e.event, v == VIDTIndex.timer { return true }
            return false
        }) else {
            throw ToolError("\(name) never took a timer tick, so its setup never ended: sprig check --system needs a root that sets the timer when its tree is built (the generic root does)")
        }
        trace.events = Array(trace.events.prefix(setupDone))
        let cut = trace
        let replayer = Replayer(trace: cut)
        let report = replayer.run()
        if let d = report.divergence { throw ToolError("the model diverged from \(name)'s boot: \(d)") }
        guard let system = replayer.system else { throw ToolError("the model could not boot \(name)'s recording") }
        return Start(pages: ReplayBoot.pages(cut.boot, cut.built), events: cut.events.count,
                     partitions: system.machine.tree().partitions.count,
                     make: { let r = Replayer(trace: cut); _ = r.run(); return r.system! })
    }
}
