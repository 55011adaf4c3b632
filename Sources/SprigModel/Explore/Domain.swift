/// The explorer's moves: what ring 3 can do in one step, with arguments from an *interesting
/// domain* computed from the current state, and how each step reads as one line.
///
/// A step (`ExplorationStep`) is something the *current* partition does:
///
/// * a kernel entry (`TrapEvent`): a system call of any service (memory services, yield, the
///   root-only machine services, an unknown number), a CPU exception, a hardware interrupt (only
///   while the running partition has `rflags.IF` set, as on the machine), or `int n`;
/// * a ring-3 write of a few words at its own vaddrs (a VIDT entry, a free list). The write goes
///   through the CPU's TLB and else the partition's tables as the MMU walks them (`ModelTLB`):
///   a word it cannot write turns the step into the page fault (#PF, CR2 = that vaddr) the CPU
///   would raise, delivered by the kernel.
///
/// Arguments are not random numbers: `Domain.steps(for:)` reads the partition tree and offers,
/// for the caller, its lowest free pages ("fresh"), a page it gave to a child, a page it gave to
/// the kernel (a structure page, inaccessible), its VIDT page, another partition's page, a
/// kernel page as the caller could name it (the window address of a kernel page, the kernel
/// image's address), a misaligned, a non-canonical, a kernel-half and an unmapped address, 0,
/// its children's names and a name that is no child, the VIDT indices of
/// `DomainConfiguration.vidtIndices`, flags 0/1. To keep the branching factor small, each
/// service is called with a *base* argument tuple that is valid, then with tuples that change
/// one argument at a time to each of its hostile values (one-factor-at-a-time). The full list is
/// in docs/check.md.
///
/// The fuzzer reuses this file: `steps(for:)` gives the finite menu of a state, so a byte picks
/// a step, and `apply(to:)` runs it.
import SprigABI
import SprigCore

/// How large the argument domain is.
public struct DomainConfiguration: Equatable, Sendable {
    /// How many VIDT indices of `Domain.vidtIndexOrder` are used as yield targets and save
    /// slots and as VIDT entries a partition may write (1…6).
    public var vidtSlots: Int = 3
    /// No `createPartition` is offered once this many partitions are alive (root included).
    public var maxPartitions: Int = 3

    /// Which groups of steps the menu offers (`StepGroup`); every group by default.
    package var menu: Set<StepGroup> = Set(StepGroup.allCases)

    /// The default domain: 3 VIDT indices, at most 3 live partitions, the full menu.
    package init(vidtSlots: Int = 3, maxPartitions: Int = 3, menu: Set<StepGroup> = Set(StepGroup.allCases)) {
        self.vidtSlots = vidtSlots
        self.maxPartitions = maxPartitions
        self.menu = menu
    }

    /// The VIDT indices in the domain: the first `vidtSlots` of `Domain.vidtIndexOrder`.
    public var vidtIndices: [UInt64] { Array(Domain.vidtIndexOrder.prefix(max(1, vidtSlots))) }
}

/// A group of steps of the menu. A focused menu (a few groups) branches less, so the search
/// goes deeper over what the groups exercise: `--menu yields,vidt-writes` reaches the yield
/// cache's four-step sequences.
package enum StepGroup: String, CaseIterable, Comparable, Sendable {
    /// `createPartition` and its hostile variants.
    case create
    /// The memory services: countToMap, prepare, addVAddr, removeVAddr, collect, mappedInChild,
    /// deletePartition, getIntState, setIntState, an unknown number.
    case memory
    /// `yield` to the parent and each child, over every class of VIDT index.
    case yields
    /// The root-only machine services.
    case machine
    /// Exceptions, interrupts, `int n`, the last bytes of the lower half.
    case events
    /// Ring-3 writes of VIDT entries (own and children's) and the straddling context.
    case vidtWrites = "vidt-writes"
    /// Ring-3 writes of free lists.
    case freeLists = "free-lists"
    /// One table change: for each child, removeVAddr and addVAddr (read/write) of its first page
    /// and nothing else of the memory services.
    case tableChange = "table-change"
    /// The calls built from the service table's rows for services no list above calls.
    case table

    public static func < (a: Self, b: Self) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// `"yields,vidt-writes"`, `"all"`: the groups named, or nil and the first unknown name.
    public static func parse(_ list: String) -> (groups: Set<StepGroup>?, unknown: String?) {
        if list == "all" { return (Set(allCases), nil) }
        var out: Set<StepGroup> = []
        for name in list.split(separator: ",").map({ String($0).filter { $0 != " " } }) {
            guard let g = StepGroup(rawValue: name) else { return (nil, name) }
            out.insert(g)
        }
        return out.isEmpty ? (nil, list) : (out, nil)
    }

    /// `"yields,vidt-writes"`, or `"all"`.
    public static func name(_ groups: Set<StepGroup>) -> String {
        groups == Set(allCases) ? "all" : groups.sorted().map(\.rawValue).joined(separator: ",")
    }
}

