/// Boot tests of the threads library in a partition (docs/threads.md): the `teeter` and
/// `threads-demo` systems run their programs for at least 10,000 virtual ticks delivered by
/// root, every invariant holding at every tick and sti, and report the preemptions they saw.
import SprigTool
import Testing

@Suite("Threads in a partition on the booted kernel")
struct ThreadsBootTests {
    @Test("teeter: left + right = 100 at every tick and sti for 10,000 ticks; ticks held inside cli/sti are taken at sti; both sides win")
    func teeter() throws {
        let r = try Boot.run("teeter", timeout: 120)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(!r.output.contains("FAIL"), "\(r.output)")
        #expect(r.output.contains("teeter: round 1: "))
        guard let summary = r.output.line(containing: "teeter: rounds ") else {
            Issue.record("no summary line\n\(r.output)")
            return
        }
        #expect((String.number(after: "; ticks ", in: summary) ?? 0) >= 10_000, "\(summary)")
        #expect(String.number(after: " times, broken ", in: summary) == 0, "\(summary)")
        #expect((String.number(after: "left won ", in: summary) ?? 0) > 0, "\(summary)")
        #expect((String.number(after: "right won ", in: summary) ?? 0) > 0, "\(summary)")
        #expect((String.number(after: "held inside cli/sti and taken at sti ", in: summary) ?? 0) > 0, "\(summary)")
        #expect(r.output.contains("teeter: PASS"))
        #expect(r.output.contains("threads root: PASS"))
        #expect(r.output.contains(" 0 refused; child failures 0"))
    }
}

extension ThreadsBootTests {
    @Test("threads-demo: Mesa and Hoare bounded buffers, readers/writers and philosophers for 10,000 ticks; every invariant holds; each preempted inside its critical sections")
    func threadsDemo() throws {
        let r = try Boot.run("threads-demo", timeout: Boot.hangGuard)
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(!r.output.contains("FAIL"), "\(r.output)")
        for program in ["bounded buffer (Mesa)", "bounded buffer (Hoare)", "readers/writers", "dining philosophers"] {
            guard let line = r.output.line(containing: "threads-demo: \(program): ") else {
                Issue.record("no line for \(program)\n\(r.output)")
                continue
            }
            #expect(String.number(after: " times, broken ", in: line) == 0, "\(line)")
            #expect((String.number(after: "invariant checked ", in: line) ?? 0) >= 10_000, "\(line)")
            #expect((String.number(after: "critical sections ", in: line) ?? 0) > 0, "\(line)")
        }
        guard let totals = r.output.line(containing: "threads-demo: ticks ") else {
            Issue.record("no totals\n\(r.output)")
            return
        }
        #expect((String.number(after: "threads-demo: ticks ", in: totals) ?? 0) >= 10_000, "\(totals)")
        #expect(String.number(after: "torn reads ", in: totals) == 0, "\(totals)")
        #expect(String.number(after: "values out of order ", in: totals) == 0, "\(totals)")
        #expect(r.output.contains("threads-demo: PASS"))
        #expect(r.output.contains(" 0 refused; child failures 0"))
    }
}
