/// Build hygiene of the kernel ELF, checked on the binary and on the IR.
///
/// * no SSE/AVX/x87/MMX instruction: the kernel must never clobber a partition's FPU state by
///   accident (FXSAVE/FXRSTOR/XSAVE-family instructions that *save and restore* it are allowed);
/// * no undefined symbol in the linked kernel;
/// * no stack protector (no __stack_chk_* symbol, no ssp attribute on any function);
/// * no red zone (every function of every kernel module carries `noredzone` in the IR);
/// * no lazy global initialization (`swift_once`), which spins if reached from an interrupt;
/// * no `stac`: the kernel never lifts SMAP, it reaches partition memory only through the
///   direct map;
/// * no loadable segment both writable and executable (W^X; the kernel's page tables follow the
///   same split at run time, docs/build.md "The kernel's own mappings");
/// * no call on the yield's fastpath (`sprig_trap_syscall`, `sprigYield`) but the debug build's
///   fatal-error report, which does not return: it leaves everything else by a jump, so that it
///   saves almost no register (docs/bench.md, "The fastpath in a function of its own"); not
///   checked on the trace build, whose recorder calls out;
/// * every FXRSTOR straight after an FNINIT (AMD's x87 pointers: CPU.swift, `FPU.restore`) and
///   every `iretq` to ring 3 straight after a VERW (MDS: entry.S, `CLEAR_CPU_BUFFERS`), with no
///   branch target between the two.
import Foundation

public struct HygieneReport: Sendable {
    public var fpuInstructions: [String] = []
    public var undefinedSymbols: [String] = []
    public var forbiddenSymbols: [String] = []
    public var functionsWithRedZone: [String] = []
    public var functionsWithStackProtector: [String] = []
    public var writableExecutableSegments: [String] = []
    public var smapLifts: [String] = []
    public var fastpathCalls: [String] = []
    public var unguardedInstructions: [String] = []
    public var segmentsChecked = 0
    public var functionsChecked = 0
    public var instructionsChecked = 0

    public var problems: [String] {
        var p: [String] = []
        if !fpuInstructions.isEmpty { p.append("FPU/SIMD instructions in the kernel:\n  " + fpuInstructions.prefix(10).joined(separator: "\n  ")) }
        if !undefinedSymbols.isEmpty { p.append("undefined symbols: " + undefinedSymbols.joined(separator: ", ")) }
        if !forbiddenSymbols.isEmpty { p.append("forbidden symbols: " + forbiddenSymbols.joined(separator: ", ")) }
        if !functionsWithRedZone.isEmpty { p.append("functions without noredzone: " + functionsWithRedZone.prefix(10).joined(separator: ", ")) }
        if !functionsWithStackProtector.isEmpty { p.append("functions with a stack protector: " + functionsWithStackProtector.prefix(10).joined(separator: ", ")) }
        if !smapLifts.isEmpty { p.append("stac (SMAP lifted) in the kernel:\n  " + smapLifts.prefix(10).joined(separator: "\n  ")) }
        if !fastpathCalls.isEmpty { p.append("calls on the yield fastpath (a jump to the chain, no call: Trap.swift):\n  " + fastpathCalls.prefix(10).joined(separator: "\n  ")) }
        if !unguardedInstructions.isEmpty { p.append("instructions without the one that must come straight before them:\n  " + unguardedInstructions.prefix(10).joined(separator: "\n  ")) }
        if !writableExecutableSegments.isEmpty { p.append("segments both writable and executable:\n  " + writableExecutableSegments.joined(separator: "\n  ")) }
        return p
    }
}

public enum Hygiene {
    /// Mnemonics that save or restore FPU state without computing with it.
    static let stateInstructions: Set<String> = ["fxsave", "fxsave64", "fxrstor", "fxrstor64", "xsave", "xsave64", "xrstor", "xrstor64", "fninit", "fwait", "ldmxcsr", "stmxcsr"]