/// One word a partition writes at one of its own vaddrs.
public struct WordWrite: Equatable, Hashable, Sendable {
    /// The vaddr in the writing partition (8-byte aligned).
    public var vaddr: UInt64
    public var value: UInt64
    /// A word `value` at `vaddr`.
    public init(_ vaddr: UInt64, _ value: UInt64) { self.vaddr = vaddr; self.value = value }
}

/// One move of the current partition.
package enum ExplorationStep: Equatable, Sendable {
    /// An entry into the kernel.
    case trap(TrapEvent)
    /// Ring-3 stores, in order; the first the MMU refuses becomes a page fault.
    case write([WordWrite])
    /// The entry raised by a 2-byte instruction (`syscall`, `int n`) at the last two bytes of
    /// the lower half, or an interrupt taken right after it: ring 3 traps with rip
    /// `AddressSpace.lowerHalfEnd`, which is not canonical. Only code on a page at the VIDT
    /// address gets there; without an executable page there, fetching the instruction is the
    /// page fault the CPU raises (`lastBytes`).
    case fromLastBytes(TrapEvent)

    /// A system call of `service` with up to five arguments.
    public static func call(_ service: Service, _ a: UInt64...) -> ExplorationStep {
        let x = a + [UInt64](repeating: 0, count: max(0, 5 - a.count))
        return .trap(.systemCall(number: service.rawValue, SystemCallArguments(x[0], x[1], x[2], x[3], x[4])))
    }
}

/// What a step did.
package enum StepOutcome: Equatable, Sendable {
    /// Every word was written; the kernel was not entered.
    case wrote
    /// The kernel ran `event` (the step's own, or the page fault a write raised) and answered.
    case trapped(TrapEvent, TrapOutcome)

    /// The kernel entry and its outcome, if the kernel was entered.
    package var trap: (event: TrapEvent, outcome: TrapOutcome)? {
        if case .trapped(let e, let o) = self { return (e, o) }
        return nil
    }
}

/// Fixed addresses the domain uses.
public enum DomainAddress {
    /// Where children's pages go (`ModelMachine.childPagesBase`) and the child vaddrs offered.
    public static let childBase: UInt64 = ModelMachine.childPagesBase
    public static let nonCanonical: UInt64 = 0x0000_8000_0000_0000
    public static let kernelHalf: UInt64 = AddressSpace.upperHalfStart
    /// Lower half, canonical, mapped by nobody.
    public static let unmapped: UInt64 = 0x0000_7000_0000_0000
    /// Canonical, 256 bytes below the top of the address space: a range from there wraps.
    public static let topOfAddressSpace: UInt64 = 0xFFFF_FFFF_FFFF_FF00
    /// An unknown service number.
    public static let unknownService: UInt64 = 0x42
    /// A child vaddr in a 2 MiB region of its own with no page table in the tree start: a
    /// `prepare` there takes three pages (four when the child's head configuration page is full).
    public static let newRegion: UInt64 = childBase + 0x20_0000
    /// A VIDT index out of range (yield checks 1 and 2).
    public static let badIndex: UInt64 = VIDTIndex.count
}

/// The interesting domain of a state: the steps worth trying from it.
public struct Domain: Sendable {
    public var configuration: DomainConfiguration

    /// VIDT indices by interest: the timer vector (root's IRQ handler, a maskable signal), the
    /// STI save slot, index 0 (#DE, root's boot context), the last maskable vector (also the
    /// `int n` vector), the CLI save slot, the first free slot.
    public static let vidtIndexOrder: [UInt64] = [32, VIDTIndex.stiSave, 0, 255, VIDTIndex.cliSave, 258]

    /// One representative of every class of VIDT index the tree leaves unused, offered as yield
    /// target and save slot: an interrupt vector nobody set (100: maskable, entry 0), a free
    /// slot above the save slots (300), the last index (511: its entry ends the page), the
    /// first index out of range (512) and the index whose byte offset wraps to that of 32
    /// (2^61 + 32: 8 × it is 256 modulo 2^64), which a check on the offset instead of the index
    /// would take for 32. The kernel treats two indices of one class alike (it compares an
    /// index with 256 and 512, tells 32…255 from the rest for masking, and reads the entry),
    /// so one stands for all; docs/check.md gives the classes.
    public static let unusedVIDTIndices: [UInt64] = [100, 300, VIDTIndex.count - 1, VIDTIndex.count, 1 << 61 | 32]

    /// A domain of the given size.
    package init(_ configuration: DomainConfiguration = DomainConfiguration()) { self.configuration = configuration }

    /// The steps of the current partition of `system`, in a fixed order (the same state always
    /// gives the same list).
    package func steps(for system: ModelSystem) -> [ExplorationStep] {
        steps(for: system, tree: system.machine.tree())
    }

