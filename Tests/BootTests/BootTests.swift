/// Boot tests: build the kernel and partitions, boot them in QEMU (TCG), read the serial
/// console and the exit status.
import Foundation
import SprigABI
import SprigTool
import Testing

@Suite("Boot", .serialized)
struct BootTests {
    @Test("hello: root greets from ring 3, reports the memory it owns, powers off with 0")
    func helloSystem() throws {
        try HelloConsole.expect(try Boot.run("hello"))
    }

    @Test("an unknown system is refused with the list of systems")
    func unknownSystem() {
        #expect(throws: ToolError.self) { try Systems.named("nope") }
        do {
            _ = try Systems.named("nope")
        } catch {
            #expect("\(error)".contains("hello"))
        }
    }

    @Test("a failed kernel check prints the crash report with 'kernel trap' and stops with 0x70")
    func kernelTrapReport() throws {
        let r = try Boot.run("hello", variant: .debug, commandLine: "crashtest=trap")
        #expect(r.ending == .status(ExitStatus.kernelCrash), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("deliberate kernel precondition failure"), "debug builds print the check's message")
        #expect(r.output.contains("*** SPRIG KERNEL CRASH ***"))
        #expect(r.output.contains("kernel trap"))
        #expect(r.output.contains("vector: 6 invalid opcode"))
        #expect(r.output.contains("rip=0xffffffff8"), "the rip is a kernel address")
        for reg in ["rax=", "rbx=", "rcx=", "rdx=", "rsi=", "rdi=", "rbp=", "r8=", "r15=", "cr2=", "error code: "] {
            #expect(r.output.contains(reg), "report lacks \(reg)")
        }
        #expect(!r.output.contains("root: hello"), "root never ran")
        // Named on the host with the debug kernel's DWARF: the check's line, and the caller's.
        let check = try Boot.sourceLine(of: "crashtest: deliberate kernel precondition failure", in: "Sources/SprigX86/DebugCrashTest.swift")
        let call = try Boot.sourceLine(of: "debugCrashTest(boot", in: "Sources/SprigX86/Main.swift")
        #expect(r.output.contains("partition: none yet (the kernel was booting)"), "\(r.output)")
        #expect(r.output.contains("last service call: none recorded"), "\(r.output)")
        let rip = try #require(r.output.line(containing: "rip  0xffffffff8"), "no symbolized rip: \(r.output)")
        #expect(rip.contains("_assertionFailure("), "the trap's own function (inlined): \(rip)")
        #expect(r.output.contains("inlined into  debugCrashTest(_:rootPML4:) at Sources/SprigX86/DebugCrashTest.swift:\(check)\n"), "\(r.output)")
        r.output.expectInOrder(["backtrace (kernel stack, frame pointers):", "  #0 0xffffffff8", "  #1 0xffffffff8", "*** machine stopped ***",
                                "#1   0xffffffff8", "kmain(_:_:) at Sources/SprigX86/Main.swift:\(call)\n",
                                "sprig_start64 at Sources/SprigX86/boot.S:"])
    }

    @Test("a corrupt frame-pointer chain ends the crash report's backtrace with its reason, not a second fault")
    func corruptStackReport() throws {
        let r = try Boot.run("hello", variant: .debug, commandLine: "crashtest=corrupt-stack")
        #expect(r.ending == .status(ExitStatus.kernelCrash), "\(r.summary)\n\(r.output)")
        r.output.expectInOrder(["*** SPRIG KERNEL CRASH ***", "vector: 6 invalid opcode", "backtrace (kernel stack, frame pointers):",
                                "  #0 0xffffffff8", "  #1 0xffffffff8",
                                "  (walk ends: frame pointer 0xfffffffffffff000 is not in the kernel stack)", "*** machine stopped ***"])
        #expect(r.output.contains("sprig_debug_corrupt_frame_fault at Sources/SprigX86/support.c:"), "\(r.output)")
    }

