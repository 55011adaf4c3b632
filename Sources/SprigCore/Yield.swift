/// `yield`: the one control-flow service (DESIGN.md §5, Pip's `switch`).
///
/// A partition hands the CPU to its parent or to one of its children through the callee's VIDT.
/// The service is a flat run of nine checks in the order of DESIGN.md §5 — each refusal its own
/// `Status` (Pip's codes 1–9) and changing nothing — followed by the switch itself:
///
///     save the caller's trapped state at VIDT[saveIndex] of the caller (unless that entry is 0),
///       with rax = 0, flags = flagsOnWake, valid = 1
///     caller's interrupt state := flagsOnYield
///     callee's interrupt state := flags word of the context it is entered with
///     CR3 := callee's root table; current partition := callee
///     trapped state := callee's context at VIDT[targetInterrupt] of the callee
///
/// Every VIDT entry is an allegation; `ContextCheck` turns it into physical addresses only after
/// walking the owner's tables the way the MMU would (the dereference property, paper §4).
///
/// Choices beyond DESIGN.md:
/// * A context (target or save slot) must be 16-byte aligned and may not touch its owner's VIDT
///   page (a VIDT entry pointing into the VIDT, or a save that would overwrite the VIDT).
/// * The caller's save slot may not overlap the callee's context (physical bytes): otherwise
///   the callee would be entered with the registers the caller just saved there, so one
///   partition's registers would become another's through the kernel. They may share a page.
///   Both refusals are check 8 (`callerContextUnavailable`): the save slot cannot be used.
/// * A target VIDT entry 0 is "no handler" (check 7); a save entry 0 is "drop my context".
/// * Flags: 0 is "interrupts enabled", any other value "masked" (`InterruptFlags`).
/// * yield overrides no register of the callee (a target is often a context being resumed).
///
/// Cost: two VIDT translations, at most two per context (each one `TranslationCache` lookup
/// when the tables have not changed since the last yield, else a four-level walk), no loop over
/// bytes; the copy of the 768-byte context is the platform's, word-wise.
import SprigABI

