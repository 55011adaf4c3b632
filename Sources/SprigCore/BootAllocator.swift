/// The kernel's only allocator, used once, at boot, to build the root partition.
///
/// It holds the free physical page ranges (RAM from the firmware's map, minus the kernel image,
/// the boot modules and the first megabyte) and hands out pages from the top of the highest
/// range. After root is built every remaining free page belongs to root and the allocator is
/// never used again: from then on, every structure page is given by a parent.
import SprigABI

package struct PageRange: Equatable, Sendable {
    /// First page (page-aligned physical address) and one past the last.
    package fileprivate(set) var start: UInt64
    package fileprivate(set) var end: UInt64
    @inlinable package init(start: UInt64, end: UInt64) { self.start = start; self.end = end }
    @inlinable package var pages: UInt64 { end > start ? (end - start) / AddressSpace.pageSize : 0 }
}

package struct BootAllocator {
    package static let capacity = 32
    private var ranges: InlineArray<32, PageRange> = .init(repeating: PageRange(start: 0, end: 0))
    package private(set) var count = 0
    /// Pages handed out so far (kernel structure pages and root's own pages).
    package private(set) var allocated: UInt64 = 0

    package init() {}

    /// Adds `[start, end)` as free, shrunk inward to whole pages. Ranges beyond the capacity are
    /// dropped (returns false); overlapping ranges are the caller's error.
    @discardableResult
    package mutating func addFree(start: UInt64, end: UInt64) -> Bool {
        let mask = AddressSpace.pageSize - 1
        let s = (start &+ mask) & ~mask
        let e = end & ~mask
        guard e > s else { return true }
        guard count < Self.capacity else { return false }
        // Keep ranges sorted by start.
        var i = count
        while i > 0 && ranges[i - 1].start > s {
            ranges[i] = ranges[i - 1]
            i -= 1
        }
        ranges[i] = PageRange(start: s, end: e)
        count += 1
        return true
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
