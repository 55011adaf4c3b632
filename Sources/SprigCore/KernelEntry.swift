/// Every entry into the kernel from ring 3, decided in one place for the machine and the model.
///
/// The platform decodes what trapped (`TrapEvent`), calls `Kernel.trap`, and applies the
/// `TrapOutcome` to the trapped state. `SprigX86` does this from `sprig_trap`; `SprigModel` does
/// the same on its model CPU, so exploration, fuzzing and trace replay run the decisions the
/// booted kernel runs, not a re-telling of them. The platform keeps only what is machine-bound:
/// reading the trap frame and CR2, acknowledging the interrupt controller, and the root-only
/// machine services (console, power, timer, serial input), which it serves after `trap` has checked the caller.
import SprigABI

/// What trapped, as the platform decoded it. Arguments are raw ring-3 values.
package enum TrapEvent: Equatable, Sendable {
    /// `syscall` with rax = `number` and the five argument registers (`SprigABI.Service`).
    case systemCall(number: UInt64, SystemCallArguments)
    /// CPU exception `vector` (0…31) in ring 3; `errorCode` and `faultAddress` (CR2) are 0 when
    /// the vector has none.
    case exception(vector: UInt64, errorCode: UInt64, faultAddress: UInt64)
    /// Hardware interrupt `vector` (32…47 on the legacy PICs), or a non-maskable interrupt
    /// (`VIDTIndex.nmi`): both go to root.
    case hardwareInterrupt(vector: UInt64)
    /// `int vector` from ring 3, vector 3 or 48…255 (the others are DPL 0 and arrive as #GP).
    case softwareInterrupt(vector: UInt64)
}

/// The five argument registers of a system call: rdi, rsi, rdx, r10, r8.
package struct SystemCallArguments: Equatable, Sendable {
    package private(set) var a0, a1, a2, a3, a4: UInt64
    @inlinable package init(_ a0: UInt64 = 0, _ a1: UInt64 = 0, _ a2: UInt64 = 0, _ a3: UInt64 = 0, _ a4: UInt64 = 0) {
        self.a0 = a0; self.a1 = a1; self.a2 = a2; self.a3 = a3; self.a4 = a4
    }
}

/// What the platform does with the trapped state after `Kernel.trap`.
package enum TrapOutcome: Equatable, Sendable {
    /// A service answered: rax := status, rdx := value; the caller resumes.
    case returned(Status, value: UInt64)
    /// `int n` was refused: rax := status, nothing else; the caller resumes.
    case interruptRefused(Status)
    /// The trapped state now belongs to whoever is current (a yield or a delivery switched, or
    /// an interrupt nobody takes was dropped): resume it as it is.
    case resume
    /// A root-only machine service, asked by root: the platform serves it (`Service.consoleWrite`,
    /// `.powerOff`, `.setTimer`, `.consoleRead`, `.setConsoleInterrupt`) and writes its status
    /// in rax and its result (consoleRead's count, else 0) in rdx.
    case machineService(Service)
    /// Nobody could take a fault (root's own, or no ancestor with a handler): crash report.
    case kernelCrash
}

extension Kernel {
    /// Decides what an entry from ring 3 does, for the current partition of `p`.
    /// - Postcondition: as `TrapOutcome` says; a refused call or event changed nothing but, at
    ///   most, the trapped rip (`returnAddress`). Unless `.kernelCrash`, the trapped rip is in
    ///   the lower half: a loaded context's is sanitized by the platform, every path that resumes
    ///   the trapped partition itself goes through `returnAddress`.
    @inline(__always)
    package static func trap<P: CPUPlatform>(_ p: P, _ event: TrapEvent) -> TrapOutcome {
        switch event {
        case .systemCall(let number, let a):
            if let refusal = unknownNumber(p, number) { return refusal }
            return knownSystemCall(p, number: number, a)
        case .exception(let vector, let errorCode, let faultAddress):
            // Delivered (a context loaded) or the crash report (the trapped state as it was).
            let outcome = InterruptRouting.exception(p, vector: vector, errorCode: errorCode, faultAddress: faultAddress)
            return outcome == .kernelCrash ? .kernelCrash : .resume
        case .hardwareInterrupt(let vector):
            // Dropped: the interrupted partition resumes where it was.
            if InterruptRouting.hardwareInterrupt(p, vector: vector) == .resumed { returnAddress(p) }
            return .resume
        case .softwareInterrupt(let vector):
            let status = InterruptRouting.softwareInterrupt(p, vector: UncheckedVIDTIndex(vector))
            guard status == .success else {
                returnAddress(p)
                return .interruptRefused(status)
            }
            return .resume
        }
    }

