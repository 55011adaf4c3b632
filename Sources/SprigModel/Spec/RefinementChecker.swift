/// The refinement check: after every kernel entry, the concrete model must have done what the
/// abstract specification says.
///
/// Use it beside a `ModelSystem`:
///
///     var checker = RefinementChecker(system)
///     let outcome = system.trap(event)
///     let violations = checker.step(event, outcome: outcome, system: system)
///
/// `step` runs `Spec.step` from the checker's abstract state (the abstraction of the concrete
/// state after the previous step), abstracts the concrete state after the real step, and
/// returns one `Violation` of kind `.refinement` per difference: the outcome (status, value),
/// and each field of the state that differs, named in `detail` (`registers.rax`,
/// `partition 0x… pages[0x…].accessible`, `memory[0x…] word 5`, …). It then continues from the
/// *concrete* abstraction, so one bug is reported once, where it happens, and the next step is
/// checked on its own.
///
/// Ring 3 runs between traps: a partition writes its own memory (a free list, a VIDT, a
/// context) and its registers. The checker cannot see that; call `resynchronize(_:)` after
/// changing the model as ring 3 would (or after switching the current partition by hand), before
/// the next `trap`. Creating a new checker does the same.
///
/// Cost per `step`: one abstraction (a walk of every partition's tables; memory contents are
/// shared, not copied) plus the specification's step on dictionaries and one comparison;
/// `init` and `resynchronize` cost one abstraction. About 21 µs in a release build on a
/// 128-page machine with three partitions (docs/spec.md).
import SprigABI
import enum SprigCore.TrapEvent
import enum SprigCore.TrapOutcome

/// See the file overview.
public struct RefinementChecker {
    /// Where the next `step` starts: the abstraction of the concrete state after the last step.
    public private(set) var state: AbstractState
    /// Steps checked so far.
    public private(set) var steps = 0

    /// A checker starting from `system`'s current state.
    public init(_ system: ModelSystem) {
        state = Abstraction.of(system)
    }

    /// A checker starting from `state`, the abstraction of the system's current state.
    public init(state: AbstractState) {
        self.state = state
    }

    /// Takes `system`'s current state as the starting point of the next step, after ring 3 (or a
    /// test playing it) changed memory or registers.
    public mutating func resynchronize(_ system: ModelSystem) {
        state = Abstraction.of(system)
    }

    /// Checks one kernel entry: `system` has just run `event` (with `system.trap(event)`) from
    /// the state this checker holds, with `outcome`.
    /// - Returns: one `.refinement` violation per difference between the specification's
    ///   outcome and state and the concrete ones; empty when the step refines the specification.
    /// - Postcondition: `state` is the abstraction of `system` now.
    package mutating func step(_ event: TrapEvent, outcome: TrapOutcome, system: ModelSystem) -> [Violation] {
        step(event, outcome: outcome, concrete: Abstraction.of(system))
    }

    /// `step(_:outcome:system:)` given `concrete`, the abstraction of the system after the entry.
    package mutating func step(_ event: TrapEvent, outcome: TrapOutcome, concrete: AbstractState) -> [Violation] {
        let expected = Spec.step(state, event, observed: Spec.Observed(state: concrete, outcome: outcome))
        var violations: [Violation] = []
        if expected.outcome != outcome {
            violations.append(Violation(.refinement, partition: state.current,
                                        "outcome: spec \(expected.outcome), concrete \(outcome) (after \(event))"))
        }
        if expected.state != concrete {
            violations += Refinement.differences(spec: expected.state, concrete: concrete)
        }
        state = concrete
        steps += 1
        return violations
    }
}

/// Field-by-field comparison of two abstract states.
public enum Refinement {
    /// One `.refinement` violation per field where `concrete` differs from `spec`; empty when
    /// the states are equal.
    public static func differences(spec: AbstractState, concrete: AbstractState) -> [Violation] {
        var out: [Violation] = []
        func report(_ partition: UInt64, page: UInt64 = 0, vaddr: UInt64 = 0, _ field: String, _ a: Any, _ b: Any) {
            out.append(Violation(.refinement, partition: partition, page: page, vaddr: vaddr,
                                 "\(field): spec \(a), concrete \(b)"))
        }
        if spec.root != concrete.root { report(0, "root", hex(spec.root), hex(concrete.root)) }
        if spec.current != concrete.current { report(0, "current", hex(spec.current), hex(concrete.current)) }
        if spec.addressSpaceIsCurrent != concrete.addressSpaceIsCurrent {
            report(concrete.current, "cr3 is the current partition's PML4", spec.addressSpaceIsCurrent, concrete.addressSpaceIsCurrent)
        }
        if spec.mxcsrMask != concrete.mxcsrMask { report(0, "mxcsrMask", spec.mxcsrMask, concrete.mxcsrMask) }
        if spec.consoleInput != concrete.consoleInput {
            report(0, "consoleInput (bytes waiting on the serial port)", spec.consoleInput.count, concrete.consoleInput.count)
        }
        if spec.consoleOutput != concrete.consoleOutput {
            report(0, "consoleOutput (bytes sent to the console)", spec.consoleOutput.count, concrete.consoleOutput.count)
        }
        for (field, a, b) in registerDifferences(spec.registers, concrete.registers) {
            report(concrete.current, "registers.\(field)", hex(a), hex(b))
        }
        for d in Set(spec.partitions.keys).union(concrete.partitions.keys).sorted() {
            switch (spec.partitions[d], concrete.partitions[d]) {
            case (let a?, let b?):
                partitionDifferences(d, a, b, report)
            case (_?, nil):
                report(d, page: d, "partition 0x\(String(d, radix: 16))", "present", "absent")
            default:
                report(d, page: d, "partition 0x\(String(d, radix: 16))", "absent", "present")
            }
        }
        for page in Set(spec.memory.keys).union(concrete.memory.keys).sorted() {
            switch (spec.memory[page], concrete.memory[page]) {
            case (let a?, let b?):
                if let w = a.firstDifference(from: b) {
                    report(0, page: page, "memory[0x\(String(page, radix: 16))] word \(w)", hex(a[w]), hex(b[w]))
                }
            case (_?, nil):
                report(0, page: page, "memory[0x\(String(page, radix: 16))]", "accessible to a partition", "not")
            default:
                report(0, page: page, "memory[0x\(String(page, radix: 16))]", "no partition's", "accessible to a partition")
            }
        }
        return out
    }

