/// Bad input to `sprig`: one line saying what was wrong and what to do, and a non-zero status
/// (64 for a usage error, as ArgumentParser gives a malformed option), before any build starts.
import Foundation
import Testing

@Suite("sprig's errors and messages")
struct CLITests {
    /// `sprig arguments` fails at once with status 64 and one line containing `message`.
    func expectUsageError(_ arguments: [String], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let start = Date()
        let (status, output) = try CLI.run(arguments, timeout: 60)
        #expect(status == 64, "\(arguments): \(output)", sourceLocation: sourceLocation)
        let lines = output.split(separator: "\n")
        #expect(lines.count == 1, "\(arguments) should say one line:\n\(output)", sourceLocation: sourceLocation)
        #expect(output.contains(message), "\(arguments): \(output)", sourceLocation: sourceLocation)
        #expect(Date().timeIntervalSince(start) < 20, "\(arguments) built before refusing", sourceLocation: sourceLocation)
    }

    @Test("a missing or unreadable input file is refused before any build")
    func inputFiles() throws {
        try expectUsageError(["fuzz", "--replay", "/nonexistent"], "--replay: no file /nonexistent")
        try expectUsageError(["replay", "/tmp"], "FILE: /tmp is a directory, not a file")
        try expectUsageError(["replay", "/nonexistent.trace"], "FILE: no file /nonexistent.trace")
    }

    @Test("a negative number is a bad value, not a missing one")
    func negativeNumbers() throws {
        try expectUsageError(["run", "--memory", "-5"], "--memory must be between 8 and 4096 MiB")
        try expectUsageError(["run", "--timeout", "-1"], "--timeout must be positive")
        try expectUsageError(["check", "--depth", "-1"], "--depth must be between 0 and 12")
    }

    @Test("an unknown system or mutant is a usage error like any bad option (64)")
    func unknownNames() throws {
        try expectUsageError(["run", "--system", "nope"], "no system named 'nope'; the systems are signal, ")
        try expectUsageError(["run-gdb", "--system", "nope"], "no system named 'nope'")
        try expectUsageError(["replay", "--system", "nope"], "no system named 'nope'")
        try expectUsageError(["fuzz", "--mutant", "nope"], "nope")
    }

    @Test("sprig check --seed without --random is refused, not ignored")
    func seedWithoutRandom() throws {
        try expectUsageError(["check", "--seed", "5"], "--seed applies to the random walk: give --random STEPS too")
    }

    @Test("a build folder that cannot be written: one line naming it, status 1")
    func unwritableBuildFolder() throws {
        // A checkout whose .build/sprig is a file: nothing can be made under it (a permission
        // would not stop the tests' root user).
        let checkout = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-readonly-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: checkout) }
        try FileManager.default.createDirectory(at: checkout.appendingPathComponent("Sources/SprigX86"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: checkout.appendingPathComponent(".build"), withIntermediateDirectories: true)
        try Data().write(to: checkout.appendingPathComponent("Package.swift"))
        try Data().write(to: checkout.appendingPathComponent(".build/sprig"))
        let (status, output) = try CLI.run(["build"], in: checkout, timeout: 60)
        #expect(status == 1, "\(output)")
        let error = output.split(separator: "\n").filter { !$0.hasPrefix("sprig: building") }
        #expect(error.count == 1, "\(output)")
        #expect(output.contains("cannot write") && output.contains(".build/sprig"), "\(output)")
        #expect(!output.contains("NSCocoaErrorDomain"), "\(output)")
    }

    @Test("--kvm on a host whose KVM does not run the kernel faithfully falls back to TCG with one line")
    func kvmFallsBack() throws {
        _ = try Boot.products(.release)
        // Never KVM in a test: the accelerator --kvm asks for is TCG here, and the probe boots
        // `faulty` (it crashes on purpose) to stand for a host where the kernel does not run.
        let unfaithful = try CLI.run(["run", "--system", "hello", "--kvm"],
                                     environment: ["SPRIG_KVM_ACCELERATOR": "tcg", "SPRIG_KVM_PROBE_SYSTEM": "faulty"])
        #expect(unfaithful.status == 0, "\(unfaithful.output)")
        let notice = unfaithful.output.split(separator: "\n").filter { $0.hasPrefix("sprig: not using KVM: ") }
        #expect(notice.count == 1, "\(unfaithful.output)")
        #expect(notice.first?.hasSuffix("; using TCG") == true, "\(unfaithful.output)")
        #expect(notice.first?.contains("the kernel crashed") == true, "\(unfaithful.output)")
        let faithful = try CLI.run(["run", "--system", "hello", "--kvm"],
                                   environment: ["SPRIG_KVM_ACCELERATOR": "tcg", "SPRIG_KVM_PROBE_SYSTEM": "hello"])
        #expect(faithful.status == 0, "\(faithful.output)")
        #expect(!faithful.output.contains("not using KVM"), "\(faithful.output)")
    }

    @Test("sprig run --system bench counts instructions, as its lines say: the same numbers on every run")
    func benchUnderRunCountsInstructions() throws {
        _ = try Boot.products(.release)
        func numbers() throws -> [String] {
            let (status, output) = try CLI.run(["run", "--system", "bench"])
            #expect(status == 0, "\(output)")
            #expect(output.contains("sprig: counting guest instructions"), "\(output)")
            return output.split(separator: "\n").filter { $0.hasPrefix("bench: ") }.map(String.init)
        }
        let first = try numbers()
        #expect(first.count > 10)
        // Host time-stamp counts would differ from run to run; instruction counts do not.
        #expect(try numbers() == first)
    }

    @Test("sprig --version prints the version; shell completion scripts name every command")
    func versionAndCompletion() throws {
        let version = try CLI.run(["--version"])
        #expect(version.status == 0 && version.output == "0.1\n", "\(version.output)")
        for shell in ["bash", "zsh", "fish"] {
            let script = try CLI.run(["--generate-completion-script", shell])
            #expect(script.status == 0, "\(shell): \(script.output)")
            for command in ["run", "run-gdb", "check", "fuzz", "replay", "bench"] {
                #expect(script.output.contains(command), "\(shell) completion lacks \(command)")
            }
        }
    }

    @Test("the help tells the release kernel's real optimization (-O), partitions -Osize")
    func helpSaysO() throws {
        let (status, output) = try CLI.run(["build", "--help"])
        #expect(status == 0)
        #expect(output.contains("kernel -O, partitions -Osize"), "\(output)")
    }

    @Test("make's apt-get waits for a held dpkg lock (QEMU; gcc and libc6-dev for the Linux peer)",
          arguments: [("qemu", "qemu-system-x86"), ("peer-tools", "gcc libc6-dev")])
    func aptWaitsForLock(target: String, packages: String) throws {
        let make = Process()
        make.executableURL = URL(fileURLWithPath: "/usr/bin/make")
        make.arguments = ["-n", "-C", Boot.project.root.path, target]
        let pipe = Pipe()
        make.standardOutput = pipe
        try make.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        make.waitUntilExit()
        #expect(text.contains("apt-get -o DPkg::Lock::Timeout=600 update"), "\(text)")
        #expect(text.contains("apt-get -o DPkg::Lock::Timeout=600 install"), "\(text)")
        #expect(text.contains(packages), "\(text)")
    }
}
