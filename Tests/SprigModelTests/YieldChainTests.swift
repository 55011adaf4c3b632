/// yield's check chain (DESIGN.md §5): every code 1–9, in chain order, each refusal changing
/// nothing (whole memory and CPU compared), and the attacks of the paper.
import SprigABI
import SprigCore
import SprigModel
import Testing

@Suite struct YieldChainTests {
    /// Root with one child C whose VIDT[0x40] is a valid handler, and root's VIDT[300] a valid
    /// save slot; root is current.
    static func setUp() -> (YieldMachine, Part) {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        m.writeContext(c, at: YieldMachine.poolBase, tag: 0xC)
        m.setVIDT(c, 0x40, YieldMachine.poolBase)
        let slot = m.root.take(1)[0]
        m.setVIDT(m.root, 300, slot.va)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        return (m, c)
    }

    @Test func code1_targetOutOfRange_beforeCode2() {
        let (m, c) = Self.setUp()
        m.expectRefused(.invalidInterruptIndex) { m.yield(to: c.name, target: 512, save: 300) }
        m.expectRefused(.invalidInterruptIndex) { m.yield(to: c.name, target: ~0, save: 512) }
    }

    @Test func code2_saveIndexOutOfRange_beforeCode3() {
        let (m, c) = Self.setUp()
        m.expectRefused(.invalidSaveIndex) { m.yield(to: c.name, target: 0x40, save: 512) }
        // Root naming its (nonexistent) parent as well.
        m.expectRefused(.invalidSaveIndex) { m.yield(to: 0, target: 0x40, save: 1 << 40) }
    }

    @Test func code3_rootHasNoParent_beforeLaterChecks() {
        let (m, _) = Self.setUp()
        m.expectRefused(.rootHasNoParent) { m.yield(to: 0, target: 0x40, save: 300) }
        // Even with a save slot that would fail check 8.
        m.setVIDT(m.root, 301, 0xFFFF_8000_0000_0000)
        m.expectRefused(.rootHasNoParent) { m.yield(to: 0, target: 7, save: 301) }
    }

    @Test func code4_invalidChild_hostileNames() {
        let (m, c) = Self.setUp()
        for name in [c.name + 8, c.name + 0x1000, 0xFFFF_8000_0000_0000, 1 << 63, 0x1234,
                     AddressSpace.vidt, m.root.pool[0].va] {
            m.expectRefused(.invalidChild) { m.yield(to: name, target: 0x40, save: 300) }
        }
        // A grandchild is not a child.
        let g = m.makeChild(of: c, poolPages: 0)
        m.expectRefused(.invalidChild) { m.yield(to: g.name, target: 0x40, save: 300) }
    }