package enum Yield {
    /// What `fastpath` did: decided the yield (switched, or refused it at check 9), or left it to
    /// `chain` with the `set` argument `chain` takes.
    package enum Fastpath: Equatable {
        case decided(Status)
        case chain(set: Int)
    }

    /// The yield service is this fastpath, then `chain` when it says so (`Kernel.knownSystemCall`
    /// runs the two as `Kernel.yieldFastpath` and `Kernel.yieldChain`; on the machine the chain
    /// is reached by a jump, so the fastpath makes no call: docs/bench.md), for the current
    /// partition of `p` (whose state `p` holds trapped).
    ///
    /// The fastpath is a flat run of guards on the common case (checks 1 and 2 pass, the yield
    /// cache holds checks 3–8 for these arguments, which it does only for contexts on one page).
    /// - Precondition: `p.currentPartition` is a live descriptor; its CR3 is loaded.
    /// - Postcondition: on `.success` (decided here or by `chain`), the caller's state is saved
    ///   as described above (or dropped) and `p` holds the callee's context, sanitized, with the
    ///   callee current; the syscall path must then return to ring 3 *without* writing rax/rdx.
    ///   On any other status, nothing changed — memory, descriptors and the trapped state — and
    ///   the syscall path returns that status to the caller as for any service; `.chain` changed
    ///   nothing either (the cache probe reads only).
    @inline(__always)
    package static func fastpath<P: CPUPlatform>(
        _ p: P, callee: UserAddress, targetInterrupt: UncheckedVIDTIndex, saveIndex: UncheckedVIDTIndex,
        flags: () -> (onYield: UncheckedInterruptState, onWake: UncheckedInterruptState)
    ) -> Fastpath {
        // With an index out of range check 1 or 2 refuses before any fill: any set stands in.
        guard let targetSlot = targetInterrupt.checked(), let saveSlot = saveIndex.checked() else { return .chain(set: 0) }
        let caller = p.currentPartition
        // The key's cache set, for the fill on a miss.
        let s = YieldCache.set(caller: caller.paddr.raw, calleeName: callee.raw, targetInterrupt: targetSlot.index, saveIndex: saveSlot.index)
        guard let plan = YieldCache.find(p, caller: caller, calleeName: callee.raw, targetInterrupt: targetSlot, saveIndex: saveSlot, set: s)
        else { return .chain(set: s) }
        // 9. The callee must not have masked the target.
        guard !VIDTIndex.isMasked(targetSlot.index, state: plan.callee(p).interruptState(p).raw)
        else { return .decided(.interruptMasked) }
        // Both contexts lie on one page each: the cache keeps no other plan.
        let f = flags()
        commit(p, plan, callerFlags: f.onYield.normalized, wakeFlags: f.onWake.normalized, delivery: nil)
        return .decided(.success)
    }

    /// Every yield the fastpath did not decide (an index out of range, or no cache entry for
    /// these arguments): the chain in order. `set` is the key's cache set the fastpath computed
    /// (any value when an index is out of range: check 1 or 2 refuses first), and the chain
    /// skips the cache probe the fastpath just made. Out of line: inlined, its register
    /// pressure spilled on the fastpath (docs/bench.md, "After: yield's own entry, …"); `set` a
    /// plain word, so that the six arguments all go in registers (an optional's flag went on
    /// the stack).
    @inline(never)
    package static func chain<P: CPUPlatform>(
        _ p: P, callee: UserAddress, targetInterrupt: UncheckedVIDTIndex, saveIndex: UncheckedVIDTIndex,
        flagsOnYield: UncheckedInterruptState, flagsOnWake: UncheckedInterruptState, set: Int
    ) -> Status {
        do throws(Status) {
            let plan = try check(p, callee: callee, targetInterrupt: targetInterrupt, saveIndex: saveIndex, probe: false, set: set)
            commit(p, plan, callerFlags: flagsOnYield.normalized, wakeFlags: flagsOnWake.normalized, delivery: nil)
            return .success
        } catch {
            return error
        }
    }

    /// What `commit` reads of a checked yield: a `Plan`, or a yield-cache entry read in place
    /// (`YieldCache.Kept`).
    package protocol SwitchPlan {
        func caller<P: Platform>(_ p: P) -> Descriptor
        func callee<P: Platform>(_ p: P) -> Descriptor
        func calleeRootTable<P: Platform>(_ p: P) -> RootTable
        func target<P: Platform>(_ p: P) -> ContextLocation
        func save<P: Platform>(_ p: P) -> ContextLocation?
    }

    /// A checked yield: everything the switch needs, computed by checks 3–8 (`resolve`) or kept
    /// from them by `YieldCache`, and by nothing else.
    package struct Plan: Equatable, Sendable {
        package let caller: Descriptor
        package let callee: Descriptor
        package let calleeRootTable: RootTable
        /// The VIDT pages of caller and callee (checks 5 and 6).
        package let callerVIDT: PhysicalAddress
        package let calleeVIDT: PhysicalAddress
        /// The VIDT entries the checks ran on: the callee's at the target index, the caller's at
        /// the save index.
        package let targetVA: UInt64
        package let saveVA: UInt64
        package let target: ContextLocation
        /// nil: the caller's context is dropped (`saveVA` is 0).
        package let save: ContextLocation?
    }

    /// The check chain of DESIGN.md §5, in order. Reads only; changes nothing but the caches.
    /// `probe`: false when the caller has just looked the cache up for these arguments and missed;
    /// `set`: the key's cache set, when the caller has computed it.
    @inline(__always)
    static func check<P: CPUPlatform>(
        _ p: P, callee: UserAddress, targetInterrupt: UncheckedVIDTIndex, saveIndex: UncheckedVIDTIndex, probe: Bool = true,
        set: Int? = nil
    ) throws(Status) -> Plan {
        let caller = p.currentPartition
        // 1. The target must be a VIDT index (in range on speculated paths too: `checked`).
        guard let targetInterrupt = targetInterrupt.checked() else { throw .invalidInterruptIndex }
        // 2. The save slot must be a VIDT index.
        guard let saveIndex = saveIndex.checked() else { throw .invalidSaveIndex }
        // 3–8, or what they gave last time on the same tables and VIDT entries.
        let plan: Plan
        if probe, let kept = YieldCache.lookup(p, caller: caller, calleeName: callee.raw, targetInterrupt: targetInterrupt, saveIndex: saveIndex) {
            plan = kept
        } else {
            plan = try resolve(p, caller: caller, callee: callee, targetInterrupt: targetInterrupt, saveIndex: saveIndex)
            YieldCache.fill(p, plan, calleeName: callee.raw, targetInterrupt: targetInterrupt, saveIndex: saveIndex, set: set)
        }
        // 9. The callee must not have masked the target.
        guard !VIDTIndex.isMasked(targetInterrupt.index, state: plan.callee.interruptState(p).raw)
        else { throw .interruptMasked }
        return plan
    }

    /// Checks 3–8 of the chain, in order, for `caller` (checks 1 and 2 passed): reads only.
    /// `YieldCache` keeps what it returns; the model checks each kept plan against it.
    @inline(__always)
    package static func resolve<P: Platform>(
        _ p: P, caller: Descriptor, callee: UserAddress, targetInterrupt: VIDTSlot, saveIndex: VIDTSlot
    ) throws(Status) -> Plan {
        let calleeDescriptor: Descriptor
        if callee.raw == 0 {
            // 3. The default address names the parent; root has none.
            guard let parent = caller.parent(p) else { throw .rootHasNoParent }
            calleeDescriptor = parent
        } else {
            // 4. Any other name must be a live child's descriptor in the caller's space.
            guard let child = Partition.child(p, caller: caller, named: callee) else { throw .invalidChild }
            calleeDescriptor = child
        }
        let callerRootTable = caller.rootTable(p)
        let calleeRootTable = calleeDescriptor.rootTable(p)
        // 5. The caller's VIDT page, mapped and accessible in the caller.
        guard let callerVIDT = ContextCheck.vidtPage(p, descriptor: caller, rootTable: callerRootTable)
        else { throw .callerVIDTUnavailable }
        // 6. The callee's VIDT page, mapped and accessible in the callee.
        guard let calleeVIDT = ContextCheck.vidtPage(p, descriptor: calleeDescriptor, rootTable: calleeRootTable)
        else { throw .calleeVIDTUnavailable }
        // 7. The callee's context: every page of it readable by the callee, off its VIDT (Fig. 4).
        let targetVA = ContextCheck.entry(p, vidt: calleeVIDT, index: targetInterrupt)
        guard let target = ContextCheck.locate(
            p, descriptor: calleeDescriptor, rootTable: calleeRootTable, va: targetVA, write: false, vidt: calleeVIDT)
        else { throw .calleeContextUnavailable }
        // 8. The caller's save slot, unless 0: writable by the caller, off its VIDT, off the target.
        let saveVA = ContextCheck.entry(p, vidt: callerVIDT, index: saveIndex)
        var save: ContextLocation? = nil
        if !saveVA.isNone {
            guard let slot = ContextCheck.locate(p, descriptor: caller, rootTable: callerRootTable, va: saveVA, write: true, vidt: callerVIDT),
                  !slot.overlaps(target)
            else { throw .callerContextUnavailable }
            save = slot
        }
        return Plan(caller: caller, callee: calleeDescriptor, calleeRootTable: calleeRootTable,
                    callerVIDT: callerVIDT, calleeVIDT: calleeVIDT, targetVA: targetVA.raw, saveVA: saveVA.raw,
                    target: target, save: save)
    }

    /// The switch of a checked plan: save (or drop), caller's flags, enter the callee.
    @inline(__always)
    static func commit<P: CPUPlatform, S: SwitchPlan>(
        _ p: P, _ plan: S, callerFlags: VirtualInterruptState, wakeFlags: VirtualInterruptState, delivery: DeliveryInfo?
    ) {
        if let slot = plan.save(p) { p.saveCPUState(to: slot, flags: wakeFlags.raw, returnValue: Status.success.rawValue) }
        plan.caller(p).setInterruptState(p, callerFlags)
        enter(p, plan.callee(p), rootTable: plan.calleeRootTable(p), at: plan.target(p), delivery: delivery)
    }

    /// Makes `descriptor` current and `p`'s trapped state its context at `location`; the
    /// context's flags word becomes its interrupt state. Shared by yield and every delivery.
    /// - Precondition: `location` was made by `ContextCheck.locate` in `descriptor`'s tables.
    @inline(__always)
    static func enter<P: CPUPlatform>(
        _ p: P, _ descriptor: Descriptor, rootTable: RootTable, at location: ContextLocation,
        delivery: DeliveryInfo?
    ) {
        // A context's flags word is the partition's: any nonzero value means masked.
        let state = UncheckedInterruptState(p.load(location.word(at: ContextLayout.flags))).normalized
        descriptor.setInterruptState(p, state)
        p.switchAddressSpace(rootTable)
        p.setCurrentPartition(descriptor)
        // Only root's IF follows its virtual flag; every other partition runs interruptible.
        let interruptsEnabled = descriptor != p.rootPartition || state.isEnabled
        p.loadCPUState(from: location, interruptsEnabled: interruptsEnabled, delivery: delivery)
    }
}

extension Yield.Plan: Yield.SwitchPlan {
    @inline(__always) package func caller<P: Platform>(_ p: P) -> Descriptor { caller }
    @inline(__always) package func callee<P: Platform>(_ p: P) -> Descriptor { callee }
    @inline(__always) package func calleeRootTable<P: Platform>(_ p: P) -> RootTable { calleeRootTable }
    @inline(__always) package func target<P: Platform>(_ p: P) -> ContextLocation { target }
    @inline(__always) package func save<P: Platform>(_ p: P) -> ContextLocation? { save }
}
