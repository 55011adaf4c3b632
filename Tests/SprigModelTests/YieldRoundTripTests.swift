/// Successful yields: parent → child → parent round trips restore every register (rax = 0),
/// contexts straddling two non-contiguous pages, dropped contexts, flags; and register hygiene:
/// nothing of one partition's registers or FPU state is ever in another's.
import SprigABI
import SprigCore
import SprigModel
import Testing

@Suite struct YieldRoundTripTests {
    @Test func parentChildParent_restoresEverything() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        let handler = YieldMachine.poolBase
        m.writeContext(c, at: handler, tag: 0xC)
        m.setVIDT(c, 0x40, handler)
        // Root's save slot straddles two pages of its window.
        let a = m.root.take(2)[0]
        let slotVA = a.va + 4096 - 256
        m.setVIDT(m.root, 300, slotVA)
        let rootRegs = YieldMachine.markedRegisters(tag: 0xA)
        m.run(m.root, rootRegs)

        #expect(m.yield(to: c.name, target: 0x40, save: 300, onYield: 0, onWake: 0) == .success)
        // The CPU now holds exactly C's handler context, C is current, C's tables loaded.
        #expect(m.cpu.currentPartition.paddr == c.descriptor)
        #expect(m.cpu.cr3 == m.pml4(c))
        #expect(m.cpu.registers == m.expectedRegisters(c, at: handler))
        // Root's context was saved whole, with rax = 0, valid = 1, flags = flagsOnWake.
        #expect(m.peek(m.root, slotVA + UInt64(ContextLayout.rax)) == 0)
        #expect(m.peek(m.root, slotVA + UInt64(ContextLayout.valid)) == 1)
        #expect(m.peek(m.root, slotVA + UInt64(ContextLayout.rbx)) == rootRegs[ContextLayout.rbx])
        #expect(m.peek(m.root, slotVA + UInt64(ContextLayout.r15)) == rootRegs[ContextLayout.r15])
        m.checkProperties()

        // C runs, then yields back to root's saved context, saving itself at its VIDT[301].
        var childRegs = YieldMachine.markedRegisters(tag: 0xC0)
        childRegs.rip = 0x40_2222
        m.cpu.registers = childRegs
        // C's save slot straddles two pages that are not physically adjacent.
        let x: UInt64 = 0x50_0000
        let p1 = m.give(m.root, to: c, at: x)
        _ = m.root.take(1)
        let p2 = m.give(m.root, to: c, at: x + 4096)
        #expect(p2.raw != p1.raw + 4096)
        let childSlot = x + 4096 - 256
        m.setVIDT(c, 301, childSlot)
        #expect(m.yield(to: 0, target: 300, save: 301, onYield: 1, onWake: 0) == .success)
        var expected = rootRegs
        expected[ContextLayout.rax] = 0
        #expect(m.cpu.registers == expected)
        #expect(m.cpu.currentPartition.paddr == m.root.descriptor)
        #expect(m.cpu.cr3 == m.pml4(m.root))
        // C is away with interrupts masked (flagsOnYield = 1): a signal to it is refused.
        #expect(m.machine.descriptor(c.descriptor).interruptState(m.memory) == .masked)
        m.setVIDT(m.root, 302, 0)
        m.expectRefused(.interruptMasked) { m.yield(to: c.name, target: 0x40, save: 302) }
        // ... but its saved context can be resumed, and it comes back exactly, rax = 0, with
        // the flags it asked for on wake (enabled).
        #expect(m.yield(to: c.name, target: 301, save: 302) == .success)
        var expectedChild = childRegs
        expectedChild[ContextLayout.rax] = 0
        #expect(m.cpu.registers == expectedChild)
        #expect(m.machine.descriptor(c.descriptor).interruptState(m.memory) == .enabled)
        m.checkProperties()
    }

    @Test func droppedContext_writesNothingInTheCaller() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        m.writeContext(c, at: YieldMachine.poolBase, tag: 0xC)
        m.setVIDT(c, 0x40, YieldMachine.poolBase)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        let before = m.memory.snapshot()
        #expect(m.yield(to: c.name, target: 0x40, save: 303) == .success)  // VIDT[303] is 0
        let after = m.memory.snapshot()
        // Only descriptor words changed (interrupt states), none of any partition's pages.
        let changed = (0..<before.count).filter { before[$0] != after[$0] }.map { UInt64($0 * 8) }
        let descriptors = [m.root.descriptor.raw, c.descriptor.raw]
        #expect(changed.allSatisfy { descriptors.contains($0 & ~0xFFF) })
        #expect(m.cpu.saves == 0)
    }

    @Test func handlerFlagsWordBecomesTheCalleeState_rootIFFollowsIt() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        // C's handler says "masked"; C still runs with the real IF set (only root masks for real).
        m.writeContext(c, at: YieldMachine.poolBase, tag: 0xC, flags: 7)
        m.setVIDT(c, 0x40, YieldMachine.poolBase)
        let rootCtx = m.root.take(1)[0].va
        m.writeContext(m.root, at: rootCtx, tag: 0xA, flags: 1)
        m.setVIDT(m.root, 0x50, rootCtx)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        #expect(m.yield(to: c.name, target: 0x40, save: 0) == .success)
        #expect(m.machine.descriptor(c.descriptor).interruptState(m.memory) == .masked)
        #expect(m.cpu.interruptsEnabled)
        // Root entered with a masked context runs with IF clear.
        #expect(m.yield(to: 0, target: 0x50, save: 0) == .success)
        #expect(m.machine.descriptor(m.root.descriptor).interruptState(m.memory) == .masked)
        #expect(!m.cpu.interruptsEnabled)
    }
}

