/// `sprig trace`: a trace-kernel recording (docs/replay.md) as a timeline of who ran when
/// (docs/trace.md): one track per partition, a slice for each stretch it ran, an instant for
/// every kernel entry (service, interrupt, fault, `int n`) and an arrow for every switch.
///
/// The trace has no clock: its records say what happened in which order, not how long ring 3
/// ran in between. The time axis therefore counts kernel entries: entry `n` (from 0) happens at
/// `n + 1`, root starts at 0, and the kernel's own work on an entry is drawn as `switchTime`.
import Foundation
import SprigABI
import SprigCore
import SprigModel

public struct Timeline: Sendable {
    /// A partition, told apart by its descriptor and PML4 (a descriptor page can be reused by a
    /// later partition with other tables; it then gets a track of its own).
    public struct Track: Sendable {
        public var descriptor: UInt64
        public var pml4: UInt64
        /// The boot module whose page the partition first ran from (`signal`, `minios`, …), if known.
        public var program: String?
        public var isRoot: Bool
        public var name: String {
            let what = isRoot ? "root" + (program.map { ": \($0)" } ?? "") : (program ?? "partition")
            return "\(what) (descriptor \(Domain.hex(descriptor)))"
        }
    }

    /// A stretch during which `track` ran in ring 3, from the entry that switched to it (nil: the
    /// boot) to the entry that switched away (nil: the trace ends with it running).
    public struct Slice: Sendable {
        public var track: Int
        public var start: Double
        public var end: Double
        public var fromEntry: Int?
        public var toEntry: Int?
    }

    public enum Category: String, Sendable, CaseIterable {
        case service, yield, interrupt, fault, softwareInterrupt = "int"
    }

    /// One kernel entry, on the track of the partition that trapped.
    public struct Instant: Sendable {
        public var entry: Int
        public var track: Int
        public var time: Double
        public var category: Category
        public var name: String
        /// The event and its outcome as `sprig replay` writes them.
        public var event: String
        public var outcome: String
    }

    /// A switch from one partition to another in one entry: a yield, or a delivery of an
    /// interrupt, fault or `int n` to its handler (else `switch`, e.g. a dropped interrupt).
    public struct Flow: Sendable {
        public var entry: Int
        public var kind: String
        public var from: Int
        public var to: Int
        public var time: Double
    }

    public var tracks: [Track] = []
    public var slices: [Slice] = []
    public var instants: [Instant] = []
    public var flows: [Flow] = []
    /// Kernel entries in the trace.
    public var entries = 0
    /// The end of the time axis.
    public var end: Double = 0

    /// The kernel's share of an entry on the axis: a switching entry ends one slice at its time
    /// and starts the next this much later.
    public static let switchTime = 0.25

    public init(_ trace: Trace) {
        var builder = TimelineBuilder(trace: trace)
        self = builder.build()
    }

    /// What each event is called on the timeline.
    static func describe(_ e: EventRecord) -> (Category, String) {
        let outcome = e.outcome
        switch e.event {
        case .systemCall(let number, _):
            guard let s = Service(rawValue: number) else { return (.service, "syscall \(Domain.hex(number))") }
            let name = "\(s)"
            if case .returned(let status, _)? = outcome, status != .success { return (s == .yield ? .yield : .service, "\(name) → \(status)") }
            return (s == .yield ? .yield : .service, name)
        case .exception(let vector, _, _):
            let names = ["#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "", "#TS", "#NP", "#SS", "#GP", "#PF", "",
                         "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"]
            let name = vector < UInt64(names.count) && !names[Int(vector)].isEmpty ? names[Int(vector)] : "exception \(vector)"
            return (.fault, outcome == .kernelCrash ? "\(name) → kernel crash report" : name)
        case .hardwareInterrupt(let vector):
            switch vector {
            case 32: return (.interrupt, "timer (IRQ 0)")
            case 36: return (.interrupt, "serial (IRQ 4)")
            default: return (.interrupt, "IRQ \(vector &- 32)")
            }
        case .softwareInterrupt(let vector):
            if case .interruptRefused(let status)? = outcome { return (.softwareInterrupt, "int \(Domain.hex(vector)) → \(status)") }
            return (.softwareInterrupt, "int \(Domain.hex(vector))")
        }
    }
}

/// Walks the trace once, keeping the words the kernel read and wrote so that a partition's
/// first instruction can be translated to the boot module it runs from.
private struct TimelineBuilder {
    let trace: Trace
    var timeline = Timeline(empty: ())
    var trackIndex: [PartitionKey: Int] = [:]
    /// Physical words the kernel loaded or stored so far (page tables among them).
    var memory: [UInt64: UInt64] = [:]