    /// The same, with the tree already read from `system`'s memory.
    package func steps(for system: ModelSystem, tree t: PartitionTree) -> [ExplorationStep] {
        guard let me = t.partitions.firstIndex(where: { $0.descriptor == system.current.raw }) else { return [] }
        let v = CallerView(t, me, system.machine)
        var out: [ExplorationStep] = []
        let menu = configuration.menu
        if menu.contains(.create), t.partitions.count < configuration.maxPartitions { out += createPartition(v) }
        if menu.contains(.memory) { out += memoryServices(v) + takeBacks(v, t) }
        if menu.contains(.tableChange) { out += tableChange(v) }
        if menu.contains(.yields) { out += yields(v) }
        if menu.contains(.machine) { out += machineServices(v) }
        if menu.contains(.events) { out += events(v, system) }
        if menu.contains(.vidtWrites) { out += vidtWrites(v, t) }
        if menu.contains(.freeLists) { out += freeLists(v) }
        if menu.contains(.table) { out += tableSteps(v, excluding: Self.tunedServices) }
        return Self.unique(out)
    }

    /// `steps` without the repeats, in the order of their first occurrence. Equal steps have
    /// equal fingerprints, so a step whose fingerprint is new is new; only a step whose
    /// fingerprint was seen is compared with the steps kept.
    static func unique(_ steps: [ExplorationStep]) -> [ExplorationStep] {
        var kept: [ExplorationStep] = []
        kept.reserveCapacity(steps.count)
        var firstWith: [UInt64: Int] = [:]
        firstWith.reserveCapacity(steps.count)
        for s in steps {
            let f = s.fingerprint
            if let i = firstWith[f] {
                if kept[i] == s || kept.contains(s) { continue }
            } else {
                firstWith[f] = kept.count
            }
            kept.append(s)
        }
        return kept
    }

    // MARK: Services

    /// The services the hand-tuned lists below call (read off the steps of a fresh system's
    /// root, where every one of them is offered). A service of the table outside it gets
    /// `tableSteps`, so that the explorer calls every service the table has.
    static let tunedServices: Set<Service> = {
        let system = ModelSystem(pages: 128)
        let t = system.machine.tree()
        let v = CallerView(t, 0, system.machine)
        let d = Domain()
        let steps = d.createPartition(v) + d.memoryServices(v) + d.yields(v) + d.machineServices(v)
        return Set(steps.compactMap { step in
            guard case .trap(.systemCall(let number, _)) = step else { return nil }
            return Service(rawValue: number)
        })
    }()

    /// For every service of the table not in `excluding`: a call with arguments of the kinds the
    /// table names, once well-formed and once hostile in every register.
    func tableSteps(_ v: CallerView, excluding covered: Set<Service>) -> [ExplorationStep] {
        var out: [ExplorationStep] = []
        for service in Service.allCases where !covered.contains(service) {
            let a = service.arguments
            let good = (0..<a.count).map { Self.value(of: a[$0].kind, v, hostile: false) }
            let bad = (0..<a.count).map { Self.value(of: a[$0].kind, v, hostile: true) }
            for x in [good, bad] {
                let r = x + [UInt64](repeating: 0, count: 5 - x.count)
                out.append(.trap(.systemCall(number: service.rawValue, SystemCallArguments(r[0], r[1], r[2], r[3], r[4]))))
            }
        }
        return out
    }

    /// A value of argument kind `kind` for the caller `v`: one it could well use, or a hostile one.
    static func value(of kind: Service.ArgumentKind, _ v: CallerView, hostile: Bool) -> UInt64 {
        switch kind {
        case .page, .address, .freeList: return hostile ? DomainAddress.kernelHalf : v.fresh.first ?? 0
        case .child: return hostile ? v.notAChild : v.children.first ?? v.notAChild
        case .childAddress: return hostile ? DomainAddress.nonCanonical : DomainAddress.childBase
        case .rights: return hostile ? 8 : Rights.read | Rights.write
        case .vidtIndex: return hostile ? DomainAddress.badIndex : 32
        case .flag: return hostile ? 2 : 1
        case .number: return hostile ? UInt64.max : 1
        }
    }

    private func createPartition(_ v: CallerView) -> [ExplorationStep] {
        let f = v.fresh
        guard f.count >= 5 else { return [] }
        let base = Array(f.prefix(5))
        // A page the caller may read but not write (root's image) as the configuration page:
        // the kernel will write it (`pageNotWritable`).
        let readOnly = v.readOnly.map { [$0] } ?? []
        return Self.variations(base, [[], [], [], [], [f[0], f[3], v.structure, v.given, v.kernelName, AddressSpace.vidt, f[0] | 8] + readOnly])
            .map { .trap(.systemCall(number: Service.createPartition.rawValue, SystemCallArguments($0[0], $0[1], $0[2], $0[3], $0[4]))) }
            + [.call(.createPartition, AddressSpace.vidt, f[1], f[2], f[3], f[4])]
    }

