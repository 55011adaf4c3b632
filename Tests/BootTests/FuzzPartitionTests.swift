/// Boot tests of the `fuzz` system (systems/fuzz/fuzz, docs/fuzz.md "The fuzzer partition"): a
/// short random campaign of services, yields and faults on the real kernel must end with every
/// page back and exit 0, and its summary must show that it exercised what it claims — every
/// service with both successes and refusals, yields taken and refused both ways, faults of
/// many vectors delivered, double faults, `int n` delivered and refused. A campaign that only
/// exited 0 would prove nothing.
import Foundation
import SprigABI
import SprigTool
import Testing

@Suite("The fuzzer partition on the booted kernel", .serialized)
struct FuzzPartitionTests {
    /// Two campaigns (about 7 s of TCG each on a shared core).
    static let seeds: [UInt64] = [1, 7]
    static let calls: UInt64 = 1500
    static let runs: [Result<RunResult, Error>] = seeds.map { seed in
        Result { try Boot.run("fuzz", commandLine: "fuzz.seed=\(seed) fuzz.calls=\(calls)") }
    }

    /// The numbers on `fuzz: service <name>: C calls, S succeeded, R refused; statuses: ...`.
    static func service(_ name: String, in output: String) -> (calls: UInt64, succeeded: UInt64, refused: UInt64, statuses: [String])? {
        guard let line = output.line(containing: "fuzz: service \(name): "),
              let calls = String.number(after: "\(name): ", in: line),
              let succeeded = String.number(after: "calls, ", in: line),
              let refused = String.number(after: "succeeded, ", in: line),
              let r = line.range(of: "statuses:")
        else { return nil }
        return (calls, succeeded, refused, line[r.upperBound...].split(separator: " ").map(String.init))
    }

    /// `vector=count` pairs of the deliveries line.
    static func deliveries(in output: String) -> [UInt64: UInt64] {
        guard let line = output.line(containing: "fuzz: deliveries to root by vector:") else { return [:] }
        var result: [UInt64: UInt64] = [:]
        for pair in line.split(separator: " ") where pair.contains("=") {
            let parts = pair.split(separator: "=")
            if parts.count == 2, let v = UInt64(parts[0]), let n = UInt64(parts[1]) { result[v] = n }
        }
        return result
    }

    @Test("each campaign runs to the end: no failure, no crash, every tracked page back, status 0", arguments: [0, 1])
    func completes(_ index: Int) throws {
        let r = try Self.runs[index].get()
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(!r.output.contains("FAIL"), "\(r.output)")
        #expect(!r.output.contains("KERNEL CRASH"), "\(r.output)")
        r.output.expectInOrder([
            "fuzz: seed \(Self.seeds[index]), \(Self.calls) calls",
            "fuzz: three children built; starting the campaign",
            "fuzz: call \(Self.calls) of \(Self.calls)",
            "fuzz: every tracked page came back: ",
            "fuzz: done \(Self.calls) calls, seed \(Self.seeds[index])",
        ])
    }

    /// At call 1651 seed 7 asks consoleRead for 57 bytes at a misaligned address inside a page
    /// of root's: a valid byte range, which the kernel accepts; the oracle must not call it hostile.
    @Test("seed 7, 2000 calls: consoleRead at a misaligned address inside a page of mine is accepted and expected")
    func consoleReadAtAMisalignedAddressOfMine() throws {
        let r = try Boot.run("fuzz", commandLine: "fuzz.seed=7 fuzz.calls=2000", timeout: 180)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(!r.output.contains("FAIL"), "\(r.output)")
        r.output.expectInOrder(["fuzz: call 2000 of 2000", "fuzz: done 2000 calls, seed 7"])
    }

