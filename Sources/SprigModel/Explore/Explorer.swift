/// Bounded exhaustive exploration of the kernel, and long random walks, on the model machine.
///
/// The explorer drives a `ModelSystem` (the booted model machine and its CPU) through
/// `ExplorationStep`s of the running partition: system calls, exceptions, interrupts, `int n`,
/// ring-3 writes, with arguments from `Domain`. Every kernel entry goes through
/// `ModelSystem.trap`, that is the very `Kernel.trap` the booted kernel runs. After every step the
/// `Oracle` checks the isolation properties, register hygiene, that refusals changed nothing,
/// the refinement against the abstract specification, and an optional extra predicate.
///
/// The properties are checked on every new state the kernel produced. A state reached by a
/// ring-3 write alone is not checked again: the write went through the MMU (TLB, then tables)
/// to a page the partition can write — the oracle's TLB check says no cached translation grants
/// more than the tables — and the previous state's properties (kernel data isolation above all)
/// say no such page is a table, shadow, descriptor or configuration page, so the write cannot
/// change anything the properties read. Nor is a state reached by a step that stored no word:
/// the properties read memory alone.
///
/// `run` is a breadth-first search: every sequence of up to `depth` steps, states deduplicated
/// by a 128-bit hash (`StateImage`). Breadth first, so the first violation found has a shortest
/// sequence of steps reaching it. The frontier is kept as memory diffs against the start; each
/// of `threads` workers restores its own system into each state it expands (`run`).
///
/// `randomWalk` takes `steps` random steps (SplitMix64 from `seed`, so the same seed gives the
/// same walk), starting over from the start state when the system stops (a kernel crash report,
/// a power-off).
///
/// Nothing here depends on the CLI: `sprig check` and the tests call this API.
import Dispatch
import SprigABI
import SprigCore

public struct Explorer {
    /// What to explore and how far.
    public struct Configuration {
        /// Where to start.
        public var start: ExplorationStart = .tree
        /// Physical pages of the model machine.
        public var pages = 160
        /// The argument domain (VIDT indices, live-partition bound).
        public var domain = DomainConfiguration(vidtSlots: 3, maxPartitions: 4)
        /// Longest step sequence explored (`run`).
        public var depth = 2
        /// Stop once this many distinct states are known (`run`); nil: no bound.
        public var maxStates: Int?
        /// Which checks the oracle runs.
        public var oracle = OracleConfiguration()
        /// A predicate run after every step besides the built-in checks.
        package var extraCheck: ExtraCheck?
        /// Keep every line of a random walk in the report (`ExplorationReport.trace`).
        public var recordTrace = false
        /// A start state made elsewhere (a system's boot replayed until its setup is done,
        /// `sprig check --system`) instead of `start`; called again after a step stops the
        /// machine and to replay a counterexample. `pages` must be its page count.
        public var startSystem: (@Sendable () -> ModelSystem)?

        /// A generated start tree (`TreeShape`) instead of `start`; its own page count.
        public var shape: TreeShape?

        /// Threads of the exhaustive search, each with its own model machine (`run`); the
        /// result is the same for every count.
        public var threads = 1

        /// The defaults: the tree start, 160 pages, 3 VIDT indices, at most 4 partitions, depth 2.
        public init() {}

        /// A fresh system in the start state: `startSystem`, else `shape`, else `start`.
        func makeStart() -> ModelSystem {
            startSystem?() ?? shape?.makeSystem() ?? start.makeSystem(pages: pages)
        }
    }

    public var configuration: Configuration

    /// An explorer with `configuration`.
    public init(_ configuration: Configuration = Configuration()) { self.configuration = configuration }

    // MARK: Breadth-first search

    private struct Node {
        var parent: Int
        var step: ExplorationStep?
    }