    private func memoryServices(_ v: CallerView) -> [ExplorationStep] {
        var out: [ExplorationStep] = []
        let vas = [DomainAddress.childBase, DomainAddress.childBase + AddressSpace.pageSize, AddressSpace.vidt,
                   DomainAddress.newRegion]
        let hostileVAs = [DomainAddress.childBase | 8, DomainAddress.kernelHalf, DomainAddress.nonCanonical]
        let f0 = v.fresh.first ?? 0
        for child in v.children + [v.notAChild] {
            let isChild = child != v.notAChild
            for va in vas {
                out.append(.call(.countToMap, child, va))
                out.append(.call(.prepare, child, va, f0))
                out.append(.call(.removeVAddr, child, va))
                out.append(.call(.collect, child, va))
                if !isChild { break }
            }
            guard isChild else { continue }
            // Vaddr 0, entry 0 at every level: a table whose only mapping is there is not empty.
            out.append(.call(.collect, child, 0))
            out += hostileVAs.map { .call(.countToMap, child, $0) }
            out += hostileVAs.map { .call(.removeVAddr, child, $0) }
            out.append(.call(.prepare, child, vas[0], v.structure))
            out.append(.call(.prepare, child, vas[0], DomainAddress.unmapped))
            let rw = Rights.read | Rights.write
            out += Self.variations([f0, child, vas[0], rw],
                              [[v.given, v.structure, AddressSpace.vidt, f0 | 8, v.kernelName, v.foreign, DomainAddress.kernelHalf],
                               [], vas + hostileVAs, [Rights.read, Rights.all, 0, 8]])
                .map { .call(.addVAddr, $0[0], $0[1], $0[2], $0[3]) }
            // Write rights on a page the caller may only read (`rightsExceedCaller`).
            if let ro = v.readOnly { out.append(.call(.addVAddr, ro, child, vas[0], rw)) }
            // Code on the child's VIDT page (`executeAtVIDT`), with a page the caller may execute.
            out.append(.call(.addVAddr, v.executable ?? f0, child, AddressSpace.vidt, Rights.all))
            out.append(.call(.deletePartition, child))
            out.append(.call(.getIntState, child))
        }
        out.append(.call(.deletePartition, v.notAChild))
        out.append(.call(.getIntState, v.notAChild))
        out += [f0, v.given, v.structure, v.children.first ?? 0, v.kernelName, f0 | 8].map { .call(.mappedInChild, $0) }
        out += [0, 1, 2].map { .call(.setIntState, $0) }
        out.append(.trap(.systemCall(number: DomainAddress.unknownService, SystemCallArguments())))
        // The first number past the service table: refused before the table is read.
        out.append(.trap(.systemCall(number: Service.numberLimit, SystemCallArguments())))
        return out
    }

    /// `removeVAddr` of what each child gave on: its lowest page given to a grandchild, and its
    /// lowest structure page that is no child's descriptor (a grandchild's table, shadow or
    /// configuration page). Both are `pageGivenFurther`.
    private func takeBacks(_ v: CallerView, _ t: PartitionTree) -> [ExplorationStep] {
        let me = t.partitions[v.index]
        var out: [ExplorationStep] = []
        for ci in me.children {
            let c = t.partitions[ci]
            guard let name = me.leaves.first(where: { $0.paddr == c.descriptor && $0.sh1 & Shadow.descriptorFlag != 0 })?.va
            else { continue }
            let given = c.leaves.filter { $0.accessible && $0.sh1 != 0 && $0.sh1 & Shadow.descriptorFlag == 0 }.map(\.va).min()
            let structure = c.leaves.filter { !$0.accessible && $0.sh1 == 0 }.map(\.va).min()
            out += [given, structure].compactMap { $0 }.map { .call(.removeVAddr, name, $0) }
        }
        return out
    }

    /// For the parent (not from root) and each child: the base (first index of the domain as
    /// target, the last as save slot) varied one argument at a time through every index the
    /// tree uses and one representative of every class of index it does not
    /// (`unusedVIDTIndices`), for target and save; flags 1.
    private func yields(_ v: CallerView) -> [ExplorationStep] {
        let slots = configuration.vidtIndices
        let indices = slots + Self.unusedVIDTIndices
        var out: [ExplorationStep] = []
        let callees: [UInt64] = (v.isRoot ? [] : [0]) + v.children
        for callee in callees {
            out += Self.variations([callee, slots[0], slots.last!, 0, 0], [[], indices, indices, [1], [1]])
                .map { .call(.yield, $0[0], $0[1], $0[2], $0[3], $0[4]) }
        }
        // Refusals that need no callee: root asking its parent, a name that is no child.
        out.append(.call(.yield, v.isRoot ? 0 : v.notAChild, slots[0], slots.last!, 0, 0))
        out.append(.call(.yield, v.notAChild, slots[0], slots.last!, 0, 0))
        return out
    }