    /// Whether one line of `llvm-objdump -d` (AT&T syntax) uses x87, MMX, SSE or AVX.
    public static func usesFPU(_ line: String) -> Bool {
        // "  ffffffff80101000:      \tmovups\t(%rsi), %xmm0": address, colon, tab, mnemonic, tab, operands.
        guard let colon = line.firstIndex(of: ":") else { return false }
        let fields = line[line.index(after: colon)...].split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard let mnemonic = fields.first else { return false }
        if stateInstructions.contains(mnemonic) { return false }
        let operands = fields.dropFirst().joined(separator: " ")
        for register in ["%xmm", "%ymm", "%zmm", "%mm", "%st"] where operands.contains(register) { return true }
        // x87 mnemonics all start with 'f' (fld, fstp, fadd, …); no integer instruction does.
        return mnemonic.hasPrefix("f")
    }

    /// Lines of `llvm-objdump -d --no-show-raw-insn` output that use the FPU/SIMD units.
    ///
    /// One use is allowed, the save's copy of a partition's general registers
    /// (`sprig_copy_saved_registers`, SprigX86/include/fpu_instructions.h): at most
    /// `savedRegisterMoves` `movdqu` between memory and xmm0…xmm6, straight after an FXSAVE of
    /// the same function — no branch, call or return in between — when those registers' values
    /// are already in the saved image. Anything else (another instruction or register, a move
    /// that does not follow an FXSAVE) is reported.
    public static func fpuLines(inDisassembly text: String) -> (checked: Int, offending: [String]) {
        var checked = 0
        var offending: [String] = []
        var movesLeft = 0  // SSE moves still allowed after the last FXSAVE
        for line in text.split(separator: "\n") {
            // Instruction lines start with a hex address and a colon; headers and labels don't.
            guard let colon = line.firstIndex(of: ":"),
                  case let address = line[..<colon].trimmingCharacters(in: .whitespaces),
                  !address.isEmpty, address.allSatisfy(\.isHexDigit), line[colon...].contains("\t")
            else { movesLeft = 0; continue }
            checked += 1
            let fields = line[line.index(after: colon)...].split(separator: "\t").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            let mnemonic = fields.first ?? ""
            if mnemonic.hasPrefix("fxsave") { movesLeft = savedRegisterMoves; continue }
            if mnemonic.hasPrefix("j") || mnemonic.hasPrefix("call") || mnemonic.hasPrefix("ret") || mnemonic.hasPrefix("fxrstor") {
                movesLeft = 0
            }
            guard usesFPU(String(line)) else { continue }
            if movesLeft > 0, isSavedRegisterMove(mnemonic: mnemonic, operands: fields.dropFirst().joined(separator: " ")) {
                movesLeft -= 1
                continue
            }
            offending.append(line.trimmingCharacters(in: .whitespaces))
        }
        return (checked, offending)
    }

    /// The save's copy: 7 loads and 7 stores of 16 bytes.
    static let savedRegisterMoves = 14

    /// `movdqu` between a memory operand and one of xmm0…xmm6.
    static func isSavedRegisterMove(mnemonic: String, operands: String) -> Bool {
        guard mnemonic == "movdqu" else { return false }
        let parts = operands.split(separator: ",", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        // "0x8(%rcx), %xmm0" or "%xmm0, 0x20(%rax)": the memory side holds the parentheses.
        guard parts.count == 2 else { return false }
        let register = parts[0].hasPrefix("%xmm") ? parts[0] : parts[1]
        let memory = parts[0].hasPrefix("%xmm") ? parts[1] : parts[0]
        return (0...6).map { "%xmm\($0)" }.contains(register) && memory.contains("(") && !memory.contains("%xmm")
    }

    /// The loadable segments of `llvm-objdump -p` output that are both writable and executable,
    /// and how many loadable segments there were.
    public static func writableExecutableSegments(inProgramHeaders text: String) -> (checked: Int, offending: [String]) {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var checked = 0
        var offending: [String] = []
        // "LOAD off 0x… vaddr 0x… paddr 0x… align 2**12" then "filesz 0x… memsz 0x… flags rwx".
        for (i, line) in lines.enumerated() where line.hasPrefix("LOAD ") && i + 1 < lines.count {
            let f = lines[i + 1].split(separator: " ")
            guard let at = f.firstIndex(of: "flags"), at + 1 < f.count else { continue }
            checked += 1
            let flags = f[at + 1]
            if flags.contains("w") && flags.contains("x") { offending.append(line + " " + lines[i + 1]) }
        }
        return (checked, offending)
    }

    /// The functions of the yield's fastpath on the machine: the syscall entry's Swift function
    /// and the fastpath it jumps to (SprigX86/Trap.swift), by symbol (`sprigYield`'s is mangled).
    static func isFastpathFunction(_ symbol: Substring) -> Bool {
        symbol == "sprig_trap_syscall" || symbol.hasPrefix("$e8SprigX8610sprigYieldyy")
    }

    /// The `call` instructions inside the yield fastpath's functions, in `llvm-objdump -d` output,
    /// and how many of those functions it found.
    public static func fastpathCalls(inDisassembly text: String) -> (functions: Int, calls: [String]) {
        var inFastpath = false, functions = 0
        var calls: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            // A function starts with `<address> <symbol>:`.
            if line.hasSuffix(">:"), let open = line.firstIndex(of: "<") {
                inFastpath = isFastpathFunction(line[line.index(after: open)..<line.index(line.endIndex, offsetBy: -2)])
                if inFastpath { functions += 1 }
                continue
            }
            guard inFastpath else { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: true)
            // The debug build's failed checks report and stop (`_embeddedReportFatalError…`): a
            // call that never returns, so nothing has to live across it.
            if fields.count >= 2, fields[1].hasPrefix("call"), !line.contains("embeddedReportFatalError") {
                calls.append(line.trimmingCharacters(in: .whitespaces))
            }
        }
        return (functions, calls)
    }

