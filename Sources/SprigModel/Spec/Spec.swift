/// Sprig's abstract specification: every kernel entry as a function on `AbstractState`.
///
/// Written from DESIGN.md §4–§6, docs/structures.md, docs/yield.md, the `Status` docs in
/// SprigABI and the Intel SDM, never by calling SprigCore (that would check the kernel against
/// itself): it shares SprigABI's numbers (the contract) and, of SprigCore, only the names of the
/// boundary (the trap event and its outcome); `SpecIndependenceTests` holds it to that.
///
/// Layout: this file is the entry (`step`), the root-only services and the helpers every service
/// shares (argument checks, how a page leaves and comes back to ring 3); `SpecMemory.swift`
/// holds the ten memory services, `SpecSwitch.swift` yield and event delivery.
///
/// Where DESIGN.md lets a service check several things, the order of the checks — which status
/// a call with two faults gets — is the order the docs list them in; where they are silent, any
/// of the faults' statuses is allowed (each such place says so). Where the design leaves a
/// *choice* to the implementation (which free-list page becomes which table, how many pages a
/// configuration list needs), the specification states the allowed range and
/// `step(_:_:observed:)` takes the implementation's choice from the concrete result once it has
/// checked that it is in that range (docs/spec.md lists every such place).
import SprigABI
import enum SprigCore.TrapEvent
import enum SprigCore.TrapOutcome
import struct SprigCore.SystemCallArguments

/// See the file overview.
public enum Spec {
    /// The specified effect of `event` trapped by `state.current`, and the outcome the platform
    /// must see. The implementation's free choices are made canonically (see `step(_:_:observed:)`).
    package static func step(_ state: AbstractState, _ event: TrapEvent) -> (state: AbstractState, outcome: TrapOutcome) {
        step(state, event, observed: nil)
    }

    /// What the implementation did with the same event: the abstraction of the concrete state
    /// after it, and its outcome. The specification reads it only to take a choice the design
    /// leaves open, after checking the choice is allowed.
    public struct Observed {
        public var state: AbstractState
        package var outcome: TrapOutcome
        package init(state: AbstractState, outcome: TrapOutcome) { self.state = state; self.outcome = outcome }

        /// The status and value of a service that returned.
        var returned: (status: Status, value: UInt64)? {
            if case .returned(let status, let value) = outcome { return (status, value) }
            return nil
        }
    }

    /// As `step(_:_:)`, taking the choices DESIGN.md leaves to the implementation from
    /// `observed` when it made an allowed one: the order of faults the docs do not order, the
    /// values of `countToMap` and `collect` and the pages `prepare` takes (each within the range
    /// the specification states), and which of `prepare`'s pages becomes which table, which
    /// shadow and the configuration page. An observed choice outside its range is not taken:
    /// the canonical one is, and the difference is reported.
    package static func step(_ state: AbstractState, _ event: TrapEvent, observed: Observed?)
        -> (state: AbstractState, outcome: TrapOutcome) {
        var r = effect(state, event, observed: observed)
        if r.outcome != .kernelCrash && !(r.outcome == .machineService(.powerOff) && r.state.registers[ContextLayout.rax] == 0) {
            // Back in ring 3: DS, ES, FS and GS null whatever ring 3 had loaded (no context holds
            // them), and never a rip outside the lower half (iretq there faults in the kernel).
            r.state.registers.dataSelectors = [0, 0, 0, 0]
            if r.state.registers.rip >= AddressSpace.lowerHalfEnd { r.state.registers.rip = 0 }
        }
        return r
    }

    private static func effect(_ state: AbstractState, _ event: TrapEvent, observed: Observed?)
        -> (state: AbstractState, outcome: TrapOutcome) {
        var s = state
        switch event {
        case .systemCall(let number, let a):
            // The SYSCALL instruction itself: rcx := the return rip, r11 := rflags.
            s.registers[ContextLayout.rcx] = s.registers.rip
            s.registers[ContextLayout.r11] = s.registers.rflags
            let outcome = systemCall(&s, number: number, a, observed: observed)
            switch outcome {
            case .returned(let status, let value):
                s.registers[ContextLayout.rax] = status.rawValue
                s.registers[ContextLayout.rdx] = value
            case .machineService(let service):
                let r = machineService(&s, service, a)
                s.registers[ContextLayout.rax] = r.status.rawValue
                s.registers[ContextLayout.rdx] = r.value
            default:
                break
            }
            return (s, outcome)
        case .hardwareInterrupt(let vector):
            hardwareInterrupt(&s, vector: vector)
            return (s, .resume)
        case .exception(let vector, let errorCode, let faultAddress):
            let delivered = exception(&s, vector: vector, errorCode: errorCode, faultAddress: faultAddress)
            return (s, delivered ? .resume : .kernelCrash)
        case .softwareInterrupt(let vector):
            let status = softwareInterrupt(&s, vector: vector)
            guard status == .success else {
                s.registers[ContextLayout.rax] = status.rawValue
                return (s, .interruptRefused(status))
            }
            return (s, .resume)
        }
    }

