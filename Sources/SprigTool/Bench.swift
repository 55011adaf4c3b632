/// `sprig bench`: boots the `bench` system under QEMU TCG with `-icount shift=0,align=off`, where
/// the time-stamp counter advances by exactly one per guest instruction, and collects the
/// `bench: <key> <median> <min> <max>` lines its root prints (systems/bench/bench/Bench.swift says
/// what each key measures), then boots `threads-bench` the same way for the threads library's
/// paths. Instruction counts do not depend on the host: the same build gives
/// the same numbers on any machine, however loaded. It boots twice: with the kernel's entry
/// window on (the default, the numbers and targets) and with `skim=off` (`windowOffMedian`),
/// so the cost of the window shows next to each path (docs/bench.md). Under `-icount` a CR3
/// load is one instruction: the TLB refills it causes on real hardware are not counted.
import Foundation

public struct BenchMeasurement: Codable, Equatable, Sendable {
    public var key: String
    /// Guest instructions, the cost of reading the counter subtracted.
    public var median: UInt64
    public var min: UInt64
    public var max: UInt64
    /// The target, when the project has one for this path.
    public var target: UInt64?
    /// The median with the entry window off (`skim=off`), when measured.
    public var windowOffMedian: UInt64?
    public var meetsTarget: Bool? { target.map { median <= $0 } }
}

public enum Bench {
    public static let system = "bench"
    /// The targets, in guest instructions, as counted here (docs/bench.md): seL4's fastpath for the
    /// one-way yield, and for the fixed cost of a call, the first yield after a table change and a
    /// timer tick to root's handler.
    public static let targets: [String: UInt64] = [
        "service.null": 100,
        "yield.parent_to_child": 200, "yield.child_to_parent": 200,
        "yield.parent_to_child_cold": 500, "yield.child_to_parent_cold": 500,
        "irq.to_root_handler": 350,
    ]
    /// Every key the bench system must report.
    public static let expectedKeys = [
        "service.null", "service.createPartition", "service.countToMap", "service.prepare", "service.addVAddr",
        "service.mappedInChild", "service.getIntState", "service.setIntState", "service.removeVAddr",
        "service.collect", "service.deletePartition",
        "yield.parent_to_child", "yield.child_to_parent", "yield.round_trip",
        "yield.parent_to_child_cold", "yield.child_to_parent_cold",
        "yield.parent_to_child_miss", "yield.child_to_parent_miss", "irq.to_root_handler",
    ]
    /// The threads library's paths, from the `threads-bench` system.
    public static let threadsSystem = "threads-bench"
    public static let threadsKeys = ["threads.switch", "threads.tick_to_handler"]

    /// Boots the bench system with instruction counting and returns its measurements.
    public static func run(_ products: BuildProducts, variant: Variant, timeout: Double = 120) throws -> [BenchMeasurement] {
        var all: [BenchMeasurement] = []
        for (name, keys) in [(system, expectedKeys), (threadsSystem, threadsKeys)] {
            var on = try run(products, system: name, keys: keys, variant: variant, commandLine: "", timeout: timeout)
            let off = try run(products, system: name, keys: keys, variant: variant, commandLine: windowOff, timeout: timeout)
            for i in on.indices { on[i].windowOffMedian = off.first { $0.key == on[i].key }?.median }
            all += on
        }
        return all
    }

    /// The kernel command line that turns the entry window off.
    public static let windowOff = "skim=off"

    /// One boot of system `name` with `commandLine`; every one of `keys` must be reported.
    static func run(_ products: BuildProducts, system name: String, keys: [String], variant: Variant, commandLine: String,
                    timeout: Double) throws -> [BenchMeasurement] {
        var o = RunOptions()
        o.system = name; o.variant = variant; o.icount = true; o.timeout = timeout; o.commandLine = commandLine
        let result = try QEMU.run(products, options: o)
        guard result.ending == .status(0) else {
            throw ToolError("the \(name) system did not finish: \(result.summary)\n\(result.output)")
        }
        let measurements = parse(result.output)
        let missing = keys.filter { k in !measurements.contains { $0.key == k } }
        guard missing.isEmpty else {
            throw ToolError("the \(name) system did not report \(missing.joined(separator: ", "))\n\(result.output)")
        }
        return measurements
    }

