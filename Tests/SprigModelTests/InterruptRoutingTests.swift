/// Interrupt, fault and software-interrupt routing (DESIGN.md §6) on the model CPU.
import SprigABI
import SprigCore
import SprigModel
import Testing

@Suite struct InterruptRoutingTests {
    /// root → C → G, root's VIDT[32], [36], [13], [14], [8], [0x80] all one handler context H;
    /// `cSlot` a free page of C for save slots (C's first pool pages became G's structures).
    static func setUp() -> (m: YieldMachine, c: Part, g: Part, handler: UInt64, cSlot: UInt64) {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        let cSlot = c.take(1)[0].va
        let g = m.makeChild(of: c, poolPages: 2)
        let h = m.root.take(1)[0].va
        m.writeContext(m.root, at: h, tag: 0xB)
        for v: UInt64 in [VIDTIndex.timer, VIDTIndex.serial, 13, 14, 8, 0x80] { m.setVIDT(m.root, v, h) }
        return (m, c, g, h, cSlot)
    }

    /// The timer's vector and the serial port's are routed alike (each at its own VIDT entry).
    @Test(arguments: [VIDTIndex.timer, VIDTIndex.serial])
    func hardwareInterruptFromGrandchildReachesRoot(vector: UInt64) {
        let (m, c, g, h, _) = Self.setUp()
        m.setVIDT(g, VIDTIndex.stiSave, YieldMachine.poolBase)
        let gRegs = YieldMachine.markedRegisters(tag: 0x6)
        m.run(g, gRegs)
        #expect(InterruptRouting.hardwareInterrupt(m.cpu, vector: vector) == .delivered)
        #expect(m.cpu.currentPartition.paddr == m.root.descriptor)
        #expect(m.cpu.cr3 == m.pml4(m.root))
        // Root names G by G's descriptor's vaddr in root's own space (its window address).
        let gInRoot = AddressSpace.rootWindowBase + g.descriptor.raw
        #expect(m.cpu.registers[ContextLayout.rdi] == gInRoot)
        #expect(m.cpu.registers[ContextLayout.rdi] != g.name)   // not C's name for it
        #expect(m.cpu.registers[ContextLayout.rsi] == vector)
        #expect(m.cpu.registers[ContextLayout.r8] == VIDTIndex.stiSave)
        // G's context is in G's own VIDT slot, whole, rax kept (it was interrupted, not calling).
        #expect(m.peek(g, YieldMachine.poolBase + UInt64(ContextLayout.rax)) == gRegs[ContextLayout.rax])
        #expect(m.peek(g, YieldMachine.poolBase + UInt64(ContextLayout.rip)) == gRegs.rip)
        #expect(m.peek(g, YieldMachine.poolBase + UInt64(ContextLayout.valid)) == 1)
        _ = c; _ = h
        m.checkProperties()
    }

    @Test func interruptedChildIsResumedExactlyThroughItsSaveSlot() {
        let (m, c, _, _, cSlot) = Self.setUp()
        m.setVIDT(c, VIDTIndex.stiSave, cSlot)
        m.setVIDT(c, VIDTIndex.cliSave, cSlot + 1024)
        let cRegs = YieldMachine.markedRegisters(tag: 0xC)
        m.run(c, cRegs)
        #expect(InterruptRouting.hardwareInterrupt(m.cpu, vector: 32) == .delivered)
        #expect(m.cpu.registers[ContextLayout.rdi] == c.name)
        let slot = m.cpu.registers[ContextLayout.r8]
        #expect(slot == VIDTIndex.stiSave)
        #expect(m.yield(to: c.name, target: slot, save: 0) == .success)
        #expect(m.cpu.registers == cRegs)   // every register, rax included
        // Masked (VCLI) partitions are saved at the CLI slot.
        m.machine.descriptor(c.descriptor).setInterruptState(m.memory, .masked)
        m.run(c, cRegs)
        #expect(InterruptRouting.hardwareInterrupt(m.cpu, vector: 32) == .delivered)
        #expect(m.cpu.registers[ContextLayout.r8] == VIDTIndex.cliSave)
        m.checkProperties()
    }