    /// What `trap` decides for a system call whose number is past the service table, whatever
    /// the arguments (nil for any other number): the refusal, before anything else is read.
    /// `trap` runs it, then `knownSystemCall` when it is nil; a platform may run the two apart,
    /// the refusal on a path of its own (the null service's, which then saves none of the
    /// registers the rest of the entry needs).
    @inline(__always)
    package static func unknownNumber<P: CPUPlatform>(_ p: P, _ number: UInt64) -> TrapOutcome? {
        guard number >= Service.numberLimit else { return nil }
        returnAddress(p)
        return .returned(.unknownService, value: 0)
    }

    /// What `trap` decides for a system call that `unknownNumber` did not refuse.
    @inline(__always)
    package static func knownSystemCall<P: CPUPlatform>(_ p: P, number: UInt64, _ a: SystemCallArguments) -> TrapOutcome {
        // yield first: the hot path, before the service table.
        if number == Service.yield.rawValue {
            switch yieldFastpath(p, a) {
            case .decided(let outcome): return outcome
            case .chain(let set): return yieldChain(p, a, set: set)
            }
        }
        // No service loads a context (only a successful yield does): each resumes its caller.
        let outcome = service(p, number: number, a)
        returnAddress(p)
        return outcome
    }

    /// What `knownSystemCall` decides for a yield, in two steps a platform may run apart: the
    /// fastpath (`Yield.fastpath`), then, when it leaves the yield to the chain, `yieldChain`
    /// with the set it gives. The machine reaches `yieldChain` by a jump from the fastpath's own
    /// function (`sprigYield`), so no value of the fastpath has to outlive a call.
    @inline(__always)
    package static func yieldFastpath<P: CPUPlatform>(_ p: P, _ a: SystemCallArguments) -> YieldStep {
        yieldFastpath(p, a.a0, a.a1, a.a2) { (a.a3, a.a4) }
    }

    /// `yieldFastpath` with the two flags arguments (a3, a4) read only where the switch uses
    /// them, after the cache probe: the machine reads them from the trap frame there, so that
    /// they do not take two registers across the probe.
    @inline(__always)
    package static func yieldFastpath<P: CPUPlatform>(
        _ p: P, _ a0: UInt64, _ a1: UInt64, _ a2: UInt64, flags: () -> (a3: UInt64, a4: UInt64)
    ) -> YieldStep {
        switch Yield.fastpath(
            p, callee: UserAddress(a0), targetInterrupt: UncheckedVIDTIndex(a1), saveIndex: UncheckedVIDTIndex(a2),
            flags: { let f = flags(); return (UncheckedInterruptState(f.a3), UncheckedInterruptState(f.a4)) }) {
        case .decided(let status): return .decided(yieldOutcome(p, status))
        case .chain(let set): return .chain(set: set)
        }
    }

    /// The second step of a yield `yieldFastpath` did not decide: the chain (`Yield.chain`).
    @inline(__always)
    package static func yieldChain<P: CPUPlatform>(_ p: P, _ a: SystemCallArguments, set: Int) -> TrapOutcome {
        yieldOutcome(p, Yield.chain(
            p, callee: UserAddress(a.a0), targetInterrupt: UncheckedVIDTIndex(a.a1), saveIndex: UncheckedVIDTIndex(a.a2),
            flagsOnYield: UncheckedInterruptState(a.a3), flagsOnWake: UncheckedInterruptState(a.a4), set: set))
    }

    /// What `yieldFastpath` gives: the yield's outcome, or the chain's `set` argument.
    package enum YieldStep: Equatable {
        case decided(TrapOutcome)
        case chain(set: Int)
    }

    /// A yield's outcome for its status. On success the trapped state is the callee's context:
    /// its rax/rdx stay as saved, and its rip is sanitized by the load; a refused yield resumes
    /// the caller, through `returnAddress`.
    @inline(__always)
    static func yieldOutcome<P: CPUPlatform>(_ p: P, _ status: Status) -> TrapOutcome {
        guard status != .success else { return .resume }
        returnAddress(p)
        return .returned(status, value: 0)
    }

    /// The last check on every way back to ring 3: the rip it resumes at is in the lower half.
    ///
    /// A loaded context's rip is already sanitized (`UserRegisters.rip`), but the paths that
    /// resume the trapped partition itself (a service's return, a refused `int n`, a dropped
    /// interrupt) return to the rip the CPU saved, and a 2-byte `syscall` or `int n` at the last
    /// bytes of the lower half (or an interrupt taken after an instruction ending there) leaves
    /// rip = 0x0000_8000_0000_0000. `iretq` (and `sysretq`) to a non-canonical rip raises #GP at
    /// CPL 0 on Intel CPUs: a kernel crash any partition with code on its VIDT page could cause.
    /// Such a rip becomes 0, `UserRegisters.rip`'s policy: the partition takes a page fault in
    /// ring 3 (at address 0), delivered to its parent like any other.
    @inline(__always)
    static func returnAddress<P: CPUPlatform>(_ p: P) {
        let rip = p.trappedRIP
        if rip >= AddressSpace.lowerHalfEnd { p.setTrappedRIP(UserRegisters.rip(rip)) }
    }

