/// The values ring 3 hands the kernel besides addresses, each in a type that says it is unchecked.
///
/// A partition chooses every argument register of a service, the vector of its `int n`, every
/// VIDT entry and every word of a context in its memory. None of them proves anything: an
/// `Unchecked…` value is an *allegation* (Hubris's `USlice`, Muen's `Unchecked_*` types), and
/// the only way to the checked type the kernel acts on is the one function that checks it. The
/// checked types have no public initializer, so a value the kernel acts on was either checked
/// here or computed by the kernel itself (`init(kernel:)`, internal to SprigCore). Addresses are
/// `UserAddress` → `VirtualAddress` (Address.swift); a VIDT entry becomes a `ContextLocation`
/// only through `ContextCheck.locate`.
import SprigABI

/// A VIDT index a partition passed: yield's target or save index, or an `int n` vector.
package struct UncheckedVIDTIndex: Equatable, Sendable {
    package let raw: UInt64
    @inlinable package init(_ raw: UInt64) { self.raw = raw }

    /// Below `VIDTIndex.count` (yield checks 1 and 2), and in range on every path the CPU may
    /// speculate down too (Spectre v1: the VIDT has a power-of-two number of entries).
    @inline(__always) package func checked() -> VIDTSlot? {
        guard raw < VIDTIndex.count else { return nil }
        return VIDTSlot(checked: Speculation.wrap(raw, belowPowerOfTwo: VIDTIndex.count))
    }
}

/// An index into a VIDT, below `VIDTIndex.count`.
package struct VIDTSlot: Equatable, Sendable {
    package let index: UInt64
    @usableFromInline init(checked index: UInt64) { self.index = index }
    /// An index the kernel chose (a fault's vector, a CLI/STI save slot, `VIDTIndex.main`).
    @inlinable package init(kernel index: UInt64) {
        assert(index < VIDTIndex.count)
        self.index = index
    }
    /// The context root boots from (`VIDTIndex.main`).
    package static let main = VIDTSlot(checked: VIDTIndex.main)
}

/// A virtual interrupt state a partition passed (yield's `flagsOnYield`/`flagsOnWake`,
/// `setIntState`'s argument) or left in a context's `ContextLayout.flags` word.
package struct UncheckedInterruptState: Equatable, Sendable {
    package let raw: UInt64
    @inlinable package init(_ raw: UInt64) { self.raw = raw }

    /// yield's and a context's rule: 0 is enabled, any other value masked.
    @inlinable package var normalized: VirtualInterruptState {
        VirtualInterruptState(checked: InterruptFlags.normalized(raw))
    }

    /// setIntState's rule: exactly `InterruptFlags.enabled` or `InterruptFlags.masked`, else nil
    /// (`Status.invalidArgument`).
    @inlinable package func checked() -> VirtualInterruptState? {
        raw <= InterruptFlags.masked ? VirtualInterruptState(checked: raw) : nil
    }
}

/// A partition's virtual interrupt state as the kernel stores it: `InterruptFlags.enabled` (0)
/// or `InterruptFlags.masked` (1), nothing else.
package struct VirtualInterruptState: Equatable, Sendable {
    package let raw: UInt64
    @usableFromInline init(checked raw: UInt64) { self.raw = raw }
    package static let enabled = VirtualInterruptState(checked: InterruptFlags.enabled)
    package static let masked = VirtualInterruptState(checked: InterruptFlags.masked)
    @inlinable package var isEnabled: Bool { raw == InterruptFlags.enabled }
}

/// The rights argument of `addVAddr`.
package struct UncheckedRights: Equatable, Sendable {
    package let raw: UInt64
    @inlinable package init(_ raw: UInt64) { self.raw = raw }

    /// Only `Rights` bits, and `Rights.read` among them; else nil (`Status.invalidArgument`).
    @inlinable package func checked() -> PageRights? {
        guard raw & ~Rights.all == 0, raw & Rights.read != 0 else { return nil }
        return PageRights(checked: raw)
    }
}

/// Rights of a page mapping: `Rights.read` plus any of `write` and `execute`.
package struct PageRights: Equatable, Sendable {
    package let raw: UInt64
    @usableFromInline init(checked raw: UInt64) { self.raw = raw }
    /// Rights the kernel chose (the pages of root at boot, a test's mapping).
    @inlinable package init(kernel raw: UInt64) {
        assert(raw & ~Rights.all == 0 && raw & Rights.read != 0)
        self.raw = raw
    }
    @inlinable package var write: Bool { raw & Rights.write != 0 }
    @inlinable package var execute: Bool { raw & Rights.execute != 0 }
    package static let all = PageRights(checked: Rights.all)
}

/// A VIDT entry as read from a partition's VIDT page: the vaddr, in that partition, of a
/// context, or 0. `ContextCheck.locate` is the one check that turns it into a `ContextLocation`.
package struct UncheckedContextAddress: Equatable, Sendable {
    package let raw: UInt64
    @inlinable package init(_ raw: UInt64) { self.raw = raw }
    /// 0: no context there (a target refused by check 7; a save slot that drops the context).
    @inlinable var isNone: Bool { raw == 0 }
}