    struct PartitionKey: Hashable { var descriptor: UInt64; var pml4: UInt64 }

    init(trace: Trace) { self.trace = trace }

    mutating func build() -> Timeline {
        timeline.entries = trace.events.count
        var running = track(trace.start)
        var sliceStart = 0.0
        var sliceFrom: Int?
        for (n, e) in trace.events.enumerated() {
            let time = Double(n + 1)
            for r in e.requests { remember(r) }
            let trapped = track(e.trapped)
            let (category, name) = Timeline.describe(e)
            timeline.instants.append(Timeline.Instant(
                entry: n, track: trapped, time: time, category: category, name: name,
                event: ExplorationStep.render(e.event),
                outcome: e.outcome.map { StepOutcome.trapped(e.event, $0).description } ?? "none (the trace ends in it)"))
            guard let resumed = e.resumed else { continue }
            let next = track(resumed)
            if next != running {
                timeline.slices.append(Timeline.Slice(track: running, start: sliceStart, end: time, fromEntry: sliceFrom, toEntry: n))
                let delivered = e.requests.contains { if case .loadContext(_, _, let d, _) = $0 { return d != nil }; return false }
                let kind: String
                if case .systemCall(Service.yield.rawValue, _) = e.event { kind = "yield" } else { kind = delivered ? "delivery" : "switch" }
                timeline.flows.append(Timeline.Flow(entry: n, kind: kind, from: running, to: next, time: time))
                running = next
                sliceStart = time + Timeline.switchTime
                sliceFrom = n
            }
        }
        timeline.end = Double(trace.events.count + 1)
        let last = trace.events.last
        let stopped = last != nil && last!.resumed == nil
        timeline.slices.append(Timeline.Slice(
            track: running, start: sliceStart, end: stopped ? Double(trace.events.count) : timeline.end,
            fromEntry: sliceFrom, toEntry: stopped ? trace.events.count - 1 : nil))
        return timeline
    }

    /// The track of the partition in `state`, made (and its program found) the first time.
    mutating func track(_ state: RunningState) -> Int {
        let key = PartitionKey(descriptor: state.current, pml4: state.cr3)
        if let t = trackIndex[key] { return t }
        let isRoot = state.current == trace.built.descriptor
        var program = module(at: translate(state.registers.rip, pml4: state.cr3))
        // Root's tables were built before the trace's first entry; its image is module 0.
        if program == nil && isRoot, let m = trace.boot.modules.first { program = Self.name(m) }
        timeline.tracks.append(Timeline.Track(descriptor: state.current, pml4: state.cr3, program: program, isRoot: isRoot))
        trackIndex[key] = timeline.tracks.count - 1
        return timeline.tracks.count - 1
    }

    mutating func remember(_ r: PlatformRequest) {
        switch r {
        case .load(let a, let v), .store(let a, let v): memory[a] = v
        case .zeroPage(let p):
            for k in 0..<UInt64(512) { memory[p + 8 * k] = 0 }
        default: break
        }
    }

    /// `vaddr` through 4-level tables at `pml4` as far as the kernel's reads and writes tell.
    func translate(_ vaddr: UInt64, pml4: UInt64) -> UInt64? {
        let frame: UInt64 = 0x000F_FFFF_FFFF_F000
        var table = pml4 & frame
        for level in 0..<4 {
            let shift = UInt64(39 - 9 * level)
            guard let entry = memory[table + 8 * ((vaddr >> shift) & 0x1FF)], entry & 1 != 0 else { return nil }
            if level > 0 && level < 3 && entry & 0x80 != 0 {
                let size: UInt64 = 1 << shift
                return (entry & frame & ~(size - 1)) | (vaddr & (size - 1))
            }
            table = entry & frame
        }
        return table | (vaddr & 0xFFF)
    }

    func module(at paddr: UInt64?) -> String? {
        guard let p = paddr else { return nil }
        return trace.boot.modules.first { p >= $0.start && p < $0.start + UInt64($0.bytes.count) }.map(Self.name)
    }

    /// A module's name without its `.bin`.
    static func name(_ m: BootRecord.Module) -> String {
        var bytes: [UInt8] = []
        for w in [m.name0, m.name1] { for k in 0..<8 { bytes.append(UInt8((w >> (8 * UInt64(k))) & 0xFF)) } }
        let s = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        return s.hasSuffix(".bin") ? String(s.dropLast(4)) : s
    }
}

extension Timeline {
    fileprivate init(empty: ()) {}
}
