/// The compiled plan: a system description (systems/<name>/system.toml) as the binary boot
/// module the generic root reads (docs/systems.md, "The compiled plan").
///
/// `sprig build --system` validates the description, then encodes it here (host); the generic
/// root decodes it with `PlanView` (Embedded). Both are this one file, so the layout is written
/// once. Every field is a little-endian `UInt64`. Root checks the magic, the version, that the
/// module's size is the size the counts give, and every index, before it uses a word; a plan
/// that fails is refused with one console line naming what was wrong (`PlanRefusal`).
///
///     header      64 bytes: magic, version, total bytes, partition/frame/event/channel
///                 counts, tick rate
///     partitions  88 bytes each, parents before children (root is 0): name (16 bytes), parent,
///                 memory pages, flags, first frame, frame count, quantum, program (16 bytes),
///                 the pages init takes from its memory to build its children (0 for one that
///                 builds none; `InitMemory` on the host)
///     frames      16 bytes each: partition, ticks (a plan's frames are consecutive)
///     events      48 bytes each: source, target, vector, kind, name (16 bytes)
///     channels    48 bytes each: writer, reader, size, transfer | vector << 8, name (16 bytes)
public enum PlanLayout {
    public static let magicValue: UInt64 = 0x4E4C_5047_4952_5053  // "SPRIGPLN" little-endian
    public static let version: UInt64 = 2

    public static let magic = 0, versionOffset = 8, totalBytes = 16
    public static let partitionCount = 24, frameCount = 32, eventCount = 40, channelCount = 48, tickHz = 56
    public static let headerBytes = 64

    public static let partitionBytes = 88
    public static let frameBytes = 16
    public static let eventBytes = 48
    public static let channelBytes = 48

    /// Limits the decoder holds every count to (the validators hold descriptions to them).
    public static let maxPartitions: UInt64 = 32
    public static let maxFrames: UInt64 = 32 * 32
    public static let maxEvents: UInt64 = 64
    public static let maxChannels: UInt64 = 64
    /// No parent (root's record).
    public static let none: UInt64 = ~0

    /// Partition flags.
    public static let restart: UInt64 = 1
    public static let mayPrint: UInt64 = 2
    public static let handlesSerial: UInt64 = 4
    public static let generic: UInt64 = 8
    /// Bits 8–15 of the flags: how the partition schedules its children.
    public static let scheduleShift: UInt64 = 8
    public static let noSchedule: UInt64 = 0, cyclic: UInt64 = 1, roundRobin: UInt64 = 2

    public static let handover: UInt64 = 0, interrupt: UInt64 = 1
    public static let copy: UInt64 = 0, pageHandover: UInt64 = 1
    /// The longest message: a channel page less its 24-byte header (full, length, sequence).
    public static let maxMessageBytes: UInt64 = 4096 - 24

    /// Total bytes of a plan with these counts.
    @inlinable public static func bytes(partitions: UInt64, frames: UInt64, events: UInt64, channels: UInt64) -> UInt64 {
        UInt64(headerBytes) + partitions * UInt64(partitionBytes) + frames * UInt64(frameBytes)
            + events * UInt64(eventBytes) + channels * UInt64(channelBytes)
    }
}

/// Why a plan module was refused.
public enum PlanRefusal: UInt8 {
    case tooSmall = 1, badMagic, wrongVersion, sizeMismatch, tooMany, badIndex
}

/// A plan module as root sees it: only `check()`ed words are read by the accessors.
public struct PlanView {
    public let base: UnsafeRawPointer
    public let bytes: UInt64

    public init(base: UnsafeRawPointer, bytes: UInt64) { self.base = base; self.bytes = bytes }

    @inline(__always) func word(_ offset: Int) -> UInt64 { base.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }

    public var version: UInt64 { word(PlanLayout.versionOffset) }
    public var declaredBytes: UInt64 { word(PlanLayout.totalBytes) }
    public var partitionCount: Int { Int(word(PlanLayout.partitionCount)) }
    public var frameCount: Int { Int(word(PlanLayout.frameCount)) }
    public var eventCount: Int { Int(word(PlanLayout.eventCount)) }
    public var channelCount: Int { Int(word(PlanLayout.channelCount)) }
    public var tickHz: UInt64 { word(PlanLayout.tickHz) }

