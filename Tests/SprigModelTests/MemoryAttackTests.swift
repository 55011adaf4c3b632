/// One test per attack on the memory services: each is refused with its own code, changes nothing in memory,
/// and leaves every property intact.
import Testing
import SprigABI
import SprigCore
@testable import SprigModel

@Suite struct MemoryAttackTests {
    /// Root with one child `a` (24 pages), `a` with one child `g` (4 pages), root with a second
    /// child `b` (16 pages).
    struct Scene {
        let m = ModelMachine()
        let a: ModelMachine.ChildHandle
        let g: ModelMachine.ChildHandle
        let b: ModelMachine.ChildHandle
        init() {
            a = m.makeChild(of: m.root, pages: 24)
            g = m.makeChild(of: a.descriptor, pages: 4)
            b = m.makeChild(of: m.root, pages: 16)
        }
        var root: PhysicalAddress { m.root }
        /// Five fresh root pages.
        func five() -> [UInt64] { (0..<5).map { _ in m.takePage(root) } }
        /// Root's window vaddr for a physical page (mapped only if root owns the page).
        func window(_ pa: PhysicalAddress) -> UInt64 { AddressSpace.rootWindowBase + pa.raw }
    }

    @Test func givingAKernelStructurePage() {
        let s = Scene()
        var p = s.five()
        p[2] = s.a.name  // a's descriptor: mapped in root, a structure
        expectRefused(s.m, .pageNotAccessible, "child descriptor as structure") {
            s.m.call(s.root, .createPartition, p[0], p[1], p[2], p[3], p[4])
        }
        // a page of g's tables, mapped in a and in root, inaccessible to both
        let gTable = s.m.rootTable(s.g.descriptor)
        p[2] = s.window(gTable)
        expectRefused(s.m, .pageNotAccessible, "grandchild PML4 as structure") {
            s.m.call(s.root, .createPartition, p[0], p[1], p[2], p[3], p[4])
        }
        // root's own descriptor: a kernel page root does not map
        p[2] = s.window(s.root)
        expectRefused(s.m, .addressNotMapped, "root descriptor") {
            s.m.call(s.root, .createPartition, p[0], p[1], p[2], p[3], p[4])
        }
    }

    @Test func givingAKernelImagePage() {
        let s = Scene()
        var p = s.five()
        p[0] = ModelMachine.kernelBase
        expectRefused(s.m, .kernelHalfAddress, "kernel image by its kernel vaddr") {
            s.m.call(s.root, .createPartition, p[0], p[1], p[2], p[3], p[4])
        }
        p[0] = s.window(s.m.kernelImage[0])
        expectRefused(s.m, .addressNotMapped, "kernel image through the window") {
            s.m.call(s.root, .createPartition, p[0], p[1], p[2], p[3], p[4])
        }
        let f = s.m.takePage(s.root)
        s.m.writeFreeList(s.root, [f])
        s.m.memory.store(s.m.translate(s.root, f)!, ModelMachine.kernelBase)
        expectRefused(s.m, .kernelHalfAddress, "kernel image as addVAddr source") {
            s.m.call(s.root, .addVAddr, ModelMachine.kernelBase, s.b.name, 0x50_0000, Rights.read)
        }
    }

    @Test func sameePageAsTwoStructures() {
        let s = Scene()
        let p = s.five()
        expectRefused(s.m, .duplicatePage, "descriptor = config list") {
            s.m.call(s.root, .createPartition, p[0], p[1], p[2], p[3], p[0])
        }
        expectRefused(s.m, .duplicatePage, "shadow 1 = shadow 2") {
            s.m.call(s.root, .createPartition, p[0], p[1], p[2], p[2], p[4])
        }
    }

    @Test func pageNotOwnedOrGivenToAnotherChild() {
        let s = Scene()
        let p = s.five()
        // a tries root pages it does not map
        expectRefused(s.m, .addressNotMapped, "not owned") {
            s.m.call(s.a.descriptor, .createPartition, p[0], p[1], p[2], p[3], p[4])
        }
        // root names a page it gave to b
        let given = s.m.tree().partitions[0].leaves.first { $0.sh1 == s.b.descriptor.raw }!.va
        expectRefused(s.m, .pageAlreadyGiven, "page of b as structure") {
            s.m.call(s.root, .createPartition, p[0], p[1], p[2], p[3], given)
        }
        expectRefused(s.m, .pageAlreadyGiven, "page of b given to a") {
            s.m.call(s.root, .addVAddr, given, s.a.name, 0x7000_0000, Rights.read)
        }
        s.m.prepare(s.root, child: s.a.name, va: 0x7000_0000)
        expectRefused(s.m, .pageAlreadyGiven, "page of b given to a, prepared") {
            s.m.call(s.root, .addVAddr, given, s.a.name, 0x7000_0000, Rights.read)
        }
        s.m.writeFreeList(s.root, [])
        expectRefused(s.m, .pageAlreadyGiven, "page of b in a free list") {
            s.m.call(s.root, .prepare, s.a.name, 0x9000_0000, given)
        }
    }

