/// The fuzzer's vocabulary: what ring 3 can do to the kernel, one step at a time, and how input
/// bytes choose it.
///
/// A step is what a partition could do: call a service with five raw registers, store a word in
/// its own memory (the MMU decides whether it may), link some of its pages into a free list,
/// take an exception, execute `int n`, or be interrupted by the hardware. `prepareFor` is the
/// one composite step: countToMap, link that many free pages, prepare — what every partition
/// program does before it maps a page in a child, and deep enough that random bytes would
/// rarely get there alone. Each part still enters the kernel through `ModelSystem.trap`.
///
/// Arguments are not raw bytes: each one is an `Arg` drawn from an interesting domain read off
/// the state *before* the step (`Choices`): the current partition's pages (free, given, any),
/// its children's names, the VIDT and its entries, vaddrs a child would use, other partitions'
/// pages, kernel and non-canonical addresses, misaligned and straddling addresses, small
/// numbers, and raw words. So the same input bytes mean the same choices whatever the run, and
/// a mutated byte moves an argument to a neighbouring choice rather than to noise.
///
/// Input format (every byte string is valid; missing bytes read as 0):
///
///     input  = step*
///     step   = op:byte payload          op % 24 picks the step (see `decodeStep`); ops 0…12
///                                       are the services of the table anyone may call, op 13
///                                       a root-only one, an unknown number, or serial input
///                                       arriving (a count and the bytes)
///     arg    = kind:byte payload        kind % 16 picks the domain (see `decodeArg`); for a
///                                       service argument, kind < 0xC0 means the kind the
///                                       service expects there (`expectedKinds`)
///
/// Ops 20…23 reuse the explorer's domain (Sources/SprigModel/Explore/Domain.swift): two bytes
/// pick an entry of `Domain.steps(for:)`, the finite menu `sprig check` explores, whose base
/// argument tuples are valid, so the fuzzer gets the explorer's well-formed calls and its own
/// free-form ones (the explorer's domain cannot name, say, a save slot on a page given to the
/// callee; `decodeArg` can).
import SprigABI
import SprigCore
import SprigModel

/// Where an argument came from, so a reproducer reads as a program, not as numbers.
enum Origin: Equatable {
    case zero
    case small
    case ownPage(Int)
    case freePage(Int)
    case ownPageOffset(Int, UInt64)
    case childName(Int)
    case givenPage(Int)
    case vidtEntry(UInt64)
    case childSpace(Int)
    case vidtIndex
    case rights
    case hostile(Int)
    case otherPartitionPage(Int)
    case raw
    case physical(Int)
    case straddling(Int, UInt64)
    /// Made by the harness (a composite step's own values).
    case derived
}

/// One argument: its value and where it came from.
struct Arg: CustomStringConvertible {
    var value: UInt64
    var origin: Origin

    var description: String {
        let hex = "0x" + String(value, radix: 16)
        switch origin {
        case .zero, .small, .vidtIndex, .rights, .raw, .derived: return hex
        case .ownPage(let i): return "\(hex) [own page #\(i)]"
        case .freePage(let i): return "\(hex) [free page #\(i)]"
        case .ownPageOffset(let i, let o): return "\(hex) [own page #\(i) + 0x\(String(o, radix: 16))]"
        case .childName(let i): return "\(hex) [child #\(i)]"
        case .givenPage(let i): return "\(hex) [given/structure page #\(i)]"
        case .vidtEntry(let k): return "\(hex) [VIDT[\(k)]]"
        case .childSpace(let i): return "\(hex) [child-space vaddr #\(i)]"
        case .hostile(let i): return "\(hex) [hostile #\(i)]"
        case .otherPartitionPage(let i): return "\(hex) [another partition's page #\(i)]"
        case .physical(let i): return "\(hex) [a descriptor's paddr #\(i)]"
        case .straddling(let i, let back): return "\(hex) [own page #\(i) end - 0x\(String(back, radix: 16))]"
        }
    }
}

/// One thing ring 3 does.
enum Step: CustomStringConvertible {
    /// `syscall` with rax = `number` and the argument registers.
    case call(number: UInt64, args: [Arg])
    /// A ring-3 store of `value` at `address` (8-byte aligned down) by the current partition;
    /// skipped when the MMU would refuse it (a refused store is the `exception` step's business).
    case store(address: Arg, value: Arg)
    /// Ring 3 writes a free list through its own mappings: each page's first word is the next.
    case link([Arg])
    /// countToMap(child, va), link that many free pages, prepare(child, va, first).
    case prepareFor(child: Arg, va: Arg)
    case hardwareInterrupt(vector: UInt64)
    case softwareInterrupt(vector: UInt64)
    case exception(vector: UInt64, errorCode: UInt64, address: Arg)
    /// Bytes arrive on the serial port (the outside world, not ring 3): the model's
    /// `consoleInput`, what the next `consoleRead`s take.
    case serialInput([UInt8])
    /// Entry `index` of the explorer's menu for the current state (`Domain.steps(for:)`),
    /// resolved when the step runs.
    case menu(index: Int)

