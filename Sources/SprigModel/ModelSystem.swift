/// A booted model machine with its CPU: the whole kernel as ring 3 sees it, on the host.
///
/// `trap` is the model's `sprig_trap`: the event goes to the same `Kernel.trap` the booted
/// kernel calls, and the outcome is applied to the model CPU the way `SprigX86` applies it to
/// the trap frame (rax/rdx for a service's answer, nothing for a switch). The root-only machine
/// services are served here in the model's terms: console bytes are collected, power-off stops
/// the system, the timer rate and the serial interrupt switch are recorded, and `consoleRead`
/// takes its bytes from `consoleInput`, what the test (or the replayed trace) says has arrived
/// on the serial port.
///
/// Exploration, fuzzing and trace replay drive the kernel through this one door.
import SprigABI
import SprigCore

public final class ModelSystem {
    public let machine: ModelMachine
    public let cpu: ModelCPU
    /// Bytes written with `consoleWrite`.
    public private(set) var console: [UInt8] = []
    /// The exit status root asked for with `powerOff`, once it did.
    public private(set) var poweredOff: UInt64?
    /// The timer rate root set with `setTimer` (0: stopped).
    public private(set) var timerHz: UInt64 = 0
    /// Bytes that have arrived on the model's serial port and not been read: `consoleRead` takes
    /// them from the front. Tests and the replay put input here; nothing else does.
    public var consoleInput: [UInt8] = []
    /// Whether root turned the serial receive interrupt on (`setConsoleInterrupt`).
    public private(set) var consoleInterruptEnabled = false
    /// Set when an event ended in the kernel crash report.
    public private(set) var crashed = false

    public convenience init(pages: Int = 512, kernelImagePages: Int = 8) {
        self.init(machine: ModelMachine(pages: pages, kernelImagePages: kernelImagePages))
    }

    /// The system of `machine`, root current with CR3 on its tables.
    public init(machine: ModelMachine) {
        self.machine = machine
        cpu = ModelCPU(memory: machine.memory, root: machine.descriptor(machine.root))
    }

    public var memory: SimulatedMemory { machine.memory }
    package var current: PhysicalAddress { cpu.currentPartition.paddr }

    /// Runs one entry into the kernel for the current partition and applies its outcome.
    /// - Precondition: the system has not powered off or crashed.
    @discardableResult
    package func trap(_ event: TrapEvent) -> TrapOutcome {
        precondition(poweredOff == nil && !crashed, "model: the system has stopped")
        cpu.accesses = KernelAccesses()
        cpu.enterKernel(event)
        let outcome = Kernel.trap(cpu, event)
        defer {
            // Back to ring 3 (powerOff and the crash report never return); an iretq that would
            // fault in the kernel stops the machine as the crash report would.
            if poweredOff == nil && !crashed {
                cpu.returnToUser()
                if cpu.exitFault != nil { crashed = true }
            }
        }
        switch outcome {
        case .returned(let status, let value):
            cpu.registers[ContextLayout.rax] = status.rawValue
            cpu.registers[ContextLayout.rdx] = value
        case .interruptRefused(let status):
            cpu.registers[ContextLayout.rax] = status.rawValue
        case .resume:
            break
        case .machineService(let service):
            guard case .systemCall(_, let a) = event else { preconditionFailure("machine service from a non-call") }
            let r = serve(service, a)
            cpu.registers[ContextLayout.rax] = r.status.rawValue
            cpu.registers[ContextLayout.rdx] = r.value
        case .kernelCrash:
            crashed = true
        }
        return outcome
    }

    /// Makes a stopped system (powered off, crashed) runnable again and forgets what the machine
    /// services recorded, for the explorer, which then loads a stored state into memory and the
    /// CPU (`StateStore.restore`): cheaper than booting a fresh machine after every stop.
    public func restartAfterStop() {
        poweredOff = nil
        crashed = false
        console = []
        timerHz = 0
        consoleInput = []
        consoleInterruptEnabled = false
    }

    /// A system call as the current partition; the status and value it returns in rax/rdx
    /// (for a successful yield, what the callee's context holds there).
    @discardableResult
    package func call(_ service: Service, _ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0,
                     _ a3: UInt64 = 0, _ a4: UInt64 = 0) -> TrapOutcome {
        trap(.systemCall(number: service.rawValue, SystemCallArguments(a0, a1, a2, a3, a4)))
    }

    private func serve(_ service: Service, _ a: SystemCallArguments) -> (status: Status, value: UInt64) {
        switch service {
        case .consoleWrite:
            return (Kernel.consoleBytes(cpu, start: UserAddress(a.a0), length: a.a1) { pa, bytes in
                cpu.accesses?.note(.load, range: pa.raw, bytes: bytes, by: current.raw)
                for k in 0..<bytes { console.append(memory.readByte(pa.adding(k))) }
            }, 0)
        case .powerOff:
            guard a.a0 <= Limits.partitionExitStatusMax else { return (.invalidArgument, 0) }
            poweredOff = a.a0
            return (.success, 0)
        case .setTimer:
            guard Limits.isTimerRate(a.a0) else { return (.invalidArgument, 0) }
            timerHz = a.a0
            return (.success, 0)
        case .consoleRead:
            let r = Kernel.consoleReadBytes(cpu, start: UserAddress(a.a0), maxLength: a.a1) { pa, room in
                let n = min(room, UInt64(consoleInput.count))
                cpu.accesses?.note(.store, range: pa.raw, bytes: n, by: current.raw)
                for k in 0..<n { memory.writeByte(pa.adding(k), consoleInput[Int(k)]) }
                consoleInput.removeFirst(Int(n))
                return n
            }
            return (r.status, r.count)
        case .setConsoleInterrupt:
            guard a.a0 <= 1 else { return (.invalidArgument, 0) }
            consoleInterruptEnabled = a.a0 == 1
            return (.success, 0)
        default:
            return (.unknownService, 0)
        }
    }
}
