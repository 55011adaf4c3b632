/// `consoleRead` and `setConsoleInterrupt` (README "Services", `SprigABI.Service`) on the model:
/// every refusal has its name and changes nothing (no byte written, no byte taken from the serial
/// port), a read moves exactly the waiting bytes it has room for, and the abstract specification
/// agrees with the kernel on each of them.
import SprigABI
import SprigCore
import SprigModel
import Testing

@Suite("consoleRead and setConsoleInterrupt")
struct ConsoleReadTests {
    /// A root with "hello, sprig" waiting on its serial port.
    static func system() -> ModelSystem {
        let s = ModelSystem(pages: 128)
        s.consoleInput = Array("hello, sprig".utf8)
        return s
    }

    /// Root's bytes at `va` (mapped in root).
    static func bytes(_ s: ModelSystem, _ va: UInt64, _ n: Int) -> [UInt8] {
        let pml4 = s.machine.rootTable(s.machine.root)
        return (0..<n).map { k in
            guard let pa = try? PageTableWalk.userTranslate(s.memory, rootTable: pml4, va: VirtualAddress(va + UInt64(k)), write: false)
            else { return 0xEE }
            return s.memory.readByte(pa)
        }
    }

    /// Calls consoleRead as the current partition with a refinement checker beside it.
    static func read(_ s: ModelSystem, _ va: UInt64, _ maxLength: UInt64) -> (status: Status?, count: UInt64, refinement: [Violation]) {
        var checker = RefinementChecker(s)
        let event = TrapEvent.systemCall(number: Service.consoleRead.rawValue, SystemCallArguments(va, maxLength))
        let outcome = s.trap(event)
        let violations = checker.step(event, outcome: outcome, system: s)
        return (Status(rawValue: s.cpu.registers[ContextLayout.rax]), s.cpu.registers[ContextLayout.rdx], violations)
    }

    @Test("reads what has arrived, in order, up to maxLength; 0 when nothing waits; never more than asked")
    func readsWaitingBytes() {
        let s = Self.system()
        let page = s.machine.rootWindow[3]
        // A guard word after the buffer: a read must not write past its count.
        s.memory.store(s.machine.translate(s.machine.root, page + 8)!, 0xA5A5_A5A5_A5A5_A5A5)
        var r = Self.read(s, page, 5)
        #expect(r.status == .success && r.count == 5 && r.refinement.isEmpty, "\(r.refinement)")
        #expect(Self.bytes(s, page, 5) == Array("hello".utf8))
        #expect(s.consoleInput == Array(", sprig".utf8), "the rest stays waiting")
        r = Self.read(s, page + 5, 64)
        #expect(r.status == .success && r.count == 7 && r.refinement.isEmpty, "\(r.refinement)")
        #expect(Self.bytes(s, page, 12) == Array("hello, sprig".utf8))
        #expect(Self.bytes(s, page + 12, 4) == [0xA5, 0xA5, 0xA5, 0xA5], "nothing written past the count")
        r = Self.read(s, page, 64)
        #expect(r.status == .success && r.count == 0 && r.refinement.isEmpty)
        #expect(Self.bytes(s, page, 12) == Array("hello, sprig".utf8), "an empty read writes nothing")
    }

    @Test("a read straddling two pages writes both pieces")
    func straddlingRead() {
        let s = Self.system()
        let end = s.machine.rootWindow[4] + AddressSpace.pageSize
        let r = Self.read(s, end - 3, 8)
        #expect(r.status == .success && r.count == 8 && r.refinement.isEmpty, "\(r.refinement)")
        #expect(Self.bytes(s, end - 3, 8) == Array("hello, s".utf8))
    }

    /// Every refusal: its status, rdx 0, no memory word changed, nothing taken from the port,
    /// and the specification says the same.
    func expectRefused(_ s: ModelSystem, _ va: UInt64, _ maxLength: UInt64, _ expected: Status,
                       sourceLocation: SourceLocation = #_sourceLocation) {
        let memory = s.memory.snapshot(), input = s.consoleInput
        let r = Self.read(s, va, maxLength)
        #expect(r.status == expected, "consoleRead(\(Domain.hex(va)), \(maxLength))", sourceLocation: sourceLocation)
        #expect(r.count == 0, sourceLocation: sourceLocation)
        #expect(s.memory.snapshot() == memory, "a refused read changed memory", sourceLocation: sourceLocation)
        #expect(s.consoleInput == input, "a refused read took bytes from the port", sourceLocation: sourceLocation)
        #expect(r.refinement.isEmpty, "\(r.refinement)", sourceLocation: sourceLocation)
    }

