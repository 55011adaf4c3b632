/// What crosses to ring 3 on the way out of the kernel, in the model: the data selectors, the
/// return rip, SYSCALL's rcx and r11 (docs/yield.md, "The way back to ring 3").
///
/// `ModelCPU.returnToUser` plays `entry.S`'s exit path and its `iretq` as the SDM describes
/// them; `Properties.resumedState` is the check the explorer and the fuzzer run after every
/// kernel entry. These tests drive the tree start (root → A → B) through the explorer's steps.
import SprigABI
import SprigCore
import SprigModel
import Testing

@Suite struct ExitPathModelTests {
    static func system() -> ModelSystem { ExplorationStart.tree.makeSystem(pages: 160) }

    /// The names root gives its children (descriptor vaddrs in root).
    static func children(_ s: ModelSystem) -> [UInt64] {
        s.machine.tree().partitions[0].leaves.filter { $0.sh1 & Shadow.descriptorFlag != 0 }.map(\.va).sorted()
    }

    /// Every leaf PTE of `partition` mapping `va`, made executable as a kernel without
    /// `executeAtVIDT` would let a parent map it.
    static func makeExecutable(_ s: ModelSystem, _ partition: PhysicalAddress, _ va: UInt64) {
        let leaf = PageTableWalk.leaf(s.memory, rootTable: s.machine.rootTable(partition), va: VirtualAddress(va))!
        s.memory.store(leaf.at, leaf.entry.raw & ~PageTableEntry.noExecute)
    }

    @Test("DS, ES, FS and GS are null after every way back to ring 3, whatever ring 3 had loaded")
    func dataSelectorsAreNulled() {
        let s = Self.system()
        let a = Self.children(s)[0]
        let steps: [ExplorationStep] = [
            .call(.getIntState, a),                                  // a service's return
            .call(.yield, 0x1234_5000, 32, 258, 0, 0),               // a refused yield
            .trap(.softwareInterrupt(vector: 255)),                  // a refused int n (root)
            .trap(.hardwareInterrupt(vector: 32)),                   // an interrupt delivered to root
            .call(.yield, a, 32, 258, 0, 0),                         // root → A
            .call(.getIntState, 0),                                  // A's own return (invalidChild)
            .trap(.softwareInterrupt(vector: 255)),                  // A's int n to root
        ]
        for step in steps {
            let outcome = step.apply(to: s)
            #expect(outcome.trap != nil && !s.crashed, "\(step) → \(outcome)")
            #expect(s.cpu.registers.dataSelectors == [0, 0, 0, 0], "\(step) → \(outcome)")
            #expect(Properties.resumedState(s.cpu).isEmpty, "\(step): \(Properties.resumedState(s.cpu))")
        }
        // The marks did load selectors: without the exit path's nulling they would still be there.
        #expect(RegisterMarks.dataSelectors.allSatisfy { $0 != 0 && Segments.loadableInRing3($0) })
    }