    /// The instructions that must come straight after another: FXRSTOR after FNINIT, `iretq`
    /// after VERW. `sprig_trap_from_kernel`'s `iretq` returns to the kernel, not to ring 3.
    static let guards: [(mnemonic: String, after: String)] = [("fxrstor", "fninit"), ("fxrstor64", "fninit"), ("iretq", "verw")]
    static let returnsToTheKernel: Set<Substring> = ["sprig_trap_from_kernel"]

    /// The lines of `llvm-objdump -d --symbolize-operands` output (branch targets as `<L…>:`
    /// lines) whose instruction is one of `guards` but whose preceding line is not the
    /// instruction it needs, and how many such instructions there were. A branch target
    /// between the two counts as missing: a jump could reach the instruction without it.
    public static func unguardedInstructions(inDisassembly text: String) -> (checked: Int, offending: [String]) {
        var checked = 0
        var offending: [String] = []
        var previous = ""  // the mnemonic of the line before, "" after a label or a function start
        var function: Substring = ""
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: true).map { $0.trimmingCharacters(in: .whitespaces) }
            // `ffffffff80104900 <symbol>:` starts a function, `<L0>:` is a branch target.
            guard fields.count >= 2, fields[0].hasSuffix(":") else {
                if line.hasSuffix(">:"), let open = line.firstIndex(of: "<"), !line.hasPrefix("<") {
                    function = line[line.index(after: open)..<line.index(line.endIndex, offsetBy: -2)]
                }
                previous = ""
                continue
            }
            let mnemonic = fields[1]
            defer { previous = mnemonic }
            guard let rule = guards.first(where: { $0.mnemonic == mnemonic }) else { continue }
            if mnemonic == "iretq", returnsToTheKernel.contains(function) { continue }
            checked += 1
            if previous != rule.after { offending.append("\(function): \(line.trimmingCharacters(in: .whitespaces)) (not straight after \(rule.after))") }
        }
        return (checked, offending)
    }

    public static func check(_ builder: Builder, products: BuildProducts) throws -> HygieneReport {
        var report = HygieneReport()
        let tc = builder.toolchain
        let disassembly = try run(tc.tool("llvm-objdump"), ["-d", "--no-show-raw-insn", products.kernelELF.path])
        (report.instructionsChecked, report.fpuInstructions) = fpuLines(inDisassembly: disassembly)
        report.smapLifts = disassembly.split(separator: "\n").filter { $0.hasSuffix("\tstac") }.map { $0.trimmingCharacters(in: .whitespaces) }
        if builder.variant != .trace {
            let fastpath = fastpathCalls(inDisassembly: disassembly)
            report.fastpathCalls = fastpath.calls
            if fastpath.functions != 2 { report.fastpathCalls.append("(found \(fastpath.functions) of the fastpath's two functions: renamed?)") }
        }
        let symbolized = try run(tc.tool("llvm-objdump"), ["-d", "--no-show-raw-insn", "--symbolize-operands", products.kernelELF.path])
        let guarded = unguardedInstructions(inDisassembly: symbolized)
        report.unguardedInstructions = guarded.offending
        if guarded.checked == 0 { report.unguardedInstructions.append("(found no FXRSTOR and no iretq: the check reads nothing)") }
        let headers = try run(tc.tool("llvm-objdump"), ["-p", products.kernelELF.path])
        (report.segmentsChecked, report.writableExecutableSegments) = writableExecutableSegments(inProgramHeaders: headers)
        let undefined = try run(tc.tool("llvm-nm"), ["-u", products.kernelELF.path])
        report.undefinedSymbols = undefined.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let all = try run(tc.tool("llvm-nm"), [products.kernelELF.path])
        var linked = Set<String>()
        for line in all.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 3 { linked.insert(String(f[2])) }
        }
        for name in ["__stack_chk_fail", "__stack_chk_guard", "swift_once"] where linked.contains(name) {
            report.forbiddenSymbols.append(name)
        }

        // IR attributes: compile each kernel module to LLVM IR with the kernel's flags, and check
        // every function that made it into the linked kernel (the stdlib emits runtime stubs
        // that --gc-sections drops; those never run).
        let dir = builder.outputDirectory.appendingPathComponent("kernel")
        let modules: [(String, String)] = [("SprigABI", "Sources/SprigABI"), ("SprigCore", "Sources/SprigCore"), ("SprigX86", "Sources/SprigX86")]
        for (name, path) in modules {
            let sources = try builder.sources(path, ext: "swift", recursive: true).map(\.path)
            let ir = dir.appendingPathComponent("\(name).ll")
            try run(tc.tool("swiftc"), builder.kernelSwiftFlags + Builder.packageFlags + ["-I", dir.path, "-module-name", name, "-emit-ir"] + sources + ["-o", ir.path])
            let text = try String(contentsOf: ir, encoding: .utf8)
            var groups: [String: String] = [:]
            for line in text.split(separator: "\n") where line.hasPrefix("attributes #") {
                let parts = line.split(separator: "=", maxSplits: 1)
                groups[String(parts[0].dropFirst("attributes ".count)).trimmingCharacters(in: .whitespaces)] = String(parts[1])
            }
            for line in text.split(separator: "\n") where line.hasPrefix("define ") {
                var fn = line.split(separator: "@", maxSplits: 1).last.map { String($0.prefix(while: { $0 != "(" })) } ?? String(line)
                if fn.hasPrefix("\""), fn.hasSuffix("\"") { fn = String(fn.dropFirst().dropLast()) }
                guard linked.contains(fn) else { continue }
                report.functionsChecked += 1
                let attrs = line.split(separator: " ").filter { $0.hasPrefix("#") }.compactMap { groups[String($0)] }.joined(separator: " ")
                if !attrs.contains("noredzone") { report.functionsWithRedZone.append(fn) }
                if attrs.contains(" ssp ") || attrs.contains("sspreq") || attrs.contains("sspstrong") {
                    report.functionsWithStackProtector.append(fn)
                }
            }
        }
        return report
    }
}