    /// Seeds 2, 3 and 5 once ended with root faulting on its child's mailbox or context page
    /// (the child had made it a structure on root's orders: the child-service command kept those
    /// pages out of createPartition only when one domain named them), seed 5 with a grandchild
    /// that no longer faulted at once (the child had removed its VIDT page), seeds 1 and 9 with
    /// a consoleRead into a page root gave a child, which the child had made its grandchild's
    /// structure, expected to succeed.
    @Test("seeds 1, 2, 3, 5 and 9, 20000 calls each: the campaign's bookkeeping follows what children do to their own pages",
          arguments: [1, 2, 3, 5, 9])
    func longCampaigns(_ seed: Int) throws {
        let r = try Boot.run("fuzz", commandLine: "fuzz.seed=\(seed) fuzz.calls=20000", timeout: 300)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output.suffix(3000))")
        #expect(!r.output.contains("FAIL") && !r.output.contains("KERNEL CRASH"), "\(r.output.suffix(3000))")
        r.output.expectInOrder(["fuzz: call 20000 of 20000", "fuzz: done 20000 calls, seed \(seed)"])
    }

    @Test("every service was called, by root and children, with successes and refusals where the kernel allows both")
    func everyService() throws {
        // Over both campaigns: a rare success (removeVAddr of a page root shared) may miss one seed.
        var totals: [String: (calls: UInt64, succeeded: UInt64, refused: UInt64, statuses: Set<String>)] = [:]
        for run in Self.runs {
            let out = try run.get().output
            // Every service of the table has a line: the campaign enumerates it.
            for name in Service.allCases.map({ "\($0)" }) + ["unknown-number"] {
                let s = try #require(Self.service(name, in: out), "no summary line for \(name)\n\(out)")
                let t = totals[name] ?? (0, 0, 0, [])
                totals[name] = (t.calls + s.calls, t.succeeded + s.succeeded, t.refused + s.refused, t.statuses.union(s.statuses))
            }
        }
        for (name, t) in totals {
            #expect(t.calls > 0, "\(name) never called")
            #expect(t.refused > 0, "\(name) never refused")
            if name != "powerOff" && name != "unknown-number" {
                #expect(t.succeeded > 0, "\(name) never succeeded")
            } else {
                #expect(t.succeeded == 0, "\(name) must never succeed in a campaign")
            }
        }
        // Refusals with their own reasons, not one catch-all.
        #expect(totals["createPartition"]!.statuses.isSuperset(of: ["duplicatePage", "pageNotAccessible", "pageAlreadyGiven", "kernelHalfAddress"]))
        #expect(totals["prepare"]!.statuses.isSuperset(of: ["freeListTooShort", "freeListLoops"]))
        #expect(totals["addVAddr"]!.statuses.isSuperset(of: ["rightsExceedCaller", "notPrepared", "childAddressInUse"]))
        #expect(totals["yield"]!.statuses.isSuperset(of: [
            "invalidInterruptIndex", "invalidSaveIndex", "rootHasNoParent", "invalidChild", "calleeVIDTUnavailable",
            "calleeContextUnavailable", "callerContextUnavailable", "interruptMasked",
        ]), "yield's chain: \(totals["yield"]!.statuses)")
        #expect(totals["consoleWrite"]!.statuses.contains("rootOnly"), "children call root-only services too")
        #expect(totals["consoleRead"]!.statuses.isSuperset(of: ["invalidArgument", "pageNotAccessible", "rootOnly"]),
                "consoleRead's refusals: \(totals["consoleRead"]!.statuses)")
        #expect(totals["setConsoleInterrupt"]!.statuses.isSuperset(of: ["invalidArgument", "rootOnly"]),
                "setConsoleInterrupt's refusals: \(totals["setConsoleInterrupt"]!.statuses)")
    }

    @Test("yields were taken and refused both ways; faults, double faults and int n reached root", arguments: [0, 1])
    func yieldsAndFaults(_ index: Int) throws {
        let out = try Self.runs[index].get().output
        let yields = try #require(out.line(containing: "fuzz: yields root->child: "))
        let rootTaken = try #require(String.number(after: "root->child: ", in: yields))
        let rootRefused = try #require(String.number(after: "taken, ", in: yields))
        let childTaken = try #require(String.number(after: "child->parent: ", in: yields))
        let byYield = try #require(String.number(after: "handlers entered by a yield: ", in: yields))
        #expect(rootTaken > 20 && rootRefused > 20, "\(yields)")
        #expect(childTaken > 5 && byYield > 5, "\(yields)")
        let childRefused = yields.components(separatedBy: "child->parent: ").last.flatMap { part -> UInt64? in
            String.number(after: "taken, ", in: Substring(part))
        }
        #expect((childRefused ?? 0) > 5, "\(yields)")

        let d = Self.deliveries(in: out)
        // 16: a child's unmasked x87 exception is #MF at its parent's VIDT[16] (CR0.NE; the
        // campaign requires it of every x87 fault command).
        for vector: UInt64 in [0, 1, 3, 6, 8, 13, 14, 16] {
            #expect((d[vector] ?? 0) > 0, "no delivery at vector \(vector): \(d)")
        }
        #expect(d.keys.filter { $0 >= 48 }.count > 10, "int n should reach many of root's vectors: \(d)")
        let faults = try #require(out.line(containing: "fuzz: faults: "))
        #expect((String.number(after: "faults: ", in: faults) ?? 0) > 100, "\(faults)")
        #expect((String.number(after: "not raised on this machine, ", in: faults) ?? 0) > 0, "\(faults)")
        let interrupts = try #require(out.line(containing: "fuzz: int n: "))
        #expect((String.number(after: "int n: ", in: interrupts) ?? 0) > 10, "\(interrupts)")
        #expect((String.number(after: "delivered, ", in: interrupts) ?? 0) > 10, "\(interrupts)")
        #expect((String.number(after: "refused, ", in: interrupts) ?? 0) > 5, "\(interrupts)")
        let children = try #require(out.line(containing: "fuzz: children built "))
        #expect((String.number(after: "children built ", in: children) ?? 0) > 3, "children are deleted and built again: \(children)")
        #expect((String.number(after: "grandchildren built ", in: children) ?? 0) > 0, "\(children)")
        #expect((String.number(after: "full checks ", in: children) ?? 0) >= Self.calls / 64, "\(children)")
    }

    @Test("one seed is one campaign: the same seed gives the same console, another seed another")
    func deterministic() throws {
        let a = try Boot.run("fuzz", commandLine: "fuzz.seed=5 fuzz.calls=300")
        let b = try Boot.run("fuzz", commandLine: "fuzz.seed=5 fuzz.calls=300")
        let c = try Boot.run("fuzz", commandLine: "fuzz.seed=6 fuzz.calls=300")
        func fuzzLines(_ r: RunResult) -> [Substring] { r.output.split(separator: "\n").filter { $0.hasPrefix("fuzz: ") } }
        #expect(a.ending == .status(0) && b.ending == .status(0) && c.ending == .status(0), "\(a.output)\n\(c.output)")
        #expect(fuzzLines(a) == fuzzLines(b))
        #expect(fuzzLines(a).count > 20)
        #expect(fuzzLines(a).dropFirst() != fuzzLines(c).dropFirst())
    }

    @Test("root refuses a malformed or out-of-range command line with status 2 and says why")
    func rootRefusesBadArguments() throws {
        let bad = try Boot.run("fuzz", commandLine: "fuzz.seed=12x")
        #expect(bad.ending == .status(2), "\(bad.summary)\n\(bad.output)")
        #expect(bad.output.contains("fuzz: the command line's fuzz.seed is not a decimal or 0x-hex number that fits 64 bits"))
        let zero = try Boot.run("fuzz", commandLine: "fuzz.calls=0")
        #expect(zero.ending == .status(2), "\(zero.summary)\n\(zero.output)")
        #expect(zero.output.contains("fuzz: fuzz.calls must be between 1 and 100000000, got 0"))
        let huge = try Boot.run("fuzz", commandLine: "fuzz.seed=18446744073709551616")
        #expect(huge.ending == .status(2), "2^64 does not fit: \(huge.output)")
    }
}

