/// Unit tests of SprigCore's boot-time pieces: the boot allocator and hostile-address checks.
import SprigABI
import SprigModel
import Testing
@testable import SprigCore

@Suite("Boot allocator")
struct BootAllocatorTests {
    @Test("free ranges shrink inward to whole pages and reservations split them")
    func reserveSplits() {
        var a = BootAllocator()
        a.addFree(start: 0x1_0010, end: 0x9_0000)  // 0x1_1000 … 0x9_0000 after rounding: 127 pages
        #expect(a.freePages == 127)
        a.reserve(start: 0x4_0000, end: 0x4_0001)  // one page, widened outward
        #expect(a.freePages == 126)
        #expect(a.count == 2)
        a.reserve(start: 0, end: 0x2_1000)  // the 16 pages 0x1_1000 … 0x2_1000
        #expect(a.freePages == 110)
        a.reserve(start: 0x8_0000, end: 0x10_0000)  // the last 16 pages
        #expect(a.freePages == 94)
    }

    @Test("pages come from the top, the window from the bottom, and never twice")
    func topAndBottom() {
        var a = BootAllocator()
        a.addFree(start: 0x10_0000, end: 0x10_4000)
        a.addFree(start: 0x20_0000, end: 0x20_2000)
        let top = a.allocatePage()
        let bottom = a.takeLowestPage()
        #expect(top == PhysicalAddress(0x20_1000))
        #expect(bottom == PhysicalAddress(0x10_0000))
        var seen: Set<UInt64> = [0x20_1000, 0x10_0000]
        while let p = a.allocatePage() {
            #expect(!seen.contains(p.raw))
            seen.insert(p.raw)
        }
        #expect(seen.count == 6)
        #expect(a.freePages == 0)
        let none = a.takeLowestPage()
        #expect(none == nil)
    }

    @Test("ranges past the capacity are refused, not overflowed")
    func capacity() {
        var a = BootAllocator()
        for i in 0..<BootAllocator.capacity {
            let added = a.addFree(start: UInt64(i) * 0x10_0000, end: UInt64(i) * 0x10_0000 + 0x1000)
            #expect(added)
        }
        let overflow = a.addFree(start: 0x1_0000_0000, end: 0x1_0000_1000)
        #expect(!overflow)
        #expect(a.freePages == UInt64(BootAllocator.capacity))
    }
}

@Suite("Hostile addresses")
struct UserAddressTests {
    @Test("checkedPage names what is wrong with an address", arguments: [
        (UInt64(0x0000_8000_0000_0000), Status.nonCanonicalAddress),
        (0xFFFF_8000_0000_0000, .kernelHalfAddress),
        (0x0000_0000_0040_0008, .misalignedAddress),
        (0x1234_5678_9ABC_D000, .nonCanonicalAddress),
    ])
    func refused(raw: UInt64, status: Status) {
        guard case .failure(let s) = Result(catching: { () throws(Status) in try UserAddress(raw).checkedPage() }) else {
            Issue.record("0x\(String(raw, radix: 16)) was accepted")
            return
        }
        #expect(s == status)
    }

    @Test("a canonical, aligned lower-half address is accepted")
    func accepted() {
        #expect(Result { () throws(Status) in try UserAddress(0x0000_7FFF_FFFF_F000).checkedPage() } == .success(VirtualAddress(0x0000_7FFF_FFFF_F000)))
    }
}

@Suite("MMU walk")
struct PageTableWalkTests {
    @Test("a user access needs U at every level; a write needs W at every level")
    func rightsAtEveryLevel() {
        let m = SimulatedMemory(pages: 16)
        let pml4 = PhysicalAddress(0)
        let va = VirtualAddress(0x40_0000)
        // PML4 → PDPT at page 1 → PD at page 2 → PT at page 3 → the frame at 0xF000, read-only.
        var table = pml4
        for level in stride(from: 4, to: 1, by: -1) {
            let next = PhysicalAddress(UInt64(5 - level) * 4096)
            m.store(PageTableWalk.entryAddress(table: table, va: va, level: level),
                    PageTableEntry(frame: next, flags: PageTableEntry.tableFlags).raw)
            table = next
        }
        m.store(PageTableWalk.entryAddress(table: table, va: va, level: 1),
                PageTableEntry(frame: PhysicalAddress(0xF000), flags: PageTableEntry.leafFlags(rights: PageRights(kernel: Rights.read))).raw)
        #expect(Result { () throws(Status) in try PageTableWalk.userTranslate(m, rootTable: pml4, va: va.adding(8), write: false) } == .success(PhysicalAddress(0xF008)))
        #expect(Result { () throws(Status) in try PageTableWalk.userTranslate(m, rootTable: pml4, va: va, write: true) } == .failure(.pageNotAccessible))
        #expect(Result { () throws(Status) in try PageTableWalk.userTranslate(m, rootTable: pml4, va: va.adding(0x1000), write: false) } == .failure(.addressNotMapped))
        // Clear U on the PML4 entry: the page is no longer reachable from ring 3.
        let e = m.load(pml4)
        m.store(pml4, e & ~PageTableEntry.user)
        #expect(Result { () throws(Status) in try PageTableWalk.userTranslate(m, rootTable: pml4, va: va, write: false) } == .failure(.pageNotAccessible))
        #expect(PageTableWalk.checkUserRange(m, rootTable: pml4, start: UserAddress(va.raw), length: 8, write: false) == .pageNotAccessible)
        #expect(PageTableWalk.checkUserRange(m, rootTable: pml4, start: UserAddress(va.raw), length: 0, write: false) == .invalidArgument)
        #expect(PageTableWalk.checkUserRange(m, rootTable: pml4, start: UserAddress(0x7FFF_FFFF_FFF8), length: 16, write: false) == .rangeNotAccessible)
    }
}