/// Lines of the kernel: Swift and assembly of SprigABI, SprigCore and SprigX86 (C support and
/// the linker script counted apart); tests are elsewhere and not counted. The trace build's
/// recorder (`Trace.swift`, `TraceFormat.swift`, `trace.c`: docs/replay.md) is counted apart too:
/// the normal kernel does not contain it.
public struct LineCount: Sendable {
    public var swift = 0
    public var assembly = 0
    public var c = 0
    public var trace = 0
    public var total: Int { swift + assembly }
    static let traceFiles: Set<String> = ["Trace.swift", "TraceFormat.swift", "trace.c"]

    public static func kernel(_ project: Project) throws -> LineCount {
        var count = LineCount()
        for dir in ["Sources/SprigABI", "Sources/SprigCore", "Sources/SprigX86"] {
            let url = project.path(dir)
            for name in FileManager.default.subpaths(atPath: url.path) ?? [] where name.contains(".") {
                let text = try String(contentsOf: url.appendingPathComponent(name), encoding: .utf8)
                let lines = text.split(separator: "\n", omittingEmptySubsequences: true).count
                if traceFiles.contains(name) { count.trace += lines }
                else if name.hasSuffix(".swift") { count.swift += lines }
                else if name.hasSuffix(".S") { count.assembly += lines }
                else if name.hasSuffix(".c") { count.c += lines }
            }
        }
        return count
    }
}