    @Test func code4_beforeCode5() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root, vidt: false)
        m.run(c, YieldMachine.markedRegisters(tag: 0xC))
        m.expectRefused(.invalidChild) { m.yield(to: 0x5000, target: 0x40, save: 300) }
    }

    @Test func code5_callerVIDTUnavailable_beforeCode6() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root, vidt: false)
        let g = m.makeChild(of: c, poolPages: 1, vidt: false)
        m.run(c, YieldMachine.markedRegisters(tag: 0xC))
        m.expectRefused(.callerVIDTUnavailable) { m.yield(to: g.name, target: 0x40, save: 0) }
        m.expectRefused(.callerVIDTUnavailable) { m.yield(to: 0, target: 0x40, save: 0) }
    }

    @Test func code6_calleeVIDTUnavailable_beforeCode8() {
        let (m, _) = Self.setUp()
        let bare = m.makeChild(of: m.root, poolPages: 1, vidt: false)
        m.setVIDT(m.root, 301, 0xFFFF_8000_0000_0000)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        m.expectRefused(.calleeVIDTUnavailable) { m.yield(to: bare.name, target: 0x40, save: 300) }
        m.expectRefused(.calleeVIDTUnavailable) { m.yield(to: bare.name, target: 0x40, save: 301) }
    }

    @Test func code6_calleeVIDTNotAccessible() {
        // The callee's VIDT page mapped read-only is fine; a VIDT vaddr that is a structure page
        // (given to the kernel) is not: here the child's VIDT page becomes a grandchild's PML4.
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        // Give C's VIDT page to C's new child as a structure through C's own service call.
        let s = c.take(4)
        let st = CreatePartition.createPartition(
            m.memory, caller: m.machine.descriptor(c.descriptor), descriptor: UserAddress(s[0].va), rootTable: UserAddress(AddressSpace.vidt),
            shadow1: UserAddress(s[1].va), shadow2: UserAddress(s[2].va), configList: UserAddress(s[3].va))
        #expect(st == .success)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        m.expectRefused(.calleeVIDTUnavailable) { m.yield(to: c.name, target: 0x40, save: 0) }
        m.checkProperties()
    }

    @Test func code7_noHandler_beforeCode8() {
        let (m, c) = Self.setUp()
        m.setVIDT(m.root, 301, 0xFFFF_8000_0000_0000)
        // Entry 0 is "no handler".
        m.expectRefused(.calleeContextUnavailable) { m.yield(to: c.name, target: 0x41, save: 300) }
        m.expectRefused(.calleeContextUnavailable) { m.yield(to: c.name, target: 0x41, save: 301) }
        // Misaligned, non-canonical, kernel half, unmapped, wrapping.
        for bad: UInt64 in [YieldMachine.poolBase + 8, 0x8000_0000_0000_0000, 0xFFFF_8000_0000_1000,
                            0x7000_0000, ~0 - 15, AddressSpace.lowerHalfEnd - 16] {
            m.setVIDT(c, 0x42, bad)
            m.expectRefused(.calleeContextUnavailable) { m.yield(to: c.name, target: 0x42, save: 301) }
        }
    }

    @Test func code8_badSaveSlot_beforeCode9() {
        let (m, c) = Self.setUp()
        m.machine.descriptor(c.descriptor).setInterruptState(m.memory, .masked)
        for bad: UInt64 in [0xFFFF_8000_0000_0000, 0x7000_0000, m.root.pool[0].va + 8, AddressSpace.lowerHalfEnd - 512] {
            m.setVIDT(m.root, 301, bad)
            m.expectRefused(.callerContextUnavailable) { m.yield(to: c.name, target: 0x40, save: 301) }
        }
    }

    @Test func code8_readOnlySaveSlot() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root, poolPages: 2)
        let roVA: UInt64 = 0x30_0000
        m.give(m.root, to: c, at: roVA, rights: Rights.read)
        m.writeContext(m.root, at: m.root.pool[0].va, tag: 0xA)
        m.setVIDT(m.root, 0x50, m.root.pool[0].va)
        m.setVIDT(c, 9 + 256, roVA)
        m.run(c, YieldMachine.markedRegisters(tag: 0xC))
        m.expectRefused(.callerContextUnavailable) { m.yield(to: 0, target: 0x50, save: 265) }
    }

    @Test func code9_interruptMasked() {
        let (m, c) = Self.setUp()
        m.machine.descriptor(c.descriptor).setInterruptState(m.memory, .masked)
        m.expectRefused(.interruptMasked) { m.yield(to: c.name, target: 0x40, save: 300) }
        // Exception indices and resume slots are never masked.
        m.setVIDT(c, 14, YieldMachine.poolBase)
        m.setVIDT(c, VIDTIndex.cliSave, YieldMachine.poolBase)
        #expect(m.yield(to: c.name, target: VIDTIndex.cliSave, save: 300) == .success)
        m.checkProperties()
    }

    // MARK: Attacks

    /// Paper Fig. 4: the parent points a child's handler context at kernel memory. Every form of
    /// "kernel memory" a VIDT entry can name is refused at check 7, and nothing is loaded.
    @Test func fig4_handlerContextInKernelPages_failsAtCheck7() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root)
        // A grandchild: its descriptor page is mapped in C, but as a kernel structure.
        let g = m.makeChild(of: c, poolPages: 0)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        let kernelNames: [UInt64] = [
            g.name,                                          // G's descriptor, in C's space
            0xFFFF_8000_0000_0000 + m.root.descriptor.raw,   // the direct map of a descriptor
            ModelMachine.kernelBase,                         // the kernel image
        ]
        for va in kernelNames {
            m.setVIDT(c, 14, va)
            m.expectRefused(.calleeContextUnavailable) { m.yield(to: c.name, target: 14, save: 0) }
        }
        // The fault half of the attack: C faults; root's #PF handler entry points at kernel
        // memory too, so root cannot take it and nothing is dumped anywhere: crash report.
        m.setVIDT(m.root, 14, 0xFFFF_8000_0000_0000 + c.descriptor.raw)
        m.run(c, YieldMachine.markedRegisters(tag: 0xC))
        let before = m.snapshot
        #expect(InterruptRouting.exception(m.cpu, vector: 14, errorCode: 4, faultAddress: 0) == .kernelCrash)
        #expect(m.snapshot == before ? true : false, "the machine changed")
    }

    /// A context that starts in an accessible page and runs into an unmapped page, or into a
    /// kernel structure page mapped in the partition.
    @Test func contextStraddlingIntoUnmappedOrKernelPage() {
        let m = YieldMachine()
        let c = m.makeChild(of: m.root, poolPages: 2)
        // pool pages at poolBase, poolBase+4K; poolBase+8K unmapped.
        let edge = YieldMachine.poolBase + 2 * 4096 - 256
        m.setVIDT(c, 0x40, edge)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        m.expectRefused(.calleeContextUnavailable) { m.yield(to: c.name, target: 0x40, save: 0) }
        // Into a kernel page: C makes a grandchild from the page right after its last pool page.
        let c2 = m.makeChild(of: m.root, poolPages: 6)
        let last = c2.pool[4]   // poolBase + 4*4K; poolBase + 5*4K becomes G's descriptor
        let desc = c2.pool[5]
        let s = c2.pool[0...3].map(\.va)
        let st = CreatePartition.createPartition(
            m.memory, caller: m.machine.descriptor(c2.descriptor), descriptor: UserAddress(desc.va), rootTable: UserAddress(s[0]),
            shadow1: UserAddress(s[1]), shadow2: UserAddress(s[2]), configList: UserAddress(s[3]))
        #expect(st == .success)
        m.setVIDT(c2, 0x40, last.va + 4096 - 256)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        m.expectRefused(.calleeContextUnavailable) { m.yield(to: c2.name, target: 0x40, save: 0) }
        // The same straddle as a save slot of C2 (yielding to root) fails check 8.
        m.writeContext(m.root, at: m.root.pool[0].va, tag: 0xA)
        m.setVIDT(m.root, 0x50, m.root.pool[0].va)
        m.setVIDT(c2, 300, last.va + 4096 - 256)
        m.run(c2, YieldMachine.markedRegisters(tag: 0xC))
        m.expectRefused(.callerContextUnavailable) { m.yield(to: 0, target: 0x50, save: 300) }
        m.checkProperties()
    }

    /// A VIDT entry pointing into the VIDT page itself, directly or through an alias mapping.
    @Test func vidtEntryPointingAtTheVIDT() {
        let (m, c) = Self.setUp()
        m.setVIDT(c, 0x40, AddressSpace.vidt)
        m.expectRefused(.calleeContextUnavailable) { m.yield(to: c.name, target: 0x40, save: 300) }
        m.setVIDT(c, 0x40, AddressSpace.vidt + 0x100)
        m.expectRefused(.calleeContextUnavailable) { m.yield(to: c.name, target: 0x40, save: 300) }
        // An alias of the VIDT page inside C cannot be made: the memory services give a page to
        // a child once. (ContextCheck compares physical pages, so an alias would be caught too.)
        let vidtPA = m.paddr(c, AddressSpace.vidt)
        let alias: UInt64 = 0x40_0000_0000
        let st = Sharing.addVAddr(m.memory, caller: m.machine.descriptor(m.root.descriptor), vaParent: UserAddress(AddressSpace.rootWindowBase + vidtPA.raw),
                                  child: UserAddress(c.name), vaChild: UserAddress(alias), rights: UncheckedRights(Rights.read | Rights.write))
        #expect(st == .pageAlreadyGiven)
    }

    /// Saving over one's own VIDT is refused (check 8), whether the slot starts in the VIDT or
    /// runs into it.
    @Test func savingOverOwnVIDT() {
        let (m, c) = Self.setUp()
        m.setVIDT(m.root, 300, AddressSpace.vidt + 16)
        m.expectRefused(.callerContextUnavailable) { m.yield(to: c.name, target: 0x40, save: 300) }
        // A slot in the page just below the VIDT that would run into it: root's boot-info page.
        m.setVIDT(m.root, 300, AddressSpace.vidt - 256)
        m.expectRefused(.callerContextUnavailable) { m.yield(to: c.name, target: 0x40, save: 300) }
    }

    @Test func yieldToDeletedChild() {
        let (m, c) = Self.setUp()
        #expect(Reclaim.deletePartition(m.memory, caller: m.machine.descriptor(m.root.descriptor), child: UserAddress(c.name)) == .success)
        m.run(m.root, YieldMachine.markedRegisters(tag: 0xA))
        m.expectRefused(.invalidChild) { m.yield(to: c.name, target: 0x40, save: 300) }
        m.checkProperties()
    }

    /// The save slot may not overlap the callee's context (the callee would be loaded with the
    /// caller's registers); sharing a page without overlapping bytes is fine.
    @Test func saveSlotOverlappingCalleeContext() {
        let (m, c) = Self.setUp()
        // Root's window address of C's context page: the same physical bytes.
        let ctxPA = m.paddr(c, YieldMachine.poolBase)
        let rootVA = AddressSpace.rootWindowBase + ctxPA.raw
        m.setVIDT(m.root, 301, rootVA + 256)
        m.expectRefused(.callerContextUnavailable) { m.yield(to: c.name, target: 0x40, save: 301) }
        m.setVIDT(m.root, 301, rootVA + 1024)   // same page, bytes 1024…1791: disjoint
        #expect(m.yield(to: c.name, target: 0x40, save: 301) == .success)
        #expect(m.cpu.currentPartition.paddr == c.descriptor)
        m.checkProperties()
    }
}