    var description: String {
        switch self {
        case .call(let number, let args):
            let name = Service(rawValue: number).map { "\($0)" } ?? "service 0x\(String(number, radix: 16))"
            return "\(name)(\(args.map(\.description).joined(separator: ", ")))"
        case .store(let address, let value): return "store \(value) at \(address)"
        case .link(let pages): return "link free list \(pages.map(\.description).joined(separator: " -> "))"
        case .prepareFor(let child, let va): return "prepare child \(child) for \(va) (countToMap, link, prepare)"
        case .hardwareInterrupt(let v): return "hardware interrupt \(v)"
        case .softwareInterrupt(let v): return "int \(v)"
        case .exception(let v, let e, let a): return "exception \(v) error 0x\(String(e, radix: 16)) address \(a)"
        case .serialInput(let bytes): return "\(bytes.count) bytes arrive on the serial port"
        case .menu(let index): return "explorer's step #\(index)"
        }
    }
}

/// What the decoder may pick from: the current partition's view of the state before a step.
struct Choices {
    /// Vaddrs of the pages the current partition can read (in walk order).
    var ownPages: [UInt64] = []
    /// Of those, the ones it has not given to a child.
    var freePages: [UInt64] = []
    /// Vaddrs of pages it gave to a child or that are its children's structures.
    var givenPages: [UInt64] = []
    /// Its children's names (descriptor vaddrs in its space).
    var children: [UInt64] = []
    /// Vaddrs, in their own spaces, of other partitions' pages.
    var otherPages: [UInt64] = []
    /// Every descriptor's paddr.
    var descriptors: [UInt64] = []

    /// The choices of `current` in `tree`.
    init(tree: PartitionTree, current: UInt64) {
        for p in tree.partitions {
            descriptors.append(p.descriptor)
            guard p.descriptor == current else {
                if let leaf = p.leaves.first(where: \.accessible) { otherPages.append(leaf.va) }
                continue
            }
            for leaf in p.leaves {
                if leaf.accessible { ownPages.append(leaf.va) }
                if leaf.accessible && leaf.sh1 == 0 { freePages.append(leaf.va) }
                if leaf.sh1 != 0 || !leaf.accessible { givenPages.append(leaf.va) }
            }
            for c in p.children {
                if let k = p.byPage[tree.partitions[c].descriptor] { children.append(p.leaves[k].va) }
            }
        }
    }
}

/// Vaddrs a parent typically maps in a child (its VIDT, the pages below it, a data area) and
/// context addresses in them.
let childSpace: [UInt64] = [
    AddressSpace.vidt, AddressSpace.vidt - 0x1000, AddressSpace.vidt - 0x2000,
    ModelMachine.childPagesBase, ModelMachine.childPagesBase + 0x1000, ModelMachine.childPagesBase + 0x20_0000,
    AddressSpace.imageBase, 0x0000_0040_0000_0000,
    // Contexts that straddle into the next page: the VIDT page, a data page.
    AddressSpace.vidt - 0x180, ModelMachine.childPagesBase + 0x1000 - 0x180,
]

/// Addresses no service should accept as a page of the caller.
let hostile: [UInt64] = [
    ModelMachine.kernelBase, AddressSpace.upperHalfStart, 0x8000_0000_0000_0000, 0x0000_8000_0000_0000,
    AddressSpace.lowerHalfEnd - 16, AddressSpace.lowerHalfEnd - 0x1000, 0xFFFF_FFFF_FFFF_F000, 0x1,
    AddressSpace.rootWindowBase, AddressSpace.rootWindowBase + 0x1000, AddressSpace.bootInfo,
    AddressSpace.rootInitialContext, AddressSpace.rootStackTop - 0x1000, AddressSpace.vidt + 8, 0xFFF, 0x1000,
]

/// Harness tags in registers start with this prefix; raw words never do (see `Session`).
let tagPrefix: UInt64 = 0x5EED

/// Argument kinds (the `kind % 16` of the input format) a service expects in each position.
enum Expect {
    static let small: UInt8 = 1, freePage: UInt8 = 2, ownPage: UInt8 = 3, child: UInt8 = 5
    static let childSpace: UInt8 = 8, vidtIndex: UInt8 = 9, rights: UInt8 = 10
}