    @Test func mappingIntoAPartitionThatIsNotAChild() {
        let s = Scene()
        let page = s.m.takePage(s.root)
        // g is a's child, not root's: its name in a means nothing in root
        expectRefused(s.m, .invalidChild, "grandchild by its name in a") {
            s.m.call(s.root, .addVAddr, page, s.g.name, 0x40_0000, Rights.read)
        }
        expectRefused(s.m, .invalidChild, "grandchild by root's window vaddr of its descriptor") {
            s.m.call(s.root, .addVAddr, page, s.window(s.g.descriptor), 0x40_0000, Rights.read)
        }
        // a names its sibling b by root's name for it
        expectRefused(s.m, .invalidChild, "sibling") {
            s.m.call(s.a.descriptor, .addVAddr, s.a.pages[20], s.b.name, 0x40_0000, Rights.read)
        }
        expectRefused(s.m, .invalidChild, "an ordinary page as a child name") {
            s.m.call(s.root, .prepare, s.m.rootWindow[200], 0x40_0000, page)
        }
        expectRefused(s.m, .invalidChild, "0 as a child name") { s.m.call(s.root, .countToMap, 0, 0x40_0000) }
    }

    @Test func makingAnAncestorOnesOwnChild() {
        let s = Scene()
        // g tries to reach its parent or root as a child, by every name it could guess
        for name in [0, s.a.name, s.window(s.root), s.window(s.a.descriptor), s.g.name, s.g.pages[0]] {
            expectRefused(s.m, .invalidChild, "g names 0x\(String(name, radix: 16))") {
                s.m.call(s.g.descriptor, .deletePartition, name)
            }
            expectRefused(s.m, .invalidChild, "g names 0x\(String(name, radix: 16))") {
                s.m.call(s.g.descriptor, .getIntState, name)
            }
        }
        // g gives its own pages as structures: a new child of g, never an ancestor
        let p = s.g.pages
        expectRefused(s.m, .duplicatePage) {
            s.m.call(s.g.descriptor, .createPartition, p[0], p[1], p[2], p[3], p[3])
        }
        // a gives g's descriptor (mapped in a, inaccessible) as a structure of a new child
        expectRefused(s.m, .pageNotAccessible, "a reuses g's descriptor") {
            s.m.call(s.a.descriptor, .createPartition, s.g.name, s.a.pages[20], s.a.pages[21], s.a.pages[22], s.a.pages[23])
        }
        #expect(s.m.tree().partitions.count == 4)
    }

    @Test func aRightTheParentLacks() {
        let s = Scene()
        // root gives b one more page, read-only, at 0x60_0000
        s.m.prepare(s.root, child: s.b.name, va: 0x60_0000)
        #expect(s.m.call(s.root, .addVAddr, s.m.takePage(s.root), s.b.name, 0x60_0000, Rights.read).status == .success)
        let c = s.m.makeChild(of: s.b.descriptor, pages: 0)
        _ = c
        // b's pool is empty now; give it two more pages (rw) for a structure attempt
        for (k, rights) in [Rights.read | Rights.write, Rights.read | Rights.write, Rights.read | Rights.write,
                            Rights.read | Rights.write].enumerated() {
            let va = 0x61_0000 + UInt64(k) * 0x1000
            #expect(s.m.call(s.root, .addVAddr, s.m.takePage(s.root), s.b.name, va, rights).status == .success)
        }
        expectRefused(s.m, .rightsExceedCaller, "write on a read-only page") {
            s.m.call(s.b.descriptor, .addVAddr, 0x60_0000, c.name, 0x1000_0000, Rights.read | Rights.write)
        }
        expectRefused(s.m, .rightsExceedCaller, "execute on a no-execute page") {
            s.m.call(s.b.descriptor, .addVAddr, 0x61_0000, c.name, 0x1000_0000, Rights.read | Rights.execute)
        }
        expectRefused(s.m, .pageNotWritable, "read-only page as a structure") {
            s.m.call(s.b.descriptor, .createPartition, 0x60_0000, 0x61_0000, 0x62_0000, 0x63_0000, 0x64_0000)
        }
        expectRefused(s.m, .invalidArgument, "unknown rights bit") {
            s.m.call(s.b.descriptor, .addVAddr, 0x61_0000, c.name, 0x1000_0000, Rights.read | 8)
        }
        expectRefused(s.m, .invalidArgument, "no read right") {
            s.m.call(s.b.descriptor, .addVAddr, 0x61_0000, c.name, 0x1000_0000, Rights.write)
        }
        // what b may do: read-only stays read-only
        s.m.prepare(s.b.descriptor, child: c.name, va: 0x1000_0000)
        #expect(s.m.call(s.b.descriptor, .addVAddr, 0x60_0000, c.name, 0x1000_0000, Rights.read).status == .success)
        expectProperties(s.m, "after the legal share")
        #expect(s.m.translate(c.descriptor, 0x1000_0000, write: true) == nil)
    }