    /// `syscall`: a service number and five raw arguments (`SprigABI.Service`).
    static func systemCall(_ s: inout AbstractState, number: UInt64, _ a: SystemCallArguments,
                           observed: Observed?) -> TrapOutcome {
        guard let service = Service(rawValue: number) else { return .returned(.unknownService, value: 0) }
        let caller = s.current
        // The root-only rule is the service table's (`Service.isRootOnly`).
        if service.isRootOnly { return caller == s.root ? .machineService(service) : .returned(.rootOnly, value: 0) }
        let r: (Status, UInt64)
        switch service {
        case .yield:
            let status = yield(&s, callee: a.a0, target: a.a1, saveIndex: a.a2, flagsOnYield: a.a3, flagsOnWake: a.a4)
            // A successful yield resumes the callee with its own rax/rdx.
            return status == .success ? .resume : .returned(status, value: 0)
        case .createPartition: r = (createPartition(&s, caller, a), 0)
        case .countToMap: r = countToMap(s, caller, child: a.a0, va: a.a1, observed: observed)
        case .prepare: r = prepare(&s, caller, child: a.a0, va: a.a1, freeList: a.a2, observed: observed)
        case .addVAddr: r = (addVAddr(&s, caller, vaParent: a.a0, child: a.a1, vaChild: a.a2, rights: a.a3), 0)
        case .removeVAddr: r = (removeVAddr(&s, caller, child: a.a0, vaChild: a.a1, observed: observed), 0)
        case .mappedInChild: r = mappedInChild(s, caller, vaParent: a.a0)
        case .deletePartition: r = (deletePartition(&s, caller, child: a.a0), 0)
        case .collect: r = collect(&s, caller, child: a.a0, va: a.a1, observed: observed)
        case .getIntState: r = getIntState(s, caller, child: a.a0)
        case .setIntState: r = (setIntState(&s, caller, state: a.a0), 0)
        default: preconditionFailure("\(service) is root-only: the table's rule answered above")
        }
        return .returned(r.0, value: r.1)
    }

    /// The status and value root gets from a machine service (README "Services"; served by the
    /// platform, which the model does in `ModelSystem`): `consoleWrite(va, length)` needs 1…4096
    /// bytes all readable by root, `powerOff(status)` a status root may use, `setTimer(hz)` 0 or
    /// a rate in `Limits`, `setConsoleInterrupt(on)` 0 or 1. `consoleRead(va, maxLength)` needs
    /// 1…`Limits.consoleReadMax` bytes all *writable* by root; then the first
    /// min(maxLength, waiting) bytes waiting on the serial port move, in order, to root's memory
    /// at `va` (and nowhere else), and their count is the value. An accepted `consoleWrite`
    /// sends the bytes of its range, in order, to the console output. Nothing else in the
    /// abstract state changes (power, timer and interrupt switch are the platform's).
    static func machineService(_ s: inout AbstractState, _ service: Service, _ a: SystemCallArguments) -> (status: Status, value: UInt64) {
        switch service {
        case .consoleWrite:
            guard a.a1 <= Limits.consoleWriteMax, a.a1 > 0 else { return (.invalidArgument, 0) }
            let status = readableRange(s, s.root, start: a.a0, length: a.a1)
            guard status == .success else { return (status, 0) }
            // The bytes of the range, in order, as root's memory holds them.
            for va in a.a0..<(a.a0 + a.a1) {
                let page = s.partitions[s.root]!.pages[pageBase(va)]!.page
                let word = s.memory[page]![Int((va & (AddressSpace.pageSize - 1)) >> 3)]
                s.consoleOutput.append(UInt8(truncatingIfNeeded: word >> ((va & 7) * 8)))
            }
            return (.success, 0)
        case .powerOff:
            return (a.a0 <= Limits.partitionExitStatusMax ? .success : .invalidArgument, 0)
        case .setTimer:
            return (a.a0 == 0 || (Limits.timerHzMin...Limits.timerHzMax).contains(a.a0) ? .success : .invalidArgument, 0)
        case .setConsoleInterrupt:
            return (a.a0 <= 1 ? .success : .invalidArgument, 0)
        case .consoleRead:
            guard a.a1 <= Limits.consoleReadMax, a.a1 > 0 else { return (.invalidArgument, 0) }
            let status = readableRange(s, s.root, start: a.a0, length: a.a1, write: true)
            guard status == .success else { return (status, 0) }
            let n = min(a.a1, UInt64(s.consoleInput.count))
            for k in 0..<n {
                let va = a.a0 + k
                let page = s.partitions[s.root]!.pages[pageBase(va)]!.page
                let word = Int((va & (AddressSpace.pageSize - 1)) >> 3), shift = (va & 7) * 8
                let old = s.memory[page]![word]
                s.memory[page]![word] = old & ~(0xFF << shift) | UInt64(s.consoleInput[Int(k)]) << shift
            }
            s.consoleInput.removeFirst(Int(n))
            return (.success, n)
        default:
            return (.unknownService, 0)
        }
    }