    /// One step from a frontier state, as a worker took it.
    struct Transition {
        var step: ExplorationStep
        var outcome: StepOutcome
        var key: StateHash
        var terminal: Bool
        /// The step's own findings (register hygiene, refusals, refinement, TLB, dereference, extra).
        var findings: [Finding]
        /// The new state's properties' findings, when the state was new to the worker and not
        /// reached by a ring-3 write.
        var properties: [Finding]
        /// The new state, when it was new to the worker and the next depth expands it.
        var image: StateImage?
    }

    /// Explores every step sequence up to `configuration.depth`, calling `progress` about once a
    /// second, and stops at the first violation.
    ///
    /// Each depth's frontier is taken in batches: the `threads` workers (each with its own
    /// system) expand the states of a batch (worker k every k-th state), then the batch's
    /// transitions are merged in frontier order, as the one-thread search takes them. A worker
    /// checks the properties of each state new to it (not seen at an earlier depth or batch,
    /// nor by itself), which includes every state that is new in the merged order: a worker
    /// takes its states in frontier order, so a state it saw earlier comes earlier in the merge
    /// too. So the states, transitions, outcomes and the counterexample are the same for every
    /// number of threads; only which duplicates get their properties checked twice differs.
    /// States at the last depth are counted and checked but not stored: nothing expands them.
    public func run(progress: ((ExplorationProgress) -> Void)? = nil) -> ExplorationReport {
        let threads = max(1, configuration.threads)
        var sessions = (0..<threads).map { _ in Session(configuration) }
        let clock = ContinuousClock()
        let started = clock.now
        var lastReport = started
        var report = ExplorationReport(mode: .exhaustive)
        var nodes = [Node(parent: -1, step: nil)]
        let first = sessions[0].store.capture(sessions[0].system)
        var visited: Set<StateHash> = [first.key]
        var frontier: [(node: Int, image: StateImage)] = [(0, first)]
        var frontierCount = 1
        report.states = 1
        if let f = sessions[0].propertyFindings(), !f.isEmpty {
            report.counterexample = sessions[0].counterexample([], f)
        }
        let batchSize = 64 * threads
        var depth = 0
        search: while depth < configuration.depth, !frontier.isEmpty, report.counterexample == nil {
            let keep = depth + 1 < configuration.depth
            var next: [(node: Int, image: StateImage)] = []
            var nextCount = 0
            var seen = [Set<StateHash>](repeating: [], count: threads)
            for batchStart in stride(from: 0, to: frontier.count, by: batchSize) {
                let batch = frontier[batchStart..<min(batchStart + batchSize, frontier.count)]
                let expanded = Self.expand(batch.map(\.image), &sessions, &seen, visited: visited, keep: keep)
                for (entry, transitions) in zip(batch, expanded) {
                    for t in transitions {
                        report.count(t.step, t.outcome)
                        let isNew = !t.terminal && !visited.contains(t.key)
                        let findings = t.findings + (isNew ? t.properties : [])
                        if !findings.isEmpty {
                            report.counterexample = sessions[0].counterexample(path(nodes, entry.node) + [t.step], findings)
                            break search
                        }
                        if t.terminal {
                            report.terminalTransitions += 1
                        } else if isNew {
                            visited.insert(t.key)
                            nextCount += 1
                            if keep {
                                guard let image = t.image else { preconditionFailure("explorer: a new state was not kept") }
                                nodes.append(Node(parent: entry.node, step: t.step))
                                next.append((nodes.count - 1, image))
                            }
                            report.states += 1
                            if let cap = configuration.maxStates, report.states >= cap {
                                report.stoppedAtStateBound = true
                                report.depthReached = depth + 1
                                break search
                            }
                        }
                    }
                }
                if let progress, clock.now - lastReport >= .seconds(1) {
                    lastReport = clock.now
                    report.elapsed = Self.seconds(clock.now - started)
                    progress(ExplorationProgress(report: report, depth: depth + 1, frontier: frontierCount, next: nextCount))
                }
            }
            depth += 1
            report.depthReached = depth
            frontier = next
            frontierCount = nextCount
        }
        report.elapsed = Self.seconds(clock.now - started)
        report.frontier = frontierCount
        return report
    }

