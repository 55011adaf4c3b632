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
            exits with the status the system powered off with.
            """,
        subcommands: [Build.self, Run.self, RunGDB.self, ListSystems.self, CheckHygiene.self, BenchCommand.self, Fuzz.self, Check.self, ReplayCommand.self, ImageCommand.self, TraceCommand.self])
}

struct BuildOptions: ParsableArguments {
    @Option(help: "Build variant: release (-Osize, failed checks are a bare trap), debug (checks print their message) or trace (release that records every kernel entry on port 0xE9 for `sprig replay`).")
    var variant: Variant = .release
}

extension Variant: ExpressibleByArgument {}

func makeBuilder(_ options: BuildOptions, quiet: Bool = false) throws -> Builder {
    let builder = try Builder(project: try Project.current(), variant: options.variant)
    // Unbuffered, so progress lines come before QEMU's console output.
    if !quiet { builder.progress = { line in FileHandle.standardOutput.write(Data("  \(line)\n".utf8)) } }
    return builder
}

struct Build: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cross-build the kernel and every partition; print the image size and the kernel's line count.")
    @OptionGroup var options: BuildOptions

    func run() throws {
        let builder = try makeBuilder(options)
        say("sprig: building (\(options.variant.rawValue)) into \(builder.outputDirectory.path)")
        let products = try builder.build()
        let size = (try FileManager.default.attributesOfItem(atPath: products.kernelImage.path)[.size] as? Int) ?? 0
        let lines = try LineCount.kernel(builder.project)
        say("kernel image: \(products.kernelImage.path) (\(size) bytes)")
        say("kernel ELF (symbols, for gdb): \(products.kernelELF.path)")
        say("kernel lines: \(lines.total) (Swift \(lines.swift) + assembly \(lines.assembly); C support \(lines.c) and the trace build's recorder \(lines.trace), not counted)")
        for (name, url) in products.partitions.sorted(by: { $0.key < $1.key }) {
            let s = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
            say("partition \(name): \(url.path) (\(s) bytes)")
        }
    }
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build, then boot a system in QEMU with the serial console on this terminal.",
        discussion: """
            Exits with the status the system powered off with (0 = success), 112 (0x70) when the kernel \
            crashed, 113 (0x71) when it could not boot, 124 on timeout, 125 when QEMU stopped without the \
            debug-exit device (a reset). Uses TCG unless --kvm is given; with --kvm QEMU falls back to TCG \
            when KVM is unavailable.
            """)
    @OptionGroup var options: BuildOptions
    @Option(help: "The system to boot (see `sprig systems`).") var system = Systems.defaultName
    @Option(help: "Seconds before the machine is stopped (default 60; for fuzz, 60 + calls / 50; for echo, which waits for typing, 600).") var timeout: Double?
    @Flag(help: "Ask for KVM acceleration (falls back to TCG).") var kvm = false
    @Option(help: "Kernel command line (debug builds: crashtest=trap or crashtest=fault; fuzz: fuzz.trace=1).") var append = ""
    @Option(help: "Guest memory in MiB (at least 8).") var memory = 128
    @Option(help: "fuzz only: the campaign's seed, a 64-bit number (decimal or 0x-hex; default 1).") var seed: String?
    @Option(help: "fuzz only: the number of calls, 1...100000000 (default 2000).") var calls: String?

    func systemCommandLine() throws -> String {
        var values: [SystemOption: String] = [:]
        values[.seed] = seed
        values[.calls] = calls
        return try SystemArguments.commandLine(for: try Systems.named(system), values)
    }

    func validate() throws {
        _ = try Systems.named(system)
        if let timeout { guard timeout > 0 else { throw ValidationError("--timeout must be positive") } }
        guard memory >= 8 && memory <= 4096 else { throw ValidationError("--memory must be between 8 and 4096 MiB") }
        do { _ = try systemCommandLine() } catch let e as ToolError { throw ValidationError(e.description) }
    }

    func run() throws {
        let words = try systemCommandLine()
        let builder = try makeBuilder(options)
        let products = try builder.build()
        var o = RunOptions()
        o.system = system; o.variant = options.variant; o.kvm = kvm
        let readsConsole = try Systems.named(system).readsConsole
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
        abstract: "Boot a system in QEMU stopped at the first instruction, waiting for gdb on localhost:1234.",
        discussion: "Starts gdb with the kernel's symbols attached to QEMU when gdb is installed; otherwise prints the command to run.")
    @OptionGroup var options: BuildOptions
    @Option(help: "The system to boot.") var system = Systems.defaultName

    func validate() throws { _ = try Systems.named(system) }

    func run() throws {
        let builder = try makeBuilder(options)
        let products = try builder.build()
        var o = RunOptions()
        o.system = system; o.gdb = true
        let qemu = Process()
        qemu.executableURL = try QEMU.find()
        qemu.arguments = QEMU.arguments(products, system: try Systems.named(system), options: o)
        try qemu.run()
        let gdbArgs = [products.kernelELF.path, "-ex", "target remote localhost:1234", "-ex", "break sprig_kmain"]
        if let gdb = ["/usr/bin/gdb", "/usr/local/bin/gdb"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            let g = Process()
            g.executableURL = URL(fileURLWithPath: gdb)
            g.arguments = gdbArgs
            try g.run()
            g.waitUntilExit()
            qemu.terminate()
        } else {
            print("QEMU is waiting for gdb on localhost:1234. In another terminal run:")
            print("  gdb \(products.kernelELF.path) -ex 'target remote localhost:1234'")
            qemu.waitUntilExit()
        }
    }
}

struct ListSystems: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "systems", abstract: "List the systems `sprig run --system` can boot.")
    func run() {
        for s in Systems.all {
            print("\(s.name)\(s.name == Systems.defaultName ? " (default)" : "") — \(s.summary)")
            print("    partitions: \(s.partitions.joined(separator: ", "))")
        }
    }
}

struct CheckHygiene: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hygiene",
        abstract: "Check the kernel ELF: no FPU/SIMD instruction, no undefined symbol, no stack protector, no red zone, no lazy globals, no writable and executable segment.")
    @OptionGroup var options: BuildOptions

    func run() throws {
        let builder = try makeBuilder(options)
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

/// Prints one line unbuffered (FileHandle), so it stays in order with child processes' output.
func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
