/// The boot allocator checked against a set of free pages: random sequences of `addFree`,
/// `reserve`, `allocatePage` and `takeLowestPage` run on `BootAllocator` and on a plain
/// `Set<UInt64>` that says what each operation means (BootAllocator.swift's overview): a range
/// adds its whole pages (shrunk inward), a reservation removes every page it touches (widened
/// outward), `allocatePage` hands out the highest free page and `takeLowestPage` the lowest,
/// each page once, and both answer nil exactly when the set is empty.
///
/// After every operation the allocator's own accounts agree with the set: `freePages` is the
/// set's size, `allocated` the number of pages `allocatePage` handed out, and an empty range
/// added changes nothing. Ranges may overlap or touch (a firmware map's entries do): a page added
/// twice is free once, and ranges that meet are one range. Drained, the allocator is an empty set again: asked once more it gives
/// nothing, and a range added then gives exactly its pages. The sequences keep under the
/// allocator's capacity of ranges (at most 10 additions and 6 reservations, so at most 16
/// ranges), where the allocator promises to lose nothing; the capacity itself, 32 ranges (the
/// size of its range array), is checked once: the range past it is refused and the others kept.
///
/// A firmware map (`addFirmwareMap`) means: inside the window `[low, high)`, a page is free when
/// it lies wholly in a usable entry and no other entry touches it; an entry of length zero lists
/// no page, and an entry whose end passes 2^64 reaches the window's end. Random maps of up to 12
/// entries (zero-length, unaligned, wrapping, outside the window) are checked against that, and
/// one map with more non-usable entries than the allocator has slots, before its one usable entry:
/// entries that are not RAM take no slot.
import SprigABI
import SprigCore

/// See the file overview.
public enum BootAllocatorCheck {
    /// Findings of `sequences` random sequences from `seed`; empty when the allocator and the
    /// set agree everywhere.
    public static func run(sequences: Int = 300, seed: UInt64 = 1) -> [String] {
        var rng = SplitMix64(seed: seed)
        var out: [String] = []
        for n in 0..<sequences where out.isEmpty {
            out += sequence(&rng).map { "sequence \(n): \($0)" }
        }
        if out.isEmpty { out += capacity() }
        if out.isEmpty { out += firmwareMaps(seed: seed) }
        return out
    }

