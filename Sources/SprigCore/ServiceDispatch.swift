/// From a service number and five raw registers to a service (DESIGN.md §4, `Service`).
///
/// Every argument is a raw `UInt64` from ring 3; addresses are wrapped as `UserAddress` (hostile
/// until a service checks them). Services this dispatcher does not own — `yield` and the
/// root-only ones — answer `unknownService` here; the kernel's syscall path routes them first.
import SprigABI

package enum Kernel {
    /// Runs service `service` for the partition whose descriptor is `caller`.
    /// - Returns: the status and the second result (count, next link, child name, state), 0 when
    ///   the service has none or failed.
    /// - Postcondition: no translation or yield cache entry filled before a structure write
    ///   the service made hits (every such write advanced the cache generation: `Structures`).
    package static func dispatch<P: Platform>(
        _ p: P, caller: Descriptor, service: UInt64,
        _ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64, _ a4: UInt64
    ) -> (status: Status, value: UInt64) {
        guard let s = Service(rawValue: Speculation.clamp(service, below: Service.numberLimit)) else { return (.unknownService, 0) }
        return run(p, caller: caller, service: s, a0, a1, a2, a3, a4)
    }

    private static func run<P: Platform>(
        _ p: P, caller: Descriptor, service s: Service,
        _ a0: UInt64, _ a1: UInt64, _ a2: UInt64, _ a3: UInt64, _ a4: UInt64
    ) -> (status: Status, value: UInt64) {
        let u = UserAddress.init
        switch s {
        case .createPartition:
            return (CreatePartition.createPartition(
                p, caller: caller, descriptor: u(a0), rootTable: u(a1), shadow1: u(a2), shadow2: u(a3), configList: u(a4)), 0)
        case .countToMap:
            let r = Prepare.countToMap(p, caller: caller, child: u(a0), vaChild: u(a1))
            return (r.status, r.count)
        case .prepare:
            let r = Prepare.prepare(p, caller: caller, child: u(a0), vaChild: u(a1), freeList: u(a2))
            return (r.status, r.next)
        case .addVAddr:
            return (Sharing.addVAddr(p, caller: caller, vaParent: u(a0), child: u(a1), vaChild: u(a2), rights: UncheckedRights(a3)), 0)
        case .removeVAddr:
            return (Sharing.removeVAddr(p, caller: caller, child: u(a0), vaChild: u(a1)), 0)
        case .mappedInChild:
            let r = Sharing.mappedInChild(p, caller: caller, vaParent: u(a0))
            return (r.status, r.child)
        case .deletePartition:
            return (Reclaim.deletePartition(p, caller: caller, child: u(a0)), 0)
        case .collect:
            let r = Reclaim.collect(p, caller: caller, child: u(a0), vaChild: u(a1))
            return (r.status, r.count)
        case .getIntState:
            let r = InterruptState.getIntState(p, caller: caller, child: u(a0))
            return (r.status, r.state)
        case .setIntState:
            return (InterruptState.setIntState(p, caller: caller, state: UncheckedInterruptState(a0)), 0)
        case .yield, .consoleWrite, .powerOff, .setTimer, .consoleRead, .setConsoleInterrupt:
            // Not memory services: the table routes them before the dispatcher (`Service.route`).
            // Listed rather than `default`, which costs yield and every service 1–2 guest
            // instructions (`sprig bench`); `ServiceTableTests` holds this list to the table.
            return (.unknownService, 0)
        }
    }
}
