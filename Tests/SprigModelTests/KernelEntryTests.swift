/// `Kernel.trap`, the one entry the booted kernel and the model share: what it hands back to the
/// platform for each kind of entry, and root's VCLI acting on the real IF.
import SprigABI
import SprigCore
import SprigModel
import Testing

@Suite("Kernel entry")
struct KernelEntryTests {
    func call(_ m: YieldMachine, _ s: Service, _ a: UInt64 = 0) -> TrapOutcome {
        Kernel.trap(m.cpu, .systemCall(number: s.rawValue, SystemCallArguments(a)))
    }

    @Test("root's setIntState is its real IF at once; a child's leaves IF set")
    func rootVCLIMasksIF() {
        let m = YieldMachine(pages: 256)
        var r = RegisterFile()
        r.rflags = UserRegisters.rflags(0, interruptsEnabled: true)
        m.cpu.trap(as: m.machine.descriptor(m.root.descriptor), pml4: m.pml4(m.root), registers: r)
        #expect(call(m, .setIntState, InterruptFlags.masked) == .returned(.success, value: 0))
        #expect(!m.cpu.interruptsEnabled)
        #expect(call(m, .setIntState, 7) == .returned(.invalidArgument, value: 0))
        #expect(!m.cpu.interruptsEnabled, "a refused call changes nothing")
        #expect(call(m, .setIntState, InterruptFlags.enabled) == .returned(.success, value: 0))
        #expect(m.cpu.interruptsEnabled)

        let child = m.makeChild(of: m.root, poolPages: 2)
        m.cpu.trap(as: m.machine.descriptor(child.descriptor), pml4: m.pml4(child), registers: r)
        #expect(call(m, .setIntState, InterruptFlags.masked) == .returned(.success, value: 0))
        #expect(m.cpu.interruptsEnabled, "only root's IF follows its virtual flag")
        #expect(m.machine.descriptor(child.descriptor).interruptState(m.memory) == .masked)
    }

    @Test("root-only services: handed to the platform for root, rootOnly for anyone else; unknown numbers refused")
    func machineServices() {
        let m = YieldMachine(pages: 256)
        let rootOnly: [Service] = Service.allCases.filter(\.isRootOnly)
        #expect(rootOnly == [.consoleWrite, .powerOff, .setTimer, .consoleRead, .setConsoleInterrupt])
        for s in rootOnly { #expect(call(m, s) == .machineService(s)) }
        #expect(Kernel.trap(m.cpu, .systemCall(number: 0x999, SystemCallArguments())) == .returned(.unknownService, value: 0))
        let child = m.makeChild(of: m.root, poolPages: 1)
        m.cpu.trap(as: m.machine.descriptor(child.descriptor), pml4: m.pml4(child), registers: RegisterFile())
        for s in rootOnly { #expect(call(m, s) == .returned(.rootOnly, value: 0)) }
    }

    @Test("ModelSystem serves the machine services like the kernel: bounds checked, console bytes from root's memory")
    func modelSystemMachineServices() {
        let s = ModelSystem(pages: 128)
        #expect(s.call(.setTimer, 5) == .machineService(.setTimer))
        #expect(s.cpu.registers[ContextLayout.rax] == Status.invalidArgument.rawValue)
        #expect(s.timerHz == 0)
        s.call(.setTimer, 100)
        #expect(s.cpu.registers[ContextLayout.rax] == Status.success.rawValue && s.timerHz == 100)
        s.call(.consoleWrite, 0xFFFF_8000_0000_0000, 8)
        #expect(s.cpu.registers[ContextLayout.rax] == Status.kernelHalfAddress.rawValue)
        let page = s.machine.rootWindow[0]
        s.memory.store(PhysicalAddress(page - AddressSpace.rootWindowBase), 0x0A6968)  // "hi\n"
        s.call(.consoleWrite, page, 3)
        #expect(s.console == Array("hi\n".utf8))
        s.call(.powerOff, 0x70)
        #expect(s.cpu.registers[ContextLayout.rax] == Status.invalidArgument.rawValue && s.poweredOff == nil)
        s.call(.powerOff, 0)
        #expect(s.poweredOff == 0)
    }
}