    /// Every step from each of `images`, worker k (on `sessions[k]`, remembering the states
    /// it saw at this depth in `seen[k]`) taking every k-th image; the transitions in the
    /// order of `images` and of each state's menu.
    private static func expand(_ images: [StateImage], _ sessions: inout [Session], _ seen: inout [Set<StateHash>],
                               visited: Set<StateHash>, keep: Bool) -> [[Transition]] {
        var out = [[Transition]](repeating: [], count: images.count)
        let threads = sessions.count
        sessions.withUnsafeMutableBufferPointer { s in
            seen.withUnsafeMutableBufferPointer { seen in
                out.withUnsafeMutableBufferPointer { out in
                    let slots = WorkerSlots(sessions: s.baseAddress!, seen: seen.baseAddress!, out: out.baseAddress!)
                    DispatchQueue.concurrentPerform(iterations: threads) { k in
                        for i in stride(from: k, to: images.count, by: threads) {
                            slots.out[i] = slots.sessions[k].expand(images[i], visited: visited, seen: &slots.seen[k], keep: keep)
                        }
                    }
                }
            }
        }
        return out
    }

    private func path(_ nodes: [Node], _ node: Int) -> [ExplorationStep] {
        var steps: [ExplorationStep] = []
        var n = node
        while n > 0 {
            if let s = nodes[n].step { steps.append(s) }
            n = nodes[n].parent
        }
        return steps.reversed()
    }

    // MARK: Several start trees

    /// `run` from each of `shapes` in turn (the configuration's depth, domain and checks; at
    /// least as many live partitions allowed as the shape has), stopping at the first
    /// violation. `progress` gets the shape with each line.
    public static func run(shapes: [TreeShape], _ configuration: Configuration,
                           progress: ((TreeShape, ExplorationProgress) -> Void)? = nil) -> [(shape: TreeShape, report: ExplorationReport)] {
        var out: [(shape: TreeShape, report: ExplorationReport)] = []
        for shape in shapes {
            var c = configuration
            c.shape = shape
            c.domain.maxPartitions = max(c.domain.maxPartitions, shape.partitions)
            let report = Explorer(c).run(progress: progress.map { p in { p(shape, $0) } })
            out.append((shape, report))
            if report.counterexample != nil { break }
        }
        return out
    }

    // MARK: Random walk

    /// `steps` random steps from `seed`; stops at the first violation. What the walk knows of
    /// the state it is in (tree, menu, the memory's abstraction) is kept from step to step while
    /// it stays true (`Session.walk`), and the start's is kept for every restart.
    public func randomWalk(steps: Int, seed: UInt64, progress: ((ExplorationProgress) -> Void)? = nil) -> ExplorationReport {
        var session = Session(configuration)
        let clock = ContinuousClock()
        let started = clock.now
        var lastReport = started
        var report = ExplorationReport(mode: .random(seed: seed))
        var rng = SplitMix64(seed: seed)
        var image = session.store.capture(session.system)
        var recent = RecentStates()
        _ = recent.insert(image.key)
        // The start's memory is the same after every restart but of a start built again.
        let startKnown = session.know()
        var known = startKnown
        var sinceStart: [ExplorationStep] = []
        var digest = StreamingHash()
        report.states = 1
        if let f = session.propertyFindings(tree: known.tree), !f.isEmpty { report.counterexample = session.counterexample([], f) }
        var taken = 0
        while taken < steps, report.counterexample == nil {
            let step = known.menu[Int(rng.next() % UInt64(known.menu.count))]
            let result = session.walk(step, before: image, known: &known)
            taken += 1
            sinceStart.append(step)
            report.count(step, result.outcome)
            report.depthReached = max(report.depthReached, sinceStart.count)
            let line = "\(Self.name(PhysicalAddress(image.current), session.system)): \(step) → \(result.outcome)"
            if configuration.recordTrace { report.trace.append(line) }
            digest.add(line.hashValueStable &+ result.image.hash.low)
            var findings = result.findings
            let changed = result.image.key != image.key
            if !findings.isEmpty {
                report.counterexample = session.counterexample(sinceStart, findings)
                break
            }
            // A walk that never stops the machine starts over after `longestWalk` steps, so the
            // steps kept for a counterexample stay bounded.
            if session.stopped || sinceStart.count >= Self.longestWalk {
                if session.stopped { report.terminalTransitions += 1 }
                session.replaceStoppedSystem()
                image = session.start
                known = configuration.startSystem == nil ? startKnown : session.know()
                sinceStart = []
                report.restarts += 1
                continue
            }
            // The properties read memory alone: after a step that stored no word they are those
            // of the state before (`Explorer`).
            if changed, recent.insert(result.image.key) {
                report.states += 1
                if result.outcome != .wrote && result.memoryChanged {
                    findings += session.propertyFindings(tree: known.tree) ?? []
                }
            }
            if !findings.isEmpty {
                report.counterexample = session.counterexample(sinceStart, findings)
                break
            }
            image = result.image
            if taken & 255 == 0, let progress, clock.now - lastReport >= .seconds(1) {
                lastReport = clock.now
                report.elapsed = Self.seconds(clock.now - started)
                progress(ExplorationProgress(report: report, depth: sinceStart.count, frontier: 0, next: 0))
            }
        }
        report.traceDigest = digest.hash
        report.finalState = image.hash
        report.elapsed = Self.seconds(clock.now - started)
        return report
    }

