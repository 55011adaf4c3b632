/// The CPU protections on the booted kernel: the CPU protections (CR0.WP, CR4.SMEP, SMAP,
/// UMIP, EFER.NXE, no global pages) read back from the hardware, the kernel's own page tables
/// (W^X at 4 KiB, nothing user-accessible in the kernel half, guard pages unmapped) and the
/// entry window partitions map, and each protection shown to act: the debug kernel writes its
/// own text, calls into data, runs off its stack, reads and calls ring-3 memory, and crashes
/// each time with the fault the protection raises; ring 3's sgdt/sidt/sldt/str/smsw are #GP.
import Foundation
import SprigABI
import SprigTool
import Testing

@Suite("The kernel's own protections on the booted kernel")
struct ProtectionBootTests {
    static let windowOn: Result<RunResult, Error> = Result { try Boot.run("hello") }
    static let windowOff: Result<RunResult, Error> = Result { try Boot.run("hello", commandLine: "skim=off") }

    static func output(_ r: Result<RunResult, Error>) throws -> String {
        let run = try r.get()
        #expect(run.ending == .status(0), "\(run.summary)\n\(run.output)")
        return run.output
    }

    /// The hex number after `name=` on the line containing `marker`.
    static func hex(_ name: String, on marker: String, in output: String) -> UInt64? {
        guard let line = output.line(containing: marker), let r = line.range(of: " \(name)=0x") else { return nil }
        return UInt64(line[r.upperBound...].prefix { $0.isHexDigit }, radix: 16)
    }

    /// The decimal counts `key=n` of the `Sprig: tables <which>:` line.
    static func census(_ which: String, in output: String) -> [String: UInt64]? {
        guard let line = output.line(containing: "Sprig: tables \(which):") else { return nil }
        var d: [String: UInt64] = [:]
        for f in line.split(separator: " ") where f.contains("=") {
            let kv = f.split(separator: "=")
            if kv.count == 2, let n = UInt64(kv[1]) { d[String(kv[0])] = n }
        }
        return d
    }

    @Test("CR0.WP, CR4.SMEP/SMAP/UMIP and EFER.NXE are on and CR4.PGE off, read back from the CPU")
    func controlRegisters() throws {
        for r in [Self.windowOn, Self.windowOff] {
            let out = try Self.output(r)
            let cr0 = try #require(Self.hex("cr0", on: "Sprig: cr0=", in: out), "\(out)")
            let cr4 = try #require(Self.hex("cr4", on: "Sprig: cr0=", in: out))
            let efer = try #require(Self.hex("efer", on: "Sprig: cr0=", in: out))
            #expect(cr0 & (1 << 16) != 0, "CR0.WP: the kernel cannot write read-only pages")
            #expect(cr0 & (1 << 31) != 0 && cr0 & 1 != 0)
            #expect(cr4 & (1 << 20) != 0, "CR4.SMEP")
            #expect(cr4 & (1 << 21) != 0, "CR4.SMAP")
            #expect(cr4 & (1 << 11) != 0, "CR4.UMIP")
            #expect(cr4 & (1 << 7) == 0, "CR4.PGE: no global page survives a CR3 load")
            #expect(efer & (1 << 11) != 0, "EFER.NXE")
        }
    }

    @Test("the kernel's tables: text r-x, rodata r--, the rest rw- NX; nothing rwx, user or global; guards unmapped")
    func kernelTables() throws {
        for r in [Self.windowOn, Self.windowOff] {
            let out = try Self.output(r)
            let k = try #require(Self.census("kernel", in: out), "\(out)")
            #expect(k["rwx"] == 0 && k["user"] == 0 && k["global"] == 0 && k["lower"] == 0, "\(k)")
            #expect(k["guards-mapped"] == 0, "the four guard pages are unmapped")
            #expect((k["r-x"] ?? 0) > 4, "the text is mapped read+execute")
            // rodata and the IDT, and the direct map's alias of text and rodata.
            #expect((k["r--"] ?? 0) > (k["r-x"] ?? 0), "\(k)")
            // The direct map: 4 GiB read+write no-exec, bar the image's read-only alias.
            #expect((k["rw-"] ?? 0) >= (1 << 20) - 64, "\(k)")
        }
    }

