/// What a partition links to talk to the kernel: service wrappers and the console.
///
/// Every wrapper makes one `syscall` with the convention of `SprigABI.Service` and returns the
/// kernel's `Status` (nil for a raw value this build does not know) and second result.
import SprigABI

/// The `syscall` instruction, inlined (include/syscall_instruction.h): the arguments go straight
/// into the kernel's registers, the status and the second result come back in rax and rdx.
import SprigSyscallInstruction

@_extern(c, "sprig_rdtsc")
func sprigRDTSC() -> UInt64

/// The time-stamp counter: guest instructions under `sprig bench` (QEMU `-icount shift=0`).
@inline(__always) public func readTSC() -> UInt64 { sprigRDTSC() }

public struct CallResult {
    public var raw: UInt64
    public var value: UInt64
    public var status: Status? { Status(rawValue: raw) }
    public var succeeded: Bool { raw == Status.success.rawValue }
}

public enum Sprig {
    /// Calls service `service` with up to five arguments. Inlined, like `callRaw`: a call site
    /// loads the arguments into the kernel's registers and traps (the service's number is a
    /// constant there).
    @inline(__always)
    public static func call(_ service: Service, _ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0,
                            _ a3: UInt64 = 0, _ a4: UInt64 = 0) -> CallResult {
        callRaw(service.rawValue, a0, a1, a2, a3, a4)
    }

    /// Calls a raw service number (for tests of the kernel's refusal of unknown numbers).
    @inline(__always)
    public static func callRaw(_ number: UInt64, _ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0,
                               _ a3: UInt64 = 0, _ a4: UInt64 = 0) -> CallResult {
        let r = sprig_syscall_inline(number, a0, a1, a2, a3, a4)
        return CallResult(raw: r.status, value: r.value)
    }

    /// The save index partitions using SprigUser leave 0 in their VIDT: yielding with
    /// `save: Sprig.noSave` drops the caller's context. (`save: 0` would save over `VIDT[0]`:
    /// an index is a slot, only an entry of 0 means "drop".)
    public static let noSave: UInt64 = 511

    /// yield (DESIGN.md §5): to `callee` (a child's name, or 0 for the parent) at its VIDT index
    /// `target`, saving this partition's registers at its own VIDT index `saveIndex` (none when
    /// that entry is 0), with interrupt state `flagsOnYield` now and `flagsOnWake` when resumed.
    /// Returns only when refused (the status says why) or when someone resumes the saved context
    /// (success).
    @discardableResult @inline(__always)
    public static func yield(_ callee: UInt64, target: UInt64, save saveIndex: UInt64,
                             flagsOnYield: UInt64 = InterruptFlags.enabled,
                             flagsOnWake: UInt64 = InterruptFlags.enabled) -> CallResult {
        call(.yield, callee, target, saveIndex, flagsOnYield, flagsOnWake)
    }

    /// Root only: writes `length` bytes at `address` to the console.
    @discardableResult
    public static func consoleWrite(_ address: UInt64, _ length: UInt64) -> CallResult {
        call(.consoleWrite, address, length)
    }

    /// Root only: the periodic timer at `hz` interrupts per second (root's `VIDT[32]`); 0 stops it.
    @discardableResult
    public static func setTimer(_ hz: UInt64) -> CallResult { call(.setTimer, hz) }

    /// Root only: moves up to `maxLength` bytes that have arrived on the serial port to
    /// `address` (every byte of the range writable); `value` is how many (0: nothing waiting).
    /// Never waits. After a `VIDT[36]` delivery, call it until it returns fewer than asked.
    @discardableResult
    public static func consoleRead(_ address: UInt64, _ maxLength: UInt64) -> CallResult {
        call(.consoleRead, address, maxLength)
    }

    /// Root only: the serial port's receive interrupt on or off (root's `VIDT[36]`,
    /// `VIDTIndex.serial`).
    @discardableResult
    public static func setConsoleInterrupt(_ on: Bool) -> CallResult { call(.setConsoleInterrupt, on ? 1 : 0) }

    /// Root only: stops the machine with `status` (0…0x6F).
    public static func powerOff(_ status: UInt64) -> Never {
        _ = call(.powerOff, status)
        // Refused (not root, or a bad status): stop here with a fault the parent sees.
        while true { }
    }
}
