/// `sprig bench`: guest-instruction counts of the kernel's paths (Sources/SprigTool/Bench.swift).
import ArgumentParser
import Foundation
import SprigTool

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Count guest instructions of yield, interrupt delivery, every memory service, thread switches, and the generic root's frames, channels and events.",
        discussion: """
            Builds, then boots the `bench` system (and `threads-bench`, for a thread switch inside a \
            partition and a tick to its timer handler) under QEMU TCG with -icount shift=0,align=off: the \
            time-stamp counter then advances by one per guest instruction, so the counts are the same on \
            any machine, however busy. Prints a table (median, min and max of 16 rounds, the cost of \
            reading the counter subtracted; a second boot with the kernel's entry window off, skim=off, \
            gives the column of that name) and writes the same numbers as JSON to \
            .build/sprig/<variant>/bench.json (or prints only the JSON with --json). With --check, exits \
            with status 1 when a measurement misses its target (null service ≤ 100 instructions, one-way yield ≤ 200, \
            the first yields after a table change ≤ 500, a tick to root's handler ≤ 350). \
            Then boots muen-demo (the generic root's frame-start delays, sched.*) and channel-bench \
            (the carrier's cost per message by copy and by hand-over, channel.*, and event latency, \
            event.*) the same way.

            With --peer linux, also boots Debian's Linux kernel (fetched once with apt-get download into \
            .build/peer/linux; its init, tools/peer/init.c, built with gcc -static) under the same QEMU \
            settings, twice (pti=on, and pti=off for the skim=off column), adds its null system call and \
            its one-way switches (sched_yield; a pipe ping-pong) to the table as linux.* rows, and prints them side by side \
            with Sprig's null service and one-way yield, with the ratios (docs/bench.md, "Linux side by side").
            With --profile PATH (service.null, yield.parent_to_child, yield.child_to_parent, \
            yield.parent_to_child_cold, yield.child_to_parent_cold, yield.parent_to_child_miss, \
            yield.child_to_parent_miss, irq.to_root_handler), boots the same \
            system under gdb instead, steps one occurrence of PATH one instruction at a time, names every \
            instruction with the kernel's ELF and prints where they go: per phase, per step (the check, \
            cache or part of the switch each belongs to), per function in execution order and sorted. It also runs the bench once and says whether the profile's count \
            equals the bench's (docs/bench.md).
            """)
    @OptionGroup var options: BuildOptions
    @Flag(help: "Print only the JSON document.") var json = false
    @Flag(help: "Exit with status 1 when a measurement misses its target.") var check = false
    @Option(parsing: .unconditional, help: "Seconds before the bench machine is stopped.") var timeout: Double = 180
    @Option(help: "Measure a peer kernel in the same run: linux (Debian's kernel; needs apt-get and gcc).") var peer: String?

    @Option(help: "Profile one path instead: every instruction of one occurrence, named (service.null, yield.parent_to_child, …).")
    var profile: String?

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        if let p = profile, !Profile.isKnown(p) {
            throw ValidationError("unknown path '\(p)' for --profile: use one of \(Profile.paths.map(\.key).joined(separator: ", "))")
        }
        if profile != nil && (json || check) { throw ValidationError("--profile prints a profile: leave out --json and --check") }
        if profile != nil && peer != nil { throw ValidationError("--profile prints a profile of Sprig: leave out --peer") }
        if let peer, peer != LinuxPeer.name {
            throw ValidationError("--peer \(peer): the only peer is linux (sprig bench --peer linux)")
        }
    }

    func run() throws {
        // With --json only the document goes to stdout; progress goes to stderr.
        let progress: (String) -> Void = { line in
            if json { FileHandle.standardError.write(Data("sprig: \(line)\n".utf8)) } else { say("sprig: \(line)") }
        }
        // The peer is fetched and built first: a missing network or compiler fails before the build.
        let peerKernel = try peer.map { _ in try LinuxPeer.prepare(try Project.current(), progress: progress) }
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
        var ms = try Bench.run(products, variant: options.variant, timeout: timeout)
        if !json { say("sprig: booting \(Bench.scheduleSystem) the same way for the scheduling accuracy of the generic root") }
        ms += try Bench.runSchedule(products, variant: options.variant, timeout: timeout)
        if !json { say("sprig: booting \(Bench.carrierSystem) the same way for the generic root's channel cost and event latency") }
        ms += try Bench.runCarrier(products, variant: options.variant, timeout: timeout)
        var peerReport: PeerReport?
        if let peerKernel {
            let measured = try LinuxPeer.measure(peerKernel, timeout: timeout, progress: progress)
            ms += measured.rows
            peerReport = measured.on
        }
        let document = try Bench.json(ms)
        let file = builder.outputDirectory.appendingPathComponent("bench.json")
        try document.write(to: file, atomically: true, encoding: .utf8)
        if json {
            print(document)
        } else {
            print(Bench.table(ms))
            if let peerReport {
                print("")
                print("Sprig and Linux \(peerReport.kernel ?? "") side by side (guest instructions; Linux/Sprig):")
                print(LinuxPeer.comparisonTable(LinuxPeer.comparison(ms)))
                for m in peerReport.mitigations { print("  linux mitigation \(m)") }
                if let n = peerReport.droppedYields {
                    print("  linux sched_yield rounds dropped (the other process did not run exactly once): \(n)")
                }
            }
            print("sprig: JSON written to \(file.path)")
        }
        if check && ms.contains(where: { $0.meetsTarget == false }) { throw ExitCode(1) }
    }
}
