/// A small machine for the yield and delivery tests: root booted by the real `RootBuilder` into
/// simulated memory, a `ModelCPU`, and children made with the real services (createPartition,
/// prepare, addVAddr) exactly as a partition would ask for them.
///
/// Each `Part` keeps a pool of its own pages (vaddr in it, paddr) that the tests use for
/// contexts, for making grandchildren, and for the pages a parent gives.
import SprigABI
import SprigCore
import SprigModel
import Testing

final class Part {
    let descriptor: PhysicalAddress
    /// Its descriptor's vaddr in its parent (how the parent names it); 0 for root.
    let name: UInt64
    let parent: Part?
    var pool: [(va: UInt64, pa: PhysicalAddress)]
    init(descriptor: PhysicalAddress, name: UInt64, parent: Part?, pool: [(va: UInt64, pa: PhysicalAddress)]) {
        self.descriptor = descriptor; self.name = name; self.parent = parent; self.pool = pool
    }
    func take(_ n: Int) -> [(va: UInt64, pa: PhysicalAddress)] {
        precondition(pool.count >= n, "fixture: partition out of pages")
        let pages = Array(pool.prefix(n))
        pool.removeFirst(n)
        return pages
    }
}

final class YieldMachine {
    /// Helper A's model machine: boot through the real RootBuilder, kernel pages, properties.
    let machine: ModelMachine
    let memory: SimulatedMemory
    let cpu: ModelCPU
    let root: Part
    static let poolBase: UInt64 = 0x10_0000

    init(pages: Int = 1024) {
        machine = ModelMachine(pages: pages)
        memory = machine.memory
        cpu = ModelCPU(memory: memory, root: machine.descriptor(machine.root))
        // The fixture keeps root's pool itself; the machine's own helpers are not used here.
        root = Part(descriptor: machine.root, name: 0, parent: nil,
                    pool: machine.rootWindow.map { ($0, PhysicalAddress($0 - AddressSpace.rootWindowBase)) })
    }

    func pml4(_ p: Part) -> PhysicalAddress { machine.rootTable(p.descriptor) }

    /// Makes a child of `parent` with its VIDT mapped (unless `vidt` is false) and `poolPages`
    /// read/write pages at `poolBase` in the child.
    func makeChild(of parent: Part, poolPages: Int = 40, vidt: Bool = true) -> Part {
        let s = parent.take(5)
        let u = UserAddress.init
        let status = CreatePartition.createPartition(
            memory, caller: machine.descriptor(parent.descriptor), descriptor: u(s[0].va), rootTable: u(s[1].va),
            shadow1: u(s[2].va), shadow2: u(s[3].va), configList: u(s[4].va))
        precondition(status == .success, "fixture: createPartition \(status)")
        let child = Part(descriptor: s[0].pa, name: s[0].va, parent: parent, pool: [])
        if vidt { _ = give(parent, to: child, at: AddressSpace.vidt) }
        for i in 0..<poolPages {
            let va = Self.poolBase + UInt64(i) * AddressSpace.pageSize
            child.pool.append((va, give(parent, to: child, at: va)))
        }
        return child
    }

    /// Gives one of `parent`'s pool pages to `child` at `vaChild` (prepare first if needed).
    @discardableResult
    func give(_ parent: Part, to child: Part, at vaChild: UInt64, rights: UInt64 = Rights.read | Rights.write) -> PhysicalAddress {
        let u = UserAddress.init
        let (st, count) = Prepare.countToMap(memory, caller: machine.descriptor(parent.descriptor), child: u(child.name), vaChild: u(vaChild))
        precondition(st == .success, "fixture: countToMap \(st)")
        if count > 0 {
            let free = parent.take(Int(count))
            for (i, f) in free.enumerated() { memory.store(f.pa, i + 1 < free.count ? free[i + 1].va : 0) }
            let r = Prepare.prepare(memory, caller: machine.descriptor(parent.descriptor), child: u(child.name), vaChild: u(vaChild), freeList: u(free[0].va))
            precondition(r.status == .success, "fixture: prepare \(r.status)")
        }
        let page = parent.take(1)[0]
        let st2 = Sharing.addVAddr(memory, caller: machine.descriptor(parent.descriptor), vaParent: u(page.va), child: u(child.name), vaChild: u(vaChild), rights: UncheckedRights(rights))
        precondition(st2 == .success, "fixture: addVAddr \(st2)")
        return page.pa
    }

    // MARK: Partition memory, as the partition itself would write it

    /// The physical address behind `va` in `part` (whatever its rights), for the test to play
    /// the partition writing its own memory.
    func paddr(_ part: Part, _ va: UInt64) -> PhysicalAddress {
        guard let leaf = PageTableWalk.leaf(memory, rootTable: pml4(part), va: VirtualAddress(va & ~0xFFF))
        else { fatalError("fixture: \(va) not mapped") }
        return leaf.entry.frame.adding(va & 0xFFF)
    }
    func poke(_ part: Part, _ va: UInt64, _ value: UInt64) { memory.store(paddr(part, va), value) }
    func peek(_ part: Part, _ va: UInt64) -> UInt64 { memory.load(paddr(part, va)) }

    func setVIDT(_ part: Part, _ index: UInt64, _ va: UInt64) { poke(part, AddressSpace.vidt + 8 * index, va) }