    @Test func rootMaskedOrWithoutHandler_interruptDropped_nothingChanges() {
        let (m, c, _, _, cSlot) = Self.setUp()
        m.setVIDT(c, VIDTIndex.stiSave, cSlot)
        m.run(c, YieldMachine.markedRegisters(tag: 0xC))
        m.machine.descriptor(m.root.descriptor).setInterruptState(m.memory, .masked)
        var before = m.snapshot
        #expect(InterruptRouting.hardwareInterrupt(m.cpu, vector: 32) == .resumed)
        #expect(m.snapshot == before ? true : false, "the machine changed")
        m.machine.descriptor(m.root.descriptor).setInterruptState(m.memory, .enabled)
        before = m.snapshot
        #expect(InterruptRouting.hardwareInterrupt(m.cpu, vector: 33) == .resumed)  // VIDT[33] = 0
        #expect(m.snapshot == before ? true : false, "the machine changed")
    }

    @Test func unusableSaveSlot_contextDropped_rootStillTold() {
        let (m, c, _, _, _) = Self.setUp()
        m.setVIDT(c, VIDTIndex.stiSave, 0xFFFF_8000_0000_0000)   // hostile: kernel half
        m.run(c, YieldMachine.markedRegisters(tag: 0xC))
        #expect(InterruptRouting.hardwareInterrupt(m.cpu, vector: 32) == .delivered)
        #expect(m.cpu.registers[ContextLayout.r8] == Delivery.notSaved)
        #expect(m.cpu.saves == 0)
        m.checkProperties()
    }

    @Test func childFaultGoesToParentWithSavedContext() {
        let (m, c, _, _, cSlot) = Self.setUp()
        m.setVIDT(c, VIDTIndex.stiSave, cSlot)
        let cRegs = YieldMachine.markedRegisters(tag: 0xC)
        m.run(c, cRegs)
        #expect(InterruptRouting.exception(m.cpu, vector: 14, errorCode: 7, faultAddress: 0xDEAD_B000) == .delivered)
        #expect(m.cpu.currentPartition.paddr == m.root.descriptor)
        #expect(m.cpu.registers[ContextLayout.rdi] == c.name)
        #expect(m.cpu.registers[ContextLayout.rsi] == 14)
        #expect(m.cpu.registers[ContextLayout.rdx] == 7)
        #expect(m.cpu.registers[ContextLayout.rcx] == 0xDEAD_B000)
        #expect(m.cpu.registers[ContextLayout.r8] == VIDTIndex.stiSave)
        // The parent reads the faulting context from the child's memory (its own pages too).
        let slotPA = m.paddr(c, cSlot)
        #expect(m.memory.load(slotPA.adding(UInt64(ContextLayout.rip))) == cRegs.rip)
        m.checkProperties()
    }

    /// A child that faults forever: each fault is delivered, and the kernel's state does not grow.
    @Test func childFaultingInALoop() {
        let (m, c, _, _, cSlot) = Self.setUp()
        m.setVIDT(c, VIDTIndex.stiSave, cSlot)
        let cRegs = YieldMachine.markedRegisters(tag: 0xC)
        var first: [UInt64] = []
        for i in 0..<200 {
            m.run(c, cRegs)
            #expect(InterruptRouting.exception(m.cpu, vector: 13, errorCode: 0, faultAddress: 0) == .delivered)
            // Root resumes the child at its save slot, which faults again.
            #expect(m.yield(to: c.name, target: VIDTIndex.stiSave, save: 0) == .success)
            #expect(m.cpu.registers == cRegs)
            if i == 0 { first = m.memory.snapshot() }
        }
        #expect(m.memory.snapshot() == first ? true : false, "state changed between faults")
        m.checkProperties()
    }

    /// G faults; C (its parent) has no handler for it: root gets a double fault naming C.
    @Test func doubleFaultEscalatesToGrandparent() {
        let (m, c, g, _, _) = Self.setUp()
        m.setVIDT(g, VIDTIndex.stiSave, YieldMachine.poolBase)
        m.run(g, YieldMachine.markedRegisters(tag: 0x6))
        #expect(InterruptRouting.exception(m.cpu, vector: 14, errorCode: 4, faultAddress: 0x1000) == .delivered)
        #expect(m.cpu.currentPartition.paddr == m.root.descriptor)
        #expect(m.cpu.registers[ContextLayout.rsi] == VIDTIndex.doubleFault)
        #expect(m.cpu.registers[ContextLayout.rdi] == c.name)
        #expect(m.cpu.registers[ContextLayout.rdx] == 0)
        #expect(m.cpu.registers[ContextLayout.r8] == Delivery.notSaved)
        #expect(m.cpu.saves == 0)
        m.checkProperties()
    }

