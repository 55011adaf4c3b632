/// `sprig bench --profile PATH`: where every instruction of one occurrence of a bench path goes.
///
/// It boots the bench system under the bench's QEMU settings (TCG, `-cpu max`, `-icount
/// shift=0,align=off`) with QEMU's gdb stub, and gdb (tools/profile/step.py) runs it at full
/// speed to the occurrence, then executes it one instruction at a time (`stepi`: exactly one
/// guest instruction, interrupts held while stepping) and writes every rip. The window is the
/// bench's own: from one counter read (`rdtsc` in `sprig_rdtsc`) to the next, so the count minus
/// the counter-read pair (root's first two reads, stepped the same way) is the bench's number for
/// that path. Each rip is named with the kernel ELF or the partition's (llvm-symbolizer with
/// inlining, swift-demangle) and put in a phase; docs/bench.md shows the profiles.
import Foundation

public enum Profile {
    /// The paths that can be profiled, with what the window is.
    public static let paths: [(key: String, what: String)] = [
        ("service.null", "root's call of the unknown service 0x999, counter read to counter read"),
        ("yield.parent_to_child", "root's yield to the child at its resume slot (steady state, round 8)"),
        ("yield.child_to_parent", "the child's yield to root (steady state, round 8)"),
        ("yield.parent_to_child_cold", "root's yield right after a page was given to the child and taken back (cold round 8)"),
        ("yield.child_to_parent_cold", "the child's yield right after a page was given to it and taken back (cold round 8)"),
        ("yield.parent_to_child_miss", "root's yield right after a partition was created and deleted: every cache entry ended (miss round 8)"),
        ("yield.child_to_parent_miss", "the child's yield right after a partition was created and deleted (miss round 8)"),
        ("irq.to_root_handler", "the 8th timer interrupt in the spinning child, from its interrupt entry to root's handler's counter read"),
    ]

    /// Which round of the bench's 16 is stepped (all rounds of these paths cost the same).
    public static let occurrence = 8

    public enum Phase: String, CaseIterable, Sendable {
        case ring3 = "ring 3 (counter reads, the service call)"
        case entry = "entry assembly"
        case dispatch = "dispatch"
        case checks = "checks"
        case saveRestore = "save/restore"
        case fpu = "FXSAVE/FXRSTOR"
        case exit = "exit assembly"
    }

    /// One executed instruction, named.
    public struct Step: Sendable {
        public let rip: UInt64
        /// The innermost function (demangled) and its file:line; nil when nothing names it.
        public let function: String?
        public let place: String?
        /// The function the code was inlined into (the symbol), when it differs.
        public let outer: String?
        public let phase: Phase
        /// The step of the path it belongs to: the outermost of its functions that does work of
        /// its own rather than route to it (`step(frames:phase:)`), or the phase for assembly
        /// and ring 3.
        public let step: String
    }

    public struct Result: Sendable {
        public let path: String
        public let steps: [Step]
        /// Instructions of root's back-to-back counter-read pair (the bench subtracts them).
        public let baseline: Int
        /// The interrupted child rip, for the interrupt path (the window starts at the entry).
        public let interrupted: UInt64?
        /// The bench's number for this path: window length minus the counter-read pair.
        public var count: Int { steps.count - baseline }
        public var kernelSteps: [Step] { steps.filter { $0.rip >= CrashSymbols.kernelBase } }
        /// Instructions without a function or without a source file (named by the nearest
        /// symbol of some other ELF, say): the profile cannot say where they go.
        public var unnamed: [Step] { steps.filter { $0.function == nil || $0.place == nil } }
    }

    public static func isKnown(_ path: String) -> Bool { paths.contains { $0.key == path } }