    static func sequence(_ rng: inout SplitMix64) -> [String] {
        let ps = AddressSpace.pageSize
        var allocator = BootAllocator()
        var free: Set<UInt64> = []
        var log: [String] = []
        func r(_ n: UInt64) -> UInt64 { rng.next() % n }
        // RAM ranges on a line of 64 pages, in a random order, with unaligned ends.
        var cuts = Set((0..<6).map { _ in r(63) + 1 }).sorted()
        cuts = [0] + cuts + [64]
        var ranges: [(UInt64, UInt64)] = []
        for k in 0..<(cuts.count - 1) where r(3) != 0 {
            let start = cuts[k] * ps + (r(2) == 0 ? 0 : r(ps)), end = cuts[k + 1] * ps - (r(2) == 0 ? 0 : r(ps))
            ranges.append((start, end))
        }
        // Up to three more that overlap or touch them, as a firmware map's entries may.
        for _ in 0..<Int(r(4)) {
            let start = r(60) * ps + (r(2) == 0 ? 0 : r(ps))
            ranges.append((start, start + r(12) * ps + (r(2) == 0 ? 0 : r(ps))))
        }
        for k in stride(from: ranges.count - 1, to: 0, by: -1) { ranges.swapAt(k, Int(r(UInt64(k) + 1))) }
        var handedOut: UInt64 = 0
        func accounts() -> String? {
            if allocator.freePages != UInt64(free.count) { return "freePages is \(allocator.freePages), \(free.count) pages are free" }
            if allocator.allocated != handedOut { return "allocated is \(allocator.allocated), \(handedOut) pages were handed out" }
            return nil
        }
        for (start, end) in ranges {
            allocator.addFree(start: start, end: end)
            log.append("addFree(\(start), \(end))")
            var p = (start + ps - 1) / ps * ps
            while p + ps <= end { free.insert(p); p += ps }
            // An empty range (aligned or not) adds nothing and takes no slot.
            let count = allocator.count
            allocator.addFree(start: end + ps, end: end + ps)
            allocator.addFree(start: end + 1, end: end + 2)
            if allocator.count != count { return ["after \(log.joined(separator: "; ")): an empty range took a slot"] }
        }
        if let wrong = accounts() { return ["after \(log.joined(separator: "; ")): \(wrong)"] }
        // Merged as they come, the ranges are the free pages' maximal runs: one slot each.
        let runs = free.filter { !free.contains($0 &- ps) }.count
        if allocator.count != runs { return ["after \(log.joined(separator: "; ")): \(allocator.count) ranges hold \(runs) runs of free pages"] }
        for _ in 0..<Int(r(7)) {
            switch r(3) {
            case 0:
                let start = r(64 * ps), end = start + r(8 * ps) + 1
                let emptyBefore = emptyRanges(allocator)
                allocator.reserve(start: start, end: end)
                log.append("reserve(\(start), \(end))")
                free = free.filter { $0 + ps <= start || $0 >= end }
                // A reservation removes pages; it leaves no empty range behind to take a slot.
                if emptyRanges(allocator) > emptyBefore { return ["after \(log.joined(separator: "; ")): an empty range takes a slot"] }
            case 1:
                let got = allocator.allocatePage()
                log.append("allocatePage() = \(got.map { String($0.raw) } ?? "nil")")
                if got?.raw != free.max() { return ["after \(log.joined(separator: "; ")): the highest free page is \(free.max().map(String.init) ?? "none")"] }
                if let g = got { free.remove(g.raw); handedOut += 1 }
            default:
                let got = allocator.takeLowestPage()
                log.append("takeLowestPage() = \(got.map { String($0.raw) } ?? "nil")")
                if got?.raw != free.min() { return ["after \(log.joined(separator: "; ")): the lowest free page is \(free.min().map(String.init) ?? "none")"] }
                if let g = got { free.remove(g.raw) }
            }
            if let wrong = accounts() { return ["after \(log.joined(separator: "; ")): \(wrong)"] }
        }
        // Drain it from both ends: each page once, then nil.
        var taken: [UInt64] = []
        var fromTop = true
        while let page = fromTop ? allocator.allocatePage() : allocator.takeLowestPage() {
            let want = fromTop ? free.max() : free.min()
            if page.raw != want { return ["after \(log.joined(separator: "; ")): drained \(page.raw), expected \(want.map(String.init) ?? "nothing")"] }
            free.remove(page.raw)
            if fromTop { handedOut += 1 }
            if let wrong = accounts() { return ["after \(log.joined(separator: "; ")) and draining \(taken.count + 1) pages: \(wrong)"] }
            taken.append(page.raw)
            fromTop.toggle()
            if taken.count > 64 { return ["after \(log.joined(separator: "; ")): more than 64 pages drained"] }
        }
        if !free.isEmpty { return ["after \(log.joined(separator: "; ")): the allocator ran dry with \(free.count) pages still free"] }
        // Empty, it stays empty when asked again, and a range added then is all it holds.
        if allocator.takeLowestPage() != nil || allocator.allocatePage() != nil { return ["after \(log.joined(separator: "; ")): a drained allocator gives a page"] }
        allocator.addFree(start: 3 * ps, end: 5 * ps)
        let again = [allocator.takeLowestPage()?.raw, allocator.allocatePage()?.raw, allocator.takeLowestPage()?.raw]
        if again != [3 * ps, 4 * ps, nil] {
            return ["after \(log.joined(separator: "; ")), draining it and adding [\(3 * ps), \(5 * ps)): it gives \(again), not [\(3 * ps), \(4 * ps), nil]"]
        }
        return []
    }

    static func emptyRanges(_ a: BootAllocator) -> Int { (0..<a.count).filter { a.range($0).pages == 0 }.count }