@Suite("sprig run --seed / --calls")
struct SystemArgumentTests {
    @Test("the fuzz system takes a seed and a call count, decimal or hex, as its command line")
    func accepted() throws {
        let fuzz = try Systems.named("fuzz")
        #expect(try SystemArguments.commandLine(for: fuzz, [.seed: "42", .calls: "0x10"]) == "fuzz.seed=42 fuzz.calls=16")
        #expect(try SystemArguments.commandLine(for: fuzz, [.seed: "18446744073709551615"]) == "fuzz.seed=18446744073709551615")
        #expect(try SystemArguments.commandLine(for: fuzz, [:]) == "")
        #expect(SystemArguments.defaultTimeout(calls: nil) == 60)
        #expect(SystemArguments.defaultTimeout(calls: 100_000) > 2000)
    }

    @Test("a bad seed or call count, or one given to a system that takes none, is refused with what is wrong")
    func refused() throws {
        let fuzz = try Systems.named("fuzz")
        func message(_ system: SystemDescription, _ values: [SystemOption: String]) -> String? {
            do { _ = try SystemArguments.commandLine(for: system, values); return nil } catch { return "\(error)" }
        }
        #expect(message(fuzz, [.seed: "abc"])?.contains("--seed must be an unsigned 64-bit number") == true)
        #expect(message(fuzz, [.seed: "-1"])?.contains("not '-1'") == true)
        #expect(message(fuzz, [.seed: "18446744073709551616"]) != nil, "2^64 does not fit")
        #expect(message(fuzz, [.seed: "0x"]) != nil)
        #expect(message(fuzz, [.calls: "0"])?.contains("--calls must be between 1 and 100000000") == true)
        #expect(message(fuzz, [.calls: "100000001"]) != nil)
        #expect(message(fuzz, [.calls: "ten"])?.contains("--calls must be an unsigned 64-bit number") == true)
        let signal = try Systems.named("signal")
        #expect(message(signal, [.seed: "1"])?.contains("--seed applies only to the systems that take it (fuzz); the signal system takes none") == true)
        #expect(message(signal, [.calls: "10"]) != nil)
    }
}