    /// C has a handler for G's fault: C takes it, root is not involved.
    @Test func grandchildFaultTakenByItsParent() {
        let (m, c, g, _, _) = Self.setUp()
        let h = c.take(1)[0].va
        m.writeContext(c, at: h, tag: 0xCC)
        m.setVIDT(c, 14, h)
        m.run(g, YieldMachine.markedRegisters(tag: 0x6))
        #expect(InterruptRouting.exception(m.cpu, vector: 14, errorCode: 4, faultAddress: 0x1000) == .delivered)
        #expect(m.cpu.currentPartition.paddr == c.descriptor)
        #expect(m.cpu.registers[ContextLayout.rdi] == g.name)
        m.checkProperties()
    }

    /// C faults with a vector root has no handler for (#UD), but root has one at VIDT[8]: root
    /// gets a double fault naming C there, C's context saved at its STI slot, no error code.
    @Test func childFaultRootCannotTake_goesToRootsDoubleFault() {
        let (m, c, _, h, cSlot) = Self.setUp()
        m.setVIDT(c, VIDTIndex.stiSave, cSlot)
        let cRegs = YieldMachine.markedRegisters(tag: 0xC)
        m.run(c, cRegs)
        #expect(InterruptRouting.exception(m.cpu, vector: 6, errorCode: 0x55, faultAddress: 0x1000) == .delivered)
        #expect(m.cpu.currentPartition.paddr == m.root.descriptor)
        #expect(m.cpu.registers[ContextLayout.rdi] == c.name)
        #expect(m.cpu.registers[ContextLayout.rsi] == VIDTIndex.doubleFault)
        #expect(m.cpu.registers[ContextLayout.rdx] == 0 && m.cpu.registers[ContextLayout.rcx] == 0)
        #expect(m.cpu.registers[ContextLayout.r8] == VIDTIndex.stiSave)
        #expect(m.memory.load(m.paddr(c, cSlot).adding(UInt64(ContextLayout.rip))) == cRegs.rip)
        #expect(m.cpu.registers.rip == m.memory.load(m.paddr(m.root, h).adding(UInt64(ContextLayout.rip))))
        m.checkProperties()
    }

    /// An NMI while G runs is a hardware event: root at VIDT[2] told G was interrupted (G saved
    /// at its STI slot), not G's parent C at VIDT[2] as G's exception 2; root's VCLI does not
    /// mask it; without a handler there it is dropped, nothing changed.
    @Test func nmiGoesToRootUnmasked() {
        let (m, c, g, h, _) = Self.setUp()
        m.setVIDT(m.root, VIDTIndex.nmi, h)
        let hc = c.take(1)[0].va
        m.writeContext(c, at: hc, tag: 0xCC)
        m.setVIDT(c, VIDTIndex.nmi, hc)
        m.setVIDT(g, VIDTIndex.stiSave, YieldMachine.poolBase)
        DescriptorLayout.overwriteForTesting(m.memory, m.root.descriptor, DescriptorLayout.interruptState, InterruptFlags.masked)
        m.run(g, YieldMachine.markedRegisters(tag: 0x6))
        #expect(Kernel.trap(m.cpu, .hardwareInterrupt(vector: VIDTIndex.nmi)) == .resume)
        #expect(m.cpu.currentPartition.paddr == m.root.descriptor)
        #expect(m.cpu.registers[ContextLayout.rsi] == VIDTIndex.nmi)
        #expect(m.cpu.registers[ContextLayout.rdi] == InterruptRouting.name(m.memory, m.machine.descriptor(g.descriptor), in: m.machine.descriptor(m.root.descriptor)))
        #expect(m.cpu.registers[ContextLayout.r8] == VIDTIndex.stiSave)
        m.checkProperties()
        m.setVIDT(m.root, VIDTIndex.nmi, 0)
        m.run(g, YieldMachine.markedRegisters(tag: 0x6))
        let before = m.snapshot
        #expect(Kernel.trap(m.cpu, .hardwareInterrupt(vector: VIDTIndex.nmi)) == .resume)
        #expect(m.snapshot == before ? true : false, "a dropped NMI changed the machine")
    }