    /// The root-only services, each once with arguments it accepts and once with ones it must
    /// refuse (and from any other partition, `rootOnly`). `consoleRead` finds nothing waiting
    /// from most starts (the model's serial port is empty), so a success writes nothing; the
    /// `addresses` scenario puts bytes there. Its accepted short read lies over the boundary of
    /// two free pages, from an odd address (pieces of 7 and 9 bytes); its refusals — a
    /// structure page (not writable), too long — are what the explorer adds. For both
    /// services, the longest accepted length and one more sit on either side of the bound.
    private func machineServices(_ v: CallerView) -> [ExplorationStep] {
        let f0 = v.fresh.first ?? 0
        return [.call(.consoleWrite, f0, 8), .call(.consoleWrite, v.kernelName, 8),
                .call(.consoleWrite, f0, Limits.consoleWriteMax), .call(.consoleWrite, f0, Limits.consoleWriteMax + 1),
                // A kernel-half range that would wrap past the top of the address space, and
                // the last bytes of the lower half (root's VIDT page): a range ending exactly there.
                .call(.consoleWrite, DomainAddress.topOfAddressSpace, 0x200),
                .call(.consoleWrite, AddressSpace.lowerHalfEnd - 8, 8),
                // A range over two pages: the console gets both pieces, in order.
                .call(.consoleWrite, f0 + AddressSpace.pageSize - 8, 16),
                .call(.setTimer, 100), .call(.setTimer, 5), .call(.powerOff, 0), .call(.powerOff, 0x70),
                .call(.consoleRead, (v.freeBoundary ?? f0 + AddressSpace.pageSize) - 7, 16), .call(.consoleRead, v.structure, 8),
                .call(.consoleRead, f0, Limits.consoleReadMax), .call(.consoleRead, f0, Limits.consoleReadMax + 1),
                .call(.setConsoleInterrupt, 1), .call(.setConsoleInterrupt, 2)]
    }

    private func events(_ v: CallerView, _ system: ModelSystem) -> [ExplorationStep] {
        var out: [ExplorationStep] = [
            .trap(.exception(vector: 0, errorCode: 0, faultAddress: 0)),
            .trap(.exception(vector: 14, errorCode: 6, faultAddress: DomainAddress.unmapped)),
            .trap(.softwareInterrupt(vector: 3)),
            .trap(.softwareInterrupt(vector: 255)),
        ]
        if system.cpu.interruptsEnabled { out.append(.trap(.hardwareInterrupt(vector: 32))) }
        // The way back to a rip past the end of the lower half: a service's return, a refused
        // or delivered int n, a dropped or delivered interrupt.
        out.append(.fromLastBytes(.systemCall(number: DomainAddress.unknownService, SystemCallArguments())))
        out.append(.fromLastBytes(.softwareInterrupt(vector: 255)))
        if system.cpu.interruptsEnabled { out.append(.fromLastBytes(.hardwareInterrupt(vector: 32))) }
        // An NMI arrives whatever the running partition's IF.
        out.append(.trap(.hardwareInterrupt(vector: VIDTIndex.nmi)))
        return out
    }

    /// One change of a child's tables and nothing else of the memory services: for each child,
    /// removeVAddr of its first page and addVAddr (read/write, a fresh page) there again.
    private func tableChange(_ v: CallerView) -> [ExplorationStep] {
        let f0 = v.fresh.first ?? 0
        return v.children.flatMap { child in
            [.call(.removeVAddr, child, DomainAddress.childBase),
             .call(.addVAddr, f0, child, DomainAddress.childBase, Rights.read | Rights.write)] as [ExplorationStep]
        }
    }

    // MARK: Ring-3 writes

    /// VIDT entries of the caller and of its children (through the caller's own mapping of the
    /// child's VIDT page), and a straddling context of its own with a word in the FXSAVE bytes
    /// the CPU does not write.
    private func vidtWrites(_ v: CallerView, _ t: PartitionTree) -> [ExplorationStep] {
        var out: [ExplorationStep] = []
        let slots = configuration.vidtIndices
        // (where the VIDT page is in the caller, the partition whose VIDT it is)
        var vidts: [(UInt64, Int)] = [(AddressSpace.vidt, v.index)]
        for ci in t.partitions[v.index].children {
            if let leaf = t.partitions[ci].byVA[AddressSpace.vidt].map({ t.partitions[ci].leaves[$0] }) {
                vidts.append((leaf.sh2, ci))
            }
        }
        for (vidtVA, owner) in vidts {
            let ov = CallerView(t, owner, v.machine)
            for (k, slot) in slots.enumerated() {
                let values = Self.vidtValues(ov, slot: k)
                for value in values {
                    out.append(.write([WordWrite(vidtVA + 8 * slot, value)]))
                }
                // Its own straddling context, with a mark in FXSAVE bytes the CPU never writes
                // (416…): a load through the kernel's staging area carries it there.
                if owner == v.index {
                    out.append(.write([WordWrite(vidtVA + 8 * slot, values[2]),
                                       WordWrite(values[2] + UInt64(ContextLayout.fpu + 416), RegisterMarks.mark(v.machine.root, 0xF0) ^ UInt64(k))]))
                }
            }
        }
        return out
    }

    /// Free lists over the caller's fresh pages: four pages (enough for a page table and one
    /// more configuration page), a loop, a link to a structure page.
    private func freeLists(_ v: CallerView) -> [ExplorationStep] {
        var out: [ExplorationStep] = []
        let f = v.fresh
        if f.count >= 4 {
            out.append(.write(Self.freeList(Array(f.prefix(4)), end: 0)))
            out.append(.write(Self.freeList(Array(f.prefix(2)), end: f[0])))
            out.append(.write(Self.freeList(Array(f.prefix(2)), end: v.structure)))
        }
        return out
    }

