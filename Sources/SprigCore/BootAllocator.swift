/// The kernel's only allocator, used once, at boot, to build the root partition.
///
/// It holds the free physical page ranges (RAM from the firmware's map, minus every page the map
/// also lists as anything else, the kernel image, the boot modules and the first megabyte) and
/// hands out pages from the top of the highest range. After root is built every remaining free
/// page belongs to root and the allocator is never used again: from then on, every structure
/// page is given by a parent.
import SprigABI

package struct PageRange: Equatable, Sendable {
    /// First page (page-aligned physical address) and one past the last.
    package fileprivate(set) var start: UInt64
    package fileprivate(set) var end: UInt64
    @inlinable package init(start: UInt64, end: UInt64) { self.start = start; self.end = end }
    @inlinable package var pages: UInt64 { end > start ? (end - start) / AddressSpace.pageSize : 0 }
}

/// One entry of the firmware's memory map: `length` bytes from `base`, RAM when `usable`.
package struct FirmwareEntry: Sendable {
    package var base: UInt64
    package var length: UInt64
    package var usable: Bool
    @inlinable package init(base: UInt64, length: UInt64, usable: Bool) { self.base = base; self.length = length; self.usable = usable }
}

package struct BootAllocator {
    package static let capacity = 32
    private var ranges: InlineArray<32, PageRange> = .init(repeating: PageRange(start: 0, end: 0))
    package private(set) var count = 0
    /// Pages handed out so far (kernel structure pages and root's own pages).
    package private(set) var allocated: UInt64 = 0

    package init() {}

    /// Adds `[start, end)` as free, shrunk inward to whole pages, merged with every range it
    /// overlaps or touches: a firmware map may list a page in two entries, and a page is free
    /// once however often it is added. Returns false, adding nothing, when the merged range would
    /// take a slot past the capacity; an empty range adds nothing and returns true.
    @discardableResult
    package mutating func addFree(start: UInt64, end: UInt64) -> Bool {
        let mask = AddressSpace.pageSize - 1
        var s = (start &+ mask) & ~mask
        var e = end & ~mask
        guard e > s else { return true }
        var i = 0
        while i < count {
            let r = ranges[i]
            if r.start <= e && r.end >= s {
                s = min(s, r.start)
                e = max(e, r.end)
                removeRange(at: i)
            } else {
                i += 1
            }
        }
        guard count < Self.capacity else { return false }
        // Keep ranges sorted by start.
        i = count
        while i > 0 && ranges[i - 1].start > s {
            ranges[i] = ranges[i - 1]
            i -= 1
        }
        ranges[i] = PageRange(start: s, end: e)
        count += 1
        return true
    }

    /// Adds the firmware's memory map, clipped to `[low, high)`: every usable entry's whole pages
    /// free, then every other entry's pages taken out again, so that a page the map lists both
    /// as RAM and as anything else is not RAM (a map's entries may overlap). `entries` calls its
    /// argument once per entry, in the map's order; an entry whose end wraps past 2^64 reaches
    /// `high`.
    package mutating func addFirmwareMap(low: UInt64, high: UInt64, _ entries: ((FirmwareEntry) -> Void) -> Void) {
        func clipped(_ e: FirmwareEntry) -> (start: UInt64, end: UInt64) {
            let end = e.base &+ e.length
            return (max(e.base, low), end < e.base ? high : min(end, high))
        }
        entries { e in
            let r = clipped(e)
            if e.usable && r.end > r.start { addFree(start: r.start, end: r.end) }
        }
        entries { e in
            let r = clipped(e)
            if !e.usable && r.end > r.start { reserve(start: r.start, end: r.end) }
        }
    }

    /// Removes `[start, end)` (widened to whole pages) from the free ranges.
    package mutating func reserve(start: UInt64, end: UInt64) {
        let mask = AddressSpace.pageSize - 1
        let s = start & ~mask
        let e = (end &+ mask) & ~mask
        var i = 0
        while i < count {
            let r = ranges[i]
            if e <= r.start || s >= r.end { i += 1; continue }
            if s > r.start && e < r.end {
                // Split: keep the left part here, insert the right part.
                ranges[i] = PageRange(start: r.start, end: s)
                if !addFree(start: e, end: r.end) { return }
                i += 1
                continue
            }
            if s <= r.start && e >= r.end {
                removeRange(at: i)
                continue
            }
            if s <= r.start { ranges[i].start = e } else { ranges[i].end = s }
            i += 1
        }
    }

    private mutating func removeRange(at index: Int) {
        var j = index
        while j + 1 < count {
            ranges[j] = ranges[j + 1]
            j += 1
        }
        count -= 1
    }

    /// A free page from the top of the highest range, or nil when memory is exhausted.
    package mutating func allocatePage() -> PhysicalAddress? {
        while count > 0 {
            let top = count - 1
            if ranges[top].end > ranges[top].start {
                ranges[top].end -= AddressSpace.pageSize
                allocated += 1
                return PhysicalAddress(ranges[top].end)
            }
            count -= 1
        }
        return nil
    }

    /// Takes the lowest free page (used to hand root its window in ascending order while table
    /// pages come from the top), or nil when none is left.
    package mutating func takeLowestPage() -> PhysicalAddress? {
        while count > 0 {
            if ranges[0].end > ranges[0].start {
                let p = ranges[0].start
                ranges[0].start += AddressSpace.pageSize
                return PhysicalAddress(p)
            }
            removeRange(at: 0)
        }
        return nil
    }

    package var freePages: UInt64 {
        var n: UInt64 = 0
        var i = 0
        while i < count { n += ranges[i].pages; i += 1 }
        return n
    }

    package func range(_ i: Int) -> PageRange { ranges[i] }
}
