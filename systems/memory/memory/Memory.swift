/// The `memory` system's root: Pip's memory services end to end, from ring 3.
///
/// Root creates a child out of five of its pages, prepares the child's tables from a free list,
/// shares four pages with it, checks `mappedInChild`, takes them back, collects the empty
/// tables, deletes the child, and then writes and reads back every page it ever gave: a page the
/// kernel had not returned would fault here, and a fault in root stops the machine. Hostile
/// calls along the way must each be refused with their own status. Every step prints one line
/// `root: <step>: <status>`; the system powers off with 0 when every expectation held, 3 if not.
import SprigABI
import SprigUser

struct Checker {
    var out = Output()
    var failures: UInt64 = 0

    /// Prints `label: <status>` and counts a failure when it is not `expected`.
    mutating func expect(_ label: StaticString, _ r: CallResult, _ expected: Status) {
        out.write("root: ")
        out.write(label)
        out.write(": ")
        out.write(statusName(r.raw))
        if r.raw != expected.rawValue {
            out.write("  <-- FAILED, expected ")
            out.write(statusName(expected.rawValue))
            failures += 1
        }
        out.byte(10)
    }

    mutating func expectValue(_ label: StaticString, _ got: UInt64, _ expected: UInt64) {
        out.write("root: ")
        out.write(label)
        out.write(": ")
        out.hex(got)
        if got != expected {
            out.write("  <-- FAILED, expected ")
            out.hex(expected)
            failures += 1
        }
        out.byte(10)
    }
}