    @Test func badAddressesEverywhere() {
        let s = Scene()
        let bad: [(UInt64, Status)] = [
            (0x0000_8000_0000_0000, .nonCanonicalAddress), (0x1234_0000_0000_0000, .nonCanonicalAddress),
            (s.m.rootWindow[100] + 8, .misalignedAddress), (0x0000_7000_0000_0000, .addressNotMapped),
            (0xFFFF_8000_0000_0000, .kernelHalfAddress), (ModelMachine.kernelBase, .kernelHalfAddress),
        ]
        let ok = s.five()
        for (addr, status) in bad {
            let hex = String(addr, radix: 16)
            for k in 0..<5 {
                var p = ok
                p[k] = addr
                expectRefused(s.m, status, "createPartition arg \(k) = \(hex)") {
                    s.m.call(s.root, .createPartition, p[0], p[1], p[2], p[3], p[4])
                }
            }
            expectRefused(s.m, status, "addVAddr vaParent \(hex)") {
                s.m.call(s.root, .addVAddr, addr, s.b.name, 0x7000_0000, Rights.read)
            }
            expectRefused(s.m, status, "mappedInChild \(hex)") { s.m.call(s.root, .mappedInChild, addr) }
            expectRefused(s.m, status, "prepare free list \(hex)") {
                s.m.call(s.root, .prepare, s.b.name, 0x7000_0000, addr)
            }
            // vaddrs in the child: never "not mapped" from the child-side check
            if status != .addressNotMapped {
                expectRefused(s.m, status, "countToMap \(hex)") { s.m.call(s.root, .countToMap, s.b.name, addr) }
                expectRefused(s.m, status, "prepare va \(hex)") { s.m.call(s.root, .prepare, s.b.name, addr, ok[0]) }
                expectRefused(s.m, status, "addVAddr vaChild \(hex)") {
                    s.m.call(s.root, .addVAddr, ok[0], s.b.name, addr, Rights.read)
                }
                expectRefused(s.m, status, "removeVAddr \(hex)") { s.m.call(s.root, .removeVAddr, s.b.name, addr) }
                expectRefused(s.m, status, "collect \(hex)") { s.m.call(s.root, .collect, s.b.name, addr) }
            }
            expectRefused(s.m, .invalidChild, "child name \(hex)") { s.m.call(s.root, .deletePartition, addr) }
        }
        expectRefused(s.m, .addressNotMapped, "removeVAddr of nothing") {
            s.m.call(s.root, .removeVAddr, s.b.name, 0x7000_0000)
        }
        expectRefused(s.m, .notPrepared, "addVAddr unprepared") {
            s.m.call(s.root, .addVAddr, ok[0], s.b.name, 0x7000_0000, Rights.read)
        }
        expectRefused(s.m, .childAddressInUse, "addVAddr over a mapping") {
            s.m.call(s.root, .addVAddr, ok[0], s.b.name, s.b.pages[0], Rights.read)
        }
    }

