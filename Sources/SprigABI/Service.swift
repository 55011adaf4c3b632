/// Service numbers and the system-call convention.
///
/// A partition calls the kernel with the `syscall` instruction:
///
///     rax = service number, rdi, rsi, rdx, r10, r8 = arguments 0…4
///     → rax = `Status` raw value, rdx = second result (count, next page, child), 0 when none
///
/// `rcx` and `r11` are clobbered by the instruction itself; every other register a partition can
/// use is preserved across a service call (the kernel restores them from the saved frame or
/// leaves them as they were).
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

    /// True for the services only root may call (`Status.rootOnly` for anyone else): the
    /// table's `.machine` route, in the form the kernel's path can afford — one compare, since
    /// those rows are numbered from `rootOnlyBase` (reading a row costs far more, docs/DESIGN.md
    /// §4). `ServiceTableTests` holds every row's route to its number, and no other switch lists
    /// the root-only services.
    @inlinable public var isRootOnly: Bool { rawValue >= Service.rootOnlyBase }
    /// Every service number is below this; 0 is none (the kernel clamps a number to this range
    /// before it looks the service up, `Speculation.clamp`).
    public static let numberLimit: UInt64 = 0x200
    /// Root-only services are numbered from here, the others below.
    public static let rootOnlyBase: UInt64 = 0x100
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

// MARK: The service table

/// The one table of services: a row per `Service`, its number above, everything else here.
///
/// Every other place that needs a fact about services reads it from this table rather than
/// keeping its own list (README "Adding a service"):
///
/// * the kernel: the route (`Kernel.knownSystemCall`: yield first, root-only ones to the platform,
///   the memory services to `Kernel.dispatch`) and the root-only rule (`isRootOnly`);
/// * ring 3: `sprig generate` writes `Sources/include/sprig_abi.h` (every number and status for
///   assembly) and `Sources/SprigUser/Generated.swift` (ordinals, status names, a wrapper per
///   service) from it; a test regenerates both and fails when the committed ones are stale;
/// * the tools: the explorer's domain and step lines, the fuzz harness's argument kinds, the
///   random tests' service choices and the fuzzer partition's counters enumerate it.
///
/// The number and the route of a shipped service never change (the ABI); a new service takes a
/// new number (root-only ones from `rootOnlyBase`) and a row.
extension Service {
    /// How the kernel routes a service.
    public enum Route: Sendable, Equatable {
        /// A memory service (DESIGN.md §4): `Kernel.dispatch` in SprigCore serves it.
        case memory
        /// `yield` (DESIGN.md §5): the hot path, checked before the table (`Kernel.knownSystemCall`).
        case control
        /// Root only: SprigCore checks that root asked, the platform serves it
        /// (`TrapOutcome.machineService`); anyone else gets `Status.rootOnly`.
        case machine
    }

    /// What an argument register holds, so that tools can draw values for it.
    public enum ArgumentKind: Sendable, Equatable, CaseIterable {
        /// A page of the caller's that it gives away (to the kernel as a structure, or to a child).
        case page
        /// Any address in the caller's space (a page it asks about, bytes it hands in).
        case address
        /// The first page of a free list in the caller's memory (each page's first word links).
        case freeList
        /// A child's name (its descriptor's vaddr in the caller's space); yield's 0 is the parent.
        case child
        /// A vaddr in a child's space.
        case childAddress
        /// `Rights` bits.
        case rights
        /// A VIDT index (`VIDTIndex`).
        case vidtIndex
        /// An interrupt state or on/off switch: 0 or 1, anything else refused.
        case flag
        /// A number with a documented range (a length, a rate, an exit status).
        case number
    }

    /// One argument register: its name (DESIGN.md §4, README "Services") and kind.
    public struct Argument: Sendable {
        public let label: StaticString
        public let kind: ArgumentKind
        @inlinable public init(_ label: StaticString, _ kind: ArgumentKind) { self.label = label; self.kind = kind }
        @inlinable public static func page(_ l: StaticString) -> Argument { Argument(l, .page) }
        @inlinable public static func address(_ l: StaticString) -> Argument { Argument(l, .address) }
        @inlinable public static func freeList(_ l: StaticString) -> Argument { Argument(l, .freeList) }
        @inlinable public static func child(_ l: StaticString) -> Argument { Argument(l, .child) }
        @inlinable public static func childAddress(_ l: StaticString) -> Argument { Argument(l, .childAddress) }
        @inlinable public static func rights(_ l: StaticString) -> Argument { Argument(l, .rights) }
        @inlinable public static func vidtIndex(_ l: StaticString) -> Argument { Argument(l, .vidtIndex) }
        @inlinable public static func flag(_ l: StaticString) -> Argument { Argument(l, .flag) }
        @inlinable public static func number(_ l: StaticString) -> Argument { Argument(l, .number) }
    }

