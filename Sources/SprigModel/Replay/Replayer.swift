/// Differential replay: the machine's trace run again in the model, event by event, until the
/// first place where the model does something else (docs/replay.md).
///
/// Each recorded event goes through `ModelSystem.trap`, the same `Kernel.trap` the machine ran,
/// from the state the model reached by replaying every event before it. What ring 3 did between
/// two entries the model cannot know, so it takes the machine's word for it, and only there:
///
/// * the registers ring 3 trapped with;
/// * the bytes a `consoleRead` took from the serial port (the model's `consoleInput` for that
///   event, which must take all of them and write them where the machine did);
/// * memory ring 3 wrote: before the event, each word the machine's kernel read (a `load`, a
///   context load, console bytes) before writing it itself, or found in a context it saved
///   where no save writes (the owner's words, `ModelCPU.isOwners`), and that the model holds differently,
///   is adopted **if some partition can write its page from ring 3** (a VIDT entry, a context, a
///   free-list link). On any other page — page tables, shadows, descriptors, configuration lists,
///   the kernel's own — a difference is a divergence: ring 3 cannot have made it.
/// * with one exception, which the MMU makes: a page-table entry of a partition whose only
///   difference is the accessed and dirty bits (5 and 6), which the CPU sets as ring 3 runs.
///
/// Then the event runs with a `RequestChecker` on the model CPU: each platform request must be
/// the machine's next one, the same request with the same arguments, the same loaded and stored
/// values, the same words saved in a context. After it: the same outcome, and the same state to
/// resume (partition, CR3, every register and the FXSAVE image). The first difference of any of
/// these stops the replay and is reported with the event, what the machine did and what the
/// model did.
///
/// `assert`s in SprigCore load memory. The trace kernel is built with assertions on, like the
/// host's debug build; when the replaying build has them the other way (a release `sprig`),
/// loads only one side made are let through (counted in `skippedLoads`): a load changes
/// nothing, and every store, context and outcome is still compared.
import SprigABI
import SprigCore

/// The first place the model did something else than the machine.
public struct Divergence: Error, Sendable, CustomStringConvertible {
    /// The event's index (from 0); nil when the boot differs.
    public var event: Int?
    /// Byte offset of the event's record in the trace.
    public var offset: Int
    /// The event as one line (or "boot").
    public var step: String
    public var what: String
    public var machine: String
    public var model: String

    public var description: String {
        let at = event.map { "event \($0) (trace byte \(offset)): \(step)" } ?? "boot"
        return "first divergence at \(at)\n  \(what)\n  machine: \(machine)\n  model:   \(model)"
    }
}

/// What a replay did.
public struct ReplayReport: Sendable {
    /// Events in the trace, and how many were replayed without divergence.
    public var events = 0
    public var replayed = 0
    /// Replayed events by kind (`EventKind`), and how many ended in a handler being entered for
    /// an interrupt or a fault (a context load with delivery registers).
    public var kinds: [EventKind: Int] = [:]
    public var deliveries = 0
    /// Platform requests checked, and words (or console bytes) adopted from ring 3's memory.
    public var requests = 0
    public var adoptedWords = 0
    public var adoptedConsoleBytes = 0
    /// Bytes `consoleRead` took from the serial port on the machine, given to the model as input.
    public var consoleInputBytes = 0
    /// Page-table entries that differed only in the accessed/dirty bits the MMU sets.
    public var adoptedMMUBits = 0
    /// Set when the kernel and this model differ in assertions: loads made by one side only.
    public var assertionsDiffer = false
    public var skippedLoads = 0
    public var divergence: Divergence?
    /// What the model's console printed (root's `consoleWrite`s).
    public var console: [UInt8] = []
    /// The status the model powered off with; whether it ended in the crash report.
    public var poweredOff: UInt64?
    public var crashed = false

    public enum EventKind: String, CaseIterable, Sendable {
        case yield = "yield"
        case service = "memory/interrupt-state service"
        case machineService = "machine service"
        case refusedCall = "refused or unknown call"
        case softwareInterrupt = "int n"
        case exception = "exception"
        case hardwareInterrupt = "hardware interrupt"
    }

