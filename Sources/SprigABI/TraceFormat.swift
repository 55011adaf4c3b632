/// The binary trace a kernel built with `SPRIG_TRACE` writes to its debug port (docs/replay.md).
///
/// Shared by the writer (`SprigX86/Trace.swift`, in the trace build only) and the reader
/// (`SprigModel/Replay/TraceFile.swift`). A trace is the 8-byte `magic`, the `version` and the
/// writer's `flags` as numbers, then records: one tag byte and its fields. Every number is unsigned LEB128 (7 bits
/// per byte, low first, high bit set on all but the last byte), so small values and zeros cost
/// one byte; a run of raw bytes is its length (a number) and then the bytes.
///
///     boot      allocator ranges, modules with their bytes, pages, kernel image, PML4's kernel half
///     built     root's descriptor and PML4, then (page, digest) of every page the allocator gave
///     resume    the state ring 3 starts or resumes with (after `built`, after each event)
///     enter     one entry from ring 3: current partition, CR3, the event, the trapped registers
///     load … invalidateTranslation   each request `Kernel.trap` made of its platform, in order
///     console   the bytes a `consoleWrite` emits (they are ring-3 memory, read outside `load`)
///     consoleInput  the bytes a `consoleRead` took from the UART and wrote at a physical address
///               (input the model cannot know; after the outcome, one record per page piece)
///     outcome   the `TrapOutcome`
///
/// A register state is rip, rsp, rflags, the 15 general registers (`ContextLayout` order) and
/// the first `fpuWords` words of the FXSAVE image (the rest FXSAVE does not write): a 0 byte
/// when the image is the one the previous register state in the file carried (all zeros before
/// the first), else a 1 byte and the words.
public enum TraceFormat {
    /// QEMU's `-debugcon` port (its default iobase).
    public static let port: UInt16 = 0xE9
    /// "SPRIGTRC", little-endian.
    public static let magic: UInt64 = 0x4352_5447_4952_5053
    public static let version: UInt64 = 4
    /// `flags` bit: the kernel was compiled with assertions on, so it made the loads its
    /// `assert`s make (the replaying model must make them too, or be told they differ).
    public static let assertionsFlag: UInt64 = 1

    /// Whether this module was compiled with assertions on.
    public static var assertionsEnabled: Bool {
        var on = false
        assert({ on = true; return true }())
        return on
    }
    /// FXSAVE words a register state carries (bytes 0…463).
    public static let fpuWords = 58
    /// Words of a context the save and load records carry (the whole `ContextLayout.size`).
    public static let contextWords = ContextLayout.size / 8

    /// The page digest of a `built` record: FNV-1a over the page's 512 words, word by word
    /// (`h = (h ^ word) * prime`); one differing word always changes it.
    public static let digestSeed: UInt64 = 0xCBF2_9CE4_8422_2325
    @inlinable public static func digest(_ h: UInt64, _ word: UInt64) -> UInt64 { (h ^ word) &* 0x100_0000_01B3 }

    /// Record tags.
    public enum Tag: UInt8 {
        case boot = 0x01
        case built = 0x02
        case resume = 0x03
        case enter = 0x10
        case load = 0x20
        case store = 0x21
        case zeroPage = 0x22
        case copy = 0x23
        case saveContext = 0x24
        case loadContext = 0x25
        case setCurrentPartition = 0x26
        case switchAddressSpace = 0x27
        case setInterruptFlag = 0x28
        case translationCacheLoad = 0x29
        case translationCacheStore = 0x2A
        case invalidateTranslation = 0x2B
        case console = 0x30
        case consoleInput = 0x31
        case outcome = 0x40
    }

    /// `TrapEvent` kinds in an `enter` record.
    public enum EventKind: UInt8 {
        case systemCall = 0, exception = 1, hardwareInterrupt = 2, softwareInterrupt = 3
    }

    /// `TrapOutcome` kinds in an `outcome` record (fields: kind, status, value, service).
    public enum OutcomeKind: UInt8 {
        case returned = 0, interruptRefused = 1, resume = 2, machineService = 3, kernelCrash = 4
    }
}
