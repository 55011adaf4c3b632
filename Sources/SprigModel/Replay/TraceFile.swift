/// Reading a trace the trace-build kernel wrote (format: `SprigABI/TraceFormat.swift`,
/// docs/replay.md).
///
/// `TraceFile.parse` checks the whole file before anything is replayed: the magic and version,
/// every record's tag and fields, the order of records (boot, built, the start state, then events,
/// each an `enter`, the platform requests, the outcome, console bytes or console input, and the state ring 3
/// resumes with), numbers that fit in 64 bits, statuses and services that exist. A file cut
/// short, or with a byte that makes no sense where it stands, is a `TraceError` naming the byte
/// offset. Only the last event may lack its `resume`: the one after which the machine powered off
/// or printed its crash report.
import SprigABI
import SprigCore

/// What the kernel gave `RootBuilder` at boot.
public struct BootRecord: Sendable {
    public struct Module: Sendable {
        public var start: UInt64
        public var name0: UInt64
        public var name1: UInt64
        public var bytes: [UInt8]
    }
    public var totalPages: UInt64
    /// Physical range of the kernel image (page-aligned).
    public var kernelStart: UInt64
    public var kernelEnd: UInt64
    /// The boot PML4 (in the kernel image) and its entries 256…511.
    public var kernelPML4: UInt64
    public var kernelHalf: [UInt64]
    public var mxcsrMask: UInt64
    /// The boot allocator's free ranges, in its order.
    package var ranges: [PageRange]
    /// Module 0 is root's image.
    public var modules: [Module]
    /// The kernel command line, as RootBuilder copies it to root's boot-info page.
    public var commandLine: [UInt8]
}

/// What `RootBuilder` built on the machine.
public struct BuiltRecord: Sendable {
    public var descriptor: UInt64
    public var pml4: UInt64
    /// Every page the boot allocator handed out, in order, with its `TraceFormat.digest`.
    public var pages: [(page: UInt64, digest: UInt64)]
}

/// The state ring 3 runs with: its partition, CR3 and registers (FXSAVE words past
/// `TraceFormat.fpuWords` are 0).
public struct RunningState: Sendable, Equatable {
    public var current: UInt64
    public var cr3: UInt64
    public var registers: RegisterFile
}

/// One request `Kernel.trap` made of its platform, as the machine answered it.
public enum PlatformRequest: Sendable, Equatable {
    case load(UInt64, value: UInt64)
    case store(UInt64, value: UInt64)
    case zeroPage(UInt64)
    case copy(from: UInt64, to: UInt64, bytes: UInt64)
    /// The context's place, the flags and return value asked for, and the words written.
    case saveContext(ContextPlace, flags: UInt64, returnValue: UInt64?, words: [UInt64])
    /// The context's place, the interrupt flag and delivery asked for, and the words read.
    case loadContext(ContextPlace, interruptsEnabled: Bool, delivery: [UInt64]?, words: [UInt64])
    case setCurrentPartition(UInt64)
    case switchAddressSpace(UInt64)
    case setInterruptFlag(Bool)
    /// Word `index` of the kernel caches (`KernelCache`: storage outside RAM), read or written.
    case translationCacheLoad(Int, value: UInt64)
    case translationCacheStore(Int, value: UInt64)
    /// The TLB entry of this vaddr dropped (`invlpg`).
    case invalidateTranslation(UInt64)
}

/// A `ContextLocation`'s three fields as raw numbers.
public struct ContextPlace: Sendable, Equatable, CustomStringConvertible {
    public var first: UInt64
    public var firstBytes: UInt64
    public var second: UInt64
    public init(first: UInt64, firstBytes: UInt64, second: UInt64) {
        self.first = first; self.firstBytes = firstBytes; self.second = second
    }
    package init(_ l: ContextLocation) { self.init(first: l.first.raw, firstBytes: l.firstBytes, second: l.second.raw) }

    /// Physical address of the context's word at byte `offset` (as `ContextLocation.word(at:)`).
    public func word(at offset: Int) -> UInt64 {
        let o = UInt64(offset)
        return o < firstBytes ? first + o : second + (o - firstBytes)
    }

    public var description: String {
        firstBytes == UInt64(ContextLayout.size)
            ? Domain.hex(first) : "\(Domain.hex(first)) (\(firstBytes) bytes) + \(Domain.hex(second))"
    }
}