    /// Steps one occurrence of `path` and names every instruction.
    public static func run(_ products: BuildProducts, project: Project, path: String, timeout: Double = 180,
                           progress: (String) -> Void = { _ in }) throws -> Result {
        guard isKnown(path) else {
            throw ToolError("unknown path '\(path)': --profile takes one of \(paths.map(\.key).joined(separator: ", "))")
        }
        guard let gdb = Debugger.find() else { throw ToolError("gdb is not installed: install it with apt-get install gdb") }
        let script = project.path("tools/profile/step.py")
        let root = products.partitionELF("bench"), child = products.partitionELF("benchchild")
        let kernel = products.kernelELF
        let rootRDTSC = try symbol("sprig_rdtsc", in: root), childRDTSC = try symbol("sprig_rdtsc", in: child)
        let entries = try ["sprig_syscall_entry", "sprig_syscall_entry_flat"].map { try symbol($0, in: kernel) }
        let irqEntry = try symbol("sprig_isr_32", in: kernel)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-profile-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("rips.txt"), parameters = dir.appendingPathComponent("parameters")
        let port = Int.random(in: 20000...60000)
        let hex = { (v: UInt64) in String(v, radix: 16) }
        try ["path=\(path)", "occurrence=\(occurrence)", "root_rdtsc=\(hex(rootRDTSC))", "child_rdtsc=\(hex(childRDTSC))",
             "syscall_entries=\(entries.map(hex).joined(separator: ","))", "irq_entry=\(hex(irqEntry))",
             "port=\(port)", "out=\(out.path)"].joined(separator: "\n").write(to: parameters, atomically: true, encoding: .utf8)

        var o = RunOptions()
        o.system = Bench.system; o.icount = true; o.timeout = timeout; o.gdbPort = port; o.waitForDebugger = true
        progress("profile: booting the bench system under gdb (-icount shift=0,align=off), stepping \(path) one instruction at a time")
        let machine = try Machine.start(products, options: o)
        defer { machine.end(); _ = machine.wait() }
        let g = Process()
        g.executableURL = gdb
        g.arguments = ["-nx", "-batch", "-x", script.path]
        g.environment = ProcessInfo.processInfo.environment.merging(["SPRIG_PROFILE_PARAMETERS": parameters.path]) { $1 }
        let log = Pipe()
        g.standardOutput = log; g.standardError = log; g.standardInput = FileHandle.nullDevice
        try g.run()
        ProcessGuard.register(g.processIdentifier)
        let gdbOutput = log.fileHandleForReading.readDataToEndOfFile()
        g.waitUntilExit()
        ProcessGuard.release(g.processIdentifier)

        let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
        var windows: [String: [UInt64]] = [:]
        var current: String?
        var interrupted: UInt64?
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.first == "window", f.count == 5 { current = String(f[1]); windows[current!] = []; continue }
            if f.first == "interrupted", f.count == 2 { interrupted = UInt64(f[1], radix: 16); continue }
            if let c = current, f.count == 1, let v = UInt64(f[0], radix: 16) { windows[c, default: []].append(v) }
        }
        guard let baseline = windows["baseline"], let rips = windows[path], !rips.isEmpty else {
            let tail = String(decoding: gdbOutput, as: UTF8.self).split(separator: "\n").suffix(5).joined(separator: "\n")
            throw ToolError("gdb did not step through \(path) (gdb's last lines follow)\n\(tail)")
        }
        progress("profile: \(rips.count) instructions stepped; naming them with \(kernel.lastPathComponent), bench.elf and benchchild.elf")
        let steps = try name(rips, path: path, kernel: kernel, root: root, child: child)
        return Result(path: path, steps: steps, baseline: baseline.count, interrupted: interrupted)
    }

    /// The address of `name` in `elf`'s symbol table.
    static func symbol(_ name: String, in elf: URL) throws -> UInt64 {
        guard let nm = CrashSymbols.tool("llvm-nm") ?? findExecutable("nm") else { throw ToolError("llvm-nm is not installed") }
        for line in try SprigTool.run(nm, [elf.path]).split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 3, f[2] == name, let v = UInt64(f[0], radix: 16) { return v }
        }
        throw ToolError("\(elf.lastPathComponent) has no symbol \(name): rebuild with `sprig build`")
    }

    /// Which program a ring-3 rip of the window belongs to: the window's first program until the
    /// first kernel instruction, the other one after the last (a yield switches programs).
    static func name(_ rips: [UInt64], path: String, kernel: URL, root: URL, child: URL) throws -> [Step] {
        guard let symbolizer = CrashSymbols.tool("llvm-symbolizer") else { throw ToolError("llvm-symbolizer is not installed") }
        let firstKernel = rips.firstIndex { $0 >= CrashSymbols.kernelBase } ?? rips.count
        let lastKernel = rips.lastIndex { $0 >= CrashSymbols.kernelBase } ?? -1
        let startsInChild = path.hasPrefix("yield.child_to_parent")
        let endsInChild = path.hasPrefix("yield.parent_to_child")
        func elf(_ i: Int) -> URL {
            if rips[i] >= CrashSymbols.kernelBase { return kernel }
            if i < firstKernel { return startsInChild ? child : root }
            if i > lastKernel { return endsInChild ? child : root }
            return root
        }
        var named: [URL: [UInt64: [(String, String)]]] = [:]
        for file in [kernel, root, child] {
            let addresses = Array(Set(rips.indices.filter { elf($0) == file }.map { rips[$0] })).sorted()
            if !addresses.isEmpty { named[file] = try frames(addresses, elf: file, symbolizer: symbolizer) }
        }
        var steps = rips.indices.map { i in
            let fs = named[elf(i)]?[rips[i]] ?? []
            let inner = fs.first, outer = fs.count > 1 ? fs.last!.0 : nil
            let phase = classify(rip: rips[i], frames: fs)
            let place = inner.flatMap { $0.1.isEmpty ? nil : $0.1 }
            return Step(rip: rips[i], function: inner?.0, place: place, outer: outer, phase: phase,
                        step: step(frames: fs, phase: phase))
        }
        // The entry code's way out (the same entry.S symbols, macros expanded in place) is what
        // runs after the last compiled kernel instruction.
        if let lastCompiled = steps.lastIndex(where: { $0.rip >= CrashSymbols.kernelBase && $0.phase != .entry }) {
            for i in steps.indices where i > lastCompiled && steps[i].phase == .entry {
                let s = steps[i]
                steps[i] = Step(rip: s.rip, function: s.function, place: s.place, outer: s.outer, phase: .exit,
                                step: Phase.exit.rawValue)
            }
        }
        return steps
    }

    /// Every address's frames, innermost first: (demangled function, file:line).
    static func frames(_ addresses: [UInt64], elf: URL, symbolizer: URL) throws -> [UInt64: [(String, String)]] {
        let text = try SprigTool.run(symbolizer, ["--obj=\(elf.path)", "--no-demangle", "--inlining"] + addresses.map { "0x" + String($0, radix: 16) })
        let blocks = text.components(separatedBy: "\n\n").map { $0.split(separator: "\n").map(String.init) }.filter { !$0.isEmpty }
        guard blocks.count == addresses.count else { throw ToolError("llvm-symbolizer named \(blocks.count) of \(addresses.count) addresses") }
        let names = Set(blocks.flatMap { b in stride(from: 0, to: b.count, by: 2).map { b[$0] } })
        let demangled = CrashSymbols.demangle(Array(names))
        var result: [UInt64: [(String, String)]] = [:]
        for (a, b) in zip(addresses, blocks) {
            var fs: [(String, String)] = []
            var i = 0
            while i + 1 < b.count {
                if b[i] != "??" {
                    var place = b[i + 1]
                    if let r = place.range(of: "/Sources/") { place = String(place[place.index(after: r.lowerBound)...]) }
                    let parts = place.split(separator: ":", omittingEmptySubsequences: false)
                    if parts.count >= 3 { place = parts.dropLast().joined(separator: ":") }
                    if place.hasPrefix("??") { fs.append((demangled[b[i]] ?? b[i], "")) } else { fs.append((demangled[b[i]] ?? b[i], place)) }
                }
                i += 2
            }
            result[a] = fs
        }
        return result
    }

    /// Functions that route to the work rather than do it: the entry points, the decode, the
    /// yield's fastpath and its chain (checks 1, 2 and 9 and the calls of the others), the
    /// switch's `commit` and `enter` (the save, the flags words, CR3, the load), an interrupt's
    /// routing (`hardwareInterrupt`: the cache probe, the save, the entry of root). An
    /// instruction's step is the outermost of its functions not among these; a router's own
    /// instructions are its step.
    static let routers = ["sprig_trap_syscall", "sprig_trap", "sprigTrap", "sprigService", "sprigSyscallKnown", "sprigYield",
                          "Kernel.", "KernelEntry.", "Yield.fastpath", "Yield.chain", "Yield.check", "Yield.resolve", "Yield.commit", "Yield.enter",
                          "InterruptRouting.hardwareInterrupt"]

    /// The step of one instruction, by its frames (innermost first): e.g. `Partition.child` for
    /// the walk of check 4 inlined into `Yield.resolve`, `TranslationCache.translate` for a
    /// context's translation, `Yield.commit` for the switch.
    static func step(frames: [(String, String)], phase: Phase) -> String {
        if phase == .ring3 || phase == .entry || phase == .exit || frames.isEmpty { return phase.rawValue }
        var name = ""
        for (function, _) in frames.reversed() {
            name = shortName(function)
            if !routers.contains(where: { name.hasPrefix($0) }) { return name }
        }
        return name
    }

    /// `Type.function` of a demangled name: no `specialized`, `protocol witness for` or
    /// `static`, no generic parameters or argument labels.
    static func shortName(_ demangled: String) -> String {
        var s = Substring(demangled)
        for prefix in ["specialized ", "protocol witness for ", "static "] where s.hasPrefix(prefix) { s = s.dropFirst(prefix.count) }
        if let end = s.firstIndex(where: { $0 == "<" || $0 == "(" }) { s = s[..<end] }
        return String(s)
    }

    /// Files whose small functions only read or write a word for their caller (memory access,
    /// trap-frame fields, the platform's register accessors): an instruction in one of them
    /// belongs to the phase of the first frame out that is not one of them.
    static let accessorFiles = ["X86Platform.swift", "Platform.swift", "TrapFrame.swift", "<compiler-generated>", "Address.swift"]

    /// The phase of one instruction, by its frames (innermost first).
    static func classify(rip: UInt64, frames: [(String, String)]) -> Phase {
        if rip < CrashSymbols.kernelBase { return .ring3 }
        let function = frames.first?.0 ?? "", place = frames.first?.1 ?? ""
        let f = function.lowercased()
        if ["fpu", "fxsave", "fxrstor", "fninit"].contains(where: { f.contains($0) }) { return .fpu }
        // The save's register copy through SSE registers (include/fpu_instructions.h).
        if function.contains("sprig_copy_saved_registers") { return .saveRestore }
        // Assembly, and the C thunks of the `@_cdecl` entry points (no source file of their own);
        // a Swift function named for entry.S (`sprig_trap_syscall`, `@_silgen_name`) is Swift.
        if place.contains(".S:") || place.hasSuffix(".S") || (function.hasPrefix("sprig_") && !place.contains(".swift")) {
            return .entry
        }
        if f.contains("translationcache") { return .checks }
        // By name first (a specialized function's own instructions may carry no file): the
        // loaded context's rip, rflags and MXCSR sanitized are the load; the flags arguments
        // normalized are the decode.
        for (name, _) in frames {
            if name.contains("saveInterrupted") || name.contains("copyGeneralRegisters") || name.contains("UserRegisters.") {
                return .saveRestore
            }
            if name.contains("InterruptFlags.normalized") { return .dispatch }
            if ["ContextCheck.", "InterruptRouting.handler", "InterruptRouting.name", "YieldCache", "PageTableWalk", "Shadow."]
                .contains(where: { name.contains($0) }) { return .checks }
        }
        let isAccessor = { (fr: (String, String)) in accessorFiles.contains { fr.1.contains($0) } }
        guard let owner = frames.first(where: { !isAccessor($0) }) else {
            return frames.contains { $0.1.contains("TrapFrame.swift") } ? .saveRestore : .dispatch
        }
        let (name, file) = owner
        let saves = ["saveCPUState", "loadCPUState", "loadOnePage", "restore", "save", "switchAddressSpace",
                     "setCurrentPartition", "word"]
        if file.contains("CPU.swift") || file.contains("ContextLocation.swift") || saves.contains(name) { return .saveRestore }
        let checkFiles = ["Yield.swift", "YieldCache.swift", "TranslationCache.swift", "PageTableWalk.swift", "Shadow.swift",
                          "Speculation.swift", "InterruptRouting.swift", "PageOwnership.swift", "VIDTIndex.swift"]
        if checkFiles.contains(where: { file.contains("/" + $0) }) { return .checks }
        return .dispatch
    }

    /// The printed profile: per phase, per function in execution order (each run of consecutive
    /// instructions of one function on its own line), and per function sorted by count.
    public static func report(_ r: Result, benchCount: Int?) -> String {
        var lines: [String] = []
        lines.append("profile of \(r.path): \(r.steps.count) instructions from counter read to counter read, \(r.kernelSteps.count) in the kernel")
        var total = "  minus the counter-read pair (\(r.baseline)) = \(r.count)"
        if let b = benchCount { total += b == r.count ? " = the bench's \(b)" : "; the bench says \(b)" }
        if r.path == "irq.to_root_handler" {
            total += " (from the interrupt entry; the bench also counts the child's loop from its last stored counter read to the interrupted instruction\(r.interrupted.map { " at 0x" + String($0, radix: 16) } ?? ""), which varies with where the tick lands)"
        }
        lines.append(total)
        lines.append("")
        lines.append("by phase:")
        for p in Phase.allCases {
            let n = r.steps.filter { $0.phase == p }.count
            if n > 0 { lines.append("  \(pad(String(n), 5)) \(p.rawValue)") }
        }
        lines.append("")
        lines.append("by step (the outermost function doing work of its own; in the order first reached):")
        var order: [String] = [], perStep: [String: Int] = [:]
        for s in r.steps {
            if perStep[s.step] == nil { order.append(s.step) }
            perStep[s.step, default: 0] += 1
        }
        for name in order { lines.append("  \(pad(String(perStep[name]!), 5)) \(name)") }
        lines.append("")
        lines.append("in execution order (runs of one function; lines are the range executed):")
        var i = 0
        while i < r.steps.count {
            var j = i
            while j < r.steps.count && key(r.steps[j]) == key(r.steps[i]) { j += 1 }
            let run = r.steps[i..<j]
            lines.append("  \(pad(String(run.count), 5))  \(pad(run.first!.phase.rawValue, 16, left: false))  \(describe(run))")
            i = j
        }
        lines.append("")
        lines.append("per function, sorted:")
        var counts: [String: (Int, [Step])] = [:]
        for s in r.steps { counts[key(s), default: (0, [])].0 += 1; counts[key(s)]!.1.append(s) }
        for (_, v) in counts.sorted(by: { $0.value.0 > $1.value.0 || ($0.value.0 == $1.value.0 && $0.key < $1.key) }) {
            lines.append("  \(pad(String(v.0), 5))  \(pad(v.1[0].phase.rawValue, 16, left: false))  \(describe(v.1[...]))")
        }
        return lines.joined(separator: "\n")
    }

    static func key(_ s: Step) -> String { (s.function ?? "?") + "|" + (s.place.map { file($0) } ?? "") }
    static func file(_ place: String) -> String { place.split(separator: ":").first.map(String.init) ?? place }

    static func describe(_ steps: ArraySlice<Step>) -> String {
        let s = steps.first!
        guard let f = s.function else { return "0x" + String(s.rip, radix: 16) + " (unnamed)" }
        let numbers = steps.compactMap { $0.place?.split(separator: ":").last.flatMap { Int($0) } }.filter { $0 > 0 }
        var where_ = s.place.map { file($0) } ?? ""
        if let lo = numbers.min(), let hi = numbers.max() { where_ += lo == hi ? ":\(lo)" : ":\(lo)-\(hi)" }
        let short = f.count > 90 ? String(f.prefix(87)) + "…" : f
        let outer = s.outer.map { o in " (in \(o.count > 40 ? String(o.prefix(37)) + "…" : o))" } ?? ""
        return "\(short) at \(where_)\(outer)"
    }

    static func pad(_ s: String, _ n: Int, left: Bool = true) -> String {
        let fill = String(repeating: " ", count: max(0, n - s.count))
        return left ? fill + s : s + fill
    }
}

extension Profile {
    /// The bench's own count of `path` (median of a normal boot with the entry window on), to
    /// check the profile against.
    public static func benchCount(_ products: BuildProducts, variant: Variant, path: String, timeout: Double = 180) throws -> Int {
        let ms = try Bench.run(products, system: Bench.system, keys: Bench.expectedKeys, variant: variant, commandLine: "", timeout: timeout)
        guard let m = ms.first(where: { $0.key == path }) else { throw ToolError("the bench did not report \(path)") }
        return Int(m.median)
    }
}