    /// The arguments a service reads, in register order (rdi, rsi, rdx, r10, r8); no arrays, so
    /// that the table is the same in the Embedded builds.
    public struct Arguments: Sendable {
        public let count: Int
        public let a0, a1, a2, a3, a4: Argument?
        @inlinable public init(_ a0: Argument? = nil, _ a1: Argument? = nil, _ a2: Argument? = nil,
                        _ a3: Argument? = nil, _ a4: Argument? = nil) {
            self.a0 = a0; self.a1 = a1; self.a2 = a2; self.a3 = a3; self.a4 = a4
            count = a4 != nil ? 5 : a3 != nil ? 4 : a2 != nil ? 3 : a1 != nil ? 2 : a0 != nil ? 1 : 0
        }
        /// Argument `i`, 0 ≤ i < count.
        public subscript(_ i: Int) -> Argument {
            switch i {
            case 0: return a0!
            case 1: return a1!
            case 2: return a2!
            case 3: return a3!
            default: return a4!
            }
        }
    }

    /// A row of the table.
    public struct Row: Sendable {
        /// The service's name as its case spells it (crash reports, tools, generated wrappers).
        public let name: StaticString
        public let route: Route
        public let arguments: Arguments
        /// What rdx holds after a success ("" when the service has no second result).
        public let result: StaticString
        @inlinable public init(_ name: StaticString, _ route: Route, result: StaticString = "", _ arguments: Arguments) {
            self.name = name; self.route = route; self.arguments = arguments; self.result = result
        }
    }

    /// The table. One line per service; the switch is exhaustive, so a new case does not
    /// compile until it has its row.
    @inlinable public static func row(_ s: Service) -> Row {
        switch s {
        case .createPartition: return Row("createPartition", .memory,
                                          Arguments(.page("desc"), .page("pml4"), .page("sh1"), .page("sh2"), .page("configList")))
        case .countToMap: return Row("countToMap", .memory, result: "count", Arguments(.child("child"), .childAddress("va")))
        case .prepare: return Row("prepare", .memory, result: "next",
                                  Arguments(.child("child"), .childAddress("va"), .freeList("freeList")))
        case .addVAddr: return Row("addVAddr", .memory,
                                   Arguments(.page("vaParent"), .child("child"), .childAddress("vaChild"), .rights("rights")))
        case .removeVAddr: return Row("removeVAddr", .memory, Arguments(.child("child"), .childAddress("vaChild")))
        case .mappedInChild: return Row("mappedInChild", .memory, result: "child", Arguments(.address("vaParent")))
        case .deletePartition: return Row("deletePartition", .memory, Arguments(.child("child")))
        case .collect: return Row("collect", .memory, result: "count",
                                  Arguments(.child("child"), .childAddress("va")))
        case .getIntState: return Row("getIntState", .memory, result: "state", Arguments(.child("child")))
        case .setIntState: return Row("setIntState", .memory, Arguments(.flag("state")))
        case .yield: return Row("yield", .control, Arguments(.child("callee"), .vidtIndex("target"), .vidtIndex("save"),
                                                              .flag("flagsOnYield"), .flag("flagsOnWake")))
        case .consoleWrite: return Row("consoleWrite", .machine, Arguments(.address("va"), .number("length")))
        case .powerOff: return Row("powerOff", .machine, Arguments(.number("status")))
        case .setTimer: return Row("setTimer", .machine, Arguments(.number("hz")))
        case .consoleRead: return Row("consoleRead", .machine, result: "count", Arguments(.address("va"), .number("maxLength")))
        case .setConsoleInterrupt: return Row("setConsoleInterrupt", .machine, Arguments(.flag("on")))
        }
    }

    /// This service's row.
    @inlinable public var row: Row { Service.row(self) }
    /// The service's name as its case spells it.
    @inlinable public var name: StaticString { row.name }
    /// How the kernel routes it.
    @inlinable public var route: Route { row.route }
    /// The arguments it reads.
    @inlinable public var arguments: Arguments { row.arguments }
}
