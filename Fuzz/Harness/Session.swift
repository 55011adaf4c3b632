/// One fuzz input run against a freshly booted model, with the oracle after every kernel entry.
///
/// The session boots a `ModelSystem` (the real `RootBuilder`, the real `Kernel.trap`), decodes
/// the input step by step (`decodeStep`, choices read off the state before each step) and runs
/// each step's kernel entries through `system.trap`, as root would on the machine. After every
/// entry it checks:
///
/// * the isolation properties of DESIGN.md §7 (`Properties.all` on the tree read back from
///   memory);
/// * refusals change nothing: a service or `int n` that returned an error left every memory
///   word and the current partition as they were (DESIGN.md §4);
/// * the dereference property (`Properties.dereference`): every load and store the kernel made
///   in the entry landed on a kernel page or on a page the partition it was for can reach;
/// * no TLB entry grants the running partition more than its tables (`ModelTLB.stale`): ring
///   3's stores go through the model CPU's TLB, and the kernel must drop what it reduced;
/// * register hygiene across a switch: whenever a partition starts running, the harness fills
///   its general registers with tags unique to that period (ring 3 computing); when an entry
///   switches to a partition that is not an ancestor of the one that trapped (an ancestor may
///   read its descendants' memory anyway), no register may hold a tag of the trapped period.
///   This is what catches a save slot written over the callee's context (yield check 8);
/// * what ring 3 resumes with after every entry (`Properties.resumedState`): null data
///   selectors (each period starts with user selectors loaded), rip in the lower half, no
///   `iretq` that would fault in the kernel;
/// * the refinement check against the abstract specification (`RefinementChecker`, compiled in
///   with `-D SPRIG_REFINEMENT`, which `HostBuild` passes when Sources/SprigModel/Spec has it;
///   `SPRIG_FUZZ_REFINEMENT=0` turns it off at run time). The checker is resynchronized after
///   ring 3 changed memory or registers, as its documentation asks.
///
/// A violation ends the session with a `Failure` holding the violations and the decoded call
/// sequence so far; the fuzz entry turns it into a crash that libFuzzer records.
import SprigABI
import SprigCore
import SprigModel

/// What the oracle found, with the sequence that got there.
struct Failure: Error {
    var violations: [String]
    var log: [String]

    var report: String {
        "SPRIG FUZZ VIOLATION\n" + violations.map { "  " + $0 }.joined(separator: "\n")
            + "\ndecoded call sequence:\n" + log.joined(separator: "\n") + "\n"
    }
}

/// One input's run: the booted model, the decoded steps so far, the oracle's state.
final class Session {
    /// Pages of the model machine: enough for root to build a few children with mapped pages.
    static let pages = 128

    let system: ModelSystem
    private(set) var log: [String] = []
    private(set) var entries: UInt64 = 0
    /// Running periods so far: a new one starts whenever another partition becomes current.
    private var period: UInt64 = 0
    /// Ring 3 changed memory or registers since the refinement checker last looked.
    private var ring3Changed = false
    private let domain = Domain()
    private var tree: PartitionTree
    /// Print each line of the log as it is made (`SPRIG_FUZZ_TRACE=1`).
    let trace: Bool
#if SPRIG_REFINEMENT
    private var refinement: RefinementChecker?
#endif

    init(trace: Bool = false, refinement: Bool = true) {
        system = Session.bootedSystem()
        tree = Session.bootTree
        self.trace = trace
        startPeriod()
#if SPRIG_REFINEMENT
        self.refinement = refinement ? RefinementChecker(system) : nil
#endif
    }

    /// Whether this build checks refinement.
    static var refinementCompiledIn: Bool {
#if SPRIG_REFINEMENT
        true
#else
        false
#endif
    }

    /// The current partition starts running: its registers become this period's tags.
    private func startPeriod() {
        period += 1
        for i in 0..<ContextLayout.gprCount { system.cpu.registers.gprs[i] = periodTag | UInt64(i) }
        system.cpu.registers.dataSelectors = RegisterMarks.dataSelectors
        ring3Changed = true
    }

    private var periodTag: UInt64 { tagPrefix << 48 | period << 8 }

    // Booting the model (RootBuilder, the first tree read) costs more than most inputs, so the
    // system is booted once and reset to its boot state between inputs: memory words restored
    // where they differ, root current with empty registers. A session that powered off or
    // crashed leaves its system behind and the next one boots afresh.
    nonisolated(unsafe) private static var spare: ModelSystem?
    nonisolated(unsafe) private static var bootWords: [UInt64] = []
    nonisolated(unsafe) private static var bootTree: PartitionTree!

