/// Spectre v1 (bounds-check bypass): a partition-chosen index clamped before any load that
/// depends on it.
///
/// The CPU may run past a bounds check on a prediction and load at `table + index` with an
/// index the check refused, leaving a trace in the cache that ring 3 can time. Every
/// partition-chosen table index — the yield's target and save VIDT indices (an `int n` vector
/// and a fault's vector go through the same check), the service number before the service
/// table — passes through `clamp` after its check: the mask is computed without a branch, so
/// the value the loads use is in range on every path the CPU may speculate down, and equal to
/// the index on the architectural path (the model runs the same code and sees no difference).
/// The construction is Linux's `array_index_nospec`.
package enum Speculation {
    /// `index` when `index < size`, else 0, without a branch. `size` is at most 2⁶³.
    @inline(__always)
    package static func clamp(_ index: UInt64, below size: UInt64) -> UInt64 {
        // Adding a word the optimizer cannot see through (always 0) hides the caller's bounds
        // check from it: otherwise it proves the mask all ones and drops it, or (with an XOR)
        // keeps only part of it, letting indices with bit 63 set through. Both terms of
        // `spread` have bit 63 clear only when i < size.
        let i = index &+ speculationBarrier
        let spread = i | (size &- 1 &- i)
        let mask = UInt64(bitPattern: Int64(bitPattern: ~spread) &>> 63)
        return i & mask
    }

    /// `index` when `index < size`, for a `size` that is a power of two and an `index` the
    /// caller has already checked against it: the low bits of `index`, so in range on every path
    /// the CPU may speculate down, at an add and an AND (three instructions with the barrier's
    /// load, against `clamp`'s six). Unlike `clamp` it maps an index past the end onto some
    /// index in range, not onto 0, so it never replaces the bounds check (the yield's VIDT
    /// indices, which are checked first, use it).
    @inline(__always)
    package static func wrap(_ index: UInt64, belowPowerOfTwo size: UInt64) -> UInt64 {
        precondition(size != 0 && size & (size &- 1) == 0)
        // The barrier hides the caller's check from the optimizer, which would otherwise drop
        // the AND as it knows `index < size`.
        return (index &+ speculationBarrier) & (size &- 1)
    }
}

/// Always 0; a variable so that no compiler can fold `Speculation.clamp`'s mask away.
nonisolated(unsafe) package var speculationBarrier: UInt64 = 0
