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
            system.cpu.currentPartition.interruptState(system.memory).isEnabled)
        return system
    }

    /// Pages of the read/write run given to A, and where A's read-only page is.
    static let pagesOfA = 36
    static var readOnlyPageOfA: UInt64 { DomainAddress.childBase + UInt64(pagesOfA) * AddressSpace.pageSize }

    private static func buildTree(_ system: ModelSystem, vidtCode: Bool) {
        let m = system.machine
        var rootFree = m.rootWindow.sorted()
        let rw = Rights.read | Rights.write
        let a = makeChild(m, parent: m.root, free: &rootFree, take: Self.take, vidtFromImage: vidtCode,
                          pages: (0..<pagesOfA).map { (DomainAddress.childBase + UInt64($0) * AddressSpace.pageSize, rw) }
                              + [(readOnlyPageOfA, Rights.read)])
        var aFree = (0..<pagesOfA).map { DomainAddress.childBase + UInt64($0) * AddressSpace.pageSize }
        let b = makeChild(m, parent: a, free: &aFree, take: Self.take,
                          pages: (0..<2).map { (DomainAddress.childBase + UInt64($0) * AddressSpace.pageSize, rw) })
        for partition in [m.root, a, b] { setVIDT(system, partition) }
    }

    /// The top `n` pages of `free`, taken from it.
    static func take(_ free: inout [UInt64], _ n: Int) -> [UInt64] {
        precondition(free.count >= n, "explorer: the machine is too small for the start tree (use more pages)")
        let pages = Array(free.suffix(n))
        free.removeLast(n)
        return pages
    }

    /// A child of `parent` made with the real services, its VIDT page and `pages` (vaddr in the
    /// child, rights) taken from the top of `free` (vaddrs in the parent).
    static func makeChild(
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
    static func setVIDT(_ system: ModelSystem, _ partition: PhysicalAddress) {
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

/// A partition tree the explorer can start from, one of many generated: root and up to five
/// descendants in any shape of depth at most 3, built through the real services as `tree` is
/// (each child: a VIDT page, `ownPages` read/write pages and one read-only page at childBase…,
/// plus what it gives its own children; VIDT entries set in every partition).
///
/// Shapes are enumerated up to isomorphism: two trees that differ only by the order of
/// siblings are one shape (a renaming of partitions), so `all` gives each unordered rooted tree
/// once, as the `parents` list of its canonical preorder.
///
/// `fillConfiguration` pre-fills the first child's configuration list: root prepares page tables
/// of that child in regions of their own until the head configuration page has no room for
/// another table, then prepares `DomainAddress.newRegion`, which takes a second configuration
/// page. The child then has two configuration pages, and the explorer's `collect` there empties
/// and gives back the second.
public struct TreeShape: Hashable, Sendable, CustomStringConvertible {
    /// parents[i] is the index of node i + 1's parent (0 is root); a parent comes before its
    /// children (preorder).
    public var parents: [Int]
    /// Whether the first child's configuration list is pre-filled to two pages.
    public var fillConfiguration = false

    /// Free read/write pages each child keeps for itself (fresh pages, contexts).
    public static let ownPages = 8
    /// Pages of the model machine the shapes are built in (`fillConfiguration` needs 512).
    public static let pages = 256
    public static let pagesFilled = 512

    public init(parents: [Int], fillConfiguration: Bool = false) {
        self.parents = parents
        self.fillConfiguration = fillConfiguration
    }

    /// Partitions, root included.
    public var partitions: Int { parents.count + 1 }

    /// The depth of each node (root 0).
    public var depths: [Int] {
        var d = [0]
        for p in parents { d.append(d[p] + 1) }
        return d
    }

    /// `0,0,1`: the parents list; `+config` when the configuration list is pre-filled.
    public var description: String {
        (parents.isEmpty ? "root" : parents.map(String.init).joined(separator: ",")) + (fillConfiguration ? "+config" : "")
    }

    /// Reads `0,0,1` (or `root`, and an optional `+config` when there is a child to fill); nil
    /// when it is no tree in preorder.
    public init?(_ text: String) {
        var t = Substring(text)
        var fill = false
        if t.hasSuffix("+config") { fill = true; t = t.dropLast("+config".count) }
        if t == "root" && !fill { self.init(parents: []); return }
        var parents: [Int] = []
        for part in t.split(separator: ",", omittingEmptySubsequences: false) {
            guard let p = Int(part), p >= 0, p <= parents.count else { return nil }
            parents.append(p)
        }
        self.init(parents: parents, fillConfiguration: fill)
    }

    /// Every shape of 1…`maxPartitions` partitions and depth at most `maxDepth`, each once up
    /// to the order of siblings, smallest first.
    public static func all(maxPartitions: Int, maxDepth: Int = 3) -> [TreeShape] {
        var out: [TreeShape] = []
        for n in 1...max(1, maxPartitions) {
            for code in trees(size: n, depth: maxDepth) { out.append(TreeShape(parents: parents(of: code))) }
        }
        return out
    }

    /// The start trees `sprig check --shapes N` explores: `all(maxPartitions:)`, then root → A →
    /// B with A's configuration list pre-filled to two pages.
    public static func generated(maxPartitions: Int) -> [TreeShape] {
        all(maxPartitions: maxPartitions) + [TreeShape(parents: [0, 1], fillConfiguration: true)]
    }

    /// Canonical codes of unordered rooted trees of `size` nodes and height at most `depth`: a
    /// node is "(" + its children's codes in non-increasing order + ")".
    static func trees(size: Int, depth: Int) -> [String] {
        if size == 1 { return ["()"] }
        guard depth > 0 else { return [] }
        return forests(size: size - 1, depth: depth - 1, bound: nil).map { "(" + $0.joined() + ")" }
    }

    /// Lists of subtree codes (non-increasing, each at most `bound`) with `size` nodes in all.
    private static func forests(size: Int, depth: Int, bound: String?) -> [[String]] {
        if size == 0 { return [[]] }
        var out: [[String]] = []
        for s in 1...size {
            for t in trees(size: s, depth: depth) where bound.map({ t <= $0 }) ?? true {
                for rest in forests(size: size - s, depth: depth, bound: t) { out.append([t] + rest) }
            }
        }
        return out
    }

    /// The preorder parents list of a canonical code.
    static func parents(of code: String) -> [Int] {
        var parents: [Int] = []
        var stack: [Int] = []
        var next = 0
        for c in code {
            if c == "(" {
                if let top = stack.last { parents.append(top) }
                stack.append(next)
                next += 1
            } else {
                stack.removeLast()
            }
        }
        return parents
    }

    /// A fresh model system of `pages` pages (`pages`, or `pagesFilled` when the configuration
    /// list is filled) holding this tree; root runs.
    public func makeSystem(pages: Int? = nil) -> ModelSystem {
        let system = ModelSystem(pages: pages ?? (fillConfiguration ? Self.pagesFilled : Self.pages), kernelImagePages: 1)
        let m = system.machine
        // Pages each node needs from its parent beyond its own: what its children take.
        var need = [Int](repeating: 0, count: partitions)
        for i in stride(from: parents.count, to: 0, by: -1) {
            need[i] += Self.ownPages
            need[parents[i - 1]] += need[i] + Self.childCost
        }
        var descriptors = [m.root]
        var free: [[UInt64]] = [m.rootWindow.sorted()]
        for i in 1..<partitions {
            let parent = parents[i - 1]
            let count = need[i]
            let rw = Rights.read | Rights.write
            let pages = (0..<count).map { (DomainAddress.childBase + UInt64($0) * AddressSpace.pageSize, rw) }
                + [(DomainAddress.childBase + UInt64(count) * AddressSpace.pageSize, Rights.read)]
            descriptors.append(ExplorationStart.makeChild(m, parent: descriptors[parent], free: &free[parent],
                                                          take: ExplorationStart.take, pages: pages))
            free.append((0..<count).map { DomainAddress.childBase + UInt64($0) * AddressSpace.pageSize })
        }
        if fillConfiguration, partitions > 1 { Self.fill(m, child: descriptors[1], name: Self.childName(m, descriptors[1]), free: &free[0]) }
        for d in descriptors { ExplorationStart.setVIDT(system, d) }
        system.cpu.registers = RegisterMarks.registers(of: system.current, interruptsEnabled:
            system.cpu.currentPartition.interruptState(system.memory).isEnabled)
        return system
    }

    /// Pages a child costs its parent besides its own: the five of `createPartition`, the VIDT
    /// page, three table levels (with shadows) for the VIDT and three for childBase.
    static let childCost = 5 + 1 + 9 + 9 + 1

    /// Root's name for `child`: its descriptor's vaddr in root's window.
    private static func childName(_ m: ModelMachine, _ child: PhysicalAddress) -> UInt64 {
        AddressSpace.rootWindowBase + child.raw
    }

    /// Root prepares page tables of `child` in 2 MiB regions of their own until its head
    /// configuration page has no room for another table's three entries, then at
    /// `DomainAddress.newRegion`, which pushes a second configuration page.
    private static func fill(_ m: ModelMachine, child: PhysicalAddress, name: UInt64, free: inout [UInt64]) {
        var region: UInt64 = 2
        func prepare(_ va: UInt64) {
            let need = m.call(m.root, .countToMap, name, va)
            precondition(need.status == .success, "explorer: countToMap \(need.status)")
            let list = ExplorationStart.take(&free, Int(need.value))
            for w in Domain.freeList(list, end: 0) {
                guard let pa = m.translate(m.root, w.vaddr, write: true) else { preconditionFailure("explorer: free list") }
                m.memory.store(pa, w.value)
            }
            let r = m.call(m.root, .prepare, name, va, list[0])
            precondition(r.status == .success, "explorer: prepare \(r.status)")
        }
        let childDescriptor = m.descriptor(child)
        while ConfigList.headRoom(m.memory, childDescriptor) >= 3 {
            prepare(DomainAddress.childBase + region * 0x20_0000)
            region += 1
        }
        prepare(DomainAddress.newRegion)
        precondition(childDescriptor.configPages(m.memory) == 2, "explorer: the configuration list did not grow")
    }
}