    private static func bootedSystem() -> ModelSystem {
        guard let s = spare, s.poweredOff == nil, !s.crashed else {
            let s = ModelSystem(pages: pages)
            bootWords = s.memory.snapshot()
            bootTree = s.machine.tree()
            spare = s
            return s
        }
        KernelCache.empty(s.memory)  // empty at boot: the memory below is put back without the kernel
        let now = s.memory.snapshot()
        if now != bootWords {
            for i in 0..<now.count where now[i] != bootWords[i] {
                s.memory.store(PhysicalAddress(UInt64(i) * 8), bootWords[i])
            }
        }
        s.cpu.trap(as: s.machine.descriptor(s.machine.root), pml4: s.machine.rootTable(s.machine.root), registers: RegisterFile())
        return s
    }

    /// Runs `bytes` as a call sequence; the first violation found, or nil.
    func run(_ bytes: [UInt8]) -> Failure? {
        var reader = ByteReader(bytes)
        do {
            var steps = 0
            while running, let step = decodeStep(&reader, choices()) {
                steps += 1
                note("\(steps). [\(partitionName(system.current.raw))] \(step)")
                try perform(step)
            }
        } catch let failure as Failure {
            return failure
        } catch {
            return Failure(violations: ["\(error)"], log: log)
        }
        return nil
    }

    private var running: Bool { system.poweredOff == nil && !system.crashed }

    private func choices() -> Choices { Choices(tree: tree, current: system.current.raw) }

    private func note(_ line: String) {
        log.append(line)
        if trace { print(line) }
    }

    /// "root" or "partition #i" (its index in the tree, breadth-first from root).
    private func partitionName(_ descriptor: UInt64) -> String {
        guard let i = tree.partitions.firstIndex(where: { $0.descriptor == descriptor }) else {
            return "0x" + String(descriptor, radix: 16)
        }
        return i == 0 ? "root" : "partition #\(i)"
    }

    private func perform(_ step: Step) throws {
        switch step {
        case .call(let number, let args):
            let a = args.map(\.value) + [0, 0, 0, 0, 0]
            _ = try enter(.systemCall(number: number, SystemCallArguments(a[0], a[1], a[2], a[3], a[4])))
        case .store(let address, let value):
            try store(address.value, value.value)
        case .link(let pages):
            try link(pages.map(\.value))
        case .prepareFor(let child, let va):
            let count = try enter(.systemCall(number: Service.countToMap.rawValue, SystemCallArguments(child.value, va.value)))
            guard case .returned(.success, let n)? = count, n > 0 else { return }
            // Pages from the top of the free ones, below root's fixed pages (stack, context,
            // boot info, VIDT), so that the input's own picks, from the bottom, stay free.
            let free = choices().freePages.filter { $0 < AddressSpace.rootStackTop - AddressSpace.rootStackPages * AddressSpace.pageSize }
                .suffix(Int(min(n, 32)))
            try link(Array(free))
            _ = try enter(.systemCall(number: Service.prepare.rawValue,
                                      SystemCallArguments(child.value, va.value, free.first ?? 0)))
        case .hardwareInterrupt(let vector):
            // As on the machine: only while the running partition has rflags.IF set.
            guard system.cpu.interruptsEnabled else { return note("     (interrupts disabled: not delivered)") }
            _ = try enter(.hardwareInterrupt(vector: vector))
        case .softwareInterrupt(let vector):
            _ = try enter(.softwareInterrupt(vector: vector))
        case .serialInput(let bytes):
            system.consoleInput += bytes
            ring3Changed = true  // outside input: the refinement checker takes it as it is
        case .exception(let vector, let errorCode, let address):
            let cr2 = vector == 14 ? address.value : 0
            _ = try enter(.exception(vector: vector, errorCode: errorCode, faultAddress: cr2))
        case .menu(let index):
            let menu = domain.steps(for: system, tree: tree)
            guard !menu.isEmpty else { return }
            let step = menu[index % menu.count]
            note("     = \(step)")
            switch step {
            case .trap(let event): _ = try enter(event)
            case .fromLastBytes(let event):
                let e = ExplorationStep.lastBytes(event, on: system)
                ring3Changed = true  // the rip the instruction left
                _ = try enter(e)
            case .write(let words): for w in words where running { try store(w.vaddr, w.value) }
            }
        }
    }

    /// A ring-3 store by the current partition (8-byte aligned down). A store its tables refuse
    /// is the page fault the CPU would raise (#PF, CR2 = the vaddr), delivered by the kernel.
    private func store(_ va: UInt64, _ value: UInt64) throws {
        guard running else { return }
        let pml4 = system.cpu.currentPartition.rootTable(system.memory).paddr
        let aligned = va & ~7
        // Through the CPU's TLB, as ring 3's stores go (`ModelTLB`).
        guard case .success(let pa) = system.cpu.userAccess(aligned, write: true) else {
            let present = PageTableWalk.leaf(system.memory, rootTable: pml4, va: VirtualAddress(aligned & ~0xFFF)) != nil
            _ = try enter(.exception(vector: 14, errorCode: 6 | (present ? 1 : 0), faultAddress: aligned))
            return
        }
        // Ring 3 reaches no kernel structure (the properties and the TLB check say so after
        // every entry), so the tree read back before the store is still the tree.
        system.memory.store(pa, value)
        ring3Changed = true
    }

