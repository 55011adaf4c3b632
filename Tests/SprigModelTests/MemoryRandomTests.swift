/// Random sequences of memory-service calls, from every partition, with arguments drawn from the
/// interesting domains (good pages, structure pages, kernel pages, other partitions' pages,
/// misaligned, non-canonical, unmapped, kernel-half, 0). After every call all properties must
/// hold, and a refused call must leave the whole memory unchanged.
import Testing
import PropertyBased
import Synchronization
import SprigABI
import SprigCore
@testable import SprigModel

/// SplitMix64: a small seeded generator, so a failing seed replays exactly.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
}

struct RandomRun {
    /// The services drawn from: the table's memory services.
    static let services = Service.allCases.filter { $0.route == .memory }

    let m = ModelMachine()
    var rng: SplitMix
    var calls = 0, successes = 0
    var succeeded: Set<Service> = []

    /// An address argument for `caller`, from a random domain.
    mutating func address(_ t: PartitionTree, _ ci: Int) -> UInt64 {
        let me = t.partitions[ci]
        let givable = me.leaves.filter { $0.accessible && $0.writable && $0.sh1 == 0 }.map(\.va)
        switch rng.below(12) {
        case 0...4: return givable.isEmpty ? 0 : rng.pick(givable)                      // a good page
        case 5: return me.leaves.isEmpty ? 0 : rng.pick(me.leaves).va                    // any of its pages
        case 6: return rng.pick(t.partitions).leaves.first.map(\.va) ?? 0                // another's
        case 7: return AddressSpace.rootWindowBase + rng.pick(Array(m.kernelPages))      // kernel page
        case 8: return (givable.first ?? 0) + UInt64(1 + rng.below(4095))                // misaligned
        case 9: return rng.pick([0x0000_8000_0000_0000, 0x1234_0000_0000_0000, ModelMachine.kernelBase, 0xFFFF_8000_0000_0000])
        case 10: return 0x0000_7000_0000_0000 + UInt64(rng.below(16)) << 12               // unmapped
        default: return 0
        }
    }

    /// A child name for `caller`: mostly a real child, sometimes anything.
    mutating func childName(_ t: PartitionTree, _ ci: Int) -> UInt64 {
        let kids = t.partitions[ci].children.map {
            m.descriptor(PhysicalAddress(t.partitions[$0].descriptor)).vaddrInParent(m.memory)
        }
        if !kids.isEmpty && rng.below(4) != 0 { return rng.pick(kids) }
        return address(t, ci)
    }

    mutating func step() {
        let t = m.tree()
        let ci = rng.below(t.partitions.count)
        let caller = PhysicalAddress(t.partitions[ci].descriptor)
        // Every memory service of the table (`Kernel.dispatch` serves them; yield and the
        // root-only ones are RefinementRandomTests'), arguments drawn by the table's kinds.
        let service = rng.pick(Self.services)
        var a = [UInt64](repeating: 0, count: 5)
        let childVA: () -> UInt64 = { [rng] in 0x1000_0000 + (rng.state % 64) << 12 }
        let arguments = service.arguments
        for k in 0..<arguments.count {
            switch arguments[k].kind {
            case .page, .address: a[k] = address(t, ci)
            case .child: a[k] = childName(t, ci)
            case .childAddress: a[k] = rng.below(4) == 0 ? address(t, ci) : childVA()
            case .freeList:
                // a free list: mostly good pages, sometimes with a hostile link
                let n = 1 + rng.below(10)
                var list: [UInt64] = []
                for _ in 0..<n { list.append(address(t, ci)) }
                let writable = list.filter { $0 & 0xFFF == 0 && m.translate(caller, $0, write: true) != nil }
                for (k, va) in writable.enumerated() {
                    m.memory.store(m.translate(caller, va, write: true)!, k + 1 < writable.count ? writable[k + 1] : address(t, ci))
                }
                a[k] = writable.first ?? list[0]
            case .rights: a[k] = UInt64(rng.below(9))
            case .flag: a[k] = UInt64(rng.below(3))
            case .vidtIndex: a[k] = UInt64(rng.below(600))
            case .number: a[k] = rng.below(2) == 0 ? UInt64(rng.below(16)) : rng.next()
            }
        }
        let before = m.memory.snapshot()
        let r = m.call(caller, service, a[0], a[1], a[2], a[3], a[4])
        calls += 1
        let context = "seed step \(calls): \(service)(\(a.map { String($0, radix: 16) })) by 0x\(String(caller.raw, radix: 16)) → \(r.status)"
        if r.status == .success {
            successes += 1
            succeeded.insert(service)
        } else if m.memory.snapshot() != before {
            Issue.record("\(context): refused but memory changed")
        }
        let v = m.checkAllProperties()
        #expect(v.isEmpty, "\(context): \(v.prefix(3).map(\.description))")
    }
}

@Suite struct MemoryRandomTests {
    /// Random call sequences, a seed per case (PropertyBased drives the seeds and reports the
    /// failing one). Trees grow from root through random successes.
    @Test func randomServiceSequencesKeepEveryProperty() async {
        _ = reportAtExit
        let seen = Mutex<(Set<Service>, Int, Int)>(([], 0, 0))
        await propertyCheck(count: 24, input: Gen.int(in: 0...Int.max)) { seed in
            let run = Self.run(seed: UInt64(seed))
            seen.withLock { $0.0.formUnion(run.succeeded); $0.1 += run.calls; $0.2 += run.successes }
        }
        let (_, calls, successes) = seen.withLock { $0 }
        #expect(successes * 10 >= calls, "fewer than 10% of random calls succeeded")
    }

    /// The generator must reach every service's success path, not only its refusals: checked on
    /// fixed seeds, so that the answer does not depend on which random seeds a run drew.
    @Test func theGeneratorReachesEverySuccessPath() {
        var services = Set<Service>(), calls = 0, successes = 0
        for seed in Self.coverageSeeds {
            let run = Self.run(seed: seed)
            services.formUnion(run.succeeded); calls += run.calls; successes += run.successes
        }
        // Every memory service of the table, whatever list the generator draws from.
        let table = Set(Service.allCases.filter { $0.route == .memory })
        print("random service calls: \(calls), succeeded: \(successes), services that succeeded: \(services.count)/\(table.count)")
        #expect(services == table, "never succeeded: \(table.subtracting(services))")
        #expect(successes * 10 >= calls, "fewer than 10% of random calls succeeded")
    }

    static let coverageSeeds: [UInt64] = Array(1...12)

    /// 60 random calls from a small tree (root, a child with a grandchild, a second child), so
    /// that calls by non-root partitions and on grandchildren happen; properties after each.
    static func run(seed: UInt64) -> RandomRun {
        var run = RandomRun(rng: SplitMix(state: seed))
        let a = run.m.makeChild(of: run.m.root, pages: 40)
        run.m.makeChild(of: a.descriptor, pages: 6)
        run.m.makeChild(of: run.m.root, pages: 6)
        for _ in 0..<60 { run.step() }
        #expect(run.calls == 60)
        return run
    }
}