    @Test("a kernel page fault prints vector 14 with cr2 and stops with 0x70")
    func kernelPageFaultReport() throws {
        let r = try Boot.run("hello", variant: .debug, commandLine: "crashtest=fault")
        #expect(r.ending == .status(ExitStatus.kernelCrash), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("*** SPRIG KERNEL CRASH ***"))
        #expect(r.output.contains("vector: 14 page fault"))
        #expect(r.output.contains("cr2=0xffffa00000000000"))
        #expect(!r.output.contains("kernel trap"), "a page fault is not a Swift trap")
        #expect(r.output.contains("debugCrashTest(_:rootPML4:) at Sources/SprigX86/DebugCrashTest.swift:"), "the faulting read, named: \(r.output)")
    }

    @Test("the debug build boots hello too")
    func debugHello() throws {
        let r = try Boot.run("hello", variant: .debug)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("root: goodbye"))
    }
}

@Suite("Kernel build hygiene")
struct HygieneTests {
    @Test("the kernel ELF has no FPU/SIMD instruction (but the save's copy after FXSAVE), no undefined symbol, no red zone, no stack protector, no call on the yield fastpath, every FXRSTOR after an FNINIT and iretq to ring 3 after a VERW")
    func kernelHygiene() throws {
        let (builder, products) = try Boot.products(.release)
        let report = try Hygiene.check(builder, products: products)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.instructionsChecked > 1000)
        #expect(report.functionsChecked > 10)
    }

    @Test("the yield fastpath's check finds its two functions and their calls, and lets the debug build's fatal-error report through")
    func fastpathCalls() {
        let text = """
        ffffffff80104900 <sprig_trap_syscall>:
        ffffffff80104900:      \tcmpq\t$11, %rcx
        ffffffff80104904:      \tjmp\t0xffffffff801049d0 <$e8SprigX8610sprigYieldyys6UInt64V_A2DtF>

        ffffffff801049d0 <$e8SprigX8610sprigYieldyys6UInt64V_A2DtF>:
        ffffffff801049d0:      \tpushq\t%rbx
        ffffffff801049d4:      \tcallq\t0xffffffff801073c0 <$e8SprigX860B8PlatformV14loadStraddling>
        ffffffff801049d9:      \tcallq\t0xffffffff80102040 <$es31_embeddedReportFatalErrorInFile6prefix>
        ffffffff801049de:      \tjmp\t0xffffffff80104e10 <$e8SprigX8615sprigYieldChainyySiF>

        ffffffff80104e10 <$e8SprigX8615sprigYieldChainyySiF>:
        ffffffff80104e10:      \tcallq\t0xffffffff8010e690 <$e9SprigCore5YieldO5chain>
        """
        let (functions, calls) = Hygiene.fastpathCalls(inDisassembly: text)
        #expect(functions == 2)
        #expect(calls.count == 1 && calls[0].contains("loadStraddling"), "\(calls)")
    }

    @Test("every FXRSTOR needs an FNINIT and every iretq to ring 3 a VERW straight before it, with no branch target between")
    func guardedInstructions() {
        // The shapes of the kernel before FNINIT and VERW ran on every CPU: each behind a flag
        // test whose jump lands on the guarded instruction.
        let old = """
        ffffffff80104980 <$e8SprigX8610sprigYieldyys6UInt64V_A2DtF>:
        ffffffff80104d8a:      \tcmpb\t$0x1,  <$e8SprigX863FPUO14clearsPointersSbvpZ>
        ffffffff80104d91:      \tjne\t <L13>
        ffffffff80104d93:      \tfninit
        <L13>:
        ffffffff80104d95:      \tfxrstor64\t(%rax)

        ffffffff80100a00 <sprig_syscall_entry>:
        ffffffff80100a10:      \tcmpb\t$0x0,  <sprig_md_clear>
        ffffffff80100a17:      \tje\t <L3>
        ffffffff80100a19:      \tverw\t <sprig_verw_selector>
        <L3>:
        ffffffff80100a20:      \tiretq
        """
        let found = Hygiene.unguardedInstructions(inDisassembly: old)
        #expect(found.checked == 2)
        #expect(found.offending.count == 2 && found.offending[0].contains("fxrstor64") && found.offending[1].contains("iretq"), "\(found.offending)")
        let now = """
        ffffffff80104980 <$e8SprigX8610sprigYieldyys6UInt64V_A2DtF>:
        ffffffff80104c9a:      \tfninit
        ffffffff80104c9c:      \tfxrstor64\t0x100(%rcx)

        ffffffff80100a00 <sprig_syscall_entry>:
        ffffffff80100a19:      \tverw\t <sprig_verw_selector>
        ffffffff80100a20:      \tiretq

        ffffffff80100b00 <sprig_trap_from_kernel>:
        ffffffff80100b10:      \tmovq\t$0x0, -0x88(%rsp)
        ffffffff80100b19:      \tiretq
        """
        let clean = Hygiene.unguardedInstructions(inDisassembly: now)
        #expect(clean.checked == 2 && clean.offending.isEmpty, "\(clean.offending)")
        // The guard must be the instruction right before, not merely somewhere before.
        let apart = Hygiene.unguardedInstructions(inDisassembly: """
        ffffffff80100a00 <sprig_syscall_entry>:
        ffffffff80100a19:      \tverw\t <sprig_verw_selector>
        ffffffff80100a1f:      \tpopq\t%rax
        ffffffff80100a20:      \tiretq
        """)
        #expect(apart.offending.count == 1, "\(apart.offending)")
    }

    @Test("the instruction classifier flags FPU/SIMD use and allows state save/restore")
    func classifier() {
        #expect(Hygiene.usesFPU("  ffffffff80100000:      \tmovups\t(%rsi), %xmm0"))
        #expect(Hygiene.usesFPU("  ffffffff80100000:      \tfldt\t(%rax)"))
        #expect(Hygiene.usesFPU("  ffffffff80100000:      \tpaddd\t%mm1, %mm0"))
        #expect(Hygiene.usesFPU("  ffffffff80100000:      \tvmovdqa\t%ymm1, %ymm0"))
        #expect(!Hygiene.usesFPU("  ffffffff80100000:      \tfxsave64\t(%rdi)"))
        #expect(!Hygiene.usesFPU("  ffffffff80100000:      \tmovq\t%rsp, %rbp"))
        #expect(!Hygiene.usesFPU("  ffffffff80100000:      \tmovq\t%fs:0x28, %rax"))
    }

    @Test("SSE moves pass only as the save's copy: movdqu of xmm0-6, at most 14, straight after FXSAVE")
    func savedRegisterCopy() {
        func line(_ i: String) -> String { "  ffffffff80100000:      \t" + i.replacingOccurrences(of: " ", with: "\t", options: [], range: i.range(of: " ")) }
        let header = "ffffffff80100000 <f>:"
        let fxsave = line("fxsave64 (%rdx)"), lea = line("leaq 0x2beae(%rip), %rdx")
        let load = line("movdqu 0x8(%rdx), %xmm0"), store = line("movdqu %xmm0, 0x20(%rax)")
        func offending(_ lines: [String]) -> [String] { Hygiene.fpuLines(inDisassembly: ([header] + lines).joined(separator: "\n")).offending }
        #expect(offending([fxsave, lea, load, store]).isEmpty)
        #expect(offending([fxsave] + Array(repeating: load, count: 14)).isEmpty)
        // Without the FXSAVE, after a branch, call or FXRSTOR, in another function, past 14 moves:
        #expect(offending([lea, load]).count == 1)
        #expect(offending([fxsave, line("jne 0xffffffff80100010"), load]).count == 1)
        #expect(offending([fxsave, line("callq 0xffffffff80100010"), load]).count == 1)
        #expect(offending([fxsave, line("fxrstor64 (%rax)"), load]).count == 1)
        #expect(offending([fxsave, "", header, load]).count == 1)
        #expect(offending([fxsave] + Array(repeating: load, count: 15)).count == 1)
        // Any other instruction or register, even right after FXSAVE:
        #expect(offending([fxsave, line("movdqu 0x8(%rdx), %xmm7")]).count == 1)
        #expect(offending([fxsave, line("movups 0x8(%rdx), %xmm0")]).count == 1)
        #expect(offending([fxsave, line("paddd %xmm1, %xmm0")]).count == 1)
        #expect(offending([fxsave, line("movdqu %xmm1, %xmm0")]).count == 1)
        #expect(offending([fxsave, line("fldt (%rax)")]).count == 1)
    }

    @Test("the check finds SSE in real objdump output: a struct copy compiled without -mno-sse")
    func catchesRealSSE() throws {
        let (builder, _) = try Boot.products(.release)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-hygiene-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("copy.swift")
        try "public struct Big { var a, b, c, d, e, f, g, h: UInt64 }\n@inline(never) public func copy(_ d: UnsafeMutablePointer<Big>, _ s: UnsafePointer<Big>) { d.pointee = s.pointee }\n"
            .write(to: source, atomically: true, encoding: .utf8)
        let object = dir.appendingPathComponent("copy.o")
        let swiftc = Process()
        swiftc.executableURL = builder.toolchain.tool("swiftc")
        swiftc.arguments = ["-target", "x86_64-unknown-none-elf", "-enable-experimental-feature", "Embedded", "-wmo",
                            "-parse-as-library", "-Osize", source.path, "-c", "-o", object.path]
        try swiftc.run(); swiftc.waitUntilExit()
        #expect(swiftc.terminationStatus == 0)
        let objdump = Process()
        objdump.executableURL = builder.toolchain.tool("llvm-objdump")
        objdump.arguments = ["-d", "--no-show-raw-insn", object.path]
        let pipe = Pipe()
        objdump.standardOutput = pipe
        try objdump.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        objdump.waitUntilExit()
        let (checked, offending) = Hygiene.fpuLines(inDisassembly: text)
        #expect(checked > 3)
        #expect(!offending.isEmpty, "SSE moves of a 64-byte struct copy must be flagged:\n\(text)")
    }

    @Test("the kernel's line count is reported and plausible")
    func lineCount() throws {
        let lines = try LineCount.kernel(Boot.project)
        #expect(lines.swift > 500)
        #expect(lines.assembly > 100)
    }
}

