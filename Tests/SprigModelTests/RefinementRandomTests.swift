/// Random walks with the refinement checked after every step: services with arguments from the
/// interesting domains, yields, ring-3 writes of VIDT entries and free lists, hardware
/// interrupts, exceptions, `int n`, root-only services, from every partition of a small tree.
/// Also measures the cost of one checked step on a 128-page machine.
import Testing
import PropertyBased
import Synchronization
import SprigABI
import SprigCore
import SprigModel

/// A random walk over a small tree whose partitions have VIDTs and contexts.
private struct RefinementWalk {
    /// The root-only services of the table.
    static let rootOnly = Service.allCases.filter(\.isRootOnly)

    let r: Refined
    var rng: SplitMix
    /// Context addresses per partition (descriptor paddr → vaddrs in it).
    var contexts: [UInt64: [UInt64]] = [:]
    var outcomes: [String: Int] = [:]
    /// The services the walk called.
    var called: Set<Service> = []

    init(seed: UInt64, pages: Int = 192) {
        r = Refined(pages: pages)
        rng = SplitMix(state: seed)
        // root → a → g, and a second child b when the machine has room for it.
        let a = r.makeChild(of: r.root, pages: 30)
        let g = r.makeChild(of: a.descriptor, pages: 2)
        var parts = [(r.root, r.machine.takePage(r.root)), (a.descriptor, a.pages.last!), (g.descriptor, g.pages.last!)]
        if pages > 128 {
            let b = r.makeChild(of: r.root, pages: 4)
            parts.append((b.descriptor, b.pages.last!))
        }
        for (d, page) in parts {
            contexts[d.raw] = (0..<4).map { page + 0x300 * UInt64($0) }
            for (k, va) in contexts[d.raw]!.enumerated() {
                r.writeContext(d, at: va, tag: (d.raw >> 12) << 4 | UInt64(k), resync: false)
            }
            for (k, index) in [32, 0x80, 14, 8, 256, 257, 258].enumerated() {
                r.setVIDT(d, UInt64(index), contexts[d.raw]![k % 4], resync: false)
            }
        }
        r.checker.resynchronize(r.system)
    }

    var state: AbstractState { r.checker.state }

    /// An address argument for `caller`, from a random domain.
    mutating func address(_ caller: UInt64) -> UInt64 {
        let mine = state.partitions[caller]?.pages ?? [:]
        let givable = mine.filter { $0.value.accessible && $0.value.writable && $0.value.given == .kept }.keys.sorted()
        switch rng.below(12) {
        case 0...4: return givable.isEmpty ? 0 : rng.pick(givable)
        case 5: return mine.isEmpty ? 0 : rng.pick(mine.keys.sorted())
        case 6: return rng.pick(state.partitions.values.sorted { $0.name < $1.name }).pages.keys.min() ?? 0
        case 7: return AddressSpace.rootWindowBase + rng.pick(r.machine.kernelPages.sorted())
        case 8: return (givable.first ?? 0) + UInt64(1 + rng.below(4095))
        case 9: return rng.pick([0x0000_8000_0000_0000, AddressSpace.upperHalfStart, AddressSpace.vidt])
        case 10: return 0x0000_7000_0000_0000 + UInt64(rng.below(16)) << 12
        default: return 0
        }
    }

    mutating func childName(_ caller: UInt64) -> UInt64 {
        let kids = state.partitions.values.filter { $0.parent == caller }.map(\.name).sorted()
        if !kids.isEmpty && rng.below(4) != 0 { return rng.pick(kids) }
        return address(caller)
    }

    mutating func childVA() -> UInt64 { ModelMachine.childPagesBase + UInt64(rng.below(64)) << 12 }

