/// The `sprig` command: build Sprig's images, boot them in QEMU, check the kernel's hygiene.
import ArgumentParser
import Foundation
import SprigABI
import SprigTool

@main
struct Sprig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sprig",
        abstract: "Build and run Sprig, a Pip-style protokernel for x86-64 written in Swift.",
        discussion: """
            The kernel and the partitions are Embedded Swift, cross-built for x86_64-unknown-none-elf \
            by `sprig build` into .build/sprig/<variant>/. `sprig run` boots a system (the kernel, a root \
            partition and the partitions it starts) in QEMU with the serial console on the terminal, and \
            exits with the status the system powered off with. Shell completion: \
            `sprig --generate-completion-script bash|zsh|fish`.
            """,
        version: Sprig.version,
        subcommands: [Build.self, Run.self, RunGDB.self, ListSystems.self, CheckHygiene.self, Generate.self, BenchCommand.self, Fuzz.self, Check.self, Mutate.self, ReplayCommand.self, ImageCommand.self, TraceCommand.self, MemmapCommand.self, Validate.self])

    /// What `sprig --version` prints.
    static let version = "0.1"

    /// Before any command: a QEMU or gdb sprig starts never outlives it, and the terminal is
    /// left as it was found, however sprig ends (ProcessGuard).
    static func main() {
        ProcessGuard.install()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // A usage error: one line, what was wrong and where to read more, status 64.
            if exitCode(for: error) == .validationFailure {
                let what = message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
                let command = CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") }.map { " \($0)" } ?? ""
                FileHandle.standardError.write(Data("sprig\(command): \(what.replacingOccurrences(of: "Error: ", with: "")) (see `sprig\(command) --help`)\n".utf8))
                Glibc.exit(ExitCode.validationFailure.rawValue)
            }
            exit(withError: CommandError.oneLine(error))
        }
    }
}

struct BuildOptions: ParsableArguments {
    @Option(help: "Build variant: release (kernel -O, partitions -Osize; a failed check is a bare trap), debug (checks print their message; DWARF for gdb) or trace (release that records every kernel entry on port 0xE9 for `sprig replay`).")
    var variant: Variant = .release
}

extension Variant: ExpressibleByArgument {}

func makeBuilder(_ variant: Variant, quiet: Bool = false) throws -> Builder {
    let builder = try Builder(project: try Project.current(), variant: variant)
    // Unbuffered, so progress lines come before QEMU's console output.
    if !quiet { builder.progress = { line in FileHandle.standardOutput.write(Data("  \(line)\n".utf8)) } }
    return builder
}

struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cross-build the kernel and every partition; print the image size and the kernel's line count.",
        discussion: """
            Every system description is validated first (sprig validate); an invalid one stops the \
            build with its findings. With --system, also says where that system's boot modules are, \
            its compiled plan among them when its root reads one.
            """)
    @OptionGroup var options: BuildOptions
    @Option(help: "A system whose boot modules (and compiled plan) to list after the build (see `sprig systems`).") var system: String?

    func validate() throws { if let system { try checkSystem(system) } }

    func run() throws {
        let builder = try makeBuilder(options.variant)
        say("sprig: building (\(options.variant.rawValue)) into \(builder.outputDirectory.path)")
        let products = try builder.build()
        let size = (try FileManager.default.attributesOfItem(atPath: products.kernelImage.path)[.size] as? Int) ?? 0
        let lines = try LineCount.kernel(builder.project)
        say("kernel image: \(products.kernelImage.path) (\(size) bytes)")
        say("kernel ELF (symbols, for gdb): \(products.kernelELF.path)")
        say("kernel lines: \(lines.total) (Swift \(lines.swift) + assembly \(lines.assembly); C support \(lines.c) and the trace build's recorder \(lines.trace), not counted)")
        for (name, url) in products.partitions.sorted(by: { $0.key < $1.key }) where !name.contains("/") {
            let s = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
            say("partition \(name): \(url.path) (\(s) bytes)")
        }
        if let system {
            let d = try Systems.named(system)
            say("system \(system): boot modules \(d.bootModules.map { products.partitions[$0]!.lastPathComponent }.joined(separator: ", "))")
            if d.usesPlan {
                let url = products.partitions[d.planKey]!
                let s = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
                say("system \(system): compiled plan \(url.path) (\(s) bytes, version \(PlanLayout.version))")
            }
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build, then boot a system in QEMU with the serial console on this terminal.",
        discussion: """
            Exits with the status the system powered off with (0 = success), 112 (0x70) when the kernel \
            crashed, 113 (0x71) when it could not boot, 124 on timeout, 125 when QEMU stopped without the \
            debug-exit device (a reset). Uses TCG unless --kvm is given; with --kvm a short probe boot \
            checks first that KVM runs the kernel as TCG does, and the run falls back to TCG (saying why) \
            when it does not or when /dev/kvm is missing.
            """)
    @OptionGroup var options: BuildOptions
    @Option(help: "The system to boot (see `sprig systems`).") var system = Systems.defaultName
    @Option(parsing: .unconditional, help: "Seconds before the machine is stopped (default 60; for fuzz, 60 + calls / 50; for echo, which waits for typing, 600).") var timeout: Double?
    @Flag(help: "Ask for KVM acceleration (after a probe boot; falls back to TCG when KVM does not run the kernel faithfully).") var kvm = false
    @Option(help: "Kernel command line (debug builds: crashtest=trap or crashtest=fault; fuzz: fuzz.trace=1).") var append = ""
    @Option(parsing: .unconditional, help: "Guest memory in MiB (8...4096).") var memory = 128
    @Option(parsing: .unconditional, help: "fuzz only: the campaign's seed, a 64-bit number (decimal or 0x-hex; default 1).") var seed: String?
    @Option(parsing: .unconditional, help: "fuzz only: the number of calls, 1...100000000 (default 2000).") var calls: String?

    func systemCommandLine() throws -> String {
        var values: [SystemOption: String] = [:]
        values[.seed] = seed
        values[.calls] = calls
        return try SystemArguments.commandLine(for: try Systems.named(system), values)
    }

    func validate() throws {
        try checkSystem(system)
        if let timeout { guard timeout > 0 else { throw ValidationError("--timeout must be positive") } }
        guard memory >= 8 && memory <= 4096 else { throw ValidationError("--memory must be between 8 and 4096 MiB") }
        do { _ = try systemCommandLine() } catch let e as ToolError { throw ValidationError(e.description) }
    }

    func run() throws {
        let words = try systemCommandLine()
        let builder = try makeBuilder(options.variant)
        let products = try builder.build()
        var o = RunOptions()
        o.system = system; o.variant = options.variant; o.kvm = kvm
        if kvm {
            say("sprig: checking that KVM runs the kernel faithfully (a probe boot)")
            if let why = KVMProbe.refusal(products) {
                FileHandle.standardError.write(Data("sprig: not using KVM: \(why); using TCG\n".utf8))
                o.kvm = false
            }
        }
        let readsConsole = try Systems.named(system).readsConsole
        if try Systems.named(system).countsInstructions {
            o.icount = true
            say("sprig: counting guest instructions (QEMU -icount shift=0): the \(system) system's counter deltas are instruction counts")
        }
        o.timeout = timeout ?? (readsConsole ? 600 : SystemArguments.defaultTimeout(calls: calls.flatMap(SystemArguments.parse)))
        o.commandLine = [words, append].filter { !$0.isEmpty }.joined(separator: " "); o.echo = true; o.memoryMiB = memory
        if readsConsole { o.input = .inherit }
        let result = try QEMU.run(products, options: o)
        FileHandle.standardError.write(Data("sprig: \(result.summary)\n".utf8))
        throw ExitCode(result.exitCode)
    }
}

struct RunGDB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run-gdb",
        abstract: "Boot a system in QEMU stopped before its first instruction, with gdb attached on this terminal.",
        discussion: """
            Builds the debug variant by default (with DWARF: gdb shows the Swift source lines of the \
            kernel and the partitions). gdb runs on this terminal with the kernel's symbols and every \
            partition's (at their link address) and the helpers sprig-partitions, sprig-vidt and \
            sprig-walk (tools/gdb/sprig.py), connected to QEMU's gdb stub; quitting gdb stops the machine. \
            With --wait-only (or without a terminal), no gdb is started: QEMU waits for yours on \
            --port, and sprig prints the command that connects it. The serial console is shown here.
            """)
    @Option(help: "Build variant: debug (default here: DWARF for gdb, checks print their message), release or trace.")
    var variant: Variant = .debug
    @Option(help: "The system to boot (see `sprig systems`).") var system = Systems.defaultName
    @Option(parsing: .unconditional, help: "The TCP port of QEMU's gdb stub on 127.0.0.1.") var port = 1234
    @Flag(help: "Start no gdb: wait for a debugger to connect on --port.") var waitOnly = false
    @Option(parsing: .unconditional, help: "Seconds before the machine is stopped (default: none).") var timeout: Double?

    func validate() throws {
        try checkSystem(system)
        guard (1...65535).contains(port) else { throw ValidationError("--port must be between 1 and 65535, not \(port)") }
        if let timeout { guard timeout > 0 else { throw ValidationError("--timeout must be positive") } }
    }

    func run() throws {
        let builder = try makeBuilder(variant)
        say("sprig: building (\(variant.rawValue))")
        let products = try builder.build()
        let description = try Systems.named(system)
        var o = RunOptions()
        o.system = system; o.variant = variant; o.gdbPort = port; o.echo = true
        o.timeout = timeout ?? 365 * 24 * 3600
        let elves = description.partitions.map { products.partitionELF($0) }
        let gdbArguments = Debugger.arguments(kernel: products.kernelELF, partitions: elves,
                                              helpers: Debugger.helpers(builder.project), port: port)
        let gdb = Debugger.find()
        let interactive = !waitOnly && gdb != nil && Terminal.ownsStandardInput
        let machine = try Machine.start(products, options: o)
        if interactive, let gdb {
            ProcessGuard.interruptGoesToChild = true
            let status = try Debugger.runInForeground(gdb, arguments: gdbArguments)
            ProcessGuard.interruptGoesToChild = false
            machine.end()
            let result = machine.wait()
            FileHandle.standardError.write(Data("sprig: gdb exited (\(status)); the machine was stopped (\(result.summary))\n".utf8))
            throw ExitCode(status)
        }
        if !waitOnly {
            say(gdb == nil ? "sprig: gdb is not installed (apt-get install gdb)" : "sprig: standard input is not this process's terminal: not starting gdb")
        }
        say("sprig: QEMU waits for a debugger on 127.0.0.1:\(port). Connect with:")
        say("  gdb " + gdbArguments.dropFirst().map { $0.hasPrefix("-") ? $0 : "'\($0)'" }.joined(separator: " "))
        let result = machine.wait()
        FileHandle.standardError.write(Data("sprig: \(result.summary)\n".utf8))
        throw ExitCode(result.exitCode)
    }
}

