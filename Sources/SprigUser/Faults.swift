/// Swift names for Faults.S: faults on purpose, `int n`, system calls, each followed by a report
/// that needs no stack, and the stackless report loop (the `fuzz` system's children,
/// systems/fuzz/fuzzchild).
@_extern(c, "sprig_fault_then_report")
func faultThenReportC(_ kind: UInt64, _ operand: UInt64, _ block: UInt64)
@_extern(c, "sprig_int_then_report") func intThenReportC(_ vector: UInt64, _ block: UInt64)
@_extern(c, "sprig_syscall_then_report")
func syscallThenReportC(_ number: UInt64, _ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64, _ a4: UInt64,
                        _ block: UInt64)
@_extern(c, "sprig_yield_loop") func yieldLoopC(_ target: UInt64, _ save: UInt64, _ fallback: UInt64)

/// The faults `sprigFaultThenReport` can raise, by number, and the vector each must reach the
/// parent with.
public enum FaultKind {
    public static let undefinedOpcode: UInt64 = 0     // ud2 → 6
    public static let divideError: UInt64 = 1         // div by 0 → 0
    public static let read: UInt64 = 2                // load at the operand → 14 / 13 / none
    public static let write: UInt64 = 3               // store at the operand → 14 / 13
    public static let execute: UInt64 = 4             // jump to the operand → 14 / 13
    public static let breakpoint: UInt64 = 5          // int3 → 3, then goes on
    public static let halt: UInt64 = 6                // hlt → 13
    public static let portIn: UInt64 = 7              // in → 13
    public static let clearInterrupts: UInt64 = 8     // cli → 13
    public static let push: UInt64 = 9                // push with rsp = operand → 12 (13 under TCG) / 14
    public static let x87: UInt64 = 10                // x87 divide by zero → 16 (the kernel sets CR0.NE)
    public static let sse: UInt64 = 11                // SSE divide by zero → 19 (none under TCG)
    public static let singleStep: UInt64 = 12         // TF → 1, then goes on
    public static let stepOverSyscall: UInt64 = 13    // TF across syscall → 1 in ring 3 or none
    public static let segment: UInt64 = 14            // mov operand to ds → 13 (error = selector) / none
    public static let readMSR: UInt64 = 15            // rdmsr → 13
    public static let into: UInt64 = 16               // into (invalid in 64-bit) → 6
    public static let alignment: UInt64 = 17          // AC + misaligned load → 17 if CR0.AM, else none
    public static let loadGDT: UInt64 = 18            // lgdt → 13
    public static let writeCR3: UInt64 = 19           // mov to cr3 → 13
    public static let iretToKernel: UInt64 = 20       // iretq to the kernel's code selector → 13 (error 8), 14 under TCG with SMAP
    public static let nonCanonical: UInt64 = 21       // load at a non-canonical address → 13
    public static let count: UInt64 = 22
}

/// Where a *ThenReport routine reports, then where it yields (see Faults.S). The routines take
/// its address: keep it in static memory, not on the stack (a context resumed late reads it).
public struct ReportBlock {
    public var resultAt: UInt64
    public var valueAt: UInt64
    public var doneAt: UInt64
    public var sequence: UInt64
    public var target: UInt64
    public var save: UInt64
    public var fallback: UInt64
    public init(resultAt: UInt64, valueAt: UInt64, doneAt: UInt64, sequence: UInt64, target: UInt64, save: UInt64, fallback: UInt64) {
        self.resultAt = resultAt; self.valueAt = valueAt; self.doneAt = doneAt; self.sequence = sequence
        self.target = target; self.save = save; self.fallback = fallback
    }
}

/// Executes fault `kind` (`FaultKind`) with `operand`, then reports (`FuzzMailbox.noFault` and
/// the value when it went on without a fault).
public func sprigFaultThenReport(_ kind: UInt64, _ operand: UInt64, _ block: UInt64) -> Never {
    faultThenReportC(kind, operand, block)
    while true {}
}

/// `int $vector`, then reports rax as the kernel left it (a refusal's status, or 0 once resumed).
public func sprigIntThenReport(_ vector: UInt64, _ block: UInt64) -> Never {
    intThenReportC(vector, block)
    while true {}
}

/// System call `number` (yield included), then reports its status and second result.
public func sprigSyscallThenReport(_ number: UInt64, _ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64, _ a4: UInt64,
                                   _ block: UInt64) -> Never {
    syscallThenReportC(number, a0, a1, a2, a3, a4, block)
    while true {}
}

/// Yields to the parent's `VIDT[target]` saving at `save`, forever (see Faults.S).
public func sprigYieldLoop(_ target: UInt64, save: UInt64, fallback: UInt64) -> Never {
    yieldLoopC(target, save, fallback)
    while true {}
}

@_extern(c, "sprig_port_out") func portOutC(_ port: UInt64, _ value: UInt64)
/// Writes byte `value` to I/O port `port` (Ports.S): a #GP(0) in every partition (IOPL 0).
@inline(__always) public func sprigPortOut(_ port: UInt64, _ value: UInt64) { portOutC(port, value) }
