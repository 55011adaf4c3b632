/// Where interrupts, faults and software interrupts go (DESIGN.md §6).
///
/// The x86 trap handler calls one entry function per kind of event, for a partition trapped in
/// ring 3 (faults of the kernel itself never come here), and acts on the `Outcome`:
///
/// * `hardwareInterrupt` — root at `VIDT[vector]`. The interrupted partition's context is saved
///   in its *own* VIDT at `VIDTIndex.cliSave` or `stiSave` (by its interrupt state); root is
///   told who was interrupted, named as root names it (see `Delivery`). Only root's interrupt
///   state masks hardware interrupts: if root masked the vector, or has no usable handler for
///   it, the interrupt is dropped and the interrupted partition resumes untouched (`.resumed`).
///   For a child of root this is exactly `yield(0, vector, its CLI/STI slot)`'s plan, which the
///   yield cache keeps (`childOfRootPlan`): a repeated tick walks nothing.
/// * `exception` — the faulting partition's parent at `VIDT[vector]`, the faulting context saved
///   at the faulting partition's CLI/STI slot (its memory, so its parent can read it), the
///   parent told which child, the error code and CR2. A parent that cannot take it (no VIDT, no
///   usable context at that index) gets nothing; its own parent gets a double fault
///   (`VIDTIndex.doubleFault`) naming it instead, and so on up the tree; root, which has no
///   parent, gets the double fault about the partition it could not take the fault for at its own
///   `VIDT[8]`. A fault in root, or one that nobody up to root can take, is `.kernelCrash`: the
///   platform prints the crash report (the faulting partition as root names it, vector, error
///   code, trapped registers) and stops. Exception vectors are never masked.
/// * `softwareInterrupt` — `int n` that is not a service: exactly `yield(0, n, cli/sti slot,
///   state, state)` of the caller, plus the delivery registers for the parent. A refusal is
///   returned like a service's status (rax); nothing changed.
///
/// Every dereference goes through `ContextCheck`, as in yield: a handler context is one the
/// receiver can read from ring 3, a save slot one the saved partition can write. The kernel
/// keeps no state per event: a child faulting in a loop costs the same each time and grows
/// nothing. Every walk up the tree is bounded by the starting partition's depth.
import SprigABI