/// Register hygiene (DESIGN.md §5): after any switch, the registers are exactly the loaded
/// context's (sanitized); none of the previous partition's values survive, FPU/SSE included.
@Suite struct RegisterHygieneTests {
    @Test func noRegisterOfTheCallerReachesTheCallee() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        m.writeContext(c, at: YieldMachine.poolBase, tag: 0xC)
        m.setVIDT(c, 0x40, YieldMachine.poolBase)
        let rootRegs = YieldMachine.markedRegisters(tag: 0xAAAA)
        m.run(m.root, rootRegs)
        #expect(m.yield(to: c.name, target: 0x40, save: 0) == .success)
        let rootWords = Set(rootRegs.allWords.filter { $0 >> 32 == 0xAAAA })
        #expect(!m.cpu.registers.allWords.contains { rootWords.contains($0) })
        // FXSAVE's unwritten tail is zero, not left over.
        #expect(m.cpu.registers.fpu[58...].allSatisfy { $0 == 0 })
    }

    @Test func hostileContextValuesAreSanitized() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        let ctx = YieldMachine.poolBase
        m.writeContext(c, at: ctx, tag: 0xC, rip: 0xFFFF_8000_0000_1000)  // kernel rip
        m.poke(c, ctx + UInt64(ContextLayout.rflags), ~0)                  // IOPL 3, NT, VM, RF ...
        m.poke(c, ctx + UInt64(ContextLayout.fpu + 24), 0xFFFF_FFFF_FFFF_FFFF)  // MXCSR reserved bits
        m.setVIDT(c, 0x40, ctx)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        #expect(m.yield(to: c.name, target: 0x40, save: 0) == .success)
        let r = m.cpu.registers
        #expect(r.rip == 0)
        #expect(r.rflags & 0x3000 == 0)          // IOPL 0
        #expect(r.rflags & 0x4000 == 0)          // NT
        #expect(r.rflags & 0x2_0000 == 0)        // VM
        #expect(r.rflags & 0x1_0000 == 0)        // RF
        #expect(r.rflags & 0x200 != 0)           // IF: a child always runs interruptible
        #expect(UInt32(truncatingIfNeeded: r.fpu[3]) & ~UserRegisters.defaultMXCSRMask == 0)
    }

    /// Across a fault delivery and a hardware interrupt, too.
    @Test func deliveriesShowOnlyTheHandlersRegistersAndTheDeliveryWords() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        let h = m.root.take(1)[0].va
        m.writeContext(m.root, at: h, tag: 0xB)
        m.setVIDT(m.root, 14, h)
        m.setVIDT(m.root, 32, h)
        m.setVIDT(c, VIDTIndex.stiSave, YieldMachine.poolBase)
        let childRegs = YieldMachine.markedRegisters(tag: 0xCCCC)
        let childWords = Set(childRegs.allWords.filter { $0 >> 32 == 0xCCCC })
        for event in 0..<2 {
            m.run(c, childRegs)
            let outcome = event == 0
                ? InterruptRouting.exception(m.cpu, vector: 14, errorCode: 6, faultAddress: 0x1234)
                : InterruptRouting.hardwareInterrupt(m.cpu, vector: 32)
            #expect(outcome == .delivered)
            #expect(!m.cpu.registers.allWords.contains { childWords.contains($0) })
            var expected = m.expectedRegisters(m.root, at: h)
            expected[ContextLayout.rdi] = c.name
            expected[ContextLayout.rsi] = event == 0 ? 14 : 32
            expected[ContextLayout.rdx] = event == 0 ? 6 : 0
            expected[ContextLayout.rcx] = event == 0 ? 0x1234 : 0
            expected[ContextLayout.r8] = VIDTIndex.stiSave
            #expect(m.cpu.registers == expected)
            m.checkProperties()
        }
    }
}