    @Test func faultInRootOrTakenByNobody_crashReport_nothingChanged() {
        let (m, c, _, _, _) = Self.setUp()
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        var before = m.snapshot
        #expect(InterruptRouting.exception(m.cpu, vector: 6, errorCode: 0, faultAddress: 0) == .kernelCrash)
        #expect(m.snapshot == before ? true : false, "the machine changed")
        // C faults with a vector root has no handler for (and no double-fault handler either).
        m.setVIDT(m.root, 8, 0)
        m.run(c, YieldMachine.markedRegisters(tag: 0xC))
        before = m.snapshot
        #expect(InterruptRouting.exception(m.cpu, vector: 6, errorCode: 0, faultAddress: 0) == .kernelCrash)
        #expect(m.snapshot == before ? true : false, "the machine changed")
    }

    @Test func softwareInterruptGoesToParent() {
        let (m, c, _, _, cSlot) = Self.setUp()
        m.setVIDT(c, VIDTIndex.stiSave, cSlot)
        let cRegs = YieldMachine.markedRegisters(tag: 0xC)
        m.run(c, cRegs)
        #expect(InterruptRouting.softwareInterrupt(m.cpu, vector: UncheckedVIDTIndex(0x80)) == .success)
        #expect(m.cpu.currentPartition.paddr == m.root.descriptor)
        #expect(m.cpu.registers[ContextLayout.rdi] == c.name)
        #expect(m.cpu.registers[ContextLayout.rsi] == 0x80)
        #expect(m.cpu.registers[ContextLayout.r8] == VIDTIndex.stiSave)
        // Resumed, the caller sees status 0 in rax, like a yield.
        #expect(m.yield(to: c.name, target: VIDTIndex.stiSave, save: 0) == .success)
        var expected = cRegs
        expected[ContextLayout.rax] = 0
        #expect(m.cpu.registers == expected)
        m.checkProperties()
        // Refusals are yield's, and change nothing: root masked, no handler, root itself.
        m.machine.descriptor(m.root.descriptor).setInterruptState(m.memory, .masked)
        m.run(c, cRegs)
        m.expectRefused(.interruptMasked) { InterruptRouting.softwareInterrupt(m.cpu, vector: UncheckedVIDTIndex(0x80)) }
        m.machine.descriptor(m.root.descriptor).setInterruptState(m.memory, .enabled)
        m.expectRefused(.calleeContextUnavailable) { InterruptRouting.softwareInterrupt(m.cpu, vector: UncheckedVIDTIndex(0x81)) }
        m.run(m.root, cRegs)
        m.expectRefused(.rootHasNoParent) { InterruptRouting.softwareInterrupt(m.cpu, vector: UncheckedVIDTIndex(0x80)) }
    }

    /// Fig. 4 through the fault path: the child's save slot points at kernel memory; the fault
    /// is delivered but nothing is written there, and nothing of the kernel is read.
    @Test func fig4_faultPathNeverDumpsIntoOrFromKernelPages() {
        let (m, c, g, _, _) = Self.setUp()
        m.setVIDT(c, VIDTIndex.stiSave, g.name)   // G's descriptor page, mapped in C as a structure
        m.run(c, YieldMachine.markedRegisters(tag: 0xC))
        let descriptorBefore = (0..<512).map { m.memory.load(g.descriptor.adding(UInt64($0 * 8))) }
        #expect(InterruptRouting.exception(m.cpu, vector: 14, errorCode: 4, faultAddress: 0) == .delivered)
        #expect(m.cpu.registers[ContextLayout.r8] == Delivery.notSaved)
        let descriptorAfter = (0..<512).map { m.memory.load(g.descriptor.adding(UInt64($0 * 8))) }
        #expect(descriptorAfter == descriptorBefore)
        m.checkProperties()
    }
}