    @Test("with the window on a partition's PML4 maps only the entry window; skim=off maps the kernel half")
    func entryWindow() throws {
        let on = try Self.output(Self.windowOn)
        let w = try #require(Self.census("window", in: on), "\(on)")
        #expect(w["outside-window"] == 0 && w["rwx"] == 0 && w["user"] == 0 && w["global"] == 0 && w["guards-mapped"] == 0, "\(w)")
        // Entry/exit text, the IDT (read-only), GDT/TSS/data and three stacks: a handful of pages.
        let total = (w["r-x"] ?? 0) + (w["r--"] ?? 0) + (w["rw-"] ?? 0)
        #expect(total >= 4 && total <= 10, "\(w)")
        #expect(on.contains("root: goodbye"))
        let off = try Self.output(Self.windowOff)
        #expect(off.contains("Sprig: entry window off (skim=off)"))
        #expect(off.line(containing: "Sprig: tables window:") == nil)
        #expect(off.contains("root: goodbye"))
    }

    /// Boots the debug hello with `commandLine`; the kernel must crash with the report's lines.
    func crash(_ commandLine: String, _ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try Boot.run("hello", variant: .debug, commandLine: commandLine)
        #expect(r.ending == .status(ExitStatus.kernelCrash), "\(r.summary)\n\(r.output)", sourceLocation: sourceLocation)
        for e in expected {
            #expect(r.output.contains(e), "missing \(e)\n\(r.output)", sourceLocation: sourceLocation)
        }
        #expect(!r.output.contains("root: hello"), "root never ran", sourceLocation: sourceLocation)
    }

    @Test("the kernel's text is read-only, through its own address and the direct map (W^X)")
    func textReadOnly() throws {
        try crash("crashtest=write-text", ["vector: 14 page fault", "error code: 0x0000000000000003", "cr2=0xffffffff80"])
        try crash("crashtest=write-text-alias", ["vector: 14 page fault", "error code: 0x0000000000000003", "cr2=0xffff800000"])
    }

    @Test("the kernel's data is not executable (NX)")
    func dataNoExecute() throws {
        try crash("crashtest=exec-data", ["vector: 14 page fault", "error code: 0x0000000000000011", "cr2=0xffffffff80"])
    }

    @Test("a kernel stack overflow hits the guard page and ends in a double fault on its IST stack")
    func stackGuard() throws {
        try crash("crashtest=stack-guard", ["vector: 8 double fault", "*** SPRIG KERNEL CRASH ***"])
    }

    @Test("SMAP: the kernel cannot read ring-3 memory; SMEP: it cannot run it")
    func smapSmep() throws {
        try crash("skim=off crashtest=smap", ["vector: 14 page fault", "error code: 0x0000000000000001", "cr2=0x0000000000400000"])
        try crash("skim=off crashtest=smep", ["vector: 14 page fault", "error code: 0x0000000000000011", "rip=0x0000000000400000"])
    }

    @Test("UMIP: sgdt, sidt, sldt, str and smsw in a child are each a #GP(0) its parent takes")
    func umip() throws {
        let r = try Boot.run("attacks", timeout: 60)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        for i in ["sgdt", "sidt", "sldt", "str", "smsw"] {
            #expect(r.output.contains("root: the child executes \(i): #GP(0) taken from the child, vector 13\n"), "\(i)\n\(r.output)")
        }
    }

    @Test("a CPU without SMEP, SMAP and UMIP (QEMU's qemu64): the kernel says which and refuses to boot")
    func refusesWithoutProtections() throws {
        let (_, products) = try Boot.products(.release)
        var o = RunOptions()
        o.system = "hello"
        o.cpu = "qemu64"
        let r = try QEMU.run(products, options: o)
        #expect(r.ending == .status(ExitStatus.bootFailure), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("Sprig: boot failed: the CPU lacks SMEP (CPUID.7.0:EBX[7])"), "\(r.output)")
        #expect(r.output.contains("Sprig needs NX, SMEP, SMAP and UMIP"))
        #expect(!r.output.contains("root:"), "root never ran")
    }

