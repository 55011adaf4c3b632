/// Boot test of Pip's memory services on the real kernel: the `memory` system's root
/// drives every service from ring 3 and checks that every page came back.
import Foundation
import SprigABI
import SprigTool
import Testing

@Suite("Memory services on the booted kernel")
struct MemoryBootTests {
    @Test("root creates, prepares, maps, checks, unmaps, collects and deletes a child; every page comes back")
    func memorySystem() throws {
        let r = try Boot.run("memory")
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(!r.output.contains("FAILED"), "\(r.output)")
        #expect(r.output.contains("root: memory services done, 0 failures"))
        // The steps, in order.
        let steps = [
            "root: createPartition: success",
            "root: prepare: success",
            "root: addVAddr: success",
            "root: mappedInChild names the child",
            "root: removeVAddr: success",
            "root: collect: success",
            "root: deletePartition: success",
            "root: free pages among the first 256 of the range: before 256, after 256",
        ]
        r.output.expectInOrder(steps)
        // Hostile calls from ring 3, each refused with its own code.
        let refusals: [(String, Status)] = [
            ("createPartition with a page twice", .duplicatePage),
            ("createPartition with a kernel-half page", .kernelHalfAddress),
            ("createPartition with a non-canonical page", .nonCanonicalAddress),
            ("createPartition with a misaligned page", .misalignedAddress),
            ("createPartition with an unmapped page", .addressNotMapped),
            ("createPartition reusing the child's descriptor", .pageNotAccessible),
            ("countToMap for a non-child", .invalidChild),
            ("prepare with a looping free list", .freeListLoops),
            ("prepare with a short free list", .freeListTooShort),
            ("addVAddr with execute (root's window is no-exec)", .rightsExceedCaller),
            ("addVAddr with execute at the child's VIDT address", .executeAtVIDT),
            ("addVAddr with unknown rights bits", .invalidArgument),
            ("addVAddr into a non-child", .invalidChild),
            ("addVAddr of a page already given", .pageAlreadyGiven),
            ("removeVAddr of an unmapped child page", .addressNotMapped),
            ("deletePartition twice", .invalidChild),
            ("countToMap on the deleted child", .invalidChild),
            ("an unknown service", .unknownService),
        ]
        for (label, status) in refusals {
            #expect(r.output.contains("root: \(label): \(status)"), "\(label) should be refused with \(status)")
        }
    }

    @Test("a root image of 64 MiB: the boot names that failure (not a lack of memory) and root never runs")
    func rootImageTooLarge() throws {
        let root = try Systems.named("hello").bootModules[0]
        let (_, products) = try Boot.products(.release)
        var image = [UInt8](try Data(contentsOf: products.partitions[root]!))
        image += [UInt8](repeating: 0, count: 0x4000 * 4096 - image.count)
        let r = try Boot.run("hello", module: root, image, memoryMiB: 256)
        #expect(r.ending == .status(ExitStatus.bootFailure), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("Sprig: boot failed: root's image (the first module) is 64 MiB or more; its region holds less"), "\(r.output)")
        #expect(!r.output.contains("root:"), "root never ran")
    }
}
