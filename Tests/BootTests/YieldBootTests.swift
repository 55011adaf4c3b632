/// Boot test of the yield and delivery attacks on the real kernel (the `attacks` system, systems/attacks/attacks):
/// every yield error code from ring 3, each refusal changing nothing; the paper's Fig. 4
/// through the fault path; a child faulting in a loop; a child that never yields; registers
/// and FPU state never crossing partitions. docs/yield.md, "Attacks on the booted kernel".
///
/// Each attack prints one line; the test names the line and what it must say, so that a
/// kernel that stopped making one check fails here with that line in the message.
import Foundation
import SprigABI
import SprigTool
import Testing

@Suite("Attacks on yield and delivery on the booted kernel")
struct YieldBootTests {
    /// One boot for every test of the suite, counting instructions (-icount): the timer's ticks
    /// come at fixed instruction counts, so the spinning child runs between ticks however
    /// loaded the host is (without it a host that stalls QEMU lets ticks pile up back to back).
    static let run: Result<RunResult, Error> = Result { try Boot.run("attacks", icount: true) }

    func output() throws -> String {
        let r = try Self.run.get()
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        return r.output
    }

    /// `root: <label>: <status>, nothing changed` for each refusal.
    func expectRefusals(_ output: String, _ refusals: [(String, Status)], sourceLocation: SourceLocation = #_sourceLocation) {
        for (label, status) in refusals {
            #expect(output.contains("root: \(label): \(status), nothing changed\n"),
                    "\(label) should be refused with \(status), changing nothing\n\(output)", sourceLocation: sourceLocation)
        }
    }

    @Test("the system runs to the end with no failure and every page comes back")
    func completes() throws {
        let out = try output()
        #expect(!out.contains("FAILED"), "\(out)")
        #expect(!out.contains("KERNEL CRASH"), "\(out)")
        out.expectInOrder([
            "root: attacks on yield, delivery and register hygiene",
            "attacker: grandchild built, commands 0xC1-0xC4 and 0xC6 installed; masking interrupts and yielding to root",
            "root: yield's check chain, in order",
            "root: round trip after every refusal: success",
            "root: a child fills every register with its marker and faults",
            "root: Fig. 4, the child points its save slots at",
            "root: a child reads a page it just gave as a structure, root gets (from the child): vector 14",
            "root: after the stale-translation read, a round trip with the victim: success",
            "root: a child faulting in a loop",
            "root: a child that never yields",
            "root: deletePartition(victim): success",
            "root: deletePartition(the child without a VIDT): success",
            "root: free pages among the first 512 of my range: before 512, after 512",
            "root: attacks done, 0 failures",
        ])
    }

    @Test("checks 1-4: indices, the root's missing parent, names that are not a live child (a deleted one included)")
    func indicesAndNames() throws {
        let out = try output()
        expectRefusals(out, [
            ("yield to VIDT index 512", .invalidInterruptIndex),
            ("yield saving at VIDT index 512", .invalidSaveIndex),
            ("yield to index 512 saving at 512 to no parent (check 1 first)", .invalidInterruptIndex),
            ("yield saving at 512 to no parent (check 2 before 3)", .invalidSaveIndex),
            ("root yields to its parent", .rootHasNoParent),
            ("yield to a made-up name", .invalidChild),
            ("yield to a non-canonical name", .invalidChild),
            ("yield to a kernel-half name", .invalidChild),
            ("yield to a deleted child", .invalidChild),
            ("yield to a child's PML4 page (not a descriptor)", .invalidChild),
        ])
        out.expectInOrder([
            "root: createPartition(a child to delete): success",
            "root: deletePartition(that child): success",
            "root: yield to a deleted child: invalidChild",
        ])
    }

    @Test("checks 5 and 6: root's VIDT page given to the kernel and taken back; a child without a VIDT")
    func vidts() throws {
        let out = try output()
        out.expectInOrder([
            "root: createPartition with my own VIDT page as the descriptor: success",
            "root: yield while my VIDT page is a kernel structure: callerVIDTUnavailable, nothing changed",
            "root: deletePartition gives my VIDT page back: success",
            "root: yield to a child without a VIDT: calleeVIDTUnavailable, nothing changed",
        ])
    }

    @Test("check 7: the callee's context must be entirely in its accessible memory, off its VIDT")
    func calleeContexts() throws {
        expectRefusals(try output(), [
            ("callee's VIDT entry 0", .calleeContextUnavailable),
            ("callee's context misaligned", .calleeContextUnavailable),
            ("callee's context in the kernel half (direct map)", .calleeContextUnavailable),
            ("callee's context in the kernel image", .calleeContextUnavailable),
            ("callee's context at a non-canonical address", .calleeContextUnavailable),
            ("callee's context in an unmapped page", .calleeContextUnavailable),
            ("callee's context straddling past its stack top into an unmapped page", .calleeContextUnavailable),
            ("callee's context straddling past its pool into an unmapped page", .calleeContextUnavailable),
            ("callee's context on a kernel structure page mapped in it (Fig. 4)", .calleeContextUnavailable),
            ("callee's context straddling into a kernel structure page", .calleeContextUnavailable),
            ("callee's VIDT entry pointing at its VIDT itself", .calleeContextUnavailable),
            ("callee's context inside its VIDT", .calleeContextUnavailable),
            ("callee's context straddling into its VIDT", .calleeContextUnavailable),
        ])
    }

    @Test("check 8: the caller's save slot must be writable, its own, off its VIDT and off the callee's context")
    func callerSaveSlots() throws {
        let out = try output()
        expectRefusals(out, [
            ("saving over my own VIDT", .callerContextUnavailable),
            ("save slot inside my VIDT", .callerContextUnavailable),
            ("save slot straddling into my VIDT", .callerContextUnavailable),
            ("save slot in an unmapped page", .callerContextUnavailable),
            ("save slot in the kernel half", .callerContextUnavailable),
            ("save slot misaligned", .callerContextUnavailable),
            ("save slot straddling past my stack top into an unmapped page", .callerContextUnavailable),
            ("save slot straddling past the end of my memory", .callerContextUnavailable),
            ("save slot on a kernel structure page", .callerContextUnavailable),
            ("save slot straddling into a kernel structure page", .callerContextUnavailable),
            ("save slot over the callee's context", .callerContextUnavailable),
            ("save slot overlapping the callee's context by 512 bytes", .callerContextUnavailable),
        ])
        #expect(out.contains("root: the page below that structure page is mine\n"), "\(out)")
    }

    @Test("check 9, then round trips: refusals changed nothing; a masked child is resumed at a resume slot")
    func maskedAndRoundTrips() throws {
        let out = try output()
        expectRefusals(out, [
            ("yield to the masked child at vector 0xC1", .interruptMasked),
            ("yield to the masked child at vector 32", .interruptMasked),
        ])
        out.expectInOrder([
            "root: the victim waits masked: getIntState: success",
            "root: yield to the masked child at vector 32: interruptMasked",
            "attacker: resumed at my slot 300, interrupts unmasked; parking",
            "root: round trip: resume the masked child at its slot 300: success",
            "root: the child yielded back with no event",
            "root: the child's interrupt state after it unmasked: 0",
            "root: round trip saving root in the callee's context page, apart from its context: success",
            "root: round trip after every refusal: success",
            "root: no event during the round trips",
        ])
    }

    @Test("Fig. 4 through the fault path: nothing saved in kernel pages, no handler loaded from them, the kernel lives on")
    func figure4() throws {
        let out = try output()
        let notSaved = "r8 0xffffffffffffffff"
        for target in ["the kernel half", "the kernel image", "its grandchild's descriptor (a kernel structure page)",
                       "a slot straddling into that structure page", "an unmapped page", "its own VIDT"] {
            let line = "root: Fig. 4, the child points its save slots at \(target) and faults: vector 6, \(notSaved)\n"
            #expect(out.contains(line), "missing: \(line)\(out)")
        }
        for handler in ["in the kernel half", "its grandchild's descriptor (a kernel structure page)",
                        "straddling into that structure page", "its own VIDT"] {
            let line = "root: Fig. 4, the child's page-fault handler is \(handler); its child faults; root gets (from the child): vector 8, \(notSaved)\n"
            #expect(out.contains(line), "missing: \(line)\(out)")
        }
        #expect(out.contains("root: after Fig. 4, a round trip with the victim: success\n"), "\(out)")
    }

    @Test("a page the running child gives as a structure is out of its reach at once: no stale translation reads it")
    func staleTranslation() throws {
        let out = try output()
        #expect(!out.contains("read my grandchild's PML4 through a stale translation"), "\(out)")
        let line = try #require(out.line(containing: "root: a child reads a page it just gave as a structure"), "\(out)")
        #expect(line.hasPrefix("root: a child reads a page it just gave as a structure, root gets (from the child): vector 14, r8 ")
                && !line.contains("FAILED"), "\(line)")
        #expect(out.contains("root: after the stale-translation read, a round trip with the victim: success\n"), "\(out)")
    }

    @Test("a child faulting in a loop is resumed 1000 times at the same rip, then deleted with all its memory")
    func faultLoop() throws {
        let out = try output()
        out.expectInOrder([
            "root: a child faulting in a loop: #UD faults taken and resumed at the same saved rip: 1000\n",
            "root: deletePartition(the faulting child): success",
            "root: free pages around the faulting child: before ",
        ])
        let line = try #require(out.line(containing: "free pages around the faulting child"))
        let before = String.number(after: "before ", in: line), after = String.number(after: "after ", in: line)
        #expect(before != nil && before == after, "\(line)")
    }

    @Test("a child that never yields: the timer still reaches root, naming it, and the child ran between ticks")
    func neverYields() throws {
        let out = try output()
        out.expectInOrder([
            "root: setTimer(1000): success",
            "root: a child that never yields: timer ticks that named it: 200\n",
            "root: ticks after which the child had counted further: ",
            "root: deletePartition(the spinning child): success",
        ])
        let line = try #require(out.line(containing: "ticks after which the child had counted further"))
        #expect((String.number(after: "further: ", in: line) ?? 0) >= 100, "\(line)")
    }

    @Test("no register or FPU state of one partition is seen by another, either way")
    func registerHygiene() throws {
        let out = try output()
        for what in [
            "a child fills every register with its marker and faults; root's #UD handler sees its own context and the delivery registers",
            "a child fills its registers with its marker and yields to root's VIDT[400]; root sees its own context",
            "root fills its registers with its marker and enters the child fresh; the child sees its own context",
        ] {
            let line = "root: \(what): differences 0, marker traces 0\n"
            #expect(out.contains(line), "missing: \(line)\(out)")
        }
        // The marker really was in the child's registers: the kernel saved it in the child's slot.
        #expect(out.contains("root: the child's saved context holds its marker (rsp, rbx, rdi, r15, xmm0, xmm15, FCW, MXCSR, DF, CF)\n"))
    }

    /// The probe lines above also compare DS, ES, FS and GS (the child's 0x1B, root's 3) with
    /// null; these cover the other ways out of the kernel. Each fails when entry.S's exit path
    /// does not null the selectors.
    @Test("DS, ES, FS and GS are null after every way out of the kernel, whatever the last partition loaded")
    func dataSelectors() throws {
        let out = try output()
        for line in [
            "root: root starts with null data selectors\n",
            "root: root loads 3 into DS, ES, FS and GS and calls getIntState; it resumes with data selectors 0x0\n",
            "root: root's handlers entered with a data selector not null (int n, faults, double faults, ticks): 0\n",
        ] {
            #expect(out.contains(line), "missing: \(line)\(out)")
        }
    }

    /// A child's straddling context, with its marker in FXSAVE bytes 416…511, is loaded through
    /// the kernel's staging area; root's next save over two pages must not carry those bytes,
    /// and must leave root's own words in the slot's reserved bytes and FXSAVE bytes 464…511.
    /// Fails (6 words) when the straddling save copies what FXSAVE did not write, and (0 of 18)
    /// when a save zeroes the owner's words.
    @Test("the FXSAVE staging area carries no byte of one partition's context into another's")
    func stagingArea() throws {
        let out = try output()
        for line in [
            "root: a child's context loaded through the FXSAVE staging area, then root saved over two pages: child words in root's FXSAVE bytes 416-511: 0\n",
            "root: root's words in its slot's reserved bytes and FXSAVE bytes 464-511 after a save over two pages, of 18: 18\n",
        ] {
            #expect(out.contains(line), "missing: \(line)\(out)")
        }
    }

    @Test("the attacks system is listed")
    func listed() throws {
        let s = try Systems.named("attacks")
        #expect(s.partitions == ["attacks", "attacker", "attacker", "attacker"])
    }
}