/// The owner's words of a context (`ContextLayout.reserved..<fpu`, FXSAVE bytes
/// `fpuAvailable…`): no save writes them, so what the slot's owner put there stays, and nothing
/// of another partition (or of the kernel's staging area) reaches them.
@Suite struct ContextOwnerWordsTests {
    static let ownerOffsets = (0..<(ContextLayout.size / 8)).map { 8 * $0 }.filter(ModelCPU.isOwners)

    /// Writes `tag << 32 | offset` into every owner word of the slot at `va` in `part`.
    static func mark(_ m: YieldMachine, _ part: Part, at va: UInt64, tag: UInt64) {
        for o in ownerOffsets { m.poke(part, va + UInt64(o), tag << 32 | UInt64(o)) }
    }
    /// The owner words of the slot at `va` that do not hold `tag << 32 | offset`.
    static func changed(_ m: YieldMachine, _ part: Part, at va: UInt64, tag: UInt64) -> [Int] {
        ownerOffsets.filter { m.peek(part, va + UInt64($0)) != tag << 32 | UInt64($0) }
    }

    @Test("a save on one page leaves the owner's words as the owner wrote them")
    func onePageSaveKeepsOwnerWords() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        m.writeContext(c, at: YieldMachine.poolBase, tag: 0xC)
        m.setVIDT(c, 0x40, YieldMachine.poolBase)
        let slot = m.root.take(1)[0].va + 256
        Self.mark(m, m.root, at: slot, tag: 0xA0)
        m.setVIDT(m.root, 300, slot)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        #expect(m.yield(to: c.name, target: 0x40, save: 300) == .success)
        #expect(m.peek(m.root, slot + UInt64(ContextLayout.valid)) == 1)
        #expect(Self.changed(m, m.root, at: slot, tag: 0xA0).isEmpty)
        m.checkProperties()
    }

    /// The child's context straddles two pages, so entering it leaves its whole FXSAVE image,
    /// its owner words with it, in the kernel's staging area; root's later save over two pages
    /// goes through that area and must keep root's own words, none of the child's.
    @Test("a save through the staging area keeps the owner's words, none of another partition's")
    func straddlingSaveKeepsOwnerWords() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        let target = YieldMachine.poolBase + 4096 - 256
        m.writeContext(c, at: target, tag: 0xC)
        Self.mark(m, c, at: target, tag: 0xC0)
        m.setVIDT(c, 0x40, target)
        let rootHome = m.root.take(1)[0].va
        m.writeContext(m.root, at: rootHome, tag: 0xA)
        m.setVIDT(m.root, 0x50, rootHome)
        let slot = m.root.take(2)[0].va + 4096 - 256
        Self.mark(m, m.root, at: slot, tag: 0xA0)
        m.setVIDT(m.root, 300, slot)

        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        #expect(m.yield(to: c.name, target: 0x40, save: 0) == .success)
        #expect(m.cpu.stagingArea[ContextLayout.fpuAvailable / 8] == 0xC0 << 32 | UInt64(ContextLayout.fpu + ContextLayout.fpuAvailable))
        // Back to root on one page (the staging area keeps the child's image), then root saves
        // itself over two pages.
        #expect(m.yield(to: 0, target: 0x50, save: 0) == .success)
        #expect(m.yield(to: c.name, target: 0x40, save: 300) == .success)
        #expect(Self.changed(m, m.root, at: slot, tag: 0xA0).isEmpty)
        let childWords = (0..<(ContextLayout.size / 8)).filter { m.peek(m.root, slot + UInt64(8 * $0)) >> 32 == 0xC0 }
        #expect(childWords.isEmpty, "child words at \(childWords) of root's slot")
        m.checkProperties()
    }
}