    /// One line: `312 events (yield 40, …), 5124 requests checked, 310 words adopted`.
    public var summary: String {
        let k = EventKind.allCases.compactMap { c in kinds[c].map { "\(c.rawValue) \($0)" } }.joined(separator: ", ")
        return "\(replayed) of \(events) events replayed (\(k); \(deliveries) interrupt/fault deliveries), "
            + "\(requests) platform requests checked, \(adoptedWords) words and \(adoptedConsoleBytes) console bytes taken from ring 3's memory, "
            + "\(adoptedMMUBits) page-table entries with the MMU's accessed/dirty bits"
            + (consoleInputBytes > 0 ? ", \(consoleInputBytes) bytes of serial input" : "")
            + (assertionsDiffer ? "; the kernel and this model differ in assertions: \(skippedLoads) loads made by one side only let through" : "")
    }
}

public final class Replayer {
    public let trace: Trace
    /// The booted model (nil when its boot diverged).
    public private(set) var system: ModelSystem?
    private var view: RingThreeView?

    /// Called with the booted model before the first event. Tests break the model here to see
    /// that the replay notices; `sprig replay` leaves it alone.
    private let afterBoot: (ModelSystem) -> Void

    public init(trace: Trace, afterBoot: @escaping (ModelSystem) -> Void = { _ in }) {
        self.trace = trace
        self.afterBoot = afterBoot
    }

    /// Boots the model and replays every event, stopping at the first divergence.
    /// Replays the trace, or its events up to the first after which `stop(index, system)` holds.
    public func run(until stop: (Int, ModelSystem) -> Bool = { _, _ in false }) -> ReplayReport {
        var report = ReplayReport()
        report.events = trace.events.count
        report.assertionsDiffer = trace.kernelAssertions != TraceFormat.assertionsEnabled
        switch ReplayBoot.boot(trace) {
        case .failure(let d):
            report.divergence = d
            return report
        case .success(let s):
            system = s
            afterBoot(s)
        }
        guard let system else { return report }
        for (index, e) in trace.events.enumerated() {
            if let d = replay(e, index: index, system, &report) {
                report.divergence = d
                break
            }
            report.replayed += 1
            report.kinds[Self.kind(e), default: 0] += 1
            if stop(index, system) { break }
        }
        report.console = system.console
        report.poweredOff = system.poweredOff
        report.crashed = system.crashed
        return report
    }

    static func kind(_ e: EventRecord) -> ReplayReport.EventKind {
        switch e.event {
        case .systemCall(let number, _):
            switch e.outcome {
            case .machineService?: return .machineService
            case .returned(let s, _)? where s == .unknownService || s == .rootOnly: return .refusedCall
            default: return number == Service.yield.rawValue ? .yield : .service
            }
        case .softwareInterrupt: return .softwareInterrupt
        case .exception: return .exception
        case .hardwareInterrupt: return .hardwareInterrupt
        }
    }