    /// Every system call but yield, after yield's test; `number` is below `Service.numberLimit`
    /// (`unknownNumber`).
    @inline(__always)
    static func service<P: CPUPlatform>(_ p: P, number: UInt64, _ a: SystemCallArguments) -> TrapOutcome {
        // Numbers past the last service become 0 (no service) without a branch (Spectre v1).
        guard let service = Service(rawValue: Speculation.clamp(number, below: Service.numberLimit))
        else { return .returned(.unknownService, value: 0) }
        if service.isRootOnly {
            guard p.currentPartition == p.rootPartition else { return .returned(.rootOnly, value: 0) }
            return .machineService(service)
        }
        let r = dispatch(p, caller: p.currentPartition, service: number, a.a0, a.a1, a.a2, a.a3, a.a4)
        // Root's virtual flag is its real IF (`InterruptFlags`): VCLI in root masks hardware
        // interrupts from the next instruction on.
        if service == .setIntState, r.status == .success, p.currentPartition == p.rootPartition {
            p.setTrappedInterruptFlag(a.a0 == InterruptFlags.enabled)
        }
        return .returned(r.status, value: r.value)
    }
}

extension Kernel {
    /// `consoleWrite`'s checks and walk, shared by every platform's console: the length bound,
    /// then every byte of `[start, start + length)` readable by the current partition, then
    /// `emit(paddr, bytes)` for each piece of the range that lies on one page, in order.
    /// - Postcondition: on a refusal nothing was emitted.
    package static func consoleBytes<P: CPUPlatform>(
        _ p: P, start: UserAddress, length: UInt64, _ emit: (PhysicalAddress, UInt64) -> Void
    ) -> Status {
        guard length <= Limits.consoleWriteMax else { return .invalidArgument }
        return userPieces(p, start: start, length: length, write: false) { pa, bytes in
            emit(pa, bytes)
            return true
        }
    }

    /// `consoleRead`'s checks and walk, shared by every platform's serial input: the length
    /// bound (1…`Limits.consoleReadMax`), then every byte of `[start, start + maxLength)`
    /// *writable* by the current partition — all of it, before a byte is read — then
    /// `fill(paddr, room)` for each piece of the range that lies on one page, in order, until a
    /// piece is not filled whole. `fill` writes at most `room` bytes at `paddr` and returns how
    /// many it wrote.
    /// - Returns: the status and the bytes written in all (0 on a refusal).
    /// - Postcondition: on a refusal `fill` was never called (nothing read, nothing written).
    package static func consoleReadBytes<P: CPUPlatform>(
        _ p: P, start: UserAddress, maxLength: UInt64, _ fill: (PhysicalAddress, UInt64) -> UInt64
    ) -> (status: Status, count: UInt64) {
        guard maxLength <= Limits.consoleReadMax else { return (.invalidArgument, 0) }
        var count: UInt64 = 0
        let status = userPieces(p, start: start, length: maxLength, write: true) { pa, room in
            let n = fill(pa, room)
            assert(n <= room)
            count += n
            return n == room
        }
        return (status, status == .success ? count : 0)
    }

    /// Checks that every byte of `[start, start + length)` is reachable by the current partition
    /// (writable too when `write`; `length` 0 is `invalidArgument`), then calls `body(paddr,
    /// bytes)` for each piece of the range that lies on one page, in order, while it returns true.
    private static func userPieces<P: CPUPlatform>(
        _ p: P, start: UserAddress, length: UInt64, write: Bool, _ body: (PhysicalAddress, UInt64) -> Bool
    ) -> Status {
        let rootTable = p.currentPartition.rootTable(p).paddr
        let check = PageTableWalk.checkUserRange(p, rootTable: rootTable, start: start, length: length, write: write)
        guard check == .success else { return check }
        // The whole range checked: canonical, lower half, no wrap.
        var va = start.raw
        let end = va + length
        while va < end {
            guard let pa = try? PageTableWalk.userTranslate(p, rootTable: rootTable, va: VirtualAddress(va), write: write)
            else { return .rangeNotAccessible }
            let chunk = min(end - va, AddressSpace.pageSize - (va & (AddressSpace.pageSize - 1)))
            guard body(pa, chunk) else { break }
            va += chunk
        }
        return .success
    }
}
