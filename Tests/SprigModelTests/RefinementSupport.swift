/// A `ModelSystem` driven only through `trap`, with the refinement checked after every step.
///
/// Tests play ring 3: `become` makes a partition the trapped one, `poke` writes a word of its
/// memory, `writeContext` a whole context; each such change is followed by
/// `RefinementChecker.resynchronize`, as the checker's contract asks. Children are built through
/// trapped calls (createPartition, countToMap, prepare, addVAddr), so even the set-up is checked.
import Testing
import SprigABI
import SprigCore
import SprigModel

/// A child built by `Refined.makeChild`.
struct Kid {
    var descriptor: PhysicalAddress
    /// Its name: its descriptor's vaddr in the parent.
    var name: UInt64
    var parent: PhysicalAddress
    /// Its pages (vaddrs in it, read/write), not counting its VIDT.
    var pages: [UInt64]
}

final class Refined {
    let system: ModelSystem
    var checker: RefinementChecker
    /// Every refinement violation seen so far.
    private(set) var violations: [Violation] = []
    private(set) var steps = 0

    init(pages: Int = 192) {
        system = ModelSystem(pages: pages)
        checker = RefinementChecker(system)
    }

    var machine: ModelMachine { system.machine }
    var memory: SimulatedMemory { system.memory }
    var root: PhysicalAddress { system.machine.root }

    // MARK: Ring 3

    /// Makes `partition` the trapped one (fresh registers), as a test harness may.
    func become(_ partition: PhysicalAddress, registers: RegisterFile = RegisterFile()) {
        system.cpu.trap(as: machine.descriptor(partition), pml4: machine.rootTable(partition), registers: registers)
        checker.resynchronize(system)
    }

    /// `partition` writes `value` at `va` in its own memory (whatever the rights: a test set-up).
    func poke(_ partition: PhysicalAddress, _ va: UInt64, _ value: UInt64, resync: Bool = true) {
        guard let leaf = PageTableWalk.leaf(memory, rootTable: machine.rootTable(partition), va: VirtualAddress(va & ~0xFFF))
        else { fatalError("refined: 0x\(String(va, radix: 16)) not mapped") }
        memory.store(leaf.entry.frame.adding(va & 0xFFF), value)
        if resync { checker.resynchronize(system) }
    }

    func setVIDT(_ partition: PhysicalAddress, _ index: UInt64, _ va: UInt64, resync: Bool = true) {
        poke(partition, AddressSpace.vidt + 8 * index, va, resync: resync)
    }

    /// A context at `va` in `partition`: every word `tag << 32 | offset`, then a rip, an rsp,
    /// the initial rflags, `flags` and the default MXCSR (`InitialRegisters`).
    func writeContext(_ partition: PhysicalAddress, at va: UInt64, tag: UInt64, flags: UInt64 = 0, resync: Bool = true) {
        for o in stride(from: 0, to: ContextLayout.size, by: 8) { poke(partition, va + UInt64(o), tag << 32 | UInt64(o), resync: false) }
        poke(partition, va + UInt64(ContextLayout.rip), 0x40_0000 + tag, resync: false)
        poke(partition, va + UInt64(ContextLayout.rsp), 0x7000_0000 + tag, resync: false)
        poke(partition, va + UInt64(ContextLayout.rflags), InitialRegisters.flags, resync: false)
        poke(partition, va + UInt64(ContextLayout.flags), flags, resync: false)
        poke(partition, va + UInt64(ContextLayout.fpu + 24), InitialRegisters.mxcsr, resync: resync)
    }

    // MARK: Kernel entries, checked

    /// Runs `event` as the current partition (or `as` one) and checks the refinement.
    @discardableResult
    func trap(_ event: TrapEvent, as partition: PhysicalAddress? = nil) -> TrapOutcome {
        if let partition, partition != system.current { become(partition) }
        let outcome = system.trap(event)
        violations += checker.step(event, outcome: outcome, system: system)
        steps += 1
        return outcome
    }

    /// A service call; the status and value it leaves in rax/rdx (0 and 0 for a switch).
    @discardableResult
    func call(_ service: Service, _ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0,
              _ a4: UInt64 = 0, as partition: PhysicalAddress? = nil) -> (status: Status, value: UInt64) {
        switch trap(.systemCall(number: service.rawValue, SystemCallArguments(a0, a1, a2, a3, a4)), as: partition) {
        case .returned(let status, let value): return (status, value)
        case .machineService: return (Status(rawValue: system.cpu.registers[ContextLayout.rax]) ?? .unknownService, 0)
        default: return (.success, 0)
        }
    }

    // MARK: Building trees through the services

    /// A new child of `parent` (its VIDT mapped unless `vidt` is false) with `pages` read/write
    /// pages at `ModelMachine.childPagesBase`, all through checked calls.
    @discardableResult
    func makeChild(of parent: PhysicalAddress, pages: Int, vidt: Bool = true) -> Kid {
        let s = (0..<5).map { _ in machine.takePage(parent) }
        let created = call(.createPartition, s[0], s[1], s[2], s[3], s[4], as: parent)
        precondition(created.status == .success, "refined: createPartition \(created.status)")
        guard let d = machine.translateStructure(parent, s[0]) else { fatalError("refined: no descriptor") }
        var kid = Kid(descriptor: d, name: s[0], parent: parent, pages: [])
        if vidt { give(kid, at: AddressSpace.vidt) }
        for k in 0..<pages {
            let va = ModelMachine.childPagesBase + UInt64(k) * AddressSpace.pageSize
            give(kid, at: va)
            kid.pages.append(va)
        }
        machine.pool[d.raw] = kid.pages.reversed()
        return kid
    }

    /// Prepares `vaChild` in `kid` with pages of its parent's pool (countToMap, then a free list).
    func prepare(_ kid: Kid, at vaChild: UInt64) {
        let parent = kid.parent
        let need = call(.countToMap, kid.name, vaChild, as: parent)
        precondition(need.status == .success, "refined: countToMap \(need.status)")
        guard need.value > 0 else { return }
        let free = (0..<need.value).map { _ in machine.takePage(parent) }
        machine.writeFreeList(parent, free)
        checker.resynchronize(system)
        let r = call(.prepare, kid.name, vaChild, free[0], as: parent)
        precondition(r.status == .success, "refined: prepare \(r.status)")
    }

    /// One page of the parent's pool shared with `kid` at `vaChild`, prepared first if needed.
    func give(_ kid: Kid, at vaChild: UInt64, rights: UInt64 = Rights.read | Rights.write) {
        let parent = kid.parent
        prepare(kid, at: vaChild)
        let added = call(.addVAddr, machine.takePage(parent), kid.name, vaChild, rights, as: parent)
        precondition(added.status == .success, "refined: addVAddr \(added.status)")
    }

    // MARK: Assertions

    /// Expects no refinement violation so far.
    func expectRefines(_ context: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(steps > 0, "no step was checked", sourceLocation: sourceLocation)
        #expect(violations.isEmpty, "\(context()): \(violations.prefix(6).map(\.description).joined(separator: "\n"))",
                sourceLocation: sourceLocation)
    }
}
