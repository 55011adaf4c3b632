/// Where an exploration starts: a booted model machine, optionally with a small tree built
/// through the real services.
///
/// From a bare boot it takes about six steps before a child exists with tables, a VIDT and a
/// context (create, write a free list, prepare, share a VIDT page, write the entry, yield), and
/// exhaustive search cannot go that deep with a useful domain. So the default start is a tree
/// made the way a partition would make it (createPartition, countToMap, prepare, addVAddr,
/// ring-3 writes):
///
///     root ── A   VIDT page, 36 read/write pages and one read-only page at childBase…
///             └── B   VIDT page and 2 read/write pages at childBase…
///
/// and in every partition's VIDT, for each index of `Domain.vidtIndexOrder`, a context on one of
/// its own free pages (the value the domain itself writes there), except root's entry 0, its
/// boot context. Root runs, with interrupts enabled. Every step from here on is the explorer's.
import SprigABI
import SprigCore

/// The state exploration starts from.
public enum ExplorationStart: String, CaseIterable, Sendable {
    /// Root alone, as booted, running.
    case boot
    /// Root, a child A, a grandchild B, VIDT entries set (see the file overview).
    case tree
    /// The tree, but root asked for execute rights on A's VIDT page (its own executable image
    /// page): a kernel that refuses them (`executeAtVIDT`) gives A a read/write VIDT page, one
    /// that does not lets A run code at the last bytes of the lower half.
    case vidtCode = "vidt-code"

    /// What the start is, in one line.
    public var summary: String {
        switch self {
        case .boot: return "root alone, as booted"
        case .tree: return "root → A → B built through the services, VIDT entries with contexts in every partition"
        case .vidtCode: return "the tree, A's VIDT page root's executable image page, asked for with execute rights"
        }
    }

    /// A fresh model system of `pages` pages in this start state.
    /// - Precondition: `pages` leaves root enough pages for the tree (`tree` needs about 140).
    public func makeSystem(pages: Int) -> ModelSystem {
        let system = ModelSystem(pages: pages, kernelImagePages: 1)
        if self != .boot { Self.buildTree(system, vidtCode: self == .vidtCode) }
        system.cpu.registers = RegisterMarks.registers(of: system.current, interruptsEnabled:
            Partition.interruptState(system.memory, system.current).isEnabled)
        return system
    }

    /// Pages of the read/write run given to A, and where A's read-only page is.
    static let pagesOfA = 36
    static var readOnlyPageOfA: UInt64 { DomainAddress.childBase + UInt64(pagesOfA) * AddressSpace.pageSize }

    private static func buildTree(_ system: ModelSystem, vidtCode: Bool) {
        let m = system.machine
        var rootFree = m.rootWindow.sorted()
        func take(_ free: inout [UInt64], _ n: Int) -> [UInt64] {
            precondition(free.count >= n, "explorer: the machine is too small for the tree start (use more pages)")
            let pages = Array(free.suffix(n))
            free.removeLast(n)
            return pages
        }
        let rw = Rights.read | Rights.write
        let a = makeChild(m, parent: m.root, free: &rootFree, take: take, vidtFromImage: vidtCode,
                          pages: (0..<pagesOfA).map { (DomainAddress.childBase + UInt64($0) * AddressSpace.pageSize, rw) }
                              + [(readOnlyPageOfA, Rights.read)])
        var aFree = (0..<pagesOfA).map { DomainAddress.childBase + UInt64($0) * AddressSpace.pageSize }
        let b = makeChild(m, parent: a, free: &aFree, take: take,
                          pages: (0..<2).map { (DomainAddress.childBase + UInt64($0) * AddressSpace.pageSize, rw) })
        for partition in [m.root, a, b] { setVIDT(system, partition) }
    }

    /// A child of `parent` made with the real services, its VIDT page and `pages` (vaddr in the
    /// child, rights) taken from the top of `free` (vaddrs in the parent).
    private static func makeChild(
        _ m: ModelMachine, parent: PhysicalAddress, free: inout [UInt64],
        take: (inout [UInt64], Int) -> [UInt64], vidtFromImage: Bool = false, pages: [(UInt64, UInt64)]
    ) -> PhysicalAddress {
        let s = take(&free, 5)
        let created = m.call(parent, .createPartition, s[0], s[1], s[2], s[3], s[4])
        precondition(created.status == .success, "explorer: createPartition \(created.status)")
        for (va, rights) in [(AddressSpace.vidt, Rights.read | Rights.write)] + pages {
            let need = m.call(parent, .countToMap, s[0], va)
            precondition(need.status == .success, "explorer: countToMap \(need.status)")
            if need.value > 0 {
                let list = take(&free, Int(need.value))
                for w in Domain.freeList(list, end: 0) {
                    guard let pa = m.translate(parent, w.vaddr, write: true) else { preconditionFailure("explorer: free list") }
                    m.memory.store(pa, w.value)
                }
                let r = m.call(parent, .prepare, s[0], va, list[0])
                precondition(r.status == .success, "explorer: prepare \(r.status)")
            }
            if vidtFromImage && va == AddressSpace.vidt {
                // Code on the child's VIDT page, if the kernel lets a parent ask for it.
                if m.call(parent, .addVAddr, AddressSpace.imageBase, s[0], va, Rights.all).status == .success { continue }
                let r = m.call(parent, .addVAddr, AddressSpace.imageBase, s[0], va, rights)
                precondition(r.status == .success, "explorer: addVAddr \(r.status)")
                continue
            }
            let r = m.call(parent, .addVAddr, take(&free, 1)[0], s[0], va, rights)
            precondition(r.status == .success, "explorer: addVAddr \(r.status)")
        }
        guard let d = m.translateStructure(parent, s[0]) else { preconditionFailure("explorer: no descriptor") }
        return d
    }

    /// Sets `partition`'s VIDT entries as the domain would: a context on one of its free pages
    /// per index (root's entry 0 stays its boot context).
    private static func setVIDT(_ system: ModelSystem, _ partition: PhysicalAddress) {
        let m = system.machine
        let t = m.tree()
        guard let index = t.partitions.firstIndex(where: { $0.descriptor == partition.raw }) else { return }
        let view = CallerView(t, index, m)
        for (k, slot) in Domain.vidtIndexOrder.enumerated() where !(partition == m.root && slot == VIDTIndex.main) {
            let context = Domain.vidtValues(view, slot: k)[1]
            guard let pa = m.translate(partition, AddressSpace.vidt + 8 * slot, write: true) else { return }
            m.memory.store(pa, context)
        }
    }
}