@Suite("Faults from ring 3")
struct RingThreeFaultTests {
    @Test("a page fault in root goes through exception routing to the crash report, status 0x70")
    func rootFault() throws {
        let r = try Boot.run("faulty")
        #expect(r.ending == .status(ExitStatus.kernelCrash), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("root: reading 0x7000_0000_0000"))
        #expect(!r.output.contains("still running after the fault"))
        #expect(r.output.contains("*** SPRIG KERNEL CRASH ***"))
        #expect(r.output.contains("no ancestor could take"))
        #expect(r.output.contains("vector: 14 page fault"))
        #expect(r.output.contains("cr2=0x0000700000000000"))
        #expect(r.output.contains("cs=0x0000000000000023"), "the faulting context is ring 3's")
        #expect(r.output.contains("partition: root, program faulty.bin (descriptor 0x"), "the report names the faulting partition: \(r.output)")
        #expect(r.output.contains("last service call: 0x0100 consoleWrite(0x"), "root's console write before the fault: \(r.output)")
        #expect(r.output.line(containing: "last service call: ")?.hasSuffix(") by this partition") == true, "\(r.output)")
        #expect(r.output.contains("backtrace: none (the fault was ring 3's)"), "\(r.output)")
        #expect(r.output.contains("  rip in faulty.elf 0x4"), "root's rip named with root's ELF: \(r.output)")
        #expect(r.output.line(containing: "  rip in faulty.elf 0x4")?.contains("faultyMain(") == true, "\(r.output)")
    }