    /// Writes a context at `va` in `part` whose every word is `tag << 32 | offset`, then `rip`,
    /// `rsp`, the initial rflags (`InitialRegisters.flags`) and `flags`.
    func writeContext(_ part: Part, at va: UInt64, tag: UInt64, rip: UInt64 = 0x40_0000, flags: UInt64 = 0) {
        var o = 0
        while o < ContextLayout.size { poke(part, va + UInt64(o), tag << 32 | UInt64(o)); o += 8 }
        poke(part, va + UInt64(ContextLayout.rip), rip)
        poke(part, va + UInt64(ContextLayout.rsp), 0x7000_0000 + tag)
        poke(part, va + UInt64(ContextLayout.rflags), InitialRegisters.flags)
        poke(part, va + UInt64(ContextLayout.flags), flags)
        poke(part, va + UInt64(ContextLayout.valid), 0)
        poke(part, va + UInt64(ContextLayout.fpu + 24), InitialRegisters.mxcsr)
    }

    /// The register file a context written by `writeContext` loads as (sanitized).
    func expectedRegisters(_ part: Part, at va: UInt64, interruptsEnabled: Bool = true) -> RegisterFile {
        var r = RegisterFile()
        r.rip = UserRegisters.rip(peek(part, va + UInt64(ContextLayout.rip)))
        r.rsp = peek(part, va + UInt64(ContextLayout.rsp))
        r.rflags = UserRegisters.rflags(peek(part, va + UInt64(ContextLayout.rflags)), interruptsEnabled: interruptsEnabled)
        for i in 0..<ContextLayout.gprCount { r.gprs[i] = peek(part, va + UInt64(ContextLayout.gprs + 8 * i)) }
        for w in r.fpu.indices { r.fpu[w] = peek(part, va + UInt64(ContextLayout.fpu + 8 * w)) & ModelCPU.heldBytes(word: w) }
        r.fpu[0] = r.fpu[0] & ~(1 << 31) | (r.fpu[0] >> 23 & 1) << 31
        r.fpu[3] = UInt64(UserRegisters.mxcsr(UInt32(truncatingIfNeeded: r.fpu[3]), mask: cpu.mxcsrMask)) | UInt64(cpu.mxcsrMask) << 32
        return r
    }

    /// A register file with every word `tag << 32 | i`: a partition's registers, recognizable.
    static func markedRegisters(tag: UInt64) -> RegisterFile {
        var r = RegisterFile()
        r.rip = 0x40_1000 + tag
        r.rsp = 0x6000_0000 + tag
        r.rflags = InitialRegisters.flags
        for i in 0..<ContextLayout.gprCount { r.gprs[i] = tag << 32 | UInt64(0x100 + i) }
        for w in 0..<r.fpu.count { r.fpu[w] = (tag << 32 | UInt64(0x200 + w)) & ModelCPU.heldBytes(word: w) }
        r.fpu[3] = InitialRegisters.mxcsr | UInt64(UserRegisters.defaultMXCSRMask) << 32
        return r
    }

    /// Makes `part` the partition trapped in the kernel with `registers`.
    func run(_ part: Part, _ registers: RegisterFile) {
        cpu.trap(as: machine.descriptor(part.descriptor), pml4: pml4(part), registers: registers)
    }

    // MARK: Checks

    struct Snapshot: Equatable {
        var memory: [UInt64]
        var cpu: ModelCPU.State
    }
    var snapshot: Snapshot { Snapshot(memory: memory.snapshot(), cpu: cpu.state) }

    /// The isolation properties of DESIGN.md §7, from the tables and structures as they are now.
    func checkProperties(sourceLocation: SourceLocation = #_sourceLocation) {
        let violations = machine.checkAllProperties()
        #expect(violations.isEmpty, "isolation properties: \(violations.prefix(3))", sourceLocation: sourceLocation)
    }

    /// Runs `body`, expects it to return `expected` (a refusal) and to have changed nothing.
    func expectRefused(_ expected: Status, sourceLocation: SourceLocation = #_sourceLocation, _ body: () -> Status) {
        let before = snapshot
        let status = body()
        #expect(status == expected, sourceLocation: sourceLocation)
        #expect(snapshot == before ? true : false, "a refused call changed the machine", sourceLocation: sourceLocation)
    }

    // MARK: The yield cache

    /// Storage indices of the yield-cache entries a lookup can hit now (of the current generation).
    var liveYieldEntries: [Int] {
        stride(from: YieldCache.base, to: YieldCache.base + YieldCache.words, by: YieldCache.entryWords).filter {
            KernelCache.isLive(tag: memory.translationCacheLoad($0 + YieldCache.tag), stamp: KernelCache.stamp(memory))
        }
    }

    /// Whether a live yield-cache entry keeps a plan of `caller`, at the target index `target`
    /// when one is given.
    func keepsPlan(caller: PhysicalAddress, target: UInt64? = nil) -> Bool {
        liveYieldEntries.contains { e in
            memory.translationCacheLoad(e + YieldCache.caller) == caller.raw
                && (target == nil || memory.translationCacheLoad(e + YieldCache.tag) & 0xFFFF == target)
        }
    }

    /// yield as the current partition, as the kernel decides a `syscall` of it (the fastpath,
    /// then the chain when the fastpath leaves it): its status.
    func yield(to callee: UInt64, target: UInt64, save: UInt64, onYield: UInt64 = 0, onWake: UInt64 = 0) -> Status {
        switch Kernel.knownSystemCall(cpu, number: Service.yield.rawValue, SystemCallArguments(callee, target, save, onYield, onWake)) {
        case .resume: return .success
        case .returned(let status, _): return status
        case let other: preconditionFailure("fixture: yield decided \(other)")
        }
    }
}