    var partitionsOffset: Int { PlanLayout.headerBytes }
    var framesOffset: Int { partitionsOffset + partitionCount * PlanLayout.partitionBytes }
    var eventsOffset: Int { framesOffset + frameCount * PlanLayout.frameBytes }
    var channelsOffset: Int { eventsOffset + eventCount * PlanLayout.eventBytes }

    /// nil when the plan can be used; otherwise the first reason it cannot.
    public func check() -> PlanRefusal? {
        guard bytes >= UInt64(PlanLayout.headerBytes) else { return .tooSmall }
        guard word(PlanLayout.magic) == PlanLayout.magicValue else { return .badMagic }
        guard version == PlanLayout.version else { return .wrongVersion }
        let p = word(PlanLayout.partitionCount), f = word(PlanLayout.frameCount)
        let e = word(PlanLayout.eventCount), c = word(PlanLayout.channelCount)
        guard p >= 1, p <= PlanLayout.maxPartitions, f <= PlanLayout.maxFrames, e <= PlanLayout.maxEvents,
              c <= PlanLayout.maxChannels else { return .tooMany }
        let size = PlanLayout.bytes(partitions: p, frames: f, events: e, channels: c)
        guard declaredBytes == size, bytes == size else { return .sizeMismatch }
        var i = 0
        while i < partitionCount {
            let r = partition(i)
            // Parents come before their children; root (0) has none.
            if i == 0 ? r.parent != PlanLayout.none : r.parent >= UInt64(i) { return .badIndex }
            if r.frameCount > 0 && (r.firstFrame > f || r.frameCount > f - r.firstFrame) { return .badIndex }
            i += 1
        }
        i = 0
        while i < frameCount {
            if frame(i).partition >= p { return .badIndex }
            i += 1
        }
        i = 0
        while i < eventCount {
            let ev = event(i)
            if ev.source >= p || ev.target >= p || ev.vector > 255 || ev.kind > PlanLayout.interrupt { return .badIndex }
            i += 1
        }
        i = 0
        while i < channelCount {
            let ch = channel(i)
            if ch.writer >= p || ch.reader >= p || ch.size == 0 || ch.size > PlanLayout.maxMessageBytes || ch.transfer > PlanLayout.pageHandover { return .badIndex }
            i += 1
        }
        return nil
    }

    public struct Partition {
        public var name0: UInt64, name1: UInt64
        public var parent: UInt64
        public var memoryPages: UInt64
        public var flags: UInt64
        public var firstFrame: UInt64, frameCount: UInt64
        public var quantum: UInt64
        public var program0: UInt64, program1: UInt64
        public var schedule: UInt64 { (flags >> PlanLayout.scheduleShift) & 0xFF }
    }

    public func partition(_ i: Int) -> Partition {
        let o = partitionsOffset + i * PlanLayout.partitionBytes
        return Partition(name0: word(o), name1: word(o + 8), parent: word(o + 16), memoryPages: word(o + 24),
                         flags: word(o + 32), firstFrame: word(o + 40), frameCount: word(o + 48), quantum: word(o + 56),
                         program0: word(o + 64), program1: word(o + 72))
    }

    /// The pages init takes from partition `i`'s memory to build its children (apart from
    /// `partition(i)`, which the tick and channel paths read: one word less to copy there).
    public func needPages(_ i: Int) -> UInt64 {
        word(partitionsOffset + i * PlanLayout.partitionBytes + 80)
    }

    public func frame(_ i: Int) -> (partition: UInt64, ticks: UInt64) {
        let o = framesOffset + i * PlanLayout.frameBytes
        return (word(o), word(o + 8))
    }

    public func event(_ i: Int) -> (source: UInt64, target: UInt64, vector: UInt64, kind: UInt64) {
        let o = eventsOffset + i * PlanLayout.eventBytes
        return (word(o), word(o + 8), word(o + 16), word(o + 24))
    }