@_cdecl("sprig_partition_main")
func memoryMain(_ bootInfoAddress: UInt64) {
    var c = Checker()
    let info = BootInfo(address: bootInfoAddress)
    var pages = PageSource(largestRangeOf: info)
    let start = pages.next
    c.out.line("root: memory services from ring 3")
    let scanned: UInt64 = 256
    let freeBefore = freePages(from: start, count: scanned)

    // createPartition: five distinct pages become the child's descriptor, PML4, shadows, list.
    let desc = pages.take(), pml4 = pages.take(), sh1 = pages.take(), sh2 = pages.take(), list = pages.take()
    c.expect("createPartition with a page twice", Sprig.call(.createPartition, desc, pml4, sh1, sh1, list), .duplicatePage)
    c.expect("createPartition with a kernel-half page", Sprig.call(.createPartition, desc, pml4, sh1, sh2, 0xFFFF_8000_0000_0000), .kernelHalfAddress)
    c.expect("createPartition with a non-canonical page", Sprig.call(.createPartition, desc, pml4, 0x0000_8000_0000_0000, sh2, list), .nonCanonicalAddress)
    c.expect("createPartition with a misaligned page", Sprig.call(.createPartition, desc + 8, pml4, sh1, sh2, list), .misalignedAddress)
    c.expect("createPartition with an unmapped page", Sprig.call(.createPartition, desc, pml4, sh1, sh2, 0x7000_0000_0000), .addressNotMapped)
    c.expect("createPartition", Sprig.call(.createPartition, desc, pml4, sh1, sh2, list), .success)
    c.expect("createPartition reusing the child's descriptor", Sprig.call(.createPartition, pages.take(), desc, sh1, sh2, list), .pageNotAccessible)

    // prepare: the pages countToMap asks for, as a linked free list.
    let childVA = AddressSpace.imageBase
    let count = Sprig.call(.countToMap, desc, childVA)
    c.expect("countToMap", count, .success)
    c.out.write("root: countToMap says ")
    c.out.decimal(count.value)
    c.out.line(" pages")
    c.expect("countToMap for a non-child", Sprig.call(.countToMap, pml4 + 0x10_0000, childVA), .invalidChild)
    let head = pages.freeList(count.value)
    var k: UInt64 = 0
    let loop = pages.take()
    word(loop).pointee = loop
    c.expect("prepare with a looping free list", Sprig.call(.prepare, desc, childVA, loop), .freeListLoops)
    let short = pages.take()
    word(short).pointee = 0
    if count.value > 1 {
        c.expect("prepare with a short free list", Sprig.call(.prepare, desc, childVA, short), .freeListTooShort)
    }
    c.expect("prepare", Sprig.call(.prepare, desc, childVA, head), .success)
    c.expect("countToMap after prepare", Sprig.call(.countToMap, desc, childVA), .success)

    // addVAddr: share four pages read/write; rights beyond root's own are refused.
    var shared: InlineArray<4, UInt64> = .init(repeating: 0)
    k = 0
    while k < 4 {
        shared[Int(k)] = pages.take()
        word(shared[Int(k)]).pointee = 0x5EED_0000 + k
        k += 1
    }
    c.expect("addVAddr with execute (root's window is no-exec)", Sprig.call(.addVAddr, shared[0], desc, childVA, Rights.all), .rightsExceedCaller)
    // Root's own image page is executable: code on the child's VIDT page is still refused.
    c.expect("addVAddr with execute at the child's VIDT address", Sprig.call(.addVAddr, AddressSpace.imageBase, desc, AddressSpace.vidt, Rights.all), .executeAtVIDT)
    c.expect("addVAddr with unknown rights bits", Sprig.call(.addVAddr, shared[0], desc, childVA, 0x10 | Rights.read), .invalidArgument)
    c.expect("addVAddr into a non-child", Sprig.call(.addVAddr, shared[0], shared[1], childVA, Rights.read), .invalidChild)
    k = 0
    while k < 4 {
        c.expect("addVAddr", Sprig.call(.addVAddr, shared[Int(k)], desc, childVA + k * AddressSpace.pageSize, Rights.read | Rights.write), .success)
        k += 1
    }
    c.expect("addVAddr of a page already given", Sprig.call(.addVAddr, shared[0], desc, childVA + 8 * AddressSpace.pageSize, Rights.read), .pageAlreadyGiven)
    k = 0
    while k < 4 {
        let m = Sprig.call(.mappedInChild, shared[Int(k)])
        c.expect("mappedInChild", m, .success)
        c.expectValue("mappedInChild names the child", m.value, desc)
        k += 1
    }

    // Take everything back.
    k = 0
    while k < 4 {
        c.expect("removeVAddr", Sprig.call(.removeVAddr, desc, childVA + k * AddressSpace.pageSize), .success)
        c.expectValue("mappedInChild after removeVAddr", Sprig.call(.mappedInChild, shared[Int(k)]).value, 0)
        k += 1
    }
    c.expect("removeVAddr of an unmapped child page", Sprig.call(.removeVAddr, desc, childVA), .addressNotMapped)
    let collected = Sprig.call(.collect, desc, childVA)
    c.expect("collect", collected, .success)
    c.out.write("root: collect gave back ")
    c.out.decimal(collected.value)
    c.out.line(" pages")
    c.expect("deletePartition", Sprig.call(.deletePartition, desc), .success)
    c.expect("deletePartition twice", Sprig.call(.deletePartition, desc), .invalidChild)
    c.expect("countToMap on the deleted child", Sprig.call(.countToMap, desc, childVA), .invalidChild)
    c.expect("an unknown service", Sprig.callRaw(0x999), .unknownService)

    // Every page root handed out must be root's again: not given, readable and writable.
    precondition(pages.next <= start + scanned * AddressSpace.pageSize, "the demo used more than the scanned pages")
    let freeAfter = freePages(from: start, count: scanned)
    c.out.write("root: free pages among the first ")
    c.out.decimal(scanned)
    c.out.write(" of the range: before ")
    c.out.decimal(freeBefore)
    c.out.write(", after ")
    c.out.decimal(freeAfter)
    c.out.byte(10)
    c.expectValue("free pages after == before", freeAfter, freeBefore)
    c.out.write("root: memory services done, ")
    c.out.decimal(c.failures)
    c.out.line(" failures")
    Sprig.powerOff(c.failures == 0 ? 0 : 3)
}