package enum InterruptRouting {
    /// What the trap handler does next.
    package enum Outcome: Equatable, Sendable {
        /// The receiver's handler is loaded (and the receiver current): return to ring 3.
        case delivered
        /// Nobody took it; nothing changed: return to the interrupted partition as it was.
        case resumed
        /// Print the kernel crash report from the trapped state and stop the machine.
        case kernelCrash
    }

    /// A hardware interrupt `vector` (32…255, or `VIDTIndex.nmi`) arrived while the current
    /// partition ran. An NMI goes to root's `VIDT[2]` like an IRQ; root's VCLI does not mask it
    /// (`VIDTIndex.isMasked` is false below 32).
    /// - Precondition: `vector` is an interrupt vector the platform routes to partitions.
    /// - Postcondition: `.delivered` — root's handler for `vector` loaded with the delivery
    ///   registers, the interrupted context saved in its own VIDT or dropped (r8 says which);
    ///   `.resumed` — nothing changed.
    @inline(__always)
    package static func hardwareInterrupt<P: CPUPlatform>(_ p: P, vector: UInt64) -> Outcome {
        assert(vector == VIDTIndex.nmi || vector >= VIDTIndex.firstInterrupt && vector < VIDTIndex.endInterrupts)
        let interrupted = p.currentPartition
        let root = p.rootPartition
        let state = interrupted.interruptState(p)
        let slot = VIDTSlot(kernel: VIDTIndex.saveSlot(state: state.raw))
        if let plan = childOfRootPlan(p, interrupted, root: root, vector: VIDTSlot(kernel: vector), slot: slot) {
            // The fastpath: the plan's target is what `handler` would find at root's
            // VIDT[vector], its save slot what `saveInterrupted` would use (and nil exactly
            // when that would save nothing); root names its child by the descriptor's vaddr.
            guard !VIDTIndex.isMasked(vector, state: root.interruptState(p).raw) else { return .resumed }
            var savedAt = Delivery.notSaved
            if let location = plan.save {
                p.saveCPUState(to: location, flags: state.raw, returnValue: nil)
                savedAt = slot.index
            }
            Yield.enter(p, root, rootTable: plan.calleeRootTable, at: plan.target, delivery: DeliveryInfo(
                source: interrupted.vaddrInParent(p), vector: vector, errorCode: 0, faultAddress: 0,
                savedAt: savedAt))
            return .delivered
        }
        let rootsTable = root.rootTable(p)
        // Root must have a handler it can read, and not have masked the vector.
        guard let target = handler(p, root, rootTable: rootsTable, index: VIDTSlot(kernel: vector)) else { return .resumed }
        let savedAt = saveInterrupted(p, interrupted, avoiding: target)
        let source = name(p, interrupted, in: root)
        Yield.enter(p, root, rootTable: rootsTable, at: target, delivery: DeliveryInfo(
            source: source, vector: vector, errorCode: 0, faultAddress: 0, savedAt: savedAt))
        return .delivered
    }

    /// The current partition took CPU exception `vector` (0…31) in ring 3.
    /// - Postcondition: `.delivered` — the nearest ancestor able to take it is entered (the
    ///   parent at `VIDT[vector]`, else a double fault higher up, root's `VIDT[8]` last) and the
    ///   faulting context is saved in the faulting partition's VIDT when the handler entered is
    ///   told about it (the parent's, or root's `VIDT[8]` for a child of root);
    ///   `.kernelCrash` — nothing changed.
    package static func exception<P: CPUPlatform>(
        _ p: P, vector: UInt64, errorCode: UInt64, faultAddress: UInt64
    ) -> Outcome {
        assert(vector < VIDTIndex.firstInterrupt)
        let faulting = p.currentPartition
        // A fault in root: nobody above to tell.
        guard var receiver = faulting.parent(p) else { return .kernelCrash }
        var source = faulting
        var index = vector
        // One step per ancestor, and one more for root's own VIDT[8].
        var steps = faulting.depth(p) + 1
        while steps > 0 {
            let rootTable = receiver.rootTable(p)
            if let target = handler(p, receiver, rootTable: rootTable, index: VIDTSlot(kernel: index)) {
                // The faulting context is saved only when the faulting partition is the one
                // named (a double fault's source higher up was not running); the error code
                // and CR2 go with the fault itself, not with a double fault.
                let saved = source == faulting
                let first = saved && index == vector
                let savedAt = saved ? saveInterrupted(p, faulting, avoiding: target) : Delivery.notSaved
                Yield.enter(p, receiver, rootTable: rootTable, at: target, delivery: DeliveryInfo(
                    source: source.vaddrInParent(p), vector: index,
                    errorCode: first ? errorCode : 0, faultAddress: first ? faultAddress : 0, savedAt: savedAt))
                return .delivered
            }
            if let up = receiver.parent(p) {
                // The receiver cannot take it: a double fault about it goes to its parent.
                source = receiver
                receiver = up
            } else if index == VIDTIndex.doubleFault {
                return .kernelCrash
            }
            // Root cannot take it at VIDT[vector]: a double fault about the same source at its
            // own VIDT[8], the last chance before the crash report.
            index = VIDTIndex.doubleFault
            steps -= 1
        }
        return .kernelCrash
    }

    /// `int vector` from the current partition, `vector` not the service gate.
    /// - Returns: `.success` when the parent's handler is loaded (the caller's context saved
    ///   at its CLI/STI slot with rax = 0, or dropped if that entry is 0), else yield's status
    ///   for `yield(0, vector, slot, state, state)` and nothing changed.
    package static func softwareInterrupt<P: CPUPlatform>(_ p: P, vector: UncheckedVIDTIndex) -> Status {
        let caller = p.currentPartition
        let state = caller.interruptState(p)
        let slot = VIDTIndex.saveSlot(state: state.raw)
        do throws(Status) {
            let plan = try Yield.check(p, callee: UserAddress(0), targetInterrupt: vector, saveIndex: UncheckedVIDTIndex(slot))
            Yield.commit(p, plan, callerFlags: state, wakeFlags: state, delivery: DeliveryInfo(
                source: caller.vaddrInParent(p), vector: vector.raw, errorCode: 0,
                faultAddress: 0, savedAt: plan.save == nil ? Delivery.notSaved : slot))
            return .success
        } catch {
            return error
        }
    }

    // MARK: Shared steps

    /// For a child of root, the plan of `yield(0, vector, slot)` from `interrupted` (its CLI/STI
    /// slot): from the yield cache, else from yield's checks 3–8, then kept there. Checks 6 and 7
    /// on root's VIDT[vector] are `handler`'s, checks 5 and 8 on the slot `saveInterrupted`'s
    /// (off the target too), and a save entry of 0 gives no save slot, as there. nil for root
    /// itself, a deeper partition, or any refusal: the general path decides those.
    @inline(__always)
    static func childOfRootPlan<P: CPUPlatform>(
        _ p: P, _ interrupted: Descriptor, root: Descriptor, vector: VIDTSlot, slot: VIDTSlot
    ) -> Yield.Plan? {
        if let kept = YieldCache.lookup(p, caller: interrupted, calleeName: 0, targetInterrupt: vector, saveIndex: slot) {
            return kept.callee == root ? kept : nil
        }
        return resolveChildOfRootPlan(p, interrupted, root: root, vector: vector, slot: slot)
    }

    /// `childOfRootPlan`'s miss: checks 3–8, and the plan kept when they pass. Out of line: the
    /// first tick after a table change takes it, and inlined it made every tick's hit dearer.
    @inline(never)
    static func resolveChildOfRootPlan<P: CPUPlatform>(
        _ p: P, _ interrupted: Descriptor, root: Descriptor, vector: VIDTSlot, slot: VIDTSlot
    ) -> Yield.Plan? {
        guard interrupted != root,
              let plan = try? Yield.resolve(p, caller: interrupted, callee: UserAddress(0), targetInterrupt: vector, saveIndex: slot),
              plan.callee == root
        else { return nil }
        YieldCache.fill(p, plan, calleeName: 0, targetInterrupt: vector, saveIndex: slot)
        return plan
    }

    /// `receiver`'s handler context at `index`, if its VIDT and that context pass yield's
    /// checks 6 and 7 and the index is not masked (check 9).
    static func handler<P: CPUPlatform>(
        _ p: P, _ receiver: Descriptor, rootTable: RootTable, index: VIDTSlot
    ) -> ContextLocation? {
        guard let vidt = ContextCheck.vidtPage(p, descriptor: receiver, rootTable: rootTable),
              let target = ContextCheck.locate(
                p, descriptor: receiver, rootTable: rootTable, va: ContextCheck.entry(p, vidt: vidt, index: index),
                write: false, vidt: vidt),
              !VIDTIndex.isMasked(index.index, state: receiver.interruptState(p).raw)
        else { return nil }
        return target
    }

    /// Saves the trapped state of `partition` (the current one) at its CLI/STI slot, as yield
    /// check 8 would accept it and not over `target`, keeping its rax and interrupt state.
    /// - Returns: the slot, or `Delivery.notSaved` (then nothing was written).
    static func saveInterrupted<P: CPUPlatform>(
        _ p: P, _ partition: Descriptor, avoiding target: ContextLocation
    ) -> UInt64 {
        let rootTable = partition.rootTable(p)
        let state = partition.interruptState(p)
        let slot = VIDTIndex.saveSlot(state: state.raw)
        guard let vidt = ContextCheck.vidtPage(p, descriptor: partition, rootTable: rootTable),
              let location = ContextCheck.locate(
                p, descriptor: partition, rootTable: rootTable, va: ContextCheck.entry(p, vidt: vidt, index: VIDTSlot(kernel: slot)),
                write: true, vidt: vidt),
              !location.overlaps(target)
        else { return Delivery.notSaved }
        p.saveCPUState(to: location, flags: state.raw, returnValue: nil)
        return slot
    }

    /// How `ancestor` names `partition`: its descriptor's vaddr in `ancestor`'s space, found by
    /// following each intermediate partition's shadow 2 (vaddr in parent) up the tree; 0 when
    /// `partition` is `ancestor`.
    /// - Precondition: `ancestor` is `partition` or one of its ancestors.
    package static func name<P: Platform>(_ p: P, _ partition: Descriptor, in ancestor: Descriptor) -> UInt64 {
        guard partition != ancestor, var holder = partition.parent(p) else { return 0 }
        var vaddr = partition.vaddrInParent(p)
        var steps = partition.depth(p)
        while holder != ancestor, steps > 0 {
            // The page at `vaddr` in `holder` is a page of holder's parent too, at sh2's vaddr.
            guard let slots = Shadow.leafSlots(p, descriptor: holder, va: VirtualAddress(vaddr)),
                  let up = holder.parent(p)
            else { break }
            vaddr = p.load(slots.sh2At)
            holder = up
            steps -= 1
        }
        assert(holder == ancestor, "partition is not below ancestor, or the tree is inconsistent")
        return vaddr
    }
}
