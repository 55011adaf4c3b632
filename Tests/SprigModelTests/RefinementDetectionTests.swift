/// The refinement check can fail: a concrete state or outcome that differs from the
/// specification is reported, with the field that differs named. Each test runs a real step,
/// then breaks what the kernel left (as a buggy kernel would have) before the checker looks.
import Testing
import SprigABI
import SprigCore
import SprigModel

@Suite struct RefinementDetectionTests {
    /// Root shares a page with a fresh child at `va`, read-only, and returns the event.
    private func shareReadOnly(_ r: Refined, _ kid: Kid, at va: UInt64) -> (TrapEvent, TrapOutcome) {
        r.prepare(kid, at: va)
        let event = TrapEvent.systemCall(number: Service.addVAddr.rawValue,
                                         SystemCallArguments(r.machine.takePage(r.root), kid.name, va, Rights.read))
        return (event, r.system.trap(event))
    }

    private func leaf(_ r: Refined, _ partition: PhysicalAddress, _ va: UInt64) -> (entry: PageTableEntry, at: PhysicalAddress) {
        PageTableWalk.leaf(r.memory, rootTable: r.machine.rootTable(partition), va: VirtualAddress(va))!
    }

    @Test func aRightsBitFlippedInAChildsTableIsReported() {
        let r = Refined()
        let kid = r.makeChild(of: r.root, pages: 1)
        let va: UInt64 = 0x2000_0000
        let (event, outcome) = shareReadOnly(r, kid, at: va)
        #expect(outcome == .returned(.success, value: 0))
        let l = leaf(r, kid.descriptor, va)
        r.memory.store(l.at, l.entry.raw | PageTableEntry.writable)
        let v = r.checker.step(event, outcome: outcome, system: r.system)
        #expect(v.count == 1)
        #expect(v.first?.kind == .refinement && v.first?.vaddr == va && v.first?.partition == kid.descriptor.raw)
        #expect(v.first?.detail == "partition 0x\(String(kid.descriptor.raw, radix: 16)) pages[0x20000000].rights: spec r--, concrete rw-")
        // The checker continues from the concrete state: the next correct step is clean.
        r.call(.getIntState, kid.name)
        r.expectRefines("after the reported step")
    }

    @Test func aWrongStatusIsReportedAsTheOutcomeAndInRax() {
        let r = Refined()
        let event = TrapEvent.systemCall(number: Service.setIntState.rawValue, SystemCallArguments(7))
        let outcome = r.system.trap(event)
        #expect(outcome == .returned(.invalidArgument, value: 0))
        r.system.cpu.registers[ContextLayout.rax] = Status.success.rawValue
        let v = r.checker.step(event, outcome: .returned(.success, value: 0), system: r.system)
        #expect(v.count == 2)
        #expect(v.contains { $0.detail.hasPrefix("outcome: spec returned(SprigABI.Status.invalidArgument") })
        #expect(v.contains { $0.detail == "registers.rax: spec 0x12, concrete 0x0" })
    }

