/// `sprig bench`: guest-instruction counts of the kernel's paths (Sources/SprigTool/Bench.swift).
import ArgumentParser
import Foundation
import SprigTool

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Count guest instructions of yield, interrupt delivery and every memory service.",
        discussion: """
            Builds, then boots the `bench` system under QEMU TCG with -icount shift=0,align=off: the \
            time-stamp counter then advances by one per guest instruction, so the counts are the same on \
            any machine, however busy. Prints a table (median, min and max of 16 rounds, the cost of \
            reading the counter subtracted; a second boot with the kernel's entry window off, skim=off, \
            gives the column of that name) and writes the same numbers as JSON to \
            .build/sprig/<variant>/bench.json (or prints only the JSON with --json). With --check, exits \
            with status 1 when a measurement misses its target (one-way yield ≤ 400 instructions).

            With --profile PATH (service.null, yield.parent_to_child, yield.child_to_parent, \
            yield.parent_to_child_cold, yield.child_to_parent_cold, irq.to_root_handler), boots the same \
            system under gdb instead, steps one occurrence of PATH one instruction at a time, names every \
            instruction with the kernel's ELF and prints where they go: per phase, per function in \
            execution order and sorted. It also runs the bench once and says whether the profile's count \
            equals the bench's (docs/bench.md).
            """)
    @OptionGroup var options: BuildOptions
    @Flag(help: "Print only the JSON document.") var json = false
    @Flag(help: "Exit with status 1 when a measurement misses its target.") var check = false
    @Option(parsing: .unconditional, help: "Seconds before the bench machine is stopped.") var timeout: Double = 180
    @Option(help: "Profile one path instead: every instruction of one occurrence, named (service.null, yield.parent_to_child, …).")
    var profile: String?

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        if let p = profile, !Profile.isKnown(p) {
            throw ValidationError("unknown path '\(p)' for --profile: use one of \(Profile.paths.map(\.key).joined(separator: ", "))")
        }
        if profile != nil && (json || check) { throw ValidationError("--profile prints a profile: leave out --json and --check") }
    }

    func run() throws {
        let builder = try makeBuilder(options.variant, quiet: json)
        let products = try builder.build()
        if let path = profile {
            let result = try Profile.run(products, project: builder.project, path: path, timeout: timeout, progress: say)
            say("sprig: booting the bench system once more, without gdb, for the bench's own count of \(path)")
            let count = try Profile.benchCount(products, variant: options.variant, path: path, timeout: timeout)
            print(Profile.report(result, benchCount: count))
            return
        }
        if !json { say("sprig: booting the bench system with -icount shift=0,align=off (one TSC tick = one guest instruction)") }
        let ms = try Bench.run(products, variant: options.variant, timeout: timeout)
        let document = try Bench.json(ms)
        let file = builder.outputDirectory.appendingPathComponent("bench.json")
        try document.write(to: file, atomically: true, encoding: .utf8)
        if json {
            print(document)
        } else {
            print(Bench.table(ms))
            print("sprig: JSON written to \(file.path)")
        }
        if check && ms.contains(where: { $0.meetsTarget == false }) { throw ExitCode(1) }
    }
}