/// Decodes one argument. A kind byte below 0xC0 means "the kind this position expects"
/// (`expect`), so that three bytes in four make a well-typed argument and deep sequences (create
/// a child, prepare, share, yield) are not a one-in-a-million draw; the rest pick any kind.
func decodeArg(_ r: inout ByteReader, _ c: Choices, expect: UInt8? = nil) -> Arg {
    func pick(_ list: [UInt64], _ origin: (Int) -> Origin) -> Arg {
        let i = r.index(list.count)
        guard !list.isEmpty else { return Arg(value: 0, origin: .zero) }
        return Arg(value: list[i], origin: origin(i))
    }
    let selector = r.byte()
    let kind = expect.map { selector < 0xC0 ? $0 : selector % 16 } ?? selector % 16
    switch kind {
    case 0: return Arg(value: 0, origin: .zero)
    case 1: return Arg(value: UInt64(r.byte() % 16), origin: .small)
    case 2: return pick(c.freePages) { .freePage($0) }
    case 3: return pick(c.ownPages) { .ownPage($0) }
    case 4:
        var a = pick(c.ownPages) { .ownPage($0) }
        let offset = UInt64(r.byte()) * 16
        if case .ownPage(let i) = a.origin { a = Arg(value: a.value &+ offset, origin: .ownPageOffset(i, offset)) }
        return a
    case 5: return pick(c.children) { .childName($0) }
    case 6: return pick(c.givenPages) { .givenPage($0) }
    case 7:
        let k = UInt64(r.byte())
        return Arg(value: AddressSpace.vidt + 8 * k, origin: .vidtEntry(k))
    case 8: return pick(childSpace) { .childSpace($0) }
    case 9:
        let b = UInt64(r.byte())
        return Arg(value: b < 248 ? b : [VIDTIndex.cliSave, VIDTIndex.stiSave, 511, 512][Int(b % 4)], origin: .vidtIndex)
    case 10: return Arg(value: UInt64(r.byte() % 16), origin: .rights)
    case 11: return pick(hostile) { .hostile($0) }
    case 12: return pick(c.otherPages) { .otherPartitionPage($0) }
    case 13:
        var w = r.word()
        if w >> 48 == tagPrefix { w ^= 1 << 48 }
        return Arg(value: w, origin: .raw)
    case 14: return pick(c.descriptors) { .physical($0) }
    default:
        var a = pick(c.ownPages) { .ownPage($0) }
        let back = UInt64(r.byte() % 64) * 16
        if case .ownPage(let i) = a.origin {
            a = Arg(value: a.value &+ AddressSpace.pageSize &- back, origin: .straddling(i, back))
        }
        return a
    }
}

/// The argument kinds each service expects, one per argument register it reads: the service
/// table's kinds (`Service.arguments`), each drawn from its domain.
func expectedKinds(_ service: Service) -> [UInt8] {
    let a = service.arguments
    return (0..<a.count).map { k in
        switch a[k].kind {
        case .page, .freeList: return Expect.freePage
        case .address: return Expect.ownPage
        case .child: return Expect.child
        case .childAddress: return Expect.childSpace
        case .rights: return Expect.rights
        case .vidtIndex: return Expect.vidtIndex
        case .flag, .number: return Expect.small
        }
    }
}

/// The services ring 3 may call from any partition (memory and control routes), and the
/// root-only ones, in table order.
let anyoneServices = Service.allCases.filter { !$0.isRootOnly }
let rootOnlyServices = Service.allCases.filter(\.isRootOnly)

/// Decodes one step; nil at the end of the input.
func decodeStep(_ r: inout ByteReader, _ c: Choices) -> Step? {
    guard !r.atEnd else { return nil }
    let op = r.byte() % 24
    func call(_ s: Service) -> Step {
        .call(number: s.rawValue, args: expectedKinds(s).map { decodeArg(&r, c, expect: $0) })
    }
    switch op {
    case 0...12:
        // Ops 0…12 call the services anyone may call, in table order; the ones past the table's
        // end call addVAddr and yield again (the calls deep sequences need most).
        if Int(op) < anyoneServices.count { return call(anyoneServices[Int(op)]) }
        return call(op % 2 == 0 ? .addVAddr : .yield)
    case 13:
        // A root-only service of the table, serial input arriving, or a number that is no service.
        let pick = Int(r.byte()) % (rootOnlyServices.count + 3)
        if pick < rootOnlyServices.count { return call(rootOnlyServices[pick]) }
        if pick == rootOnlyServices.count { return .serialInput((0..<(1 + r.index(16))).map { _ in r.byte() }) }
        return .call(number: UInt64(r.byte()) | 0x80, args: [decodeArg(&r, c)])
    case 14, 15: return .store(address: decodeArg(&r, c), value: decodeArg(&r, c))
    case 16: return .link((0..<(1 + r.index(4))).map { _ in decodeArg(&r, c) })
    case 17: return .prepareFor(child: decodeArg(&r, c), va: decodeArg(&r, c))
    case 18:
        let v = UInt64(r.byte())
        // `int n` reaches the kernel from ring 3 only for 3 and 48…255 (the others are #GP).
        return v < 128 ? .hardwareInterrupt(vector: 32 + v % 16) : .softwareInterrupt(vector: v == 128 ? 3 : v)
    case 19:
        return .exception(vector: UInt64(r.byte() % 32), errorCode: UInt64(r.byte() % 8), address: decodeArg(&r, c))
    default:
        return .menu(index: Int(r.byte()) | Int(r.byte()) << 8)
    }
}
