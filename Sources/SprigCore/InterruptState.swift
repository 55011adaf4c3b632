/// `getIntState` / `setIntState`: Pip's virtual interrupt flag, VCLI (DESIGN.md §4, §6).
///
/// 0 means the partition accepts interrupts, 1 that it masked them. For a non-root partition the
/// flag only selects its save slot and which of its handlers may be entered (DESIGN.md §6).
import SprigABI

package enum InterruptState {
    /// The interrupt state of the child named `child`.
        /// - Postcondition: nothing changed; on success the state is 0 or 1.
    package static func getIntState<P: Platform>(
        _ p: P, caller: Descriptor, child name: UserAddress
    ) -> (status: Status, state: UInt64) {
        guard let child = Partition.child(p, caller: caller, named: name) else { return (.invalidChild, 0) }
        return (.success, child.interruptState(p).raw)
    }

    /// Sets the caller's own interrupt state to `state` (`InterruptFlags.enabled` or `.masked`).
        /// - Postcondition: on success the caller's state is `state`; on failure nothing changed.
    package static func setIntState<P: Platform>(_ p: P, caller: Descriptor, state unchecked: UncheckedInterruptState) -> Status {
        guard let state = unchecked.checked() else { return .invalidArgument }
        caller.setInterruptState(p, state)
        assert(caller.interruptState(p) == state)
        return .success
    }
}