    /// Whether every byte of `[start, start + length)` is readable (and writable, when `write`)
    /// by `partition`.
    static func readableRange(_ s: AbstractState, _ partition: UInt64, start: UInt64, length: UInt64,
                              write: Bool = false) -> Status {
        if case .failure(let status) = canonical(start) { return status }
        let (end, overflow) = start.addingReportingOverflow(length)
        guard !overflow, end <= AddressSpace.lowerHalfEnd else { return .rangeNotAccessible }
        var page = pageBase(start)
        while page < end {
            guard let m = s.partitions[partition]?.pages[page] else { return .addressNotMapped }
            guard m.accessible, !write || m.writable else { return .pageNotAccessible }
            page += AddressSpace.pageSize
        }
        return .success
    }

    // MARK: Arguments (the `Status` docs: canonical, lower half, aligned — in that order)

    static func pageBase(_ va: UInt64) -> UInt64 { va & ~(AddressSpace.pageSize - 1) }

    /// A raw address that is canonical and in the lower half.
    static func canonical(_ raw: UInt64) -> Result<UInt64, Status> {
        let top = raw >> 47
        guard top == 0 || top == 0x1_FFFF else { return .failure(.nonCanonicalAddress) }
        guard raw < AddressSpace.lowerHalfEnd else { return .failure(.kernelHalfAddress) }
        return .success(raw)
    }

    /// A raw address that is canonical, lower half and page-aligned.
    static func page(_ raw: UInt64) -> Result<UInt64, Status> {
        canonical(raw).flatMap { pageBase($0) == $0 ? .success($0) : .failure(.misalignedAddress) }
    }

    /// The child of `caller` that `name` names: the page `caller` maps at `name` is the
    /// descriptor of one of its children (DESIGN.md §3, "a child is named by the virtual address
    /// of its descriptor in the caller's space").
    static func child(_ s: AbstractState, of caller: UInt64, named name: UInt64) -> UInt64? {
        guard case .success(let va) = page(name), let m = s.partitions[caller]?.pages[va],
              case .descriptorOf(let d) = m.given, d == m.page, s.partitions[d]?.parent == caller
        else { return nil }
        return d
    }

    /// The child named `name` and the page-aligned vaddr `va`. The docs do not order the two
    /// checks: when both fail, either status is allowed (the observed one when it is one of
    /// them, else `invalidChild`).
    static func child(_ s: AbstractState, of caller: UInt64, named name: UInt64, page va: UInt64,
                      observed: Observed?) -> Result<(child: UInt64, va: UInt64), Status> {
        let vaddr = page(va)
        guard let c = child(s, of: caller, named: name) else {
            if case .failure(let other) = vaddr, observed?.returned?.status == other { return .failure(other) }
            return .failure(.invalidChild)
        }
        return vaddr.map { (c, $0) }
    }

    /// A page `caller` may hand over (docs/structures.md, "Names and trust"): mapped, accessible,
    /// writable too when it is to become a structure, not given to a child (nor a child's
    /// descriptor). Returns its vaddr and physical page.
    static func givable(_ s: AbstractState, _ caller: UInt64, _ name: UInt64, structure: Bool)
        -> Result<(va: UInt64, page: UInt64), Status> {
        page(name).flatMap { va in
            guard let m = s.partitions[caller]?.pages[va] else { return .failure(.addressNotMapped) }
            guard m.accessible else { return .failure(.pageNotAccessible) }
            guard !structure || m.writable else { return .failure(.pageNotWritable) }
            guard m.given == .kept else { return .failure(.pageAlreadyGiven) }
            return .success((va, m.page))
        }
    }

    // MARK: Pages leaving and coming back to ring 3 (DESIGN.md §3, docs/structures.md)

    /// `page`, given by `owner` as a kernel structure, becomes inaccessible to `owner` and every
    /// ancestor (each maps it: vertical sharing). No partition sees its contents any more.
    static func takeAsStructure(_ s: inout AbstractState, owner: UInt64, page: UInt64) {
        setAccessible(&s, owner: owner, page: page, false)
        s.memory[page] = nil
    }

    /// A structure page comes back to `owner`: zeroed, accessible to it and its ancestors again.
    static func giveBack(_ s: inout AbstractState, owner: UInt64, page: UInt64) {
        setAccessible(&s, owner: owner, page: page, true)
        s.memory[page] = .zero
    }

    private static func setAccessible(_ s: inout AbstractState, owner: UInt64, page: UInt64, _ accessible: Bool) {
        for d in s.selfAndAncestors(owner) {
            guard let va = s.partitions[d]?.vaddr(of: page) else { continue }
            s.partitions[d]?.pages[va]?.accessible = accessible
        }
    }
}