    /// Event `i`'s name as two little-endian words, NUL-padded.
    public func eventName(_ i: Int) -> (UInt64, UInt64) {
        let o = eventsOffset + i * PlanLayout.eventBytes
        return (word(o + 32), word(o + 40))
    }

    /// Channel `i`'s name as two little-endian words, NUL-padded.
    public func channelName(_ i: Int) -> (UInt64, UInt64) {
        let o = channelsOffset + i * PlanLayout.channelBytes
        return (word(o + 32), word(o + 40))
    }

    public func channel(_ i: Int) -> (writer: UInt64, reader: UInt64, size: UInt64, transfer: UInt64, vector: UInt64) {
        let o = channelsOffset + i * PlanLayout.channelBytes
        let tv = word(o + 24)
        return (word(o), word(o + 8), word(o + 16), tv & 0xFF, tv >> 8)
    }
}

#if !hasFeature(Embedded)
/// The host's side: a plan to encode, in the record order of `PlanLayout`.
public struct PlanImage: Equatable, Sendable {
    public struct Partition: Equatable, Sendable {
        public var name: String
        public var program: String
        public var parent: UInt64
        public var memoryPages: UInt64
        public var flags: UInt64
        public var firstFrame: UInt64 = 0, frameCount: UInt64 = 0, quantum: UInt64 = 0
        public var needPages: UInt64 = 0
        public init(name: String, program: String, parent: UInt64, memoryPages: UInt64, flags: UInt64) {
            self.name = name; self.program = program; self.parent = parent; self.memoryPages = memoryPages; self.flags = flags
        }
    }
    public var tickHz: UInt64 = 0
    public var partitions: [Partition] = []
    public var frames: [(partition: UInt64, ticks: UInt64)] = []
    public var events: [(source: UInt64, target: UInt64, vector: UInt64, kind: UInt64, name: String)] = []
    public var channels: [(writer: UInt64, reader: UInt64, size: UInt64, transfer: UInt64, vector: UInt64, name: String)] = []
    public init() {}

    public static func == (a: PlanImage, b: PlanImage) -> Bool { a.encoded() == b.encoded() }

    /// A name of at most 16 bytes as two little-endian words, NUL-padded.
    static func nameWords(_ s: String) -> (UInt64, UInt64) {
        var w = (UInt64(0), UInt64(0))
        for (i, b) in s.utf8.prefix(16).enumerated() {
            if i < 8 { w.0 |= UInt64(b) << (UInt64(i) * 8) } else { w.1 |= UInt64(b) << (UInt64(i - 8) * 8) }
        }
        return w
    }

    /// The bytes of the plan module.
    public func encoded() -> [UInt8] {
        var words: [UInt64] = []
        let total = PlanLayout.bytes(partitions: UInt64(partitions.count), frames: UInt64(frames.count),
                                     events: UInt64(events.count), channels: UInt64(channels.count))
        words += [PlanLayout.magicValue, PlanLayout.version, total, UInt64(partitions.count), UInt64(frames.count),
                  UInt64(events.count), UInt64(channels.count), tickHz]
        for p in partitions {
            let n = Self.nameWords(p.name), g = Self.nameWords(p.program)
            words += [n.0, n.1, p.parent, p.memoryPages, p.flags, p.firstFrame, p.frameCount, p.quantum, g.0, g.1, p.needPages]
        }
        for f in frames { words += [f.partition, f.ticks] }
        for e in events { let n = Self.nameWords(e.name); words += [e.source, e.target, e.vector, e.kind, n.0, n.1] }
        for c in channels { let n = Self.nameWords(c.name); words += [c.writer, c.reader, c.size, c.transfer | c.vector << 8, n.0, n.1] }
        var out: [UInt8] = []
        out.reserveCapacity(words.count * 8)
        for w in words { for k in 0..<8 { out.append(UInt8(truncatingIfNeeded: w >> (UInt64(k) * 8))) } }
        return out
    }
}
#endif