    /// Ring 3 links `pages` into a free list: each page's first word is the next page.
    private func link(_ pages: [UInt64]) throws {
        for (k, va) in pages.enumerated() { try store(va, k + 1 < pages.count ? pages[k + 1] : 0) }
    }

    /// One kernel entry, then the oracle. nil when the system has stopped.
    private func enter(_ event: TrapEvent) throws -> TrapOutcome? {
        guard running else { return nil }
        entries += 1
#if SPRIG_REFINEMENT
        if ring3Changed { refinement?.resynchronize(system) }
#endif
        ring3Changed = false
        let before = system.current.raw
        let tagBefore = periodTag
        let treeBefore = tree
        // A copy-on-write reference, not a copy: comparing it afterwards is free when the
        // kernel stored nothing.
        let memoryBefore = system.memory.snapshot()
        let outcome = system.trap(event)
        let memoryChanged = system.memory.snapshot() != memoryBefore
        note("     -> \(describe(outcome))" + (system.current.raw != before ? ", now in \(partitionName(system.current.raw))" : ""))
        var problems: [String] = []
        if memoryChanged {
            tree = system.machine.tree()
            problems += Properties.all(tree, kernelPages: system.machine.kernelPages,
                                       kernelPML4: system.machine.kernelPML4, memory: system.memory,
                                       kernelWindow: system.machine.kernelWindow).map(\.description)
        }
        if let accesses = system.cpu.accesses {
            problems += Properties.dereference(accesses, before: treeBefore, after: { [tree] in tree },
                                               kernelPages: system.machine.kernelPages).map(\.description)
        }
        problems += refusalChangedNothing(outcome, memoryChanged: memoryChanged, before: before)
        problems += registerLeaks(from: before, tag: tagBefore)
        // Back in ring 3 (or an exit that would have faulted in the kernel): what it resumes with.
        if system.poweredOff == nil && (!system.crashed || system.cpu.exitFault != nil) {
            problems += Properties.resumedState(system.cpu).map(\.description)
        }
        problems += Properties.savedContexts(system.cpu).map(\.description)
        if running {
            problems += system.cpu.tlb.stale(system.memory, pml4: system.cpu.cr3).map { "stale TLB: \($0)" }
        }
#if SPRIG_REFINEMENT
        if refinement != nil {
            problems += refinement!.step(event, outcome: outcome, system: system).map(\.description)
        }
#endif
        if !problems.isEmpty { throw Failure(violations: problems, log: log) }
        if system.current.raw != before && running { startPeriod() }
        return outcome
    }

    private func describe(_ outcome: TrapOutcome) -> String {
        switch outcome {
        case .returned(let status, let value): return "\(status), value 0x\(String(value, radix: 16))"
        case .interruptRefused(let status): return "refused: \(status)"
        case .resume: return "resume"
        case .machineService(let service): return "machine service \(service)"
        case .kernelCrash: return "kernel crash report"
        }
    }

    /// A refused service, yield or `int n` changes nothing (DESIGN.md §4): no memory word and
    /// not the current partition.
    private func refusalChangedNothing(_ outcome: TrapOutcome, memoryChanged: Bool, before: UInt64) -> [String] {
        let refused: Bool
        switch outcome {
        case .returned(let status, _): refused = status != .success
        case .interruptRefused: refused = true
        default: refused = false
        }
        guard refused, memoryChanged || system.current.raw != before else { return [] }
        return ["refused with \(outcome) but changed " + (memoryChanged ? "memory" : "the current partition")]
    }

    /// Tags of the trapped period in the registers of a partition that is not an ancestor of
    /// the one that trapped (`before`).
    private func registerLeaks(from before: UInt64, tag: UInt64) -> [String] {
        let after = system.current.raw
        guard after != before,
              let a = tree.partitions.firstIndex(where: { $0.descriptor == after }),
              let b = tree.partitions.firstIndex(where: { $0.descriptor == before }),
              !tree.isAncestorOrSelf(a, of: b)
        else { return [] }
        let leaked = system.cpu.registers.allWords.filter { $0 & ~0xFF == tag }
        guard !leaked.isEmpty else { return [] }
        return ["register hygiene: \(partitionName(after)) runs with \(leaked.count) register(s) of "
                + "\(partitionName(before)) as it trapped (\(leaked.map { "0x" + String($0, radix: 16) }))"]
    }
}