/// One entry from ring 3 as the machine ran it.
public struct EventRecord: Sendable {
    /// Byte offset of its `enter` record in the file.
    public var offset: Int
    /// Partition, CR3 and registers ring 3 trapped with.
    public var trapped: RunningState
    package var event: TrapEvent
    public var requests: [PlatformRequest] = []
    package var outcome: TrapOutcome?
    /// The bytes a `consoleWrite` printed, by physical piece.
    public var console: [(paddr: UInt64, bytes: [UInt8])] = []
    /// The bytes a `consoleRead` took from the serial port and wrote, by physical piece.
    public var consoleInput: [(paddr: UInt64, bytes: [UInt8])] = []
    /// nil only for the last event, when the machine stopped in it.
    public var resumed: RunningState?
}

public struct Trace: Sendable {
    /// The kernel was compiled with assertions on (their loads are in its requests).
    public var kernelAssertions: Bool
    public var boot: BootRecord
    public var built: BuiltRecord
    /// The state root starts in.
    public var start: RunningState
    public var events: [EventRecord]
    /// Size of the file in bytes.
    public var bytes: Int
}

/// A file that is not a whole trace.
public struct TraceError: Error, CustomStringConvertible, Sendable {
    public let offset: Int
    public let message: String
    public var description: String { "trace byte \(offset): \(message)" }
}

public enum TraceFile {
    public static func parse(_ bytes: [UInt8]) throws -> Trace {
        var r = Reader(bytes: bytes)
        guard bytes.count >= 8 else {
            throw TraceError(offset: 0, message: bytes.isEmpty
                ? "the file is empty (was the kernel built with --variant trace and QEMU given -debugcon?)"
                : "the file is cut short inside its 8-byte header")
        }
        var magic: UInt64 = 0
        for k in 0..<8 { magic |= UInt64(bytes[k]) << (8 * UInt64(k)) }
        guard magic == TraceFormat.magic else { throw TraceError(offset: 0, message: "not a Sprig trace (no SPRIGTRC header)") }
        r.position = 8
        let version = try r.number("version")
        guard version == TraceFormat.version else {
            throw TraceError(offset: 8, message: "trace format version \(version); this sprig reads version \(TraceFormat.version)")
        }
        let flags = try r.number("flags")
        try r.expect(.boot)
        let boot = try r.bootRecord()
        try r.expect(.built)
        let built = try r.builtRecord()
        try r.expect(.resume)
        let start = try r.runningState()
        var events: [EventRecord] = []
        var open: EventRecord?
        while !r.atEnd {
            let at = r.position
            let tag = try r.tag()
            if tag == .enter {
                if let e = open {
                    throw TraceError(offset: at, message: "event \(events.count) (at byte \(e.offset)) has no resume record before the next event")
                }
                open = try r.enterRecord(offset: at)
                continue
            }
            guard var e = open else {
                throw TraceError(offset: at, message: "\(tag) record outside an event")
            }
            switch tag {
            case .load, .store, .zeroPage, .copy, .saveContext, .loadContext, .setCurrentPartition,
                 .switchAddressSpace, .setInterruptFlag, .translationCacheLoad, .translationCacheStore,
                 .invalidateTranslation:
                e.requests.append(try r.request(tag))
            case .outcome:
                guard e.outcome == nil else { throw TraceError(offset: at, message: "a second outcome in one event") }
                e.outcome = try r.outcome(at: at)
            case .console:
                guard e.outcome == .machineService(.consoleWrite) else {
                    throw TraceError(offset: at, message: "console bytes in an event that is not a consoleWrite")
                }
                let pa = try r.number("console address")
                e.console.append((pa, try r.raw("console bytes")))
            case .consoleInput:
                guard e.outcome == .machineService(.consoleRead) else {
                    throw TraceError(offset: at, message: "console input in an event that is not a consoleRead")
                }
                let pa = try r.number("console input address")
                let piece = try r.raw("console input bytes")
                guard !piece.isEmpty, piece.count <= AddressSpace.pageSize - (pa & (AddressSpace.pageSize - 1)) else {
                    throw TraceError(offset: at, message: "garbled: \(piece.count) console input bytes at \(Domain.hex(pa)), not 1 to the end of its page")
                }
                e.consoleInput.append((pa, piece))
            case .resume:
                guard e.outcome != nil else { throw TraceError(offset: at, message: "resume before the event's outcome") }
                e.resumed = try r.runningState()
                events.append(e)
                open = nil
                continue
            case .boot, .built, .enter:
                throw TraceError(offset: at, message: "\(tag) record inside an event")
            }
            open = e
        }
        if let e = open {
            // Only a machine that stopped in the event leaves it without a resume record.
            let stopped: Bool
            switch e.outcome {
            case .kernelCrash?, .machineService(.powerOff)?: stopped = true
            default: stopped = false
            }
            guard stopped else {
                throw TraceError(offset: bytes.count, message: "the trace is cut short: event \(events.count) (at byte \(e.offset)) has no "
                    + (e.outcome == nil ? "outcome" : "resume record") + " and the machine did not stop in it")
            }
            events.append(e)
        }
        return Trace(kernelAssertions: flags & TraceFormat.assertionsFlag != 0, boot: boot, built: built, start: start,
                     events: events, bytes: bytes.count)
    }
}