    /// One random move: a ring-3 write or a checked kernel entry. False once the system stopped.
    mutating func step() -> Bool {
        let ids = state.partitions.keys.sorted()
        if rng.below(8) == 0 { r.become(PhysicalAddress(rng.pick(ids))) }
        let me = state.current
        let a = (0..<5).map { _ in rng.next() }
        let event: TrapEvent
        switch rng.below(20) {
        case 0...10:
            var service = rng.pick(RandomRun.services)
            // Deleting a child ends most of what follows in invalidChild: keep it rare.
            if service == .deletePartition, rng.below(4) != 0 { service = .addVAddr }
            var x: [UInt64] = [0, 0, 0, 0, 0]
            switch service {
            case .createPartition: for k in 0..<5 { x[k] = address(me) }
            case .countToMap, .removeVAddr, .collect: x[0] = childName(me); x[1] = rng.below(4) == 0 ? address(me) : childVA()
            case .prepare:
                x[0] = childName(me); x[1] = childVA()
                let list = (0..<(1 + rng.below(10))).map { _ in address(me) }.filter {
                    $0 & 0xFFF == 0 && r.machine.translate(PhysicalAddress(me), $0, write: true) != nil
                }
                for (k, va) in list.enumerated() {
                    r.poke(PhysicalAddress(me), va, k + 1 < list.count ? list[k + 1] : address(me), resync: false)
                }
                r.checker.resynchronize(r.system)
                x[2] = list.first ?? address(me)
            case .addVAddr: x[0] = address(me); x[1] = childName(me); x[2] = childVA(); x[3] = rng.pick([1, 3, 5, 7, 3, UInt64(rng.below(9))])
            case .mappedInChild: x[0] = address(me)
            case .deletePartition, .getIntState: x[0] = childName(me)
            default: x[0] = UInt64(rng.below(3))
            }
            event = .systemCall(number: service.rawValue, SystemCallArguments(x[0], x[1], x[2], x[3], x[4]))
        case 11, 12:
            let callee = rng.below(3) == 0 ? 0 : childName(me)
            let target = rng.pick([0, 8, 14, 32, 0x80, 256, 257, 258, 300, 512, a[0] & 0x1FF])
            let save = rng.pick([256, 257, 258, 300, 400, 512, a[1] & 0x1FF])
            event = .systemCall(number: Service.yield.rawValue, SystemCallArguments(callee, target, save, a[2] & 1, a[3] & 1))
        case 13:
            // Ring 3 rewrites one of its VIDT entries (if it can).
            guard state.vidtPage(of: me) != nil else { return true }
            let mine = contexts[me] ?? [0]
            let value = rng.pick(mine + [mine[0] + 8, mine[0] + 0xE00, 0, AddressSpace.vidt, AddressSpace.upperHalfStart, a[0]])
            r.setVIDT(PhysicalAddress(me), rng.pick([0, 8, 14, 32, 0x80, 256, 257, 258, 300]), value)
            return true
        case 14: event = .hardwareInterrupt(vector: rng.pick([32, 33, 36, 0x80, 255]))
        case 15:
            // Root faulting stops the machine, and so does a fault nobody takes: rarely.
            guard me != r.root.raw, rng.below(2) == 0 else { return true }
            event = .exception(vector: UInt64(rng.below(32)), errorCode: a[0] & 0xFF, faultAddress: a[1])
        case 16, 17: event = .softwareInterrupt(vector: rng.pick([3, 0x30, 0x80, 0xFF, 600, a[0] & 0xFF]))
        default:
            // Every root-only service of the table; unknown ones get small numbers in every register.
            let service = rng.pick(Self.rootOnly)
            // powerOff only with a status the kernel reserves: a success would stop the walk.
            var arg = service == .powerOff ? 0x70 + (a[0] & 0xFF) : service == .setTimer ? a[0] % 12_000 : AddressSpace.vidt
            if service == .setConsoleInterrupt { arg = a[0] % 3 }
            if service == .consoleRead {
                // Input arrives from outside (the checker takes it as the new state), into any
                // address of the caller's, root's VIDT page included.
                r.system.consoleInput += (0..<rng.below(24)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                r.checker.resynchronize(r.system)
                arg = rng.below(3) == 0 ? AddressSpace.vidt + (a[0] & 0xFFF) : address(me)
            }
            event = .systemCall(number: service.rawValue, SystemCallArguments(arg, a[1] % 5000))
        }
        let outcome = r.trap(event)
        if case .systemCall(let number, _) = event, let service = Service(rawValue: number) { called.insert(service) }
        outcomes["\(outcome)".prefix(while: { $0 != "(" }).description, default: 0] += 1
        return r.system.poweredOff == nil && !r.system.crashed
    }
}

@Suite struct RefinementRandomTests {
    @Test func randomWalksRefineTheSpecification() async {
        let seen = Mutex<(steps: Int, outcomes: [String: Int], called: Set<Service>)>((0, [:], []))
        await propertyCheck(count: 10, input: Gen.int(in: 0...Int.max)) { seed in
            var walk = RefinementWalk(seed: UInt64(seed))
            var n = 0
            while n < 80, walk.step() { n += 1 }
            walk.r.expectRefines("seed \(seed)")
            seen.withLock { s in
                s.steps += walk.r.steps
                s.outcomes.merge(walk.outcomes, uniquingKeysWith: +)
                s.called.formUnion(walk.called)
            }
        }
        let (steps, outcomes, called) = seen.withLock { $0 }
        // The walks draw from the service table: every service of it is called.
        #expect(called == Set(Service.allCases), "never called: \(Set(Service.allCases).subtracting(called))")
        print("refinement random walks: \(steps) checked steps, outcomes \(outcomes.sorted { $0.key < $1.key })")
        // The walks must reach switches and deliveries, not only refusals.
        #expect((outcomes["resume"] ?? 0) > 10 && (outcomes["returned"] ?? 0) > 100)
    }

    @Test func checkedStepCostOn128Pages() {
        let clock = ContinuousClock()
        var walk = RefinementWalk(seed: 42, pages: 128)
        let before = walk.r.steps
        var trapping = Duration.zero
        let elapsed = clock.measure {
            for _ in 0..<150 { guard walk.step() else { break } }
        }
        // Time the bare model for the same kind of work, to report the checker's share.
        let system = ModelSystem(pages: 128)
        trapping = clock.measure {
            for _ in 0..<(walk.r.steps - before) { system.trap(.systemCall(number: Service.getIntState.rawValue, SystemCallArguments())) }
        }
        let steps = walk.r.steps - before
        print("refinement on 128 pages: \(steps) checked steps, \(elapsed / max(steps, 1)) per step (walk included); bare trap \(trapping / max(steps, 1))")
        walk.r.expectRefines("128 pages")
    }
}