struct ListSystems: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "systems", abstract: "List the systems `sprig run --system` can boot.")
    func run() throws {
        for s in try Systems.catalog() {
            print("\(s.name)\(s.name == Systems.defaultName ? " (default)" : "") — \(s.summary)")
            print("    partitions: \(s.partitions.joined(separator: ", "))")
        }
    }
}

struct CheckHygiene: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hygiene",
        abstract: "Check the kernel ELF: no FPU/SIMD instruction (but the save's SSE copy right after FXSAVE), no undefined symbol, no stack protector, no red zone, no lazy globals, no writable and executable segment, no call on the yield fastpath, every FXRSTOR straight after an FNINIT and every iretq to ring 3 straight after a VERW.")
    @OptionGroup var options: BuildOptions

    func run() throws {
        let builder = try makeBuilder(options.variant)
        let products = try builder.build()
        let report = try Hygiene.check(builder, products: products)
        print("checked \(report.instructionsChecked) instructions, \(report.functionsChecked) functions and \(report.segmentsChecked) loadable segments")
        if report.problems.isEmpty {
            print("kernel hygiene: OK")
        } else {
            for p in report.problems { print("kernel hygiene: \(p)") }
            throw ExitCode(1)
        }
    }
}

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the files derived from the service table (Sources/SprigABI/Service.swift): the assembly header Sources/include/sprig_abi.h and SprigUser's Services.swift.",
        discussion: "Run it after changing the service table or Status, and commit what it writes. `sprig build` refuses to build with a stale generated file, and a test fails on one (docs/build.md, \"Generated files\").")
    @Flag(help: "Write nothing: exit 1 when a generated file is stale, naming it.")
    var check = false

    func run() throws {
        let project = try Project.current()
        if check {
            let stale = Generated.stale(in: project)
            guard stale.isEmpty else { throw Generated.staleError(stale) }
            print("generated files: up to date (\(Generated.files().map(\.path).joined(separator: ", ")))")
            return
        }
        let changed = try Generated.write(in: project)
        print(changed.isEmpty ? "generated files: up to date" : "wrote \(changed.joined(separator: ", "))")
    }
}

/// A system named on the command line: a usage error (exit 64) when there is none.
func checkSystem(_ name: String) throws {
    do { _ = try Systems.named(name) } catch let e as ToolError { throw ValidationError(e.description) }
}

/// A file named on the command line that must exist as a regular file: a usage error otherwise.
func checkInputFile(_ path: String, option: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw ValidationError("\(option): no file \(path)")
    }
    guard !isDirectory.boolValue else { throw ValidationError("\(option): \(path) is a directory, not a file") }
    guard FileManager.default.isReadableFile(atPath: path) else { throw ValidationError("\(option): \(path) is not readable") }
}

/// Errors from Foundation (a file that cannot be written, a directory that cannot be made)
/// as one line: what, where, why.
enum CommandError {
    static func oneLine(_ error: Error) -> Error {
        guard let e = error as? CocoaError else { return error }
        let path = (e.userInfo[NSFilePathErrorKey] as? String) ?? e.userInfo[NSURLErrorKey].map { "\($0)" } ?? "a file"
        let reason = (e.userInfo[NSUnderlyingErrorKey] as? NSError).flatMap { u in
            u.domain == NSPOSIXErrorDomain ? String(cString: strerror(Int32(u.code))) : nil
        } ?? (e.isFileError ? "the file system refused" : "error \(e.code.rawValue)")
        let verb: String
        switch e.code {
        case .fileReadNoSuchFile, .fileReadNoPermission, .fileReadUnknown, .fileReadCorruptFile: verb = "cannot read"
        case .fileWriteNoPermission, .fileWriteOutOfSpace, .fileWriteVolumeReadOnly, .fileWriteUnknown, .fileWriteFileExists:
            verb = "cannot write"
        default: verb = "cannot use"
        }
        return ToolError("\(verb) \(path): \(reason); check that the directory exists and is writable (or run from a writable checkout)")
    }
}

/// Prints one line unbuffered (FileHandle), so it stays in order with child processes' output.
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
