/// The refinement holds for yield (every refusal code, switches both ways, saved and dropped
/// contexts) and for every kind of event delivery (hardware interrupt, exception, double fault,
/// software interrupt, dropped interrupts, refusals, the kernel crash).
import Testing
import SprigABI
import SprigCore
import SprigModel

/// Root and a child `a` with a grandchild `g`, contexts written by each as ring 3 would.
private struct SwitchScene {
    let r = Refined(pages: 256)
    let a: Kid
    let g: Kid
    /// A page of root's memory holding its contexts, as root addresses it.
    let rootContexts: UInt64
    /// A page of a's memory holding its contexts, as a addresses it.
    let aContexts: UInt64

    init() {
        a = r.makeChild(of: r.root, pages: 40)
        g = r.makeChild(of: a.descriptor, pages: 12)
        rootContexts = r.machine.takePage(r.root)
        aContexts = a.pages.last!
        let gContexts = g.pages.last!
        // Five 768-byte contexts fit in a page.
        for k in 0..<5 {
            r.writeContext(r.root, at: rootContexts + 0x300 * UInt64(k), tag: 0x100 + UInt64(k))
            r.writeContext(a.descriptor, at: aContexts + 0x300 * UInt64(k), tag: 0xA00 + UInt64(k))
        }
        r.writeContext(g.descriptor, at: gContexts, tag: 0x600)
        r.writeContext(g.descriptor, at: gContexts + 0x300, tag: 0x601)
        r.setVIDT(g.descriptor, 0, gContexts + 0x300)
        // Root: handlers for the timer (32), #PF (14), #DF (8), int 0x80; a save slot at 257.
        for (index, k) in [(32, 0), (14, 1), (8, 2), (0x80, 3)] as [(UInt64, UInt64)] {
            r.setVIDT(r.root, index, rootContexts + 0x300 * k)
        }
        r.setVIDT(r.root, VIDTIndex.stiSave, rootContexts + 0x300 * 4)
        // a: entered at 32 (a signal) and 258; save slots at 256/257; no #PF handler.
        r.setVIDT(a.descriptor, 32, aContexts)
        r.setVIDT(a.descriptor, 258, aContexts + 0x300)
        r.setVIDT(a.descriptor, VIDTIndex.cliSave, aContexts + 0x600)
        r.setVIDT(a.descriptor, VIDTIndex.stiSave, aContexts + 0x900)
        // g: saved at 257 when interrupted.
        r.setVIDT(g.descriptor, VIDTIndex.stiSave, gContexts)
    }

    func yield(_ callee: UInt64, _ target: UInt64, _ save: UInt64, _ onYield: UInt64 = 0, _ onWake: UInt64 = 0,
               as partition: PhysicalAddress? = nil) -> TrapOutcome {
        r.trap(.systemCall(number: Service.yield.rawValue, SystemCallArguments(callee, target, save, onYield, onWake)),
               as: partition)
    }
}

@Suite struct RefinementSwitchTests {
    @Test func everyYieldRefusalRefines() {
        let s = SwitchScene()
        let r = s.r
        let noVIDT = r.makeChild(of: r.root, pages: 1, vidt: false)
        let refused = { (status: Status) in TrapOutcome.returned(status, value: 0) }
        r.become(r.root, registers: YieldMachine.markedRegisters(tag: 1))
        #expect(s.yield(s.a.name, 512, 0) == refused(.invalidInterruptIndex))
        #expect(s.yield(s.a.name, 32, 512) == refused(.invalidSaveIndex))
        #expect(s.yield(0, 32, 0) == refused(.rootHasNoParent))
        #expect(s.yield(s.rootContexts, 32, 0) == refused(.invalidChild))
        #expect(s.yield(0, 0, 0, as: noVIDT.descriptor) == refused(.callerVIDTUnavailable))
        #expect(s.yield(noVIDT.name, 0, 0, as: r.root) == refused(.calleeVIDTUnavailable))
        #expect(s.yield(s.a.name, 40, 400) == refused(.calleeContextUnavailable))
        // A misaligned save slot, then one overlapping the callee's context (root sees a's page
        // in its window).
        r.setVIDT(r.root, 300, s.rootContexts + 8)
        #expect(s.yield(s.a.name, 32, 300) == refused(.callerContextUnavailable))
        let aPageInRoot = AddressSpace.rootWindowBase
            + r.machine.translate(s.a.descriptor, s.aContexts)!.raw
        r.setVIDT(r.root, 301, aPageInRoot + 0x100)
        #expect(s.yield(s.a.name, 32, 301) == refused(.callerContextUnavailable))
        #expect(r.call(.setIntState, 1, as: s.a.descriptor).status == .success)
        #expect(s.yield(s.a.name, 32, 400, as: r.root) == refused(.interruptMasked))
        // Resume slots are never masked.
        #expect(s.yield(s.a.name, 258, 400) == .resume)
        r.expectRefines("yield refusals")
    }