    /// VERW runs on every exit (`HygieneTests.kernelHygiene` checks each `iretq` to ring 3 for
    /// it), so every boot test runs it; this one reads what the boot line says of MD_CLEAR.
    @Test("VERW on every exit to ring 3 (its selector in the window): the boot line says whether it clears buffers")
    func verwOnExit() throws {
        let plain = try Self.output(Self.windowOn)
        #expect(plain.line(containing: "Sprig: cr0=")?.contains(" md_clear=0 (VERW on every exit; the CPU reports no MD_CLEAR") == true,
                "TCG reports no MD_CLEAR: \(plain)")
    }

    @Test("skim=off: the attacks system runs through with partitions mapping the whole kernel half")
    func attacksWindowOff() throws {
        let r = try Boot.run("attacks", commandLine: "skim=off", timeout: 60)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("root: attacks done, 0 failures"))
    }

    @Test("sprig hygiene: no kernel segment is both writable and executable")
    func segmentsWX() throws {
        let (builder, products) = try Boot.products(.release)
        let report = try Hygiene.check(builder, products: products)
        #expect(report.segmentsChecked >= 4)
        #expect(report.writableExecutableSegments.isEmpty, "\(report.writableExecutableSegments)")
        #expect(report.smapLifts.isEmpty, "\(report.smapLifts)")
        let rwx = """
                LOAD off    0x0000000000001000 vaddr 0x0000000000100000 paddr 0x0000000000100000 align 2**12
                     filesz 0x000000000000011e memsz 0x000000000000011e flags rwx
                LOAD off    0x0000000000002000 vaddr 0xffffffff80101000 paddr 0x0000000000101000 align 2**12
                     filesz 0x000000000000c22d memsz 0x000000000000c22d flags r-x
            """
        let found = Hygiene.writableExecutableSegments(inProgramHeaders: rwx)
        #expect(found.checked == 2 && found.offending.count == 1)
    }
}

/// The same protections seen from outside the guest: QEMU's monitor reads CR0/CR4/EFER from the
/// CPU (`info registers`) and walks the page tables CR3 points at (`info tlb`) while a child of
/// the `echo` system spins in ring 3, so nothing here relies on the kernel's own report. Page
/// ranges come from the kernel ELF's symbols.
@Suite("The kernel's protections seen by QEMU's monitor")
struct MonitorProtectionTests {
    struct View {
        var registers: String
        /// Upper-half leaves: virtual address → QEMU's flags ("XGPDACTUW", '-' where clear).
        var upper: [UInt64: String]
    }

