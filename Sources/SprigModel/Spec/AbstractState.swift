/// The state of Sprig's abstract specification: the kernel as DESIGN.md describes it, in plain
/// Swift values, with no page table, shadow or configuration-list word in sight.
///
/// What a partition *is*, abstractly (docs/spec.md explains each choice):
///
/// * its parent and its name (its descriptor's vaddr in the parent);
/// * the pages it maps: at each vaddr a physical page with rights (read is implied by being
///   mapped; write, execute), whether ring 3 may access it (a page given to the kernel as a
///   structure, by the partition or a descendant, is not), and what it did with it — kept, given
///   to a child, or the page *is* a child's descriptor;
/// * its structure pages: descriptor, the PML4 and shadow roots, one table page and two shadow
///   pages for every table node (PDPT, PD, PT) it has been prepared with, and the set of its
///   configuration pages;
/// * its interrupt state (0 enabled, 1 masked).
///
/// Beside the partitions: the contents of every page some partition can access (contexts,
/// VIDTs and free lists live there), the current partition, its registers, whether CR3 holds
/// the current partition's PML4, and the bytes waiting on the serial port (what `consoleRead`
/// will move into root's memory: input from outside, which the specification cannot invent). A partition's VIDT is not stored twice: it is the page it maps
/// accessibly at `AddressSpace.vidt`, read from `memory` (`vidt(of:)`).
///
/// The state is a value: `Hashable`, compared field by field by `RefinementChecker`.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SprigABI

/// One abstract machine state (see the file overview). Built by `Abstraction.of` from the
/// concrete model and by `Spec.step` from a previous state.
public struct AbstractState: Hashable, Sendable {
    /// Root's descriptor paddr.
    public var root: UInt64
    /// Every partition of the tree, by descriptor paddr.
    public var partitions: [UInt64: AbstractPartition]
    /// The partition running (trapped), by descriptor paddr.
    public var current: UInt64
    /// Its registers as ring 3 resumes with them.
    public var registers: RegisterFile
    /// CR3 holds the current partition's PML4.
    public var addressSpaceIsCurrent: Bool
    /// The contents of every physical page accessible to at least one partition, by paddr.
    /// Pages that are kernel structures or kernel pages are not here: no partition sees them.
    public var memory: [UInt64: PageWords]
    /// The CPU's MXCSR_MASK: a constant of the machine, used when a context is loaded.
    public var mxcsrMask: UInt32
    /// Bytes that have arrived on the serial port and not been read, oldest first.
    public var consoleInput: [UInt8]
    /// Every byte `consoleWrite` has sent to the console, in order.
    public var consoleOutput: [UInt8] = []

    public init(root: UInt64, partitions: [UInt64: AbstractPartition], current: UInt64, registers: RegisterFile,
                addressSpaceIsCurrent: Bool, memory: [UInt64: PageWords], mxcsrMask: UInt32, consoleInput: [UInt8] = []) {
        self.root = root; self.partitions = partitions; self.current = current; self.registers = registers
        self.addressSpaceIsCurrent = addressSpaceIsCurrent; self.memory = memory; self.mxcsrMask = mxcsrMask
        self.consoleInput = consoleInput
    }

    /// The physical page of `partition`'s VIDT when it maps one accessibly at `AddressSpace.vidt`.
    public func vidtPage(of partition: UInt64) -> UInt64? {
        guard let m = partitions[partition]?.pages[AddressSpace.vidt], m.accessible else { return nil }
        return m.page
    }

    /// `partition`'s VIDT as it sees it (512 entries), or nil when it has none it can access.
    public func vidt(of partition: UInt64) -> [UInt64]? {
        guard let page = vidtPage(of: partition), let words = memory[page] else { return nil }
        return (0..<Int(VIDTIndex.count)).map { words[$0] }
    }

    /// The partitions from `partition` up to root, `partition` first.
    public func selfAndAncestors(_ partition: UInt64) -> [UInt64] {
        var chain: [UInt64] = []
        var next: UInt64? = partition
        while let d = next, chain.count <= partitions.count {
            chain.append(d)
            next = partitions[d]?.parent
        }
        return chain
    }

    /// `partition` and every partition below it.
    public func subtree(_ partition: UInt64) -> Set<UInt64> {
        var result: Set<UInt64> = [partition]
        var grew = true
        while grew {
            grew = false
            for (d, p) in partitions where !result.contains(d) {
                if let up = p.parent, result.contains(up) { result.insert(d); grew = true }
            }
        }
        return result
    }
}

/// One partition, abstractly (see the file overview).
public struct AbstractPartition: Hashable, Sendable {
    /// The parent's descriptor paddr; nil for root.
    public var parent: UInt64?
    /// The descriptor's vaddr in the parent: how the parent names this partition (0 for root).
    public var name: UInt64
    /// `InterruptFlags.enabled` (0) or `masked` (1).
    public var interruptState: UInt64
    /// What the partition maps, by page-aligned vaddr.
    public var pages: [UInt64: Mapping]
    public var structures: Structures

    public init(parent: UInt64?, name: UInt64, interruptState: UInt64, pages: [UInt64: Mapping], structures: Structures) {
        self.parent = parent; self.name = name; self.interruptState = interruptState
        self.pages = pages; self.structures = structures
    }

