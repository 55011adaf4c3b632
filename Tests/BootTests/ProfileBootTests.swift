/// `sprig bench --profile`: one occurrence of a bench path stepped one instruction at a time
/// under gdb, every instruction named. The profile is only worth reading if its count is the
/// bench's and nothing in it is unnamed, which is what these tests hold it to.
import SprigTool
import Testing

@Suite("Bench profile")
struct ProfileBootTests {
    @Test("the null service's profile counts what the bench counts, every instruction named")
    func nullServiceProfileMatchesBench() throws {
        let (builder, products) = try Boot.products(.release)
        let profile = try Profile.run(products, project: builder.project, path: "service.null")
        let bench = try Profile.benchCount(products, variant: .release, path: "service.null")
        // The same window as the bench (counter read to counter read, the pair's cost taken off).
        #expect(profile.count == bench, "profile \(profile.count) (window \(profile.steps.count) − pair \(profile.baseline)), bench \(bench)")
        #expect(profile.baseline > 0)
        // Every instruction has a function, the kernel's from kernel.elf.
        #expect(profile.unnamed.isEmpty, "unnamed: \(profile.unnamed.map { "0x" + String($0.rip, radix: 16) })")
        let kernel = profile.kernelSteps
        #expect(!kernel.isEmpty)
        // One kernel entry and one exit: ring 3, then the kernel in one stretch, then ring 3.
        let first = try #require(profile.steps.firstIndex { $0.rip >= 0xFFFF_FFFF_8000_0000 })
        let last = try #require(profile.steps.lastIndex { $0.rip >= 0xFFFF_FFFF_8000_0000 })
        #expect(last - first + 1 == kernel.count)
        #expect(profile.steps[first].function == "sprig_syscall_entry")
        #expect(profile.steps[first].phase == .entry && profile.steps[last].phase == .exit)
        #expect(kernel.contains { $0.phase == .dispatch })
        let report = Profile.report(profile, benchCount: bench)
        #expect(report.contains("= the bench's \(bench)"))
    }

    @Test("the missed yield's profile names each check of the chain: the release kernel's inlined frames carry their names")
    func missedYieldProfileNamesTheChainsSteps() throws {
        let (builder, products) = try Boot.products(.release)
        let path = "yield.parent_to_child_miss"
        let profile = try Profile.run(products, project: builder.project, path: path)
        let bench = try Profile.benchCount(products, variant: .release, path: path)
        #expect(profile.count == bench, "profile \(profile.count), bench \(bench)")
        #expect(profile.unnamed.isEmpty, "unnamed: \(profile.unnamed.map { "0x" + String($0.rip, radix: 16) })")
        // Checks 4–8, the fill and the switch, each under its own name: with line tables only, the
        // specialized chain's inlined frames had no names and all of this was one function.
        let steps = Set(profile.kernelSteps.map(\.step))
        for step in ["Partition.child", "ContextCheck.vidtPage", "TranslationCache.translate", "ContextLocation.overlaps",
                     "YieldCache.fill", "X86Platform.saveCPUState", "X86Platform.loadCPUState"] {
            #expect(steps.contains(step), "no step \(step) in \(steps.sorted())")
        }
        let report = Profile.report(profile, benchCount: bench)
        #expect(report.contains("by step"))
    }

    @Test("an unknown path is refused before anything boots")
    func unknownPathIsRefused() throws {
        let (builder, products) = try Boot.products(.release)
        #expect(throws: ToolError.self) { try Profile.run(products, project: builder.project, path: "yield.sideways") }
    }

    @Test("sprig bench --profile with an unknown path: one line, status 64, before any build")
    func unknownPathOnCommandLine() throws {
        let (status, output) = try CLI.run(["bench", "--profile", "yield.sideways"], timeout: 60)
        #expect(status == 64, "\(output)")
        #expect(output.split(separator: "\n").count == 1, "\(output)")
        #expect(output.contains("unknown path 'yield.sideways' for --profile: use one of service.null"), "\(output)")
    }
}