    private func replay(_ e: EventRecord, index: Int, _ system: ModelSystem, _ report: inout ReplayReport) -> Divergence? {
        let cpu = system.cpu
        func diverged(_ what: String, machine: String, model: String) -> Divergence {
            Divergence(event: index, offset: e.offset,
                       step: "\(ExplorationStep.render(e.event)) in partition \(Domain.hex(e.trapped.current))",
                       what: what, machine: machine, model: model)
        }
        if system.poweredOff != nil || system.crashed {
            return diverged("the machine entered the kernel again", machine: "an entry from ring 3",
                            model: system.crashed ? "stopped in the kernel crash report" : "powered off")
        }
        guard cpu.currentPartition.paddr.raw == e.trapped.current, cpu.cr3.raw == e.trapped.cr3 else {
            return diverged("which partition is running", machine: "partition \(Domain.hex(e.trapped.current)), CR3 \(Domain.hex(e.trapped.cr3))",
                            model: "partition \(Domain.hex(cpu.currentPartition.paddr.raw)), CR3 \(Domain.hex(cpu.cr3.raw))")
        }
        if let d = adoptInputs(e, system, &report, diverged) { return d }
        cpu.registers = e.trapped.registers
        let tolerance: RequestChecker.Tolerance = !report.assertionsDiffer ? .none
            : trace.kernelAssertions ? .machineExtraLoads : .modelExtraLoads
        let checker = RequestChecker(expected: e.requests, memory: system.memory, tolerance: tolerance)
        // What arrived on the serial port is input too: a consoleRead gets the bytes the
        // machine's read, no more (the count it returns is compared with the resumed rdx).
        let input = e.consoleInput.flatMap(\.bytes)
        system.consoleInput = input
        // The tree the entry starts from, for the dereference property.
        let before = self.view ?? RingThreeView(system)
        self.view = before
        cpu.tap = checker
        let outcome = system.trap(e.event)
        cpu.tap = nil
        let unread = system.consoleInput.count
        system.consoleInput = []
        checker.finish()
        report.requests += checker.next
        report.skippedLoads += checker.skipped
        if checker.delivered { report.deliveries += 1 }
        if let m = checker.mismatch { return diverged(m.what, machine: m.machine, model: m.model) }
        if checker.next < e.requests.count {
            return diverged("request #\(checker.next) of the event", machine: e.requests[checker.next].description,
                            model: "no more requests")
        }
        if unread > 0 {
            return diverged("serial input", machine: "consoleRead took \(input.count) bytes from the UART",
                            model: "took \(input.count - unread)")
        }
        for (start, piece) in e.consoleInput {
            for (k, b) in piece.enumerated() {
                let pa = PhysicalAddress(start + UInt64(k))
                guard pa.raw < system.memory.bytes, system.memory.readByte(pa) == b else {
                    return diverged("a serial input byte at \(Domain.hex(pa.raw))", machine: "consoleRead wrote \(b) there",
                                    model: pa.raw < system.memory.bytes ? "holds \(system.memory.readByte(pa))" : "outside memory")
                }
            }
        }
        report.consoleInputBytes += input.count
        if outcome != e.outcome {
            func show(_ o: TrapOutcome?) -> String { o.map { StepOutcome.trapped(e.event, $0).description } ?? "none recorded" }
            return diverged("the outcome", machine: show(e.outcome), model: show(outcome))
        }
        if let resumed = e.resumed {
            if let d = Self.stateDifference(machine: resumed, cpu: cpu) {
                return diverged("the state ring 3 resumes with: \(d.what)", machine: d.machine, model: d.model)
            }
        } else if case .machineService(.powerOff) = outcome, system.poweredOff == nil {
            return diverged("power-off", machine: "the machine powered off", model: "the model refused it and went on")
        }
        let changed = before.invalidated(by: checker.writes)
        if let accesses = cpu.accesses, let v = Properties.dereference(
            accesses, before: before.tree, after: { changed ? system.machine.tree() : before.tree },
            kernelPages: system.machine.kernelPages).first {
            return diverged("the dereference property (DESIGN.md §5)", machine: "the same platform requests (they matched the trace)",
                            model: v.description)
        }
        if changed { view = nil }
        return nil
    }