    /// Values for `owner`'s VIDT entry number `k` of the domain (vaddrs in `owner`): none, a
    /// context on one of its free pages (a different page per slot, from the top), one that
    /// straddles into the next page, its VIDT page itself, and a page given to the kernel (the
    /// paper's Fig. 4) or else the kernel's own address; for the first slot also a context
    /// ending exactly at the end of its page (the next page, not mapped after the highest free
    /// one, is not part of it).
    static func vidtValues(_ owner: CallerView, slot k: Int) -> [UInt64] {
        let tops = owner.free.reversed() as [UInt64]
        let page = tops.isEmpty ? DomainAddress.unmapped : tops[k % tops.count]
        let straddle = page + AddressSpace.pageSize - UInt64(ContextLayout.size / 2)
        let kernel = owner.structureOrNil ?? ModelMachine.kernelBase
        let ending = page + AddressSpace.pageSize - UInt64(ContextLayout.size)
        return [0, page, straddle, AddressSpace.vidt, kernel] + (k == 0 ? [ending] : [])
    }

    /// The writes making `pages` a free list (each page's first word is the next), the last
    /// linking to `end`.
    public static func freeList(_ pages: [UInt64], end: UInt64) -> [WordWrite] {
        pages.enumerated().map { k, va in WordWrite(va, k + 1 < pages.count ? pages[k + 1] : end) }
    }

    /// `base`, then `base` with argument i replaced by each value of `alternatives[i]`, one
    /// argument at a time, duplicates removed.
    static func variations(_ base: [UInt64], _ alternatives: [[UInt64]]) -> [[UInt64]] {
        var out = [base]
        for (i, values) in alternatives.enumerated() {
            for x in values {
                var t = base
                t[i] = x
                if !out.contains(t) { out.append(t) }
            }
        }
        return out
    }
}

/// What a partition can name, read from the tree: the raw material of the domain.
struct CallerView {
    let index: Int
    let machine: ModelMachine
    let isRoot: Bool
    /// Accessible, writable pages given to nobody, lowest vaddr first (not the VIDT page).
    let free: [UInt64]
    /// Children's names (descriptor vaddrs in this partition).
    let children: [UInt64]
    /// A page given to a child, a page given to the kernel (inaccessible), or nil.
    let givenOrNil: UInt64?
    let structureOrNil: UInt64?
    /// Another partition's page, at its vaddr in that partition.
    let foreign: UInt64
    /// The lowest free page the partition may execute, if any.
    let executable: UInt64?
    /// The lowest page it may read but not write, given to nobody, if any.
    let readOnly: UInt64?

    init(_ t: PartitionTree, _ index: Int, _ machine: ModelMachine) {
        self.index = index
        self.machine = machine
        let p = t.partitions[index]
        isRoot = p.parent == nil
        free = p.leaves.filter { $0.accessible && $0.writable && $0.sh1 == 0 && $0.va != AddressSpace.vidt }.map(\.va).sorted()
        executable = p.leaves.filter { $0.accessible && $0.executable && $0.sh1 == 0 && $0.va != AddressSpace.vidt }.map(\.va).min()
        readOnly = p.leaves.filter { $0.accessible && !$0.writable && $0.sh1 == 0 }.map(\.va).min()
        children = p.leaves.filter { $0.sh1 & Shadow.descriptorFlag != 0 }.map(\.va).sorted()
        givenOrNil = p.leaves.filter { $0.accessible && $0.sh1 != 0 && $0.sh1 & Shadow.descriptorFlag == 0 }.map(\.va).min()
        structureOrNil = p.leaves.filter { !$0.accessible }.map(\.va).min()
        let other = t.partitions.indices.first { $0 != index && !t.partitions[$0].leaves.isEmpty }
        foreign = other.flatMap { o in t.partitions[o].leaves.map(\.va).filter { p.byVA[$0] == nil }.min() } ?? DomainAddress.unmapped
    }

    /// The first few free pages: what a partition hands to the kernel.
    var fresh: [UInt64] { Array(free.prefix(8)) }
    /// The lowest vaddr where one free page ends and another begins, if any: a range over it
    /// lies on two pages.
    var freeBoundary: UInt64? { zip(free, free.dropFirst()).first { $1 == $0 + AddressSpace.pageSize }?.1 }
    var given: UInt64 { givenOrNil ?? DomainAddress.unmapped }
    var structure: UInt64 { structureOrNil ?? DomainAddress.unmapped }
    /// A name that is no child: a free page, or an unmapped address.
    var notAChild: UInt64 { free.first ?? DomainAddress.unmapped }
    /// A kernel page as this partition could name it: root's window address of the first kernel
    /// page (never mapped: the window leaves kernel pages out).
    var kernelName: UInt64 { AddressSpace.rootWindowBase + (machine.kernelPages.min() ?? 0) }
}

// MARK: Running a step

extension ExplorationStep {
    /// Runs the step as the current partition of `system`: `prepare`, then `perform`.
    /// - Precondition: the system has not stopped (`ModelSystem.trap`).
    @discardableResult
    public func apply(to system: ModelSystem) -> StepOutcome {
        prepare(system)
        return perform(on: system)
    }