    /// The longest walk without a restart (`randomWalk`): the steps since the start are kept
    /// to print a counterexample, and this bounds them.
    public static let longestWalk = 100_000

    // MARK: Names

    /// "root", or "partition 0x…" (its descriptor's paddr) for the others.
    package static func name(_ descriptor: PhysicalAddress, _ system: ModelSystem) -> String {
        descriptor == system.machine.root ? "root" : "partition \(Domain.hex(descriptor.raw))"
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

/// What the workers of one batch share: worker k uses session k and its set of seen states,
/// and writes the transitions of the images it takes; no two workers touch one element.
private struct WorkerSlots: @unchecked Sendable {
    let sessions: UnsafeMutablePointer<Session>
    let seen: UnsafeMutablePointer<Set<StateHash>>
    let out: UnsafeMutablePointer<[Explorer.Transition]>
}

/// One system being explored, with its state store and oracle.
struct Session {
    let configuration: Explorer.Configuration
    let domain: Domain
    let oracle: Oracle
    private(set) var system: ModelSystem
    let store: StateStore
    /// The start state, loaded again after a step stops the machine.
    let start: StateImage

    init(_ configuration: Explorer.Configuration) {
        self.configuration = configuration
        domain = Domain(configuration.domain)
        oracle = Oracle(configuration: configuration.oracle, extra: configuration.extraCheck)
        system = configuration.makeStart()
        store = StateStore(system)
        start = store.loaded
    }

    var stopped: Bool { system.crashed || system.poweredOff != nil }

    func restore(_ image: StateImage) { store.restore(image, into: system) }

    /// What `take` gives.
    struct Taken {
        var outcome: StepOutcome
        var image: StateImage
        /// A word was stored.
        var memoryChanged: Bool
        var findings: [Finding]
        /// The tree after the step (`take`'s `treeAfter`), and whether it was read again.
        var tree: PartitionTree?
        var treeRead = false
        /// The abstraction of the state after the step, when the refinement check took one.
        var abstraction: AbstractState?
    }

    /// Runs `step` from the loaded state `before` (whose tree is `tree`, and whose memory's
    /// abstraction is `abstraction` if given) and checks it. With `treeAfter`, the tree after
    /// the step is taken unless the system stopped: `tree` itself when no page it was read
    /// from was stored to (`PartitionTree.reads(anyOf:)`), else read again.
    func take(_ step: ExplorationStep, before: StateImage, tree: PartitionTree, abstraction: AbstractState? = nil,
              treeAfter: Bool = false) -> Taken {
        step.prepare(system)
        let unchanged = !system.memory.wroteAnyPage
        let remembered = oracle.before(system, image: before, tree: tree, abstraction: unchanged ? abstraction : nil)
        let outcome = step.perform(on: system)
        let memoryChanged = system.memory.wroteAnyPage
        // The capture forgets which pages were written.
        let treeRead = treeAfter && !stopped && memoryChanged && tree.reads(anyOf: system.memory.writtenPages)
        let after = store.capture(system)
        let newTree = treeAfter && !stopped ? (treeRead ? system.machine.tree() : tree) : nil
        var newAbstraction: AbstractState?
        let findings = oracle.after(remembered, step, outcome, system, image: after, store: store, memoryChanged: memoryChanged,
                                    tree: newTree, abstraction: &newAbstraction)
        return Taken(outcome: outcome, image: after, memoryChanged: memoryChanged, findings: findings,
                     tree: newTree, treeRead: treeRead, abstraction: newAbstraction)
    }

    /// What a walk knows of the loaded state besides its image, taken once and kept from step
    /// to step while it stays true: the tree of the memory, the running partition's menu, and
    /// the abstraction of the memory (nil: not taken).
    struct Known {
        var tree: PartitionTree
        var menu: [ExplorationStep]
        /// The running partition and its interrupt flag the menu is for.
        var menuFor: (current: UInt64, interruptsEnabled: Bool)
        var abstraction: AbstractState?
    }

    /// All of `Known` taken from the loaded state.
    func know() -> Known {
        let tree = system.machine.tree()
        return Known(tree: tree, menu: domain.steps(for: system, tree: tree), menuFor: menuKey,
                     abstraction: configuration.oracle.refinement ? Abstraction.of(system) : nil)
    }

    /// What a menu depends on besides the memory (`Domain.steps`: the tree, the running
    /// partition, its interrupt flag).
    private var menuKey: (current: UInt64, interruptsEnabled: Bool) {
        (system.current.raw, system.cpu.interruptsEnabled)
    }

    /// `take` for a walk: `step` from the loaded state `before`, of which `known` is known; then
    /// `known` is made that of the state after it. A step that stored no word leaves the
    /// memory's abstraction as it was; after one that did, the abstraction is the one the
    /// refinement check took after the step (none after a ring-3 write). The tree is read again
    /// only when a page it was read from was stored to (`take`), and the menu made again only
    /// then or when another partition runs or the flag changed (`Domain.steps` reads nothing
    /// else). Nothing is known of a stopped system.
    func walk(_ step: ExplorationStep, before: StateImage, known: inout Known) -> Taken {
        let result = take(step, before: before, tree: known.tree, abstraction: known.abstraction, treeAfter: true)
        guard let tree = result.tree else { return result }
        known.tree = tree
        if result.memoryChanged {
            known.abstraction = result.abstraction
        } else if let a = result.abstraction {
            known.abstraction = a
        }
        if result.treeRead || menuKey != known.menuFor {
            known.menu = domain.steps(for: system, tree: tree)
            known.menuFor = menuKey
        }
        return result
    }

    /// Every step of `image`'s menu, from `image`. A state not in `visited` nor in `seen` is
    /// new to this worker: it goes into `seen`, its properties are checked and, with `keep`,
    /// it is kept. The properties read memory alone: a state reached by a step that stored no
    /// word has those of `image`, which were checked (or are, by the same argument, those of
    /// a checked state before it); nor does a ring-3 write change them (`Explorer`).
    mutating func expand(_ image: StateImage, visited: Set<StateHash>, seen: inout Set<StateHash>,
                         keep: Bool) -> [Explorer.Transition] {
        restore(image)
        let tree = system.machine.tree()
        let steps = domain.steps(for: system, tree: tree)
        // The memory is the same before every step: its abstraction is taken once.
        let abstraction = configuration.oracle.refinement ? Abstraction.of(system) : nil
        var out: [Explorer.Transition] = []
        out.reserveCapacity(steps.count)
        for step in steps {
            restore(image)
            let result = take(step, before: image, tree: tree, abstraction: abstraction)
            let terminal = stopped
            let key = result.image.key
            let isNew = !terminal && !visited.contains(key) && seen.insert(key).inserted
            let properties = isNew && result.outcome != .wrote && result.memoryChanged ? propertyFindings() ?? [] : []
            out.append(Explorer.Transition(step: step, outcome: result.outcome, key: key, terminal: terminal,
                                           findings: result.findings, properties: properties,
                                           image: isNew && keep ? result.image : nil))
            if terminal { replaceStoppedSystem() }
            // Nothing after a step's own finding is merged.
            if !result.findings.isEmpty { break }
        }
        return out
    }

    /// The properties of the loaded state (whose tree is `tree` if given), or nil when they
    /// are not checked.
    func propertyFindings(tree: PartitionTree? = nil) -> [Finding]? {
        configuration.oracle.properties ? oracle.properties(tree ?? system.machine.tree(), system) : nil
    }

    /// A stopped system cannot take another step as it is: it is made runnable again
    /// (`ModelSystem.restartAfterStop`) and the start state is loaded into it, memory, CPU, TLB
    /// and caches (cheaper than booting a fresh machine: the result is the same state, which the
    /// store checks).
    /// A start built by a function (a system's own init, a scenario) may hold machine state the
    /// store does not carry (a timer rate, console input), so it is built again instead.
    mutating func replaceStoppedSystem() {
        if let make = configuration.startSystem {
            system = make()
            store.reset(to: system)
            return
        }
        system.restartAfterStop()
        store.restore(start, into: system)
        precondition(store.capture(system).key == start.key, "explorer: the start state is not reproducible")
    }

    /// Replays `steps` on a fresh system, rendering each with its outcome.
    func counterexample(_ steps: [ExplorationStep], _ findings: [Finding]) -> Counterexample {
        let fresh = configuration.makeStart()
        var lines: [String] = []
        for step in steps {
            let who = Explorer.name(fresh.current, fresh)
            let outcome = step.apply(to: fresh)
            var line = "\(who): \(step) → \(outcome)"
            if case .trapped(_, .machineService) = outcome,
               let s = Status(rawValue: fresh.cpu.registers[ContextLayout.rax]) {
                line += ", \(s)"
            }
            if Explorer.name(fresh.current, fresh) != who { line += " (now running: \(Explorer.name(fresh.current, fresh)))" }
            lines.append(line)
            if fresh.crashed || fresh.poweredOff != nil { break }
        }
        return Counterexample(steps: steps, lines: lines, findings: findings)
    }
}

/// A sequence of steps from the start state that ends in a violation.
public struct Counterexample: Sendable {
    /// The steps, first to last.
    package var steps: [ExplorationStep]
    /// Each step as "who: step → outcome", replayed on a fresh system.
    public var lines: [String]
    /// What the oracle found after the last step.
    public var findings: [Finding]
}

/// Where a run is, for progress lines.
public struct ExplorationProgress: Sendable {
    public var report: ExplorationReport
    /// The depth being explored (exhaustive) or the walk's length since its last start (random).
    public var depth: Int
    /// States at this depth, and new states found so far for the next one.
    public var frontier: Int
    public var next: Int
}

/// What a run did.
public struct ExplorationReport: Sendable {
    /// Exhaustive search or a random walk.
    public enum Mode: Equatable, Sendable {
        case exhaustive
        case random(seed: UInt64)
    }
    public var mode: Mode
    /// Distinct states reached (the start included).
    public var states = 0
    /// Steps taken (each checked).
    public var transitions = 0
    /// Steps that stopped the system (kernel crash report, power-off).
    public var terminalTransitions = 0
    /// Exhaustive: the depth fully explored. Random: the longest walk without a restart.
    public var depthReached = 0
    /// Exhaustive: states left unexplored at the last depth.
    public var frontier = 0
    /// Random: how many times the walk started over.
    public var restarts = 0
    /// Exhaustive: the run stopped at `maxStates`.
    public var stoppedAtStateBound = false
    /// Wall time in seconds.
    public var elapsed = 0.0
    /// Kernel entries by service (or event kind) and outcome: "yield → success": 12.
    public var outcomes: [String: Int] = [:]
    /// The first violation, if any.
    public var counterexample: Counterexample?
    /// Random walks: every step as a line (when `recordTrace`), a digest of the walk, the state
    /// it ended in.
    public var trace: [String] = []
    public var traceDigest: StateHash?
    public var finalState: StateHash?

    /// States per second.
    public var statesPerSecond: Double { elapsed > 0 ? Double(states) / elapsed : 0 }
    /// Transitions per second.
    public var transitionsPerSecond: Double { elapsed > 0 ? Double(transitions) / elapsed : 0 }

    mutating func count(_ step: ExplorationStep, _ outcome: StepOutcome) {
        transitions += 1
        let key: String
        switch (step, outcome) {
        case (_, .wrote): key = "write → written"
        case (_, .trapped(let event, let o)):
            let what: String
            switch event {
            case .systemCall(let n, _): what = Service(rawValue: n).map { "\($0)" } ?? "unknown service"
            case .exception: what = "exception"
            case .hardwareInterrupt: what = "hardware interrupt"
            case .softwareInterrupt: what = "int n"
            }
            let how: String
            switch o {
            case .returned(let s, _): how = "\(s)"
            case .interruptRefused(let s): how = "\(s)"
            case .resume: how = "resume"
            case .machineService: how = "served"
            case .kernelCrash: how = "kernel crash"
            }
            key = "\(what) → \(how)"
        }
        outcomes[key, default: 0] += 1
    }
}

/// The states a random walk saw lately: a direct-mapped table of a fixed number of hashes, so
/// that a walk of 10^8 steps runs in constant memory. A state is new when its hash is not in
/// its slot; a state seen again after another took its slot counts (and is checked) again, so
/// `ExplorationReport.states` of a walk counts property checks of distinct-looking states,
/// not distinct states.
struct RecentStates {
    /// 2^20 slots (16 MiB).
    static let slots = 1 << 20
    private var table = [StateHash](repeating: StateHash(high: 0, low: 0), count: slots)

    /// Records `key`; whether it was not there.
    mutating func insert(_ key: StateHash) -> Bool {
        let i = Int(truncatingIfNeeded: key.low) & (Self.slots - 1)
        if table[i] == key { return false }
        table[i] = key
        return true
    }
}

/// A 128-bit hash of a stream of words, in constant memory: the two lanes of `StateImage`'s
/// hash, each word folded in as it comes.
struct StreamingHash {
    private var a: UInt64 = 0x243F_6A88_85A3_08D3, b: UInt64 = 0x1319_8A2E_0370_7344
    private var count: UInt64 = 0

    mutating func add(_ x: UInt64) {
        a = StateImage.fmix(a ^ count &+ 0x9E37_79B9_7F4A_7C15)
        b = StateImage.mum(b ^ count, 0xA076_1D64_78BD_642F)
        a = StateImage.fmix(a ^ x &+ 0x9E37_79B9_7F4A_7C15)
        b = StateImage.mum(b ^ x, 0xA076_1D64_78BD_642F)
        count += 1
    }

    var hash: StateHash { StateHash(high: StateImage.fmix(a ^ count), low: StateImage.mum(b ^ count, 0xA076_1D64_78BD_642F)) }
}

/// SplitMix64: a small seeded generator, so a walk replays exactly from its seed.
public struct SplitMix64: Sendable {
    public var state: UInt64
    /// A generator starting from `seed`.
    public init(seed: UInt64) { state = seed }
    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes: stable across runs (`hashValue` is seeded per process).
    var hashValueStable: UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
        return h
    }
}