    /// Boots `echo` with `commandLine` and the monitor on stdin/stdout; once the child runs,
    /// stops the CPU in ring 3 and reads its registers and tables, then runs `extra` (monitor
    /// commands) while it is stopped. A stop counts when `accept` holds for what the monitor said.
    static func view(commandLine: String, extra: [String] = [],
                     accept: (String) -> Bool = { _ in true }) throws -> View {
        let (_, products) = try Boot.products(.release)
        var o = RunOptions()
        o.system = "echo"
        o.commandLine = commandLine
        let serial = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-monitor-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: serial) }
        var args = QEMU.arguments(products, system: try Systems.named("echo"), options: o)
        let m = try #require(args.firstIndex(of: "-monitor")), s = try #require(args.firstIndex(of: "-serial"))
        args[m + 1] = "stdio"
        args[s + 1] = "file:\(serial.path)"
        let p = Process()
        p.executableURL = try QEMU.find()
        p.arguments = args
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = output
        let collected = OutputCollector(echo: false)
        output.fileHandleForReading.readabilityHandler = { h in
            let d = h.availableData
            if !d.isEmpty { collected.append(d) }
        }
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        func send(_ line: String) { try? input.fileHandleForWriting.write(contentsOf: Data((line + "\n").utf8)) }
        /// Waits until the monitor's output holds `marker` `count` times.
        func waitFor(_ marker: String, count: Int, seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if collected.text.components(separatedBy: marker).count > count { return true }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return false
        }
        let deadline = Date().addingTimeInterval(60)
        while !((try? String(contentsOf: serial, encoding: .utf8))?.contains("echo: ready") ?? false) {
            guard Date() < deadline, p.isRunning else { throw ToolError("echo never became ready") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        // Stopped in ring 3 (CS DPL 3), where CR3 is the partition's: retry if it was the kernel.
        for attempt in 1...10 {
            let before = collected.text.count
            send("stop")
            send("info registers")
            send("info tlb")
            for c in extra { send(c) }
            send("info status")
            guard waitFor("VM status: paused", count: attempt, seconds: 30) else { break }
            let text = String(collected.text.dropFirst(before)).replacingOccurrences(of: "\r", with: "")
            if text.contains("CS =0023") && accept(text) {
                send("quit")
                var upper: [UInt64: String] = [:]
                for line in text.split(separator: "\n") {
                    let f = line.split(separator: " ")
                    guard f.count == 3, f[0].hasSuffix(":"), !f[1].hasPrefix("0x"), let va = UInt64(f[0].dropLast(), radix: 16),
                          va >= AddressSpace.upperHalfStart else { continue }
                    upper[va] = String(f[2])
                }
                return View(registers: text, upper: upper)
            }
            send("cont")
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw ToolError("the monitor never stopped the CPU in ring 3:\n\(collected.text)")
    }

    /// The kernel ELF's symbol addresses (or a partition's, by name).
    static func symbols(partition: String? = nil) throws -> [String: UInt64] {
        let (builder, products) = try Boot.products(.release)
        var elf = products.kernelELF
        if let name = partition {
            elf = try #require(products.partitions[name]).deletingPathExtension().appendingPathExtension("elf")
        }
        let p = Process()
        p.executableURL = builder.toolchain.tool("llvm-nm")
        p.arguments = [elf.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        var d: [String: UInt64] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 3, let a = UInt64(f[0], radix: 16) { d[String(f[2])] = a }
        }
        return d
    }

    static func register(_ name: String, in text: String) -> UInt64? {
        guard let r = text.range(of: "\(name)=") else { return nil }
        return UInt64(text[r.upperBound...].prefix { $0.isHexDigit }, radix: 16)
    }

    /// QEMU's flag string: position 0 'X' (NX), 1 'G', 7 'U', 8 'W'.
    static func executable(_ f: String) -> Bool { f.first != "X" }
    static func flag(_ f: String, _ i: Int, _ c: Character) -> Bool { f.count == 9 && Array(f)[i] == c }

    /// What holds with the window on and off: the CPU's control registers, and no upper-half
    /// page user-accessible, global, writable and executable, or a guard page.
    func common(_ v: View, _ sym: [String: UInt64]) throws {
        let cr0 = try #require(Self.register("CR0", in: v.registers)), cr4 = try #require(Self.register("CR4", in: v.registers))
        let efer = try #require(Self.register("EFER", in: v.registers))
        #expect(cr0 & (1 << 16) != 0 && cr4 & (1 << 20) != 0 && cr4 & (1 << 21) != 0 && cr4 & (1 << 11) != 0, "\(v.registers)")
        #expect(cr4 & (1 << 7) == 0 && efer & (1 << 11) != 0)
        #expect(!v.upper.isEmpty)
        for (va, f) in v.upper {
            #expect(!Self.flag(f, 7, "U"), "user-accessible kernel page \(String(va, radix: 16)) \(f)")
            #expect(!Self.flag(f, 1, "G"), "global page \(String(va, radix: 16)) \(f)")
            #expect(!(Self.flag(f, 8, "W") && Self.executable(f)), "writable and executable \(String(va, radix: 16)) \(f)")
        }
        for g in ["sprig_kernel_stack_guard", "sprig_entry_stack_guard", "sprig_df_stack_guard", "sprig_nmi_stack_guard"] {
            let va = try #require(sym[g], "\(g) not in the ELF")
            #expect(v.upper[va] == nil, "\(g) is mapped")
        }
    }

    @Test("window on: the CPU's registers, and a partition's upper half maps only the .window.* pages")
    func windowOn() throws {
        let v = try Self.view(commandLine: "")
        let sym = try Self.symbols()
        try common(v, sym)
        let ranges: [(String, String)] = [("sprig_window_text_start", "sprig_window_text_end"),
                                          ("sprig_window_data_start", "sprig_window_data_end"),
                                          ("sprig_window_bss_start", "sprig_window_bss_end")]
        let bounds = try ranges.map { (try #require(sym[$0.0]), try #require(sym[$0.1])) }
        for va in v.upper.keys {
            #expect(bounds.contains { va >= $0.0 && va < $0.1 }, "\(String(va, radix: 16)) is outside the window")
        }
        #expect(v.upper.count >= 4 && v.upper.count <= 10, "\(v.upper.count) pages")
        // The direct map and the kernel's data are absent.
        #expect(!v.upper.keys.contains { $0 < 0xFFFF_FFFF_8000_0000 })
        #expect(v.upper[try #require(sym["sprig_kernel_stack_top"]) - 4096] == nil, "the kernel stack is not in the window")
    }

    /// The 8-byte words of `x /Ngx` output: address → value.
    static func memory(in text: String) -> [UInt64: UInt64] {
        var words: [UInt64: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            guard f.count >= 2, f[0].hasSuffix(":"), f[1].hasPrefix("0x"),
                  let va = UInt64(f[0].dropLast(), radix: 16) else { continue }
            for (i, w) in f.dropFirst().enumerated() {
                if let v = UInt64(w.dropFirst(2), radix: 16) { words[va + 8 * UInt64(i)] = v }
            }
        }
        return words
    }

    /// The entry window: no register of one partition rests in the window's memory while another
    /// runs (on a Meltdown-affected CPU the window is readable from ring 3). `echo`'s root fills
    /// its registers with `Echo.marker` and yields to its child; stopped in the child's loop, the
    /// monitor reads the window through the child's own tables: no word carries root's marker,
    /// the NMI and #DF stacks are zero, and the entry stack holds only its top six words (the
    /// child's rax and iretq words, cs and ss the user selectors).
    @Test("window on: after root yields with marked registers, the window holds none of them")
    func windowHoldsNoOtherPartitionsRegisters() throws {
        let sym = try Self.symbols()
        let spin = try #require(try Self.symbols(partition: "attacker")["sprig_spin_counting"])
        let top = try #require(sym["sprig_entry_stack_top"])
        let stacks: [(String, UInt64)] = [("entry", try #require(sym["sprig_entry_stack_guard"]) + 4096),
                                          ("#DF", try #require(sym["sprig_df_stack_guard"]) + 4096),
                                          ("NMI", try #require(sym["sprig_nmi_stack_guard"]) + 4096)]
        let dataStart = try #require(sym["sprig_window_data_start"]), dataEnd = try #require(sym["sprig_window_data_end"])
        let bssStart = try #require(sym["sprig_window_bss_start"]), idtEnd = try #require(sym["sprig_entry_stack_guard"])
        var extra = stacks.map { "x /512gx 0x\(String($0.1, radix: 16))" }
        extra.append("x /\((dataEnd - dataStart) / 8)gx 0x\(String(dataStart, radix: 16))")
        extra.append("x /\((idtEnd - bssStart) / 8)gx 0x\(String(bssStart, radix: 16))")
        // Stopped in the child's counting loop (root's yield has happened), not in root.
        let v = try Self.view(commandLine: "", extra: extra) { text in
            guard let rip = Self.register("RIP", in: text) else { return false }
            return rip >= spin && rip < spin + 16
        }
        let words = Self.memory(in: v.registers)
        let expected = 3 * 512 + Int((dataEnd - dataStart) / 8) + Int((idtEnd - bssStart) / 8)
        #expect(words.count == expected, "\(words.count) of \(expected) window words read")
        let marked = words.filter { $0.value & ~0xFFFF == 0xEC40_5EED_0000_0000 }
        #expect(marked.isEmpty, "root's marker in the window: \(marked.map { String($0.key, radix: 16) })")
        for (name, base) in stacks {
            let used = words.filter { $0.key >= base && $0.key < base + 4096 && $0.value != 0 }.keys.sorted()
            if name == "entry" {
                #expect(used.allSatisfy { $0 >= top - 48 }, "entry stack words below its top six: \(used.map { String($0, radix: 16) })")
                #expect(words[top - 32] == 0x23 && words[top - 8] == 0x1B, "the iretq frame's cs and ss")
            } else {
                #expect(used.isEmpty, "the \(name) stack is not empty: \(used.map { String($0, radix: 16) })")
            }
        }
    }

    @Test("skim=off: the whole kernel half, text read+execute and not writable, the direct map no-exec")
    func windowOff() throws {
        let v = try Self.view(commandLine: "skim=off")
        let sym = try Self.symbols()
        try common(v, sym)
        let textStart = try #require(sym["sprig_text_start"]), textEnd = try #require(sym["sprig_text_end"])
        var text = 0
        for (va, f) in v.upper where va >= textStart && va < textEnd {
            text += 1
            #expect(Self.executable(f) && !Self.flag(f, 8, "W"), "text page \(String(va, radix: 16)) \(f)")
        }
        #expect(text == Int((textEnd - textStart) / 4096), "every text page mapped")
        let direct = v.upper.filter { $0.key >= AddressSpace.upperHalfStart && $0.key < AddressSpace.upperHalfStart + (1 << 32) }
        #expect(direct.count > 2000, "the direct map is there")
        #expect(direct.values.allSatisfy { !Self.executable($0) }, "the direct map is no-exec")
    }
}