    private static func partitionDifferences(
        _ d: UInt64, _ a: AbstractPartition, _ b: AbstractPartition,
        _ report: (UInt64, UInt64, UInt64, String, Any, Any) -> Void
    ) {
        let p = "partition 0x\(String(d, radix: 16))"
        if a.parent != b.parent { report(d, d, 0, "\(p) parent", a.parent.map(hex) ?? "none", b.parent.map(hex) ?? "none") }
        if a.name != b.name { report(d, d, 0, "\(p) name", hex(a.name), hex(b.name)) }
        if a.interruptState != b.interruptState { report(d, d, 0, "\(p) interruptState", a.interruptState, b.interruptState) }
        for va in Set(a.pages.keys).union(b.pages.keys).sorted() where a.pages[va] != b.pages[va] {
            let field = "\(p) pages[0x\(String(va, radix: 16))]"
            guard let x = a.pages[va], let y = b.pages[va] else {
                let page = a.pages[va]?.page ?? b.pages[va]?.page ?? 0
                report(d, page, va, field, a.pages[va].map(describe) ?? "unmapped", b.pages[va].map(describe) ?? "unmapped")
                continue
            }
            if x.page != y.page { report(d, y.page, va, "\(field).page", hex(x.page), hex(y.page)) }
            if x.rights != y.rights { report(d, y.page, va, "\(field).rights", rights(x.rights), rights(y.rights)) }
            if x.accessible != y.accessible { report(d, y.page, va, "\(field).accessible", x.accessible, y.accessible) }
            if x.given != y.given { report(d, y.page, va, "\(field).given", x.given, y.given) }
        }
        let s = a.structures, t = b.structures
        if s.descriptor != t.descriptor { report(d, d, 0, "\(p) structures.descriptor", hex(s.descriptor), hex(t.descriptor)) }
        if s.roots != t.roots { report(d, d, 0, "\(p) structures.roots", s.roots.map(hex), t.roots.map(hex)) }
        for node in Set(s.tables.keys).union(t.tables.keys).sorted() where s.tables[node] != t.tables[node] {
            report(d, t.tables[node]?.first ?? s.tables[node]?.first ?? 0, node.base,
                   "\(p) structures.tables[level \(node.level) at 0x\(String(node.base, radix: 16))]",
                   s.tables[node].map { $0.map(hex) } ?? "absent", t.tables[node].map { $0.map(hex) } ?? "absent")
        }
        if s.configPages != t.configPages {
            report(d, d, 0, "\(p) structures.configPages", s.configPages.sorted().map(hex), t.configPages.sorted().map(hex))
        }
    }

    static let gprNames = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
                           "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]

    private static func registerDifferences(_ a: RegisterFile, _ b: RegisterFile) -> [(String, UInt64, UInt64)] {
        var out: [(String, UInt64, UInt64)] = []
        if a.rip != b.rip { out.append(("rip", a.rip, b.rip)) }
        if a.rsp != b.rsp { out.append(("rsp", a.rsp, b.rsp)) }
        if a.rflags != b.rflags { out.append(("rflags", a.rflags, b.rflags)) }
        for (k, name) in gprNames.enumerated() where a.gprs[k] != b.gprs[k] { out.append((name, a.gprs[k], b.gprs[k])) }
        for w in a.fpu.indices where a.fpu[w] != b.fpu[w] { out.append(("fpu[\(w)]", a.fpu[w], b.fpu[w])) }
        for (k, name) in ["ds", "es", "fs", "gs"].enumerated() where a.dataSelectors[k] != b.dataSelectors[k] {
            out.append((name, a.dataSelectors[k], b.dataSelectors[k]))
        }
        return out
    }

    static func hex(_ x: UInt64) -> String { "0x" + String(x, radix: 16) }

    static func rights(_ r: UInt64) -> String {
        (r & Rights.read != 0 ? "r" : "-") + (r & Rights.write != 0 ? "w" : "-") + (r & Rights.execute != 0 ? "x" : "-")
    }

    static func describe(_ m: Mapping) -> String {
        "\(hex(m.page)) \(rights(m.rights))\(m.accessible ? "" : " inaccessible") \(m.given)"
    }
}
