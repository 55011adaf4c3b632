/// The memory services on the model, one scenario at a time, with the properties checked after
/// every call.
import Testing
import SprigABI
import SprigCore
@testable import SprigModel

@Suite struct MemoryServiceTests {
    @Test func bootStateSatisfiesProperties() {
        let m = ModelMachine()
        expectProperties(m, "boot")
        #expect(m.rootWindow.count > 300)
        #expect(m.kernelPages.contains(m.root.raw))
    }

    @Test func createPrepareAddRemoveDeleteCollectRoundTrip() {
        let m = ModelMachine()
        let r = m.root
        let before = m.accessiblePageCount(r)
        let s = (0..<5).map { _ in m.takePage(r) }
        #expect(m.call(r, .createPartition, s[0], s[1], s[2], s[3], s[4]).status == .success)
        expectProperties(m, "after createPartition")
        #expect(m.accessiblePageCount(r) == before - 5)
        let va: UInt64 = 0x40_0000
        let need = m.call(r, .countToMap, s[0], va)
        #expect(need.status == .success && need.value == 9)
        m.prepare(r, child: s[0], va: va)
        expectProperties(m, "after prepare")
        #expect(m.call(r, .countToMap, s[0], va).value == 0)
        #expect(m.call(r, .countToMap, s[0], va + 0x1000).value == 0)
        #expect(m.call(r, .countToMap, s[0], va + 0x20_0000).value == 3)
        let page = m.takePage(r)
        #expect(m.call(r, .addVAddr, page, s[0], va, Rights.read | Rights.write).status == .success)
        expectProperties(m, "after addVAddr")
        #expect(m.call(r, .mappedInChild, page) == (.success, s[0]))
        #expect(m.call(r, .mappedInChild, s[0]) == (.success, 0))
        let child = m.translateStructure(r, s[0])!
        #expect(m.translate(child, va, write: true) == m.translate(r, page))
        #expect(m.call(r, .removeVAddr, s[0], va).status == .success)
        expectProperties(m, "after removeVAddr")
        #expect(m.call(r, .mappedInChild, page) == (.success, 0))
        #expect(m.translate(child, va) == nil)
        let c = m.call(r, .collect, s[0], va)
        #expect(c.status == .success && c.value == 9)
        expectProperties(m, "after collect")
        #expect(m.call(r, .countToMap, s[0], va).value == 9)
        #expect(m.call(r, .deletePartition, s[0]).status == .success)
        expectProperties(m, "after deletePartition")
        #expect(m.accessiblePageCount(r) == before)
    }

    @Test func deleteGivesBackAWholeSubtree() {
        let m = ModelMachine(pages: 768)
        let before = m.accessiblePageCount(m.root)
        let child = m.makeChild(of: m.root, pages: 60)
        expectProperties(m, "child")
        let grandchild = m.makeChild(of: child.descriptor, pages: 24)
        expectProperties(m, "grandchild")
        let great = m.makeChild(of: grandchild.descriptor, pages: 2)
        expectProperties(m, "great-grandchild")
        #expect(m.tree().partitions.count == 4)
        #expect(m.call(child.descriptor, .getIntState, grandchild.name) == (.success, 0))
        #expect(m.call(great.descriptor, .setIntState, 1).status == .success)
        #expect(m.call(grandchild.descriptor, .getIntState, great.name) == (.success, 1))
        #expect(m.call(m.root, .deletePartition, child.name).status == .success)
        expectProperties(m, "after deleting the subtree")
        #expect(m.tree().partitions.count == 1)
        #expect(m.accessiblePageCount(m.root) == before)
        // Every page root got back is zeroed where it held kernel structures.
        for va in m.rootWindow {
            let pa = m.translate(m.root, va)!
            if pa == child.descriptor || pa == grandchild.descriptor || pa == great.descriptor {
                #expect(m.memory.load(pa.adding(UInt64(DescriptorLayout.rootTable))) == 0)
            }
        }
    }
}
