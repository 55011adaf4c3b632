/// Service numbers and the system-call convention.
///
/// A partition calls the kernel with the `syscall` instruction:
///
///     rax = service number, rdi, rsi, rdx, r10, r8 = arguments 0…4
///     → rax = `Status` raw value, rdx = second result (count, next page, child), 0 when none
///
/// `rcx` and `r11` are clobbered by the instruction itself; every other register a partition can
/// use is preserved across a service call (the kernel restores them from the saved frame).
/// Numbers never change once shipped; a new service takes a new number.
public enum Service: UInt64, CaseIterable, Sendable {
    // Pip's memory services (DESIGN.md §4).
    case createPartition = 1
    case countToMap = 2
    case prepare = 3
    case addVAddr = 4
    case removeVAddr = 5
    case mappedInChild = 6
    case deletePartition = 7
    case collect = 8
    case getIntState = 9
    case setIntState = 10
    // The control-flow service (DESIGN.md §5).
    case yield = 11

    // Root-only services: what the kernel lets the multiplexer do with the machine. A non-root
    // caller gets `Status.rootOnly`.
    /// consoleWrite(vaddr, length): write `length` bytes (at most `Limits.consoleWriteMax`) of the
    /// caller's memory to the serial console.
    case consoleWrite = 0x100
    /// powerOff(status): stop the machine; under QEMU, exit with `status` (0…0x6F).
    case powerOff = 0x101
    /// setTimer(hz): program the periodic timer (the PIT, IRQ 0 → vector 32, delivered to root at
    /// `VIDT[32]`) to `hz` interrupts per second, `Limits.timerHzMin`…`timerHzMax`; 0 stops it.
    case setTimer = 0x102
    /// consoleRead(vaddr, maxLength) → count: moves up to `maxLength` bytes (1…
    /// `Limits.consoleReadMax`) that have arrived on the serial port (COM1) into the caller's
    /// memory at `vaddr`, in arrival order, and returns how many in rdx; 0 when nothing is waiting.
    /// Never blocks: the kernel reads the UART's receive FIFO while it holds data, and keeps no
    /// buffer of its own. Every byte of `[vaddr, vaddr + maxLength)` must be writable by the
    /// caller, whatever the count turns out to be; a refusal writes nothing and reads nothing
    /// from the UART. Root learns that bytes arrived from `setConsoleInterrupt`.
    case consoleRead = 0x103
    /// setConsoleInterrupt(on): 1 enables the serial port's receive interrupt (IRQ 4 → vector 36,
    /// delivered to root at `VIDT[36]` naming the interrupted partition, like the timer's), 0
    /// disables it (the default); anything else is `invalidArgument`.
    ///
    /// One delivery per time the UART's interrupt line rises (the PIC is edge-triggered): the
    /// line stays up until the FIFO has been read empty, so root's handler must *drain* — call
    /// `consoleRead` until it returns fewer bytes than it asked for — or it hears of no further
    /// input. A root that does not drain gets no more interrupts, never a storm. A delivery may
    /// find nothing to read (a byte that arrived between the drain and the end of the handler
    /// was read by the drain), and while root's own interrupt state is masked a delivery is
    /// dropped, so root polls with `consoleRead` after unmasking.
    case setConsoleInterrupt = 0x104

    /// True for the services only root may call (`Status.rootOnly` for anyone else).
    @inlinable public var isRootOnly: Bool { rawValue >= 0x100 }
    /// Every service number is below this; 0 is none (the kernel clamps a number to this range
    /// before it looks the service up, `Speculation.clamp`).
    public static let numberLimit: UInt64 = 0x200
}

/// Rights bits for `addVAddr`'s rights argument.
public enum Rights {
    public static let read: UInt64 = 1
    public static let write: UInt64 = 2
    public static let execute: UInt64 = 4
    public static let all: UInt64 = read | write | execute
}

/// Bounds on arguments, so that no service loops on a partition's say-so.
public enum Limits {
    public static let consoleWriteMax: UInt64 = 4096
    /// The most bytes one `consoleRead` may ask for. The kernel stops reading earlier when the
    /// UART's FIFO is empty (16 bytes on a 16550A), so this bounds the range checked, not a wait.
    public static let consoleReadMax: UInt64 = 4096
    /// The largest exit status a partition may ask `powerOff` for; larger ones are kernel-reserved.
    public static let partitionExitStatusMax: UInt64 = 0x6F
    /// `setTimer` rates: the PIT's 1.193182 MHz input divided by at most 65535 gives 19 Hz; above
    /// 10 kHz the machine would do little but take interrupts.
    public static let timerHzMin: UInt64 = 19
    public static let timerHzMax: UInt64 = 10_000

    /// Whether `setTimer` accepts `hz`: 0 (stop) or `timerHzMin`…`timerHzMax`.
    @inlinable public static func isTimerRate(_ hz: UInt64) -> Bool {
        hz == 0 || (hz >= timerHzMin && hz <= timerHzMax)
    }
}

extension Service {
    /// The service's name as its case spells it (crash reports, tools).
    public var name: StaticString {
        switch self {
        case .createPartition: return "createPartition"
        case .countToMap: return "countToMap"
        case .prepare: return "prepare"
        case .addVAddr: return "addVAddr"
        case .removeVAddr: return "removeVAddr"
        case .mappedInChild: return "mappedInChild"
        case .deletePartition: return "deletePartition"
        case .collect: return "collect"
        case .getIntState: return "getIntState"
        case .setIntState: return "setIntState"
        case .yield: return "yield"
        case .consoleWrite: return "consoleWrite"
        case .powerOff: return "powerOff"
        case .setTimer: return "setTimer"
        case .consoleRead: return "consoleRead"
        case .setConsoleInterrupt: return "setConsoleInterrupt"
        }
    }
}