    /// Sets the trapped registers as ring 3 leaves them when it takes this step:
    /// `RegisterMarks` of the current partition, the interrupt flag it runs with, and for a
    /// system call the service number and arguments in rax, rdi, rsi, rdx, r10, r8; for
    /// `fromLastBytes`, the rip `lastBytes` gives.
    public func prepare(_ system: ModelSystem) {
        var r = RegisterMarks.registers(of: system.current, interruptsEnabled: system.cpu.interruptsEnabled)
        if case .systemCall(let number, let a)? = event {
            r[ContextLayout.rax] = number
            r[ContextLayout.rdi] = a.a0; r[ContextLayout.rsi] = a.a1; r[ContextLayout.rdx] = a.a2
            r[ContextLayout.r10] = a.a3; r[ContextLayout.r8] = a.a4
        }
        system.cpu.registers = r
        if case .fromLastBytes(let e) = self { _ = Self.lastBytes(e, on: system) }
    }

    /// Runs the step on the registers as they are. A write step is all or nothing: if the MMU
    /// refuses one of its words, that store is the one ring 3 makes first, nothing is written,
    /// and the kernel gets the page fault (error code U|W, plus P when a page is mapped there).
    /// - Precondition: the system has not stopped (`ModelSystem.trap`).
    public func perform(on system: ModelSystem) -> StepOutcome {
        switch self {
        case .trap(let event):
            return .trapped(event, system.trap(event))
        case .fromLastBytes(let event):
            let e = Self.lastBytes(event, on: system)
            return .trapped(e, system.trap(e))
        case .write(let words):
            let pml4 = system.cpu.currentPartition.rootTable(system.memory).paddr
            var targets: [PhysicalAddress] = []
            for w in words {
                precondition(w.vaddr & 7 == 0, "explorer: a misaligned word write")
                // Through the CPU's TLB, as ring 3's stores go (`ModelTLB`).
                guard case .success(let pa) = system.cpu.userAccess(w.vaddr, write: true) else {
                    let present = PageTableWalk.leaf(system.memory, rootTable: pml4, va: VirtualAddress(w.vaddr & ~0xFFF)) != nil
                    let fault = TrapEvent.exception(vector: 14, errorCode: 6 | (present ? 1 : 0), faultAddress: w.vaddr)
                    return .trapped(fault, system.trap(fault))
                }
                targets.append(pa)
            }
            for (w, pa) in zip(words, targets) { system.memory.store(pa, w.value) }
            return .wrote
        }
    }
}

extension ExplorationStep {
    /// The kernel entry, if the step is one.
    package var event: TrapEvent? {
        switch self {
        case .trap(let e), .fromLastBytes(let e): return e
        case .write: return nil
        }
    }

    /// Where the 2-byte instruction of `fromLastBytes` starts.
    public static let lastInstruction = AddressSpace.lowerHalfEnd - 2

    /// `event` raised at the last two bytes of the lower half by the current partition of
    /// `system`: sets the trapped rip as the CPU would and returns the entry the CPU makes. If
    /// the partition cannot execute there (no user page, or no-execute), it is the instruction
    /// fetch's page fault (error code U|I, plus P when a page is mapped), rip the instruction.
    package static func lastBytes(_ event: TrapEvent, on system: ModelSystem) -> TrapEvent {
        let pml4 = system.cpu.currentPartition.rootTable(system.memory).paddr
        let leaf = PageTableWalk.leaf(system.memory, rootTable: pml4, va: VirtualAddress(lastInstruction & ~0xFFF))?.entry
        guard let e = leaf, e.isPresent, e.isUser, e.isExecutable else {
            system.cpu.registers.rip = lastInstruction
            return .exception(vector: 14, errorCode: 0x14 | (leaf?.isPresent == true ? 1 : 0), faultAddress: lastInstruction)
        }
        system.cpu.registers.rip = AddressSpace.lowerHalfEnd
        return event
    }
}

/// The registers a partition runs with in the explorer: every word recognisably its own, so
/// that register hygiene can be checked after a switch (no partition ever sees another's).
public enum RegisterMarks {
    /// Marks are lower-half addresses nobody maps (so a marked rip survives sanitization):
    /// `tag | descriptor page number << 16 | register number`.
    static let tag: UInt64 = 0x0000_5E00_0000_0000

    /// Word `i` (below 256) of the marked register file of the partition whose descriptor is
    /// `descriptor`.
    package static func mark(_ descriptor: PhysicalAddress, _ i: Int) -> UInt64 {
        tag | (descriptor.raw >> 12 & 0xF_FFFF) << 16 | UInt64(i & 0xFF)
    }

    /// Whether `word` is one of `descriptor`'s marks.
    package static func isMark(_ word: UInt64, of descriptor: PhysicalAddress) -> Bool {
        word & ~0xFFFF == tag | (descriptor.raw >> 12 & 0xF_FFFF) << 16
    }

    /// What ring 3 has loaded in DS, ES, FS and GS: selectors it may load (the user data and
    /// code selectors, a null selector with RPL 3), none of them null.
    public static let dataSelectors: [UInt64] = [0x1B, 0x18, 0x23, 0x3]

