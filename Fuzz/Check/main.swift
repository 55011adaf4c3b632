/// The explorer on a (possibly mutated) copy of the kernel: `sprig check --mutant NAME` builds
/// this file with SprigABI, SprigCore and SprigModel from the mutant's copy (HostBuild.checkMutant)
/// and runs it. It drives the explorer's library API (`Explorer`, Sources/SprigModel/Explore), the
/// same search `sprig check` runs, and prints the first counterexample.
///
///     sprig-check [--depth N] [--random STEPS --seed S] [--pages P] [--partitions N]
///                 [--vidt-slots N] [--start S | --scenario S] [--shape SHAPE] [--menu GROUPS]
///                 [--max-states N] [--threads N] [--only CHECK]
///
/// (the options of `sprig check`, which passes its own command line through; `--only` is this
/// driver's: the oracle runs that one check alone — properties, registerHygiene, refusals,
/// refinement, tlb or dereference — to show which check catches a mutant; so is `--scenario`, a
/// start state of Sources/SprigModel/Oracles/Scenarios.swift).
///
///     sprig-check --boot
///
/// instead checks what is fixed before the first partition runs, each against an independent
/// description (Sources/SprigModel/Oracles): the boot state (`BootStateCheck`), the boot
/// allocator (`BootAllocatorCheck`) and the kernel's hardware constants (`HardwarePictureCheck`):
/// `sprig mutate`'s first stage, since the exploration starts after boot.
///
/// Exit status: 0 no violation, 1 a counterexample, 2 bad arguments.
import SprigModel
#if canImport(Glibc)
import Glibc
#endif

var configuration = Explorer.Configuration()
var random: Int?
var seed: UInt64 = 1
var arguments = CommandLine.arguments.dropFirst()
if arguments.first == "--boot" {
    guard arguments.count == 1 else {
        print("sprig-check: --boot takes no other argument")
        exit(2)
    }
    let findings = BootStateCheck.run() + BootAllocatorCheck.run() + HardwarePictureCheck.run() + KernelCacheCheck.run()
        + ContextOverlapCheck.run() + ConsoleRangeCheck.run()
    print("boot: \(BootStateCheck.layouts.count) boot layouts, the boot allocator and the hardware constants checked")
    guard findings.isEmpty else {
        print("VIOLATION at boot:")
        for f in findings { print("  ! boot: \(f)") }
        exit(1)
    }
    print("no violation")
    exit(0)
}
func fail(_ message: String) -> Never {
    print("sprig-check: \(message)")
    exit(2)
}
func value(_ flag: String) -> String {
    guard let v = arguments.popFirst() else { fail("\(flag) needs a value") }
    return v
}
func number(_ flag: String) -> Int {
    guard let n = Int(value(flag)), n >= 0 else { fail("\(flag) needs a number") }
    return n
}
while let flag = arguments.popFirst() {
    switch flag {
    case "--depth": configuration.depth = number(flag)
    case "--pages": configuration.pages = number(flag)
    case "--max-states": configuration.maxStates = number(flag)
    case "--threads": configuration.threads = max(1, number(flag))
    case "--partitions": configuration.domain.maxPartitions = number(flag)
    case "--vidt-slots": configuration.domain.vidtSlots = number(flag)
    case "--random": random = number(flag)
    case "--seed": seed = UInt64(number(flag))
    case "--no-refinement": configuration.oracle.refinement = false
    case "--only":
        let name = value(flag)
        let checks = ["properties", "registerHygiene", "refusals", "refinement", "tlb", "dereference"]
        guard checks.contains(name) else { fail("--only: one of \(checks.joined(separator: ", "))") }
        var o = OracleConfiguration()
        o.properties = name == "properties"; o.registerHygiene = name == "registerHygiene"; o.refusals = name == "refusals"
        o.refinement = name == "refinement"; o.tlb = name == "tlb"; o.dereference = name == "dereference"
        configuration.oracle = o
    case "--scenario":
        guard let s = Scenario(rawValue: value(flag)) else { fail("--scenario: one of \(Scenario.allCases.map(\.rawValue))") }
        configuration.startSystem = { s.makeSystem() }
        configuration.pages = s.pages
    case "--menu":
        let list = value(flag)
        guard let groups = StepGroup.parse(list).groups else { fail("--menu: groups among \(StepGroup.allCases.map(\.rawValue).joined(separator: ","))") }
        configuration.domain.menu = groups
    case "--shape":
        guard let shape = TreeShape(value(flag)) else { fail("--shape: a parents list such as 0,0,1 (optionally +config)") }
        configuration.shape = shape
        configuration.domain.maxPartitions = max(configuration.domain.maxPartitions, shape.partitions)
    case "--start":
        guard let s = ExplorationStart(rawValue: value(flag)) else { fail("--start: one of \(ExplorationStart.allCases.map(\.rawValue))") }
        configuration.start = s
    default: fail("unknown argument \(flag)")
    }
}

let report: ExplorationReport
if let random {
    report = Explorer(configuration).randomWalk(steps: random, seed: seed)
} else {
    report = Explorer(configuration).run { p in
        print("  depth \(p.depth): \(p.report.states) states, \(p.report.transitions) transitions")
    }
}
print("explored: \(report.states) states, \(report.transitions) transitions, depth \(report.depthReached), "
      + "\(Int(report.statesPerSecond)) states/s, \(Int(report.elapsed)) s")
if let c = report.counterexample {
    print("VIOLATION after \(c.steps.count) steps:")
    for line in c.lines { print("  " + line) }
    for f in c.findings { print("  ! \(f)") }
    exit(1)
}
print("no violation")