    /// The system whose generic root reports scheduling accuracy, and the keys it reports: the
    /// delay of each minor frame's start after the instant the plan gives it, at root's level
    /// and one level down (a nested instance of init), in guest instructions.
    public static let scheduleSystem = "muen-demo"
    public static let scheduleKeys = ["sched.depth1.frame_start_delay", "sched.depth2.frame_start_delay"]

    /// Boots `scheduleSystem` with instruction counting and returns its scheduling measurements.
    public static func runSchedule(_ products: BuildProducts, variant: Variant, timeout: Double = 120) throws -> [BenchMeasurement] {
        try runGenericRoot(products, system: scheduleSystem, keys: scheduleKeys, variant: variant, timeout: timeout)
    }

    /// The system whose generic root reports what its channels and events cost, and the keys:
    /// the carrier's instructions per message of each size by copy and by hand-over, and each
    /// event kind's latency (the sender's `raiseEvent` to the target handler's first statement).
    public static let carrierSystem = "channel-bench"
    public static let carrierKeys = ["channel.copy.64", "channel.copy.1024", "channel.copy.4072",
                                     "channel.handover.64", "channel.handover.1024", "channel.handover.4072",
                                     "event.handover", "event.interrupt"]

    /// Boots `carrierSystem` with instruction counting and returns its channel and event measurements.
    public static func runCarrier(_ products: BuildProducts, variant: Variant, timeout: Double = 120) throws -> [BenchMeasurement] {
        try runGenericRoot(products, system: carrierSystem, keys: carrierKeys, variant: variant, timeout: timeout)
    }

    /// One boot of a generic-root system with instruction counting: the `keys` it reports.
    static func runGenericRoot(_ products: BuildProducts, system name: String, keys: [String], variant: Variant,
                               timeout: Double) throws -> [BenchMeasurement] {
        var o = RunOptions()
        o.system = name; o.variant = variant; o.icount = true; o.timeout = timeout
        let result = try QEMU.run(products, options: o)
        guard result.ending == .status(0) else {
            throw ToolError("the \(name) system did not finish: \(result.summary)\n\(result.output)")
        }
        let measurements = parse(result.output).filter { keys.contains($0.key) }
        let missing = keys.filter { k in !measurements.contains { $0.key == k } }
        guard missing.isEmpty else {
            throw ToolError("the \(name) system did not report \(missing.joined(separator: ", "))\n\(result.output)")
        }
        return measurements
    }

    /// The `bench: <key> <median> <min> <max>` lines of `output`, in order.
    public static func parse(_ output: String) -> [BenchMeasurement] {
        output.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 5, f[0] == "bench:", let median = UInt64(f[2]), let lo = UInt64(f[3]), let hi = UInt64(f[4])
            else { return nil }
            let key = String(f[1])
            return BenchMeasurement(key: key, median: median, min: lo, max: hi, target: targets[key])
        }
    }

    /// A fixed-width table, one line per measurement.
    public static func table(_ ms: [BenchMeasurement]) -> String {
        let width = max(28, (ms.map(\.key.count).max() ?? 0) + 2)
        func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
            let fill = String(repeating: " ", count: Swift.max(0, n - s.count))
            return left ? fill + s : s + fill
        }
        var lines = [pad("path", width) + pad("median", 10, left: true) + pad("min", 10, left: true)
                     + pad("max", 10, left: true) + pad("skim=off", 10, left: true) + "  target"]
        for m in ms {
            var target = ""
            if let t = m.target { target = "  ≤ \(t) " + (m.meetsTarget == true ? "met" : "MISSED") }
            lines.append(pad(m.key, width) + pad("\(m.median)", 10, left: true) + pad("\(m.min)", 10, left: true)
                         + pad("\(m.max)", 10, left: true) + pad(m.windowOffMedian.map { "\($0)" } ?? "-", 10, left: true) + target)
        }
        return lines.joined(separator: "\n")
    }

    /// The measurements as a JSON document (`unit` is guest instructions).
    public static func json(_ ms: [BenchMeasurement]) throws -> String {
        struct Document: Codable { var unit: String; var method: String; var measurements: [BenchMeasurement] }
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        let doc = Document(unit: "guest instructions", method: "QEMU TCG -icount shift=0,align=off; rdtsc deltas minus the counter-read cost; median of 16; the entry window on, windowOffMedian with skim=off", measurements: ms)
        return String(decoding: try e.encode(doc), as: UTF8.self)
    }
}