    @Test func freeListThatLoopsPointsIntoKernelOrRunsShort() {
        let s = Scene()
        let va: UInt64 = 0x0000_0080_0000_0000  // PML4 entry 1: nothing below it yet
        let f = (0..<9).map { _ in s.m.takePage(s.root) }
        #expect(s.m.call(s.root, .countToMap, s.b.name, va).value == 9)
        // a → b → c → a
        s.m.writeFreeList(s.root, Array(f[0..<3]))
        s.m.memory.store(s.m.translate(s.root, f[2])!, f[0])
        expectRefused(s.m, .freeListLoops, "loop of 3") { s.m.call(s.root, .prepare, s.b.name, va, f[0]) }
        // a page naming itself
        s.m.memory.store(s.m.translate(s.root, f[0])!, f[0])
        expectRefused(s.m, .freeListLoops, "self loop") { s.m.call(s.root, .prepare, s.b.name, va, f[0]) }
        // into the kernel: its image, a descriptor, a page table
        for (link, status) in [(ModelMachine.kernelBase, Status.kernelHalfAddress),
                               (s.window(s.m.kernelImage[1]), .addressNotMapped),
                               (s.a.name, .pageNotAccessible),
                               (s.window(s.m.rootTable(s.g.descriptor)), .pageNotAccessible),
                               (0x0000_8000_0000_1000, .nonCanonicalAddress)] {
            s.m.writeFreeList(s.root, Array(f[0..<4]))
            s.m.memory.store(s.m.translate(s.root, f[3])!, link)
            expectRefused(s.m, status, "link to 0x\(String(link, radix: 16))") {
                s.m.call(s.root, .prepare, s.b.name, va, f[0])
            }
        }
        // short: 8 pages for 9
        s.m.writeFreeList(s.root, Array(f[0..<8]))
        expectRefused(s.m, .freeListTooShort, "8 of 9") { s.m.call(s.root, .prepare, s.b.name, va, f[0]) }
        expectRefused(s.m, .freeListTooShort, "empty list") { s.m.call(s.root, .prepare, s.b.name, va, 0) }
        // the whole list, then the rest is handed back
        s.m.writeFreeList(s.root, f)
        let extra = s.m.takePage(s.root)
        s.m.memory.store(s.m.translate(s.root, f[8])!, extra)
        #expect(s.m.call(s.root, .prepare, s.b.name, va, f[0]) == (.success, extra))
        expectProperties(s.m, "after a good prepare")
    }

    @Test func deletingTwiceAndUsingADescriptorAfterDeletion() {
        let s = Scene()
        let name = s.a.name
        #expect(s.m.call(s.root, .deletePartition, name).status == .success)
        expectProperties(s.m, "after delete")
        expectRefused(s.m, .invalidChild, "delete twice") { s.m.call(s.root, .deletePartition, name) }
        let page = s.m.takePage(s.root)
        let uses: [(Service, [UInt64])] = [
            (.countToMap, [name, 0x40_0000]), (.prepare, [name, 0x40_0000, page]),
            (.addVAddr, [page, name, 0x40_0000, Rights.read]), (.removeVAddr, [name, ModelMachine.childPagesBase]),
            (.collect, [name, ModelMachine.childPagesBase]), (.getIntState, [name]), (.deletePartition, [name]),
        ]
        for (service, args) in uses {
            let a = args + [0, 0, 0, 0]
            expectRefused(s.m, .invalidChild, "\(service) after deletion") {
                s.m.call(s.root, service, a[0], a[1], a[2], a[3])
            }
        }
        #expect(s.m.call(s.root, .mappedInChild, name) == (.success, 0))
        // the old descriptor page is an ordinary root page again, usable as a structure
        let p = s.five()
        #expect(s.m.call(s.root, .createPartition, name, p[1], p[2], p[3], p[4]).status == .success)
        expectProperties(s.m, "old descriptor page reused")
    }

    @Test func takingBackAPageGivenFurther() {
        let s = Scene()
        // a's page 0 went to g (makeChild gave g a's pool pages from the top)
        let tree = s.m.tree()
        let aView = tree.partitions.first { $0.descriptor == s.a.descriptor.raw }!
        let toG = aView.leaves.first { $0.sh1 == s.g.descriptor.raw }!.va
        let asStructure = aView.leaves.first { !$0.accessible }!.va
        expectRefused(s.m, .pageGivenFurther, "page a gave to g") { s.m.call(s.root, .removeVAddr, s.a.name, toG) }
        expectRefused(s.m, .pageGivenFurther, "page a gave as a structure") {
            s.m.call(s.root, .removeVAddr, s.a.name, asStructure)
        }
    }

    @Test func interruptStateAndUnknownServices() {
        let s = Scene()
        expectRefused(s.m, .invalidArgument, "state 2") { s.m.call(s.a.descriptor, .setIntState, 2) }
        for n: UInt64 in [0, 11, 12, 0x100, 0x101, 0xFFFF_FFFF_FFFF_FFFF] {
            let before = s.m.memory.snapshot()
            let r = Kernel.dispatch(s.m.memory, caller: s.m.descriptor(s.root), service: n, 1, 2, 3, 4, 5)
            #expect(r.status == .unknownService && r.value == 0)
            #expect(s.m.memory.snapshot() == before)
        }
        #expect(s.m.call(s.a.descriptor, .setIntState, 1).status == .success)
        #expect(s.m.call(s.root, .getIntState, s.a.name) == (.success, 1))
        #expect(s.m.call(s.a.descriptor, .setIntState, 0).status == .success)
        #expect(s.m.call(s.root, .getIntState, s.a.name) == (.success, 0))
    }
}