/// A cursor over the file; every read checks that the bytes are there.
private struct Reader {
    let bytes: [UInt8]
    var position = 0
    /// The FXSAVE image the last register state carried (`TraceFormat`).
    var lastFPU = [UInt64](repeating: 0, count: TraceFormat.fpuWords)

    var atEnd: Bool { position >= bytes.count }

    mutating func byte(_ what: String) throws -> UInt8 {
        guard position < bytes.count else {
            throw TraceError(offset: position, message: "the trace is cut short inside a record (reading \(what))")
        }
        defer { position += 1 }
        return bytes[position]
    }

    /// Unsigned LEB128, at most 64 bits.
    mutating func number(_ what: String) throws -> UInt64 {
        let start = position
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte(what)
            let low = UInt64(b & 0x7F)
            guard shift < 64, shift < 63 || low <= 1 else {
                throw TraceError(offset: start, message: "garbled: \(what) does not fit in 64 bits")
            }
            value |= low << shift
            if b & 0x80 == 0 { return value }
            shift += 7
        }
    }

    mutating func flag(_ what: String) throws -> Bool {
        let at = position
        switch try byte(what) {
        case 0: return false
        case 1: return true
        case let b: throw TraceError(offset: at, message: "garbled: \(what) is \(b), not 0 or 1")
        }
    }

    mutating func raw(_ what: String) throws -> [UInt8] {
        let n = try number("length of \(what)")
        guard n <= UInt64(bytes.count - position) else {
            throw TraceError(offset: position, message: "the trace is cut short inside \(what) (\(n) bytes announced, \(bytes.count - position) left)")
        }
        defer { position += Int(n) }
        return Array(bytes[position..<(position + Int(n))])
    }

    mutating func tag() throws -> TraceFormat.Tag {
        let at = position
        let b = try byte("a record tag")
        guard let t = TraceFormat.Tag(rawValue: b) else {
            throw TraceError(offset: at, message: "garbled: 0x\(String(b, radix: 16)) is not a record tag")
        }
        return t
    }

    mutating func expect(_ t: TraceFormat.Tag) throws {
        let at = position
        let got = try tag()
        guard got == t else { throw TraceError(offset: at, message: "expected a \(t) record, found \(got)") }
    }

    mutating func count(_ what: String, max: Int) throws -> Int {
        let at = position
        let n = try number(what)
        guard n <= UInt64(max) else { throw TraceError(offset: at, message: "garbled: \(n) \(what), at most \(max)") }
        return Int(n)
    }

    mutating func bootRecord() throws -> BootRecord {
        let total = try number("total pages")
        let ks = try number("kernel start"), ke = try number("kernel end"), pml4 = try number("kernel PML4")
        let mask = try number("MXCSR mask")
        var ranges: [PageRange] = []
        for _ in 0..<(try count("free ranges", max: BootAllocator.capacity)) {
            ranges.append(PageRange(start: try number("range start"), end: try number("range end")))
        }
        var modules: [BootRecord.Module] = []
        for _ in 0..<(try count("modules", max: RootBuilder.maxModules + 1)) {
            let start = try number("module start"), n0 = try number("module name"), n1 = try number("module name")
            modules.append(BootRecord.Module(start: start, name0: n0, name1: n1, bytes: try raw("module bytes")))
        }
        let line = try raw("command line")
        guard line.count <= BootInfoLayout.maxCommandLine else {
            throw TraceError(offset: position, message: "a command line of \(line.count) bytes (at most \(BootInfoLayout.maxCommandLine))")
        }
        var half: [UInt64] = []
        for _ in 256..<512 { half.append(try number("kernel PML4 entry")) }
        return BootRecord(totalPages: total, kernelStart: ks, kernelEnd: ke, kernelPML4: pml4, kernelHalf: half,
                          mxcsrMask: mask, ranges: ranges, modules: modules, commandLine: line)
    }

    mutating func builtRecord() throws -> BuiltRecord {
        let d = try number("root descriptor"), p = try number("root PML4")
        let n = try count("allocated pages", max: bytes.count)
        var pages: [(UInt64, UInt64)] = []
        for _ in 0..<n { pages.append((try number("page"), try number("page digest"))) }
        return BuiltRecord(descriptor: d, pml4: p, pages: pages)
    }

    mutating func registers() throws -> RegisterFile {
        var r = RegisterFile()
        r.rip = try number("rip"); r.rsp = try number("rsp"); r.rflags = try number("rflags")
        for k in 0..<ContextLayout.gprCount { r.gprs[k] = try number("general register") }
        if try flag("FXSAVE-image flag") {
            for k in 0..<TraceFormat.fpuWords { lastFPU[k] = try number("FXSAVE word") }
        }
        r.fpu.replaceSubrange(0..<TraceFormat.fpuWords, with: lastFPU)
        return r
    }

    mutating func runningState() throws -> RunningState {
        let current = try number("current partition"), cr3 = try number("CR3")
        return RunningState(current: current, cr3: cr3, registers: try registers())
    }

    mutating func enterRecord(offset: Int) throws -> EventRecord {
        let current = try number("current partition"), cr3 = try number("CR3")
        let at = position
        let event: TrapEvent
        switch TraceFormat.EventKind(rawValue: try byte("event kind")) {
        case .systemCall?:
            let n = try number("service number")
            event = .systemCall(number: n, SystemCallArguments(
                try number("argument"), try number("argument"), try number("argument"), try number("argument"), try number("argument")))
        case .exception?:
            event = .exception(vector: try number("vector"), errorCode: try number("error code"), faultAddress: try number("CR2"))
        case .hardwareInterrupt?: event = .hardwareInterrupt(vector: try number("vector"))
        case .softwareInterrupt?: event = .softwareInterrupt(vector: try number("vector"))
        case nil: throw TraceError(offset: at, message: "garbled: \(bytes[at]) is not an event kind")
        }
        let regs = try registers()
        return EventRecord(offset: offset, trapped: RunningState(current: current, cr3: cr3, registers: regs), event: event)
    }

    mutating func place() throws -> ContextPlace {
        ContextPlace(first: try number("context address"), firstBytes: try number("context bytes"), second: try number("context second page"))
    }

    mutating func words(_ what: String) throws -> [UInt64] {
        var w: [UInt64] = []
        for _ in 0..<TraceFormat.contextWords { w.append(try number(what)) }
        return w
    }

    mutating func request(_ tag: TraceFormat.Tag) throws -> PlatformRequest {
        switch tag {
        case .load: return .load(try number("load address"), value: try number("loaded value"))
        case .store: return .store(try number("store address"), value: try number("stored value"))
        case .zeroPage: return .zeroPage(try number("zeroed page"))
        case .copy: return .copy(from: try number("copy source"), to: try number("copy destination"), bytes: try number("copy length"))
        case .saveContext:
            let p = try place(), flags = try number("context flags")
            let has = try flag("return-value flag"), rv = try number("return value")
            return .saveContext(p, flags: flags, returnValue: has ? rv : nil, words: try words("saved context word"))
        case .loadContext:
            let p = try place(), ie = try flag("interrupt flag"), has = try flag("delivery flag")
            var delivery: [UInt64]?
            if has { delivery = try (0..<5).map { _ in try number("delivery value") } }
            return .loadContext(p, interruptsEnabled: ie, delivery: delivery, words: try words("loaded context word"))
        case .setCurrentPartition: return .setCurrentPartition(try number("partition"))
        case .switchAddressSpace: return .switchAddressSpace(try number("PML4"))
        case .setInterruptFlag: return .setInterruptFlag(try flag("interrupt flag"))
        case .invalidateTranslation: return .invalidateTranslation(try number("invalidated vaddr"))
        case .translationCacheLoad, .translationCacheStore:
            let at = position
            let index = try number("kernel cache index")
            guard index < UInt64(KernelCache.words) else {
                throw TraceError(offset: at, message: "garbled: kernel cache word \(index), there are \(KernelCache.words)")
            }
            let value = try number("kernel cache word")
            return tag == .translationCacheLoad ? .translationCacheLoad(Int(index), value: value)
                : .translationCacheStore(Int(index), value: value)
        default: preconditionFailure("not a request tag: \(tag)")
        }
    }

    mutating func outcome(at: Int) throws -> TrapOutcome {
        let kindAt = position
        let kind = try byte("outcome kind")
        let statusRaw = try number("status"), value = try number("value"), serviceRaw = try number("service")
        func status() throws -> Status {
            guard let s = Status(rawValue: statusRaw) else { throw TraceError(offset: at, message: "garbled: \(statusRaw) is not a status") }
            return s
        }
        switch TraceFormat.OutcomeKind(rawValue: kind) {
        case .returned?: return .returned(try status(), value: value)
        case .interruptRefused?: return .interruptRefused(try status())
        case .resume?: return .resume
        case .machineService?:
            guard let s = Service(rawValue: serviceRaw) else { throw TraceError(offset: at, message: "garbled: \(serviceRaw) is not a service") }
            return .machineService(s)
        case .kernelCrash?: return .kernelCrash
        case nil: throw TraceError(offset: kindAt, message: "garbled: \(kind) is not an outcome kind")
        }
    }
}
