/// The systems Sprig ships: a system is a bootable set of the kernel, a root partition and the
/// partitions root starts (given to the kernel as boot modules, root's image first).
public struct SystemDescription: Sendable {
    public let name: String
    public let summary: String
    /// Partition directories under Partitions/, root's first; each becomes one boot module.
    public let partitions: [String]
    /// The `sprig run` options this system takes (`--seed`, `--calls`), passed to root on the
    /// kernel command line as `<name>.<option>=<value>` (SystemArguments).
    public var options: [SystemOption] = []
    /// Root reads the serial console: `sprig run` connects the terminal to the serial input.
    public var readsConsole = false
    /// Root reports time-stamp-counter deltas as instruction counts: QEMU must count
    /// instructions (`-icount`), under `sprig run` as under `sprig bench`.
    public var countsInstructions = false
    /// Kernel symbols root is told the address of on the command line (`KernelSymbols`).
    public var kernelSymbols: [String] = []
}

public enum Systems {
    public static let all: [SystemDescription] = [
        SystemDescription(
            name: "signal", summary: "the paper's scenario: a mini-OS starts a server, SIGINT (0xA3) is refused while masked, then taken; the server exits through 0xB7 and every page comes back",
            partitions: ["signal", "minios", "server"]),
        SystemDescription(
            name: "attacks", summary: "yield's check chain 1-9 from ring 3, Fig. 4 through the fault path, a child faulting 1000 times, a child that never yields, register/FPU hygiene both ways",
            partitions: ["attacks", "attacker", "attacker", "attacker"]),
        SystemDescription(
            name: "fuzz", summary: "root issues random services, yields and faults (seed, calls) through three children, checking after each call that it still owns its memory and the kernel answers",
            partitions: ["fuzz", "fuzzchild", "fuzzchild", "fuzzchild"], options: [.seed, .calls]),
        SystemDescription(
            name: "echo", summary: "serial input through IRQ 4: root turns the receive interrupt on, a child spins, each VIDT[36] delivery names it; root drains the UART with consoleRead, echoes, resumes the child; Ctrl-D ends",
            partitions: ["echo", "attacker"], readsConsole: true),
        SystemDescription(
            name: "hello", summary: "root alone: greets, reports the memory it owns, powers off with status 0",
            partitions: ["root"]),
        SystemDescription(
            name: "memory", summary: "root exercises every memory service from ring 3, hostile calls included, and checks every page came back",
            partitions: ["memory"]),
        SystemDescription(
            name: "bench", summary: "guest-instruction counts of yield, interrupt delivery and every memory service (run it with `sprig bench`)",
            partitions: ["bench", "benchchild"], countsInstructions: true),
        SystemDescription(
            name: "teeter", summary: "AIM's teeter-totter on the threads library: the main thread moves right->left under cli/sti, the virtual timer's handler left->right, left + right = 100 at every tick and sti, winners printed, for 10,000 ticks",
            partitions: ["threadsroot", "teeter"]),
        SystemDescription(
            name: "threads-demo", summary: "the threads library at work for 10,000 virtual ticks: bounded buffers with Mesa and with Hoare conditions, readers/writers, dining philosophers; invariants at every tick and sti, preemptions inside critical sections counted",
            partitions: ["threadsroot", "threadsdemo"]),
        SystemDescription(
            name: "threads-bench", summary: "guest-instruction counts of the threads library: a thread switch inside a partition and a tick to the program's timer handler (run it with `sprig bench`)",
            partitions: ["threadsroot", "threadsbench"], countsInstructions: true),
        SystemDescription(
            name: "faulty", summary: "root page-faults on purpose: no parent can take it, so the kernel prints its crash report (status 0x70); faulty.child=1 or 2: a child's #UD that root cannot take at VIDT[6] (crash report naming the child) or takes at VIDT[8]",
            partitions: ["faulty", "attacker"]),
        SystemDescription(
            name: "alice-eve", summary: "WeensyOS's Alice and Eve: root schedules them round-robin with the timer; Eve loops, then attacks the kernel and Alice nine ways, each contained and reported, Eve restarted from her image each time; keys m (memory map), a/e (address spaces), q (power off)",
            partitions: ["weensy", "alice", "eve"], readsConsole: true,
            kernelSymbols: ["sprig_syscall_entry", "sprig_image_start_phys", "sprig_image_end_phys"]),
    ]

    public static let defaultName = "signal"

    public static func named(_ name: String) throws -> SystemDescription {
        guard let s = all.first(where: { $0.name == name }) else {
            throw ToolError("no system named '\(name)'; the systems are \(all.map(\.name).joined(separator: ", ")) (`sprig systems` describes each)")
        }
        return s
    }

    /// Every partition some system needs.
    public static var allPartitions: [String] {
        var seen: [String] = []
        for s in all { for p in s.partitions where !seen.contains(p) { seen.append(p) } }
        return seen
    }
}