    @Test("hostile arguments: each refused with its own status, nothing read, nothing written")
    func hostileArguments() {
        let s = Self.system()
        let page = s.machine.rootWindow[3]
        let lastWindowPage = s.machine.rootWindow.max()!
        expectRefused(s, page, 0, .invalidArgument)
        expectRefused(s, page, Limits.consoleReadMax + 1, .invalidArgument)
        expectRefused(s, page, ~0, .invalidArgument)
        expectRefused(s, 0x0000_8000_0000_0000, 8, .nonCanonicalAddress)
        expectRefused(s, 0xFFFF_8000_0000_0000, 8, .kernelHalfAddress)
        expectRefused(s, ModelMachine.kernelBase, 8, .kernelHalfAddress)
        expectRefused(s, 0x0000_7000_0000_0000, 8, .addressNotMapped)
        // Straddling from root's last window page into the unmapped page after it: the first
        // page is fine and still not a byte is written there.
        expectRefused(s, lastWindowPage + AddressSpace.pageSize - 4, 8, .addressNotMapped)
        // Wrapping past the lower half.
        expectRefused(s, AddressSpace.lowerHalfEnd - 8, 16, .rangeNotAccessible)
        // A page root gave the kernel as a structure: mapped, no longer root's to touch.
        let child = s.machine.makeChild(of: s.machine.root, pages: 1)
        expectRefused(s, child.name, 8, .pageNotAccessible)
        expectRefused(s, child.name - 4, 8, .pageNotAccessible)
    }

    @Test("a read-only page is refused: the caller must be able to write every byte of the range")
    func readOnlyPage() {
        let s = Self.system()
        let page = s.machine.rootWindow[5]
        let pml4 = s.machine.rootTable(s.machine.root)
        // Root's own pages are all writable; make one read-only as a loader could have mapped it.
        let leaf = PageTableWalk.leaf(s.memory, rootTable: pml4, va: VirtualAddress(page))!
        s.memory.store(leaf.at, leaf.entry.raw & ~PageTableEntry.writable)
        expectRefused(s, page, 8, .pageNotAccessible)
        // Straddling from a writable page into it.
        expectRefused(s, page - 2, 8, .pageNotAccessible)
        // consoleWrite only reads: the same page is fine for it.
        s.call(.consoleWrite, page, 8)
        #expect(s.cpu.registers[ContextLayout.rax] == Status.success.rawValue)
    }

    @Test("root only: any other partition gets rootOnly and the port keeps its bytes")
    func rootOnly() {
        let s = Self.system()
        let child = s.machine.makeChild(of: s.machine.root, pages: 1)
        s.cpu.trap(as: s.machine.descriptor(child.descriptor), pml4: s.machine.rootTable(child.descriptor), registers: RegisterFile())
        expectRefused(s, child.pages[0], 8, .rootOnly)
        let before = s.consoleInterruptEnabled
        #expect(s.call(.setConsoleInterrupt, 1) == .returned(.rootOnly, value: 0))
        #expect(s.consoleInterruptEnabled == before)
    }

    @Test("setConsoleInterrupt takes 0 or 1; anything else is invalidArgument and changes nothing")
    func setConsoleInterrupt() {
        let s = Self.system()
        for (arg, status, on) in [(UInt64(1), Status.success, true), (2, .invalidArgument, true), (~0, .invalidArgument, true),
                                  (0, .success, false), (0x101, .invalidArgument, false)] {
            var checker = RefinementChecker(s)
            let event = TrapEvent.systemCall(number: Service.setConsoleInterrupt.rawValue, SystemCallArguments(arg))
            let outcome = s.trap(event)
            #expect(outcome == .machineService(.setConsoleInterrupt))
            #expect(s.cpu.registers[ContextLayout.rax] == status.rawValue, "setConsoleInterrupt(\(arg))")
            #expect(s.consoleInterruptEnabled == on, "setConsoleInterrupt(\(arg))")
            #expect(checker.step(event, outcome: outcome, system: s).isEmpty)
        }
    }

    @Test("the specification notices a kernel that reads a byte too many, writes elsewhere, or drops input")
    func refinementCatchesWrongReads() {
        let page = ModelSystem(pages: 128).machine.rootWindow[3]
        // The spec's step from the state before a correct read, against three wrong results.
        for wrong in 0..<3 {
            let s = Self.system()
            let before = Abstraction.of(s)
            let event = TrapEvent.systemCall(number: Service.consoleRead.rawValue, SystemCallArguments(page, 4))
            let outcome = s.trap(event)
            switch wrong {
            case 0: s.cpu.registers[ContextLayout.rdx] = 5                       // one too many counted
            case 1: s.memory.writeByte(s.machine.translate(s.machine.root, page + 4)!, 0x6F)  // a byte past the count
            default: s.consoleInput = []                                          // the rest dropped
            }
            let expected = Spec.step(before, event)
            #expect(expected.outcome == outcome)
            #expect(!Refinement.differences(spec: expected.state, concrete: Abstraction.of(s)).isEmpty, "wrong result \(wrong) not noticed")
        }
    }
}