    /// The allocator keeps `BootAllocator.capacity` ranges; the next one is refused and the ones
    /// it has are all still there.
    static func capacity() -> [String] {
        let ps = AddressSpace.pageSize
        let capacity: UInt64 = 32
        var allocator = BootAllocator()
        for k in 0..<capacity {
            guard allocator.addFree(start: (2 * k + 1) * ps, end: (2 * k + 2) * ps) else { return ["range \(k) of \(capacity) refused"] }
        }
        if allocator.addFree(start: 1000 * ps, end: 1001 * ps) { return ["a range past the capacity of \(capacity) was taken"] }
        if !allocator.addFree(start: 2000 * ps + 1, end: 2001 * ps - 1) || !allocator.addFree(start: 3000 * ps, end: 3000 * ps) {
            return ["an empty range past the capacity was refused"]
        }
        var pages: [UInt64] = []
        while let p = allocator.takeLowestPage() { pages.append(p.raw) }
        let want = (0..<capacity).map { (2 * $0 + 1) * ps }
        return pages == want ? [] : ["a full allocator gives \(pages.count) pages, not the \(want.count) added"]
    }

    /// Findings of random firmware maps from `seed`, and of the map with more non-usable
    /// entries than slots; empty when `addFirmwareMap` frees exactly the pages the map says.
    static func firmwareMaps(seed: UInt64, maps: Int = 300) -> [String] {
        let ps = AddressSpace.pageSize
        var rng = SplitMix64(seed: seed ^ 0xF1F1)
        func r(_ n: UInt64) -> UInt64 { rng.next() % n }
        for n in 0..<maps {
            let low = r(4) * ps, high = (60 + r(5)) * ps
            var entries: [FirmwareEntry] = []
            for _ in 0..<(1 + Int(r(12))) {
                let base = r(70) * ps + (r(3) == 0 ? r(ps) : 0)
                let length: UInt64
                switch r(6) {
                case 0: length = 0
                case 1: length = UInt64.max - r(ps)  // wraps past 2^64
                default: length = r(16) * ps + (r(3) == 0 ? r(ps) : 0)
                }
                entries.append(FirmwareEntry(base: base, length: length, usable: r(3) != 0))
            }
            if let wrong = firmwareMap(entries, low: low, high: high) { return ["firmware map \(n): \(wrong)"] }
        }
        // Disjoint reserved entries, more than the allocator has slots, then one RAM entry.
        var entries = (0..<UInt64(BootAllocator.capacity + 8)).map { FirmwareEntry(base: (100 + 2 * $0) * ps, length: ps, usable: false) }
        entries.append(FirmwareEntry(base: 0, length: 10 * ps, usable: true))
        if let wrong = firmwareMap(entries, low: 0, high: 200 * ps) { return ["\(entries.count - 1) reserved entries before one RAM entry: \(wrong)"] }
        return []
    }

    /// What is wrong with the pages `addFirmwareMap` frees for `entries` in `[low, high)`, or nil.
    static func firmwareMap(_ entries: [FirmwareEntry], low: UInt64, high: UInt64) -> String? {
        let ps = AddressSpace.pageSize
        func end(_ e: FirmwareEntry) -> UInt64 { e.base &+ e.length < e.base ? UInt64.max : e.base + e.length }
        var want: Set<UInt64> = []
        var page = low
        while page + ps <= high {
            let ram = entries.contains { $0.usable && $0.base <= page && page + ps <= end($0) }
            let other = entries.contains { !$0.usable && $0.length > 0 && $0.base < page + ps && end($0) > page }
            if ram && !other { want.insert(page) }
            page += ps
        }
        var allocator = BootAllocator()
        allocator.addFirmwareMap(low: low, high: high) { entry in entries.forEach(entry) }
        var got: Set<UInt64> = []
        while let p = allocator.takeLowestPage() {
            got.insert(p.raw)
            if got.count > Int(high / ps) { break }
        }
        guard got != want else { return nil }
        let map = entries.map { "\($0.usable ? "ram" : "not ram") \($0.base)+\($0.length)" }.joined(separator: ", ")
        let extra = got.subtracting(want).sorted().prefix(4), missing = want.subtracting(got).sorted().prefix(4)
        return "window [\(low), \(high)), map \(map): frees \(got.count) pages, \(want.count) expected"
            + (extra.isEmpty ? "" : "; not free: \(Array(extra))") + (missing.isEmpty ? "" : "; missing: \(Array(missing))")
    }
}