    @Test("a child's fault root cannot take, at VIDT[6] nor at VIDT[8]: the crash report names the child and the vector")
    func childFaultNobodyTakes() throws {
        let r = try Boot.run("faulty", commandLine: "faulty.child=1")
        #expect(r.ending == .status(ExitStatus.kernelCrash), "\(r.summary)\n\(r.output)")
        let entering = try #require(r.output.line(containing: "root: entering my child 0x"), "\(r.output)")
        let name = String(entering.dropFirst("root: entering my child 0x".count).prefix { $0.isHexDigit })
        #expect(r.output.contains("*** SPRIG KERNEL CRASH ***"), "\(r.output)")
        let partition = try #require(r.output.line(containing: "partition: "), "\(r.output)")
        #expect(partition.hasPrefix("partition: root's child 0x") && UInt64(partition.dropFirst("partition: root's child 0x".count).prefix { $0.isHexDigit }, radix: 16) == UInt64(name, radix: 16),
                "the report names the child as root does (\(name)): \(partition)")
        #expect(partition.hasSuffix("its program: unknown, root gives the kernel no name for it"), "no invented name: \(partition)")
        #expect(r.output.line(containing: "last service call: ")?.hasSuffix(") by root") == true, "the child made no call root's did not follow: \(r.output)")
        #expect(r.output.contains("vector: 6 invalid opcode"), "\(r.output)")
        #expect(!r.output.contains("double fault at my VIDT[8]"))
    }

    @Test("an NMI while root runs comes to root's VIDT[2] as a hardware event, not as root's own exception 2")
    func nmiGoesToRoot() throws {
        let r = try Boot.run("faulty", commandLine: "faulty.nmi=1", timeout: 60,
                             input: .script([.monitor(after: "root: waiting for an NMI", command: "nmi")]), monitorOnSerial: true)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("root: NMI at my VIDT[2]: source 0x0, vector 2, r8 0x101"), "\(r.output)")
        #expect(r.output.contains("root: the NMI came to me as a hardware event"), "\(r.output)")
        #expect(!r.output.contains("KERNEL CRASH"), "\(r.output)")
    }

    @Test("an NMI while the kernel runs, an exit context pending: the kernel goes on, root runs to the end")
    func nmiInTheKernel() throws {
        let r = try Boot.run("hello", variant: .debug, commandLine: "crashtest=nmi")
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("Sprig: crashtest=nmi: the kernel went on, the NMI pending for root"), "\(r.output)")
        #expect(r.output.contains("root: goodbye"), "\(r.output)")
        #expect(!r.output.contains("KERNEL CRASH"), "\(r.output)")
    }

    /// TCG does not show the AMD leak itself (the attacks system's FXSAVE comparisons, which
    /// cover FIP and FDP, pass with and without the clearing). The kernel clears the x87
    /// pointers before every FXRSTOR whatever the vendor (`HygieneTests.kernelHygiene` holds it
    /// to that); this checks that it depends on no vendor and runs the same on both.
    @Test("the kernel runs the same on an AMD and an Intel vendor CPU")
    func vendors() throws {
        let amd = try Boot.run("hello", cpu: "max,vendor=AuthenticAMD")
        #expect(amd.ending == .status(0), "\(amd.summary)\n\(amd.output)")
        let intel = try Boot.run("hello", cpu: "max,vendor=GenuineIntel")
        #expect(intel.ending == .status(0), "\(intel.summary)\n\(intel.output)")
        #expect(amd.output.contains("root: goodbye") && intel.output.contains("root: goodbye"), "\(amd.output)\n\(intel.output)")
    }

    @Test("a child's fault root cannot take at VIDT[6] goes to root's VIDT[8] as a double fault naming the child")
    func childFaultToRootsDoubleFault() throws {
        let r = try Boot.run("faulty", commandLine: "faulty.child=2")
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("root: it names my child, its context saved at its STI slot"), "\(r.output)")
        #expect(!r.output.contains("KERNEL CRASH"), "\(r.output)")
    }
}