    /// The marked register file: rip, rsp, every general register and every FXSAVE word a mark
    /// (the bytes the CPU holds: `ModelCPU.heldBytes`), except MXCSR (ring 3 cannot load
    /// reserved bits);
    /// rflags the reserved bit and the interrupt flag the partition runs with; `dataSelectors`.
    package static func registers(of descriptor: PhysicalAddress, interruptsEnabled: Bool) -> RegisterFile {
        var r = RegisterFile()
        var i = 0
        func next() -> UInt64 { i += 1; return mark(descriptor, i) }
        r.rip = next(); r.rsp = next()
        r.rflags = UserRegisters.rflags(0, interruptsEnabled: interruptsEnabled)
        for k in r.gprs.indices { r.gprs[k] = next() }
        for k in r.fpu.indices { r.fpu[k] = next() & ModelCPU.heldBytes(word: k) }
        r.fpu[3] = InitialRegisters.mxcsr | UInt64(UserRegisters.defaultMXCSRMask) << 32
        r.dataSelectors = dataSelectors
        return r
    }
}

// MARK: Readable lines

extension ExplorationStep {
    /// A word of the step's fields: equal steps have equal fingerprints (`Domain.unique`).
    var fingerprint: UInt64 {
        switch self {
        case .trap(let e): return Self.fingerprint(e)
        case .fromLastBytes(let e): return Self.mix(Self.fingerprint(e), 5)
        case .write(let words): return words.reduce(6 as UInt64) { Self.mix(Self.mix($0, $1.vaddr), $1.value) }
        }
    }

    private static func fingerprint(_ event: TrapEvent) -> UInt64 {
        switch event {
        case .systemCall(let n, let a): return mix(mix(mix(mix(mix(mix(1, n), a.a0), a.a1), a.a2), a.a3), a.a4)
        case .exception(let v, let code, let address): return mix(mix(mix(2, v), code), address)
        case .hardwareInterrupt(let v): return mix(3, v)
        case .softwareInterrupt(let v): return mix(4, v)
        }
    }

    private static func mix(_ h: UInt64, _ x: UInt64) -> UInt64 { StateImage.fmix(h ^ x &+ 0x9E37_79B9_7F4A_7C15) }
}

extension ExplorationStep: CustomStringConvertible {
    /// The step as one line, service names from `Service`: `yield(callee: 0x…, target: 32, …)`.
    public var description: String {
        switch self {
        case .trap(let event): return Self.render(event)
        case .fromLastBytes(let event): return Self.render(event) + " at the last two bytes of the lower half"
        case .write(let words):
            return "write " + words.map { "[\(Domain.hex($0.vaddr))] := \(Domain.hex($0.value))" }.joined(separator: ", ")
        }
    }

    /// A kernel entry as one line.
    package static func render(_ event: TrapEvent) -> String {
        switch event {
        case .systemCall(let number, let a):
            guard let s = Service(rawValue: number) else { return "syscall \(Domain.hex(number)) (unknown service)" }
            let values = [a.a0, a.a1, a.a2, a.a3, a.a4]
            let table = s.arguments
            // Numbers, indices, flags and rights in decimal; addresses and names in hex.
            let args = (0..<table.count).map { k in
                let value = values[k]
                switch table[k].kind {
                case .rights, .vidtIndex, .flag, .number: return "\(table[k].label): \(value)"
                case .page, .address, .freeList, .child, .childAddress: return "\(table[k].label): " + Domain.hex(value)
                }
            }
            return "\(s)(" + args.joined(separator: ", ") + ")"
        case .exception(let v, let e, let cr2):
            return "exception \(v)" + (v == 14 ? " (#PF, error \(e), cr2 \(Domain.hex(cr2)))" : "")
        case .hardwareInterrupt(let v): return "hardware interrupt \(v)"
        case .softwareInterrupt(let v): return "int \(v)"
        }
    }

    /// The argument names of a service: the service table's (DESIGN.md §4).
    public static func argumentLabels(_ s: Service) -> [String] {
        let a = s.arguments
        return (0..<a.count).map { "\(a[$0].label)" }
    }
}

extension StepOutcome: CustomStringConvertible {
    /// `success`, `success, 3`, `refused: invalidChild`, `resumed`, `kernel crash`, …
    public var description: String {
        switch self {
        case .wrote: return "written"
        case .trapped(let event, let outcome):
            let prefix: String
            if case .exception(14, _, let cr2) = event { prefix = "page fault at \(Domain.hex(cr2)) → " } else { prefix = "" }
            switch outcome {
            case .returned(let s, let value): return prefix + (value == 0 ? "\(s)" : "\(s), \(Domain.hex(value))")
            case .interruptRefused(let s): return prefix + "refused: \(s)"
            case .resume: return prefix + "resume"
            case .machineService(let s): return prefix + "machine service \(s)"
            case .kernelCrash: return prefix + "kernel crash report"
            }
        }
    }
}

extension Domain {
    /// `0x…` with underscores every four digits, as addresses are written in the code.
    public static func hex(_ x: UInt64) -> String {
    let digits = String(x, radix: 16)
    guard digits.count > 4 else { return "0x" + digits }
    var out = ""
    for (k, c) in digits.enumerated() {
        if k > 0 && (digits.count - k) % 4 == 0 { out.append("_") }
        out.append(c)
    }
    return "0x" + out
}
}