    @Test func yieldBothWaysRefines() {
        let s = SwitchScene()
        let r = s.r
        r.setVIDT(r.root, 258, s.rootContexts + 0x300 * 4)
        r.setVIDT(s.a.descriptor, 259, s.aContexts + 0xC00)
        r.become(r.root, registers: YieldMachine.markedRegisters(tag: 1))
        // Root → a at its signal handler, root saved at 258 and masked while away.
        #expect(s.yield(s.a.name, 32, 258, 1, 0) == .resume)
        #expect(r.system.current == s.a.descriptor)
        // a → root at the slot root was saved in; a saved at 259.
        #expect(s.yield(0, 258, 259) == .resume)
        #expect(r.system.current == r.root && r.system.cpu.registers[ContextLayout.rax] == 0)
        // Root resumes a from its saved slot, dropping its own context (entry 400 is 0).
        #expect(s.yield(s.a.name, 259, 400) == .resume)
        // a → g and back through the parent default, with masked flags.
        #expect(s.yield(s.g.name, 0, 259, 1, 1) == .resume)
        #expect(r.system.current == s.g.descriptor)
        #expect(s.yield(0, 259, VIDTIndex.stiSave, 1, 1) == .resume)
        #expect(r.system.current == s.a.descriptor)
        r.expectRefines("yields")
    }

    @Test func everyDeliveryKindRefines() {
        let s = SwitchScene()
        let r = s.r
        // A hardware interrupt from a, from the grandchild (named through the tree), from root.
        r.become(s.a.descriptor, registers: YieldMachine.markedRegisters(tag: 0xA))
        #expect(r.trap(.hardwareInterrupt(vector: 32)) == .resume)
        #expect(r.system.current == r.root && r.system.cpu.registers[Delivery.savedAtRegister] == VIDTIndex.stiSave)
        r.become(s.g.descriptor, registers: YieldMachine.markedRegisters(tag: 0x6))
        #expect(r.trap(.hardwareInterrupt(vector: 32)) == .resume)
        #expect(r.system.cpu.registers[Delivery.sourceRegister] == AddressSpace.rootWindowBase + s.g.descriptor.raw)
        #expect(r.trap(.hardwareInterrupt(vector: 32)) == .resume)
        #expect(r.system.cpu.registers[Delivery.sourceRegister] == 0)
        // No handler at 40: dropped. Root masks: 32 dropped too.
        r.become(s.a.descriptor)
        #expect(r.trap(.hardwareInterrupt(vector: 40)) == .resume && r.system.current == s.a.descriptor)
        #expect(r.call(.setIntState, 1, as: r.root).status == .success)
        r.become(s.a.descriptor)
        #expect(r.trap(.hardwareInterrupt(vector: 32)) == .resume && r.system.current == s.a.descriptor)
        // A page fault in a goes to root's #PF handler with the error code and CR2.
        #expect(r.trap(.exception(vector: 14, errorCode: 6, faultAddress: 0x1234)) == .resume)
        #expect(r.system.current == r.root && r.system.cpu.registers[Delivery.faultAddressRegister] == 0x1234)
        // g faults; a has no handler: root gets a double fault naming a, nothing saved.
        r.become(s.g.descriptor)
        #expect(r.trap(.exception(vector: 13, errorCode: 0, faultAddress: 0)) == .resume)
        #expect(r.system.cpu.registers[Delivery.savedAtRegister] == Delivery.notSaved)
        #expect(r.system.cpu.registers[Delivery.vectorRegister] == VIDTIndex.doubleFault)
        // int 0x80 from a reaches root; int 0x90 has no handler; root has no parent.
        r.become(s.a.descriptor)
        #expect(r.trap(.softwareInterrupt(vector: 0x80)) == .resume && r.system.current == r.root)
        r.become(s.a.descriptor)
        #expect(r.trap(.softwareInterrupt(vector: 0x90)) == .interruptRefused(.calleeContextUnavailable))
        #expect(r.trap(.softwareInterrupt(vector: 0x80), as: r.root) == .interruptRefused(.rootHasNoParent))
        // A fault in root: the crash report, nothing changed.
        #expect(r.trap(.exception(vector: 6, errorCode: 0, faultAddress: 0)) == .kernelCrash)
        r.expectRefines("deliveries")
    }
}