    /// Takes the words the machine's kernel read from ring-3-writable memory before writing them
    /// itself, where the model holds something else; any other such difference is a divergence.
    private func adoptInputs(_ e: EventRecord, _ system: ModelSystem, _ report: inout ReplayReport,
                             _ diverged: (String, String, String) -> Divergence) -> Divergence? {
        let memory = system.memory
        var written = Set<UInt64>()
        var zeroed = Set<UInt64>()
        var words: [(pa: UInt64, value: UInt64, what: String)] = []
        func inMemory(_ pa: UInt64) -> Bool { pa & 7 == 0 && pa < memory.bytes }
        func fresh(_ pa: UInt64) -> Bool { !written.contains(pa) && !zeroed.contains(pa & ~(AddressSpace.pageSize - 1)) }
        for r in e.requests {
            switch r {
            case .load(let pa, let v):
                guard inMemory(pa) else { return diverged("a load outside the model's memory", "load \(Domain.hex(pa))", "\(memory.bytes) bytes of RAM") }
                if fresh(pa), memory.load(PhysicalAddress(pa)) != v { words.append((pa, v, "a word the kernel loaded")) }
            case .store(let pa, _): written.insert(pa)
            case .zeroPage(let p): zeroed.insert(p)
            case .copy(_, let to, let n):
                var a = to & ~7
                while a < to + n { written.insert(a); a += 8 }
            case .saveContext(let place, _, _, let ws):
                for k in 0..<TraceFormat.contextWords {
                    let pa = place.word(at: 8 * k)
                    guard ModelCPU.isOwners(8 * k) else { written.insert(pa); continue }
                    // No save writes the owner's words: the machine's are what ring 3 left there.
                    guard inMemory(pa) else { return diverged("a context outside the model's memory", place.description, "\(memory.bytes) bytes of RAM") }
                    if fresh(pa), memory.load(PhysicalAddress(pa)) != ws[k] { words.append((pa, ws[k], "a context's owner word (offset \(8 * k))")) }
                }
            case .loadContext(let place, _, _, let ws):
                for (k, v) in ws.enumerated() {
                    let pa = place.word(at: 8 * k)
                    guard inMemory(pa) else { return diverged("a context outside the model's memory", place.description, "\(memory.bytes) bytes of RAM") }
                    if fresh(pa), memory.load(PhysicalAddress(pa)) != v { words.append((pa, v, "a context word (offset \(8 * k))")) }
                }
            case .setCurrentPartition, .switchAddressSpace, .setInterruptFlag, .translationCacheLoad, .translationCacheStore,
                 .invalidateTranslation: break
            }
        }
        var bytes: [(pa: UInt64, value: UInt8)] = []
        for (start, piece) in e.console {
            for (k, b) in piece.enumerated() {
                let pa = start + UInt64(k)
                guard pa < memory.bytes else { return diverged("console bytes outside the model's memory", Domain.hex(pa), "\(memory.bytes) bytes of RAM") }
                if memory.readByte(PhysicalAddress(pa)) != b { bytes.append((pa, b)) }
            }
        }
        if words.isEmpty && bytes.isEmpty { return nil }
        let view = self.view ?? RingThreeView(system)
        self.view = view
        for w in words {
            let page = w.pa & ~(AddressSpace.pageSize - 1)
            let mine = memory.load(PhysicalAddress(w.pa))
            if view.writable.contains(page) {
                report.adoptedWords += 1
            } else if view.tables.contains(page), (mine ^ w.value) & ~RingThreeView.mmuBits == 0 {
                report.adoptedMMUBits += 1
            } else {
                return diverged("\(w.what) at \(Domain.hex(w.pa)), on a page no partition can write (kernel-held)",
                                "read \(Domain.hex(w.value))", "holds \(Domain.hex(mine))")
            }
            memory.store(PhysicalAddress(w.pa), w.value)
        }
        for b in bytes {
            guard view.writable.contains(b.pa & ~(AddressSpace.pageSize - 1)) else {
                return diverged("a console byte at \(Domain.hex(b.pa)), on a page no partition can write",
                                "printed \(b.value)", "holds \(memory.readByte(PhysicalAddress(b.pa)))")
            }
            memory.writeByte(PhysicalAddress(b.pa), b.value)
            report.adoptedConsoleBytes += 1
        }
        return nil
    }

    /// How the model CPU's running state differs from the machine's, or nil.
    static func stateDifference(machine s: RunningState, cpu: ModelCPU) -> (what: String, machine: String, model: String)? {
        if s.current != cpu.currentPartition.paddr.raw || s.cr3 != cpu.cr3.raw {
            return ("partition and CR3", "\(Domain.hex(s.current)), CR3 \(Domain.hex(s.cr3))",
                    "\(Domain.hex(cpu.currentPartition.paddr.raw)), CR3 \(Domain.hex(cpu.cr3.raw))")
        }
        let m = s.registers, r = cpu.registers
        let named: [(String, UInt64, UInt64)] = [("rip", m.rip, r.rip), ("rsp", m.rsp, r.rsp), ("rflags", m.rflags, r.rflags)]
            + (0..<ContextLayout.gprCount).map { (gprNames[$0], m.gprs[$0], r.gprs[$0]) }
            + (0..<TraceFormat.fpuWords).map { ("FXSAVE word \($0) (bytes \(8 * $0)…\(8 * $0 + 7))", m.fpu[$0], r.fpu[$0]) }
        for (name, a, b) in named where a != b { return (name, Domain.hex(a), Domain.hex(b)) }
        return nil
    }

    static let gprNames = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
}

/// Which pages ring 3 can write, and which are kernel structures, as the model's tables say.
/// Computed only when an event has words to adopt; kept until the kernel writes a structure
/// page (a yield's interrupt-state word in a descriptor aside), which is how mappings change.
private struct RingThreeView {
    var writable = Set<UInt64>()
    var structures = Set<UInt64>()
    /// Every partition's page-table pages (PML4 to PT), where the MMU sets accessed/dirty bits.
    var tables = Set<UInt64>()
    var descriptors = Set<UInt64>()
    /// The tree these sets were read from.
    let tree: PartitionTree
    /// Accessed (bit 5) and dirty (bit 6) of a page-table entry.
    static let mmuBits: UInt64 = 0x60