    /// The vaddr at which this partition maps physical page `page`. A partition maps a page at
    /// most once: root maps each page once at boot, and a page is given to a child only once.
    public func vaddr(of page: UInt64) -> UInt64? {
        pages.first { $0.value.page == page }?.key
    }
}

/// One mapped page of a partition.
public struct Mapping: Hashable, Sendable {
    /// The physical page.
    public var page: UInt64
    /// `Rights` bits: `read` always (a mapped page is readable), `write`, `execute`.
    public var rights: UInt64
    /// Ring 3 may use it (false: the page is a kernel structure of this partition's subtree).
    public var accessible: Bool
    public var given: Given

    public init(page: UInt64, rights: UInt64, accessible: Bool, given: Given) {
        self.page = page; self.rights = rights; self.accessible = accessible; self.given = given
    }

    public var writable: Bool { rights & Rights.write != 0 }
    public var executable: Bool { rights & Rights.execute != 0 }
}

/// What a partition did with one of its pages (shadow 1, abstractly).
public enum Given: Hashable, Sendable {
    /// Nothing: the partition keeps it (it may still be a structure page, see `accessible`).
    case kept
    /// Shared with the child whose descriptor is this paddr (`addVAddr`).
    case toChild(UInt64)
    /// The page is the descriptor of the child with this paddr (`createPartition`).
    case descriptorOf(UInt64)
}

/// A table below the PML4 of a partition: which level, and the first vaddr it covers.
public struct TableNode: Hashable, Comparable, Sendable {
    /// 3 = PDPT (512 GiB), 2 = page directory (1 GiB), 1 = page table (2 MiB).
    public var level: Int
    /// The lowest vaddr the table covers (aligned to `span`).
    public var base: UInt64

    public init(level: Int, base: UInt64) { self.level = level; self.base = base }

    /// The node of `level` on the path of `va`.
    public init(level: Int, containing va: UInt64) {
        self.level = level
        base = va & ~(TableNode.span(level) - 1)
    }

    /// Bytes of address space a table of `level` covers.
    public static func span(_ level: Int) -> UInt64 { UInt64(1) << (12 + 9 * UInt64(level)) }

    public func covers(_ va: UInt64) -> Bool { va >= base && va - base < Self.span(level) }

    /// Higher levels first, then by address.
    public static func < (a: TableNode, b: TableNode) -> Bool { a.level != b.level ? a.level > b.level : a.base < b.base }
}

/// The kernel structure pages of one partition.
public struct Structures: Hashable, Sendable {
    public var descriptor: UInt64
    /// PML4, shadow-1 root, shadow-2 root.
    public var roots: [UInt64]
    /// For each table node: its table page, shadow-1 page, shadow-2 page.
    public var tables: [TableNode: [UInt64]]
    /// The configuration pages: which pages record the others (DESIGN.md §3), as a set. How
    /// the entries are spread over them and in which order the pages are linked is
    /// representation; what the specification states is that there are enough of them
    /// (`Spec.configPagesSuffice`). Empty for root, whose structures are the kernel's.
    public var configPages: Set<UInt64>

    public init(descriptor: UInt64, roots: [UInt64], tables: [TableNode: [UInt64]], configPages: Set<UInt64>) {
        self.descriptor = descriptor; self.roots = roots; self.tables = tables; self.configPages = configPages
    }

    /// Every structure page.
    public var all: [UInt64] {
        [descriptor] + roots + tables.values.flatMap { $0 } + configPages.sorted()
    }

    /// How many structure pages the configuration pages record: the descriptor, the three
    /// roots, and three pages (table, shadow 1, shadow 2) per table node.
    public var recordedCount: UInt64 { 4 + 3 * UInt64(tables.count) }
}

/// The 512 words of one physical page. Cheap to copy: it shares storage until written.
public struct PageWords: Hashable, Sendable {
    private var words: ArraySlice<UInt64>

    /// Words `start ..< start + 512` of `array`, sharing its storage.
    public init(_ array: [UInt64], start: Int) { words = array[start..<(start + Self.count)] }
    private init(zeros: Void) { words = ArraySlice(repeating: 0, count: Self.count) }

    public static let count = Int(AddressSpace.pageSize / 8)
    /// A page of zeros.
    public static let zero = PageWords(zeros: ())

    public subscript(index: Int) -> UInt64 {
        get { words[words.startIndex + index] }
        set { words[words.startIndex + index] = newValue }
    }

    /// The first word index where `self` and `other` differ.
    public func firstDifference(from other: PageWords) -> Int? {
        (0..<Self.count).first { self[$0] != other[$0] }
    }

    // Byte-wise comparison and hashing: the checker compares every accessible page after every
    // step, and the element-wise generic versions are slow in debug builds.
    public static func == (a: PageWords, b: PageWords) -> Bool {
        a.words.withUnsafeBytes { x in
            b.words.withUnsafeBytes { y in
                x.baseAddress == y.baseAddress || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0
            }
        }
    }

    public func hash(into hasher: inout Hasher) {
        words.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}

extension RegisterFile: Hashable {
    public func hash(into hasher: inout Hasher) {
        hasher.combine(rip); hasher.combine(rsp); hasher.combine(rflags)
        hasher.combine(gprs); hasher.combine(fpu)
    }
}