    @Test("the CPU's iretq rules: a non-canonical rip is a kernel fault; kernel selectors are nulled, user ones kept")
    func iretRules() {
        let s = Self.system()
        s.cpu.registers.rip = AddressSpace.lowerHalfEnd
        s.cpu.returnToUser()
        #expect(s.cpu.exitFault != nil)
        #expect(Properties.resumedState(s.cpu).contains { $0.kind == .kernelFault })
        #expect(Segments.keptByIRETToRing3(0x1B) && Segments.keptByIRETToRing3(0x23) && Segments.keptByIRETToRing3(3))
        #expect(!Segments.keptByIRETToRing3(0x10) && !Segments.keptByIRETToRing3(0x08) && !Segments.keptByIRETToRing3(0x28))
        #expect(!Segments.isCanonical(AddressSpace.lowerHalfEnd) && Segments.isCanonical(AddressSpace.lowerHalfEnd - 1)
                && Segments.isCanonical(AddressSpace.upperHalfStart))
    }

    /// Root with code on its VIDT page (its leaf made executable here: no service allows it) runs
    /// a 2-byte instruction at the last bytes of the lower half. Every path that resumes root
    /// itself returns to rip 0 (`Kernel.returnAddress`), never to 0x0000_8000_0000_0000.
    @Test("a syscall, int n or dropped interrupt at the last bytes of the lower half resumes at rip 0, not at a non-canonical rip")
    func lastBytesResumeAtZero() {
        let s = Self.system()
        Self.makeExecutable(s, s.machine.root, AddressSpace.vidt)
        // Root's VIDT[32] emptied: a timer tick is dropped and root resumes.
        let slot32 = s.machine.translate(s.machine.root, AddressSpace.vidt + 8 * 32, write: true)!
        s.memory.store(slot32, 0)
        let cases: [(ExplorationStep, TrapOutcome)] = [
            (.fromLastBytes(.systemCall(number: DomainAddress.unknownService, SystemCallArguments())), .returned(.unknownService, value: 0)),
            (.fromLastBytes(.softwareInterrupt(vector: 255)), .interruptRefused(.rootHasNoParent)),
            (.fromLastBytes(.hardwareInterrupt(vector: 32)), .resume),
        ]
        for (step, expected) in cases {
            let outcome = step.apply(to: s)
            #expect(outcome.trap?.outcome == expected, "\(step) → \(outcome)")
            #expect(s.cpu.registers.rip == 0, "\(step): resumed at \(Domain.hex(s.cpu.registers.rip))")
            #expect(s.cpu.exitFault == nil && !s.crashed, "\(step): \(s.cpu.exitFault ?? "")")
        }
    }

    @Test("without code on the VIDT page the instruction fetch is the page fault, rip the instruction")
    func lastBytesWithoutCodeFault() {
        let s = Self.system()
        let a = Self.children(s)[0]
        ExplorationStep.call(.yield, a, 32, 258, 0, 0).apply(to: s)
        let outcome = ExplorationStep.fromLastBytes(.softwareInterrupt(vector: 255)).apply(to: s)
        #expect(outcome.trap?.event == .exception(vector: 14, errorCode: 0x15, faultAddress: ExplorationStep.lastInstruction))
        #expect(s.cpu.exitFault == nil)
    }

    @Test("addVAddr refuses execute rights at the child's VIDT address with executeAtVIDT, changing nothing")
    func addVAddrRefusesCodeOnTheVIDT() {
        let m = ModelMachine()
        let kid = m.makeChild(of: m.root, pages: 1)
        m.prepare(m.root, child: kid.name, va: AddressSpace.vidt)
        let page = m.takePage(m.root)
        for rights in [Rights.all, Rights.read | Rights.execute] {
            expectRefused(m, .executeAtVIDT, "rights \(rights) at the VIDT") {
                m.call(m.root, .addVAddr, AddressSpace.imageBase, kid.name, AddressSpace.vidt, rights)
            }
        }
        // The same executable page elsewhere, and a plain page at the VIDT, are fine.
        #expect(m.call(m.root, .addVAddr, page, kid.name, AddressSpace.vidt, Rights.read | Rights.write).status == .success)
        #expect(m.call(m.root, .addVAddr, AddressSpace.imageBase, kid.name, ModelMachine.childPagesBase + 0x10_0000,
                       Rights.read | Rights.execute).status != .executeAtVIDT)
    }

    @Test("SYSCALL leaves the return rip in rcx and rflags in r11, as the kernel's frame holds them")
    func syscallClobbersRcxR11() {
        let s = Self.system()
        var r = RegisterMarks.registers(of: s.current, interruptsEnabled: true)
        r[ContextLayout.rcx] = 0x1111
        r[ContextLayout.r11] = 0x2222
        s.cpu.registers = r
        s.call(.getIntState, Self.children(s)[0])
        #expect(s.cpu.registers[ContextLayout.rcx] == r.rip)
        #expect(s.cpu.registers[ContextLayout.r11] == r.rflags)
    }
}