    init(_ system: ModelSystem) {
        tree = system.machine.tree()
        for p in tree.partitions {
            for leaf in p.leaves where leaf.writable { writable.insert(leaf.paddr) }
            structures.formUnion(p.structurePages)
            tables.formUnion(p.tables)
            descriptors.insert(p.descriptor)
        }
    }

    func invalidated(by writes: [UInt64]) -> Bool {
        writes.contains { pa in
            let page = pa & ~(AddressSpace.pageSize - 1)
            guard structures.contains(page) else { return false }
            return !(descriptors.contains(page) && pa - page == UInt64(DescriptorLayout.interruptState))
        }
    }
}

/// Holds the model's platform requests against the machine's, in order (`ModelCPU.tap`).
final class RequestChecker: PlatformTap {
    let expected: [PlatformRequest]
    let memory: SimulatedMemory
    /// Index of the next expected request.
    private(set) var next = 0
    private(set) var mismatch: (what: String, machine: String, model: String)?
    /// Addresses the model wrote (a zeroed page or a copy counts by its first byte).
    private(set) var writes: [UInt64] = []
    /// A context was loaded with delivery registers (an interrupt or fault handler entered).
    private(set) var delivered = false

    /// Loads one side may make that the other does not (assertions compiled differently).
    enum Tolerance { case none, machineExtraLoads, modelExtraLoads }
    let tolerance: Tolerance
    /// Loads let through under the tolerance.
    private(set) var skipped = 0

    init(expected: [PlatformRequest], memory: SimulatedMemory, tolerance: Tolerance = .none) {
        self.expected = expected
        self.memory = memory
        self.tolerance = tolerance
    }

    private func check(_ model: PlatformRequest) {
        guard mismatch == nil else { return }
        if tolerance == .machineExtraLoads { skipMachineLoads(until: model) }
        guard next < expected.count else {
            if tolerance == .modelExtraLoads, case .load = model { skipped += 1; return }
            mismatch = ("request #\(next) of the event", "no more requests", model.description)
            return
        }
        let machine = expected[next]
        if machine != model {
            if tolerance == .modelExtraLoads, case .load = model { skipped += 1; return }
            mismatch = ("request #\(next) of the event", machine.description, Self.difference(machine, model))
        }
        next += 1
    }

    /// Under `.machineExtraLoads`: passes the machine's loads that are not `model` (nil: all
    /// that are left).
    private func skipMachineLoads(until model: PlatformRequest?) {
        while next < expected.count, case .load = expected[next], expected[next] != model {
            next += 1
            skipped += 1
        }
    }

    /// After the event: under `.machineExtraLoads`, the machine's trailing loads are let through.
    func finish() {
        if tolerance == .machineExtraLoads && mismatch == nil { skipMachineLoads(until: nil) }
    }

    /// The model's request, with the first differing context word named when that is all.
    static func difference(_ machine: PlatformRequest, _ model: PlatformRequest) -> String {
        switch (machine, model) {
        case (.saveContext(let p, _, _, let a), .saveContext(_, _, _, let b)) where machine.sameArguments(model),
             (.loadContext(let p, _, _, let a), .loadContext(_, _, _, let b)) where machine.sameArguments(model):
            let k = a.indices.first { $0 < b.count && a[$0] != b[$0] } ?? 0
            return "\(model.name) at \(p): the context word at offset \(8 * k) (\(Domain.hex(p.word(at: 8 * k)))) is \(Domain.hex(b[k])), the machine's \(Domain.hex(a[k]))"
        default:
            return model.description
        }
    }

    private func contextWords(_ l: ContextLocation) -> [UInt64] {
        (0..<TraceFormat.contextWords).map { memory.load(l.word(at: 8 * $0)) }
    }