    /// DESIGN.md §4: the child's rights never exceed the caller's. A kernel that dropped that
    /// check would map a read-only page writable in the grandchild and answer success: the
    /// emulated effect of that broken kernel is caught three ways.
    @Test func aKernelWithoutTheRightsCheckIsCaught() {
        let r = Refined()
        let kid = r.makeChild(of: r.root, pages: 30)
        let readOnly: UInt64 = 0x2000_0000
        _ = shareReadOnly(r, kid, at: readOnly)
        r.checker.resynchronize(r.system)
        let grandchild = r.makeChild(of: kid.descriptor, pages: 1)
        let va = ModelMachine.childPagesBase + 0x10_0000
        r.prepare(grandchild, at: va)
        let event = TrapEvent.systemCall(number: Service.addVAddr.rawValue,
                                         SystemCallArguments(readOnly, grandchild.name, va, Rights.read | Rights.write))
        #expect(r.system.trap(event) == .returned(.rightsExceedCaller, value: 0))
        // What the broken kernel would have done instead: map it read/write and record it.
        let page = r.machine.translate(kid.descriptor, readOnly)!
        let slots = Shadow.leafSlots(r.memory, descriptor: r.machine.descriptor(grandchild.descriptor), va: VirtualAddress(va))!
        let parentSlots = Shadow.leafSlots(r.memory, descriptor: r.machine.descriptor(kid.descriptor), va: VirtualAddress(readOnly))!
        r.memory.store(slots.entryAt, PageTableEntry(frame: page, flags: PageTableEntry.leafFlags(rights: PageRights(kernel: Rights.read | Rights.write))).raw)
        r.memory.store(slots.sh2At, readOnly)
        r.memory.store(parentSlots.sh1At, grandchild.descriptor.raw)
        r.system.cpu.registers[ContextLayout.rax] = 0
        let v = r.checker.step(event, outcome: .returned(.success, value: 0), system: r.system)
        let details = v.map(\.detail)
        #expect(details.contains { $0.hasPrefix("outcome:") })
        #expect(details.contains { $0.contains("pages[0x\(String(va, radix: 16))]: spec unmapped") })
        #expect(details.contains { $0.contains("pages[0x20000000].given") })
    }

    @Test func aCorruptedSavedContextIsReportedByWord() {
        let r = Refined()
        let kid = r.makeChild(of: r.root, pages: 2)
        let ctx = kid.pages[0]
        r.writeContext(kid.descriptor, at: ctx, tag: 0xC)
        r.setVIDT(kid.descriptor, 32, ctx)
        let slot = r.machine.takePage(r.root)
        r.setVIDT(r.root, 258, slot)
        r.become(r.root, registers: YieldMachine.markedRegisters(tag: 1))
        let event = TrapEvent.systemCall(number: Service.yield.rawValue, SystemCallArguments(kid.name, 32, 258))
        let outcome = r.system.trap(event)
        #expect(outcome == .resume)
        let saved = r.machine.translate(r.root, slot)!
        r.memory.store(saved.adding(UInt64(ContextLayout.rbx)), 0xBAD)
        let v = r.checker.step(event, outcome: outcome, system: r.system)
        #expect(v.map(\.detail) == ["memory[0x\(String(saved.raw, radix: 16))] word 4: spec 0x100000101, concrete 0xbad"])
    }

    @Test func aStructurePageLeftAccessibleIsReported() {
        let r = Refined()
        let s = (0..<5).map { _ in r.machine.takePage(r.root) }
        let event = TrapEvent.systemCall(number: Service.createPartition.rawValue, SystemCallArguments(s[0], s[1], s[2], s[3], s[4]))
        let outcome = r.system.trap(event)
        #expect(outcome == .returned(.success, value: 0))
        let l = leaf(r, r.root, s[1])
        r.memory.store(l.at, l.entry.raw | PageTableEntry.user)
        let v = r.checker.step(event, outcome: outcome, system: r.system).map(\.detail)
        #expect(v.contains { $0.contains("pages[0x\(String(s[1], radix: 16))].accessible: spec false, concrete true") })
        #expect(v.contains { $0.hasPrefix("memory[") && $0.hasSuffix("no partition's, concrete accessible to a partition") })
    }

    @Test func aLostInterruptStateIsReported() {
        let r = Refined()
        let kid = r.makeChild(of: r.root, pages: 1)
        let event = TrapEvent.systemCall(number: Service.setIntState.rawValue, SystemCallArguments(1))
        r.become(kid.descriptor)
        let outcome = r.system.trap(event)
        DescriptorLayout.overwriteForTesting(r.memory, kid.descriptor, DescriptorLayout.interruptState, 0)
        let v = r.checker.step(event, outcome: outcome, system: r.system)
        #expect(v.map(\.detail) == ["partition 0x\(String(kid.descriptor.raw, radix: 16)) interruptState: spec 1, concrete 0"])
    }
}