    func willLoad(_ paddr: PhysicalAddress) { check(.load(paddr.raw, value: memory.load(paddr))) }
    func didStore(_ paddr: PhysicalAddress, _ value: UInt64) { writes.append(paddr.raw); check(.store(paddr.raw, value: value)) }
    func didZeroPage(_ page: PhysicalAddress) { writes.append(page.raw); check(.zeroPage(page.raw)) }
    func didCopy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64) {
        writes.append(destination.raw)
        check(.copy(from: source.raw, to: destination.raw, bytes: bytes))
    }
    func didSetCurrentPartition(_ descriptor: PhysicalAddress) { check(.setCurrentPartition(descriptor.raw)) }
    func didSwitchAddressSpace(_ pml4: PhysicalAddress) { check(.switchAddressSpace(pml4.raw)) }
    func didInvalidateTranslation(_ va: VirtualAddress) { check(.invalidateTranslation(va.raw)) }
    func didSaveCPUState(to location: ContextLocation, flags: UInt64, returnValue: UInt64?) {
        check(.saveContext(ContextPlace(location), flags: flags, returnValue: returnValue, words: contextWords(location)))
    }
    func willLoadCPUState(from location: ContextLocation, interruptsEnabled: Bool, delivery: DeliveryInfo?) {
        if delivery != nil { delivered = true }
        let d = delivery.map { [$0.source, $0.vector, $0.errorCode, $0.faultAddress, $0.savedAt] }
        check(.loadContext(ContextPlace(location), interruptsEnabled: interruptsEnabled, delivery: d, words: contextWords(location)))
    }
    func didSetTrappedInterruptFlag(_ enabled: Bool) { check(.setInterruptFlag(enabled)) }
    func didLoadTranslationCache(_ index: Int, _ value: UInt64) { check(.translationCacheLoad(index, value: value)) }
    func didStoreTranslationCache(_ index: Int, _ value: UInt64) { check(.translationCacheStore(index, value: value)) }
}

extension PlatformRequest: CustomStringConvertible {
    var name: String {
        switch self {
        case .load: return "load"
        case .store: return "store"
        case .zeroPage: return "zeroPage"
        case .copy: return "copy"
        case .saveContext: return "saveCPUState"
        case .loadContext: return "loadCPUState"
        case .setCurrentPartition: return "setCurrentPartition"
        case .switchAddressSpace: return "switchAddressSpace"
        case .setInterruptFlag: return "setTrappedInterruptFlag"
        case .translationCacheLoad: return "translationCacheLoad"
        case .translationCacheStore: return "translationCacheStore"
        case .invalidateTranslation: return "invalidateTranslation"
        }
    }

    /// Equal but for the context words.
    func sameArguments(_ other: PlatformRequest) -> Bool {
        switch (self, other) {
        case (.loadContext(let p, let i, let d, _), .loadContext(let q, let j, let e, _)): return p == q && i == j && d == e
        case (.saveContext(let p, let f, let r, _), .saveContext(let q, let g, let s, _)): return p == q && f == g && r == s
        default: return self == other
        }
    }

    public var description: String {
        switch self {
        case .load(let pa, let v): return "load \(Domain.hex(pa)) → \(Domain.hex(v))"
        case .store(let pa, let v): return "store \(Domain.hex(pa)) := \(Domain.hex(v))"
        case .zeroPage(let p): return "zeroPage \(Domain.hex(p))"
        case .copy(let s, let d, let n): return "copy \(n) bytes \(Domain.hex(s)) → \(Domain.hex(d))"
        case .saveContext(let p, let f, let rv, _):
            return "saveCPUState at \(p), flags \(f)" + (rv.map { ", rax := \(Domain.hex($0))" } ?? "")
        case .loadContext(let p, let ie, let d, _):
            return "loadCPUState from \(p), IF \(ie ? 1 : 0)" + (d.map { ", delivery " + $0.map(Domain.hex).joined(separator: " ") } ?? "")
        case .setCurrentPartition(let d): return "setCurrentPartition \(Domain.hex(d))"
        case .switchAddressSpace(let p): return "switchAddressSpace \(Domain.hex(p))"
        case .setInterruptFlag(let e): return "setTrappedInterruptFlag \(e)"
        case .translationCacheLoad(let i, let v): return "translationCacheLoad [\(i)] → \(Domain.hex(v))"
        case .translationCacheStore(let i, let v): return "translationCacheStore [\(i)] := \(Domain.hex(v))"
        case .invalidateTranslation(let va): return "invalidateTranslation \(Domain.hex(va))"
        }
    }
}
