/// The properties catch what they claim to: each test breaks a state by writing memory directly
/// (as a buggy kernel would) and expects the exact violation.
import Testing
import SprigABI
import SprigCore
@testable import SprigModel

@Suite struct MemoryPropertyDetectionTests {
    func leafAt(_ m: ModelMachine, _ d: PhysicalAddress, _ va: UInt64) -> Shadow.LeafSlots {
        Shadow.leafSlots(m.memory, descriptor: m.descriptor(d), va: VirtualAddress(va))!
    }

    @Test func kernelPageMappedInAChild() {
        let m = ModelMachine()
        let c = m.makeChild(of: m.root, pages: 2)
        expectProperties(m, "before")
        let s = leafAt(m, c.descriptor, c.pages[0])
        m.memory.store(s.entryAt, PageTableEntry(frame: m.kernelImage[0], flags: PageTableEntry.leafFlags(rights: PageRights(kernel: Rights.read))).raw)
        let v = m.checkAllProperties()
        #expect(v.contains { $0.kind == .kernelDataIsolation && $0.page == m.kernelImage[0].raw && $0.partition == c.descriptor.raw })
        #expect(v.contains { $0.kind == .verticalSharing && $0.page == m.kernelImage[0].raw })
    }

    @Test func samePageGivenToTwoChildren() {
        let m = ModelMachine()
        let a = m.makeChild(of: m.root, pages: 2)
        let b = m.makeChild(of: m.root, pages: 2)
        let aPage = m.translate(a.descriptor, a.pages[0])!
        let s = leafAt(m, b.descriptor, b.pages[1])
        m.memory.store(s.entryAt, PageTableEntry(frame: aPage, flags: PageTableEntry.leafFlags(rights: PageRights(kernel: Rights.read | Rights.write))).raw)
        let v = m.checkAllProperties()
        #expect(v.contains { $0.kind == .horizontalIsolation && $0.page == aPage.raw })
        #expect(v.contains { $0.kind == .pageGivenTwice && $0.page == aPage.raw && $0.partition == m.root.raw })
    }

    @Test func structurePageMadeAccessibleAgain() {
        let m = ModelMachine()
        let c = m.makeChild(of: m.root, pages: 1)
        let s = leafAt(m, m.root, c.name)
        m.memory.store(s.entryAt, m.memory.load(s.entryAt) | PageTableEntry.user)
        let v = m.checkAllProperties()
        #expect(v.contains { $0.kind == .kernelDataIsolation && $0.page == c.descriptor.raw && $0.vaddr == c.name })
    }

    @Test func rightTheParentLacks() {
        let m = ModelMachine()
        let c = m.makeChild(of: m.root, pages: 1)
        // make root's copy of c's page read-only: c keeps write
        let pa = m.translate(c.descriptor, c.pages[0])!
        let s = leafAt(m, m.root, AddressSpace.rootWindowBase + pa.raw)
        m.memory.store(s.entryAt, m.memory.load(s.entryAt) & ~PageTableEntry.writable)
        let v = m.checkAllProperties()
        #expect(v.contains { $0.kind == .accessibleNotInParent && $0.page == pa.raw && $0.partition == c.descriptor.raw })
    }

    @Test func configListMissingAnEntryAndBrokenShadows() {
        let m = ModelMachine()
        let c = m.makeChild(of: m.root, pages: 1)
        let head = PhysicalAddress(DescriptorLayout.read(m.memory, c.descriptor, DescriptorLayout.configList))
        let n = m.memory.load(head.adding(UInt64(ConfigList.count)))
        m.memory.store(head.adding(UInt64(ConfigList.count)), n - 1)
        var v = m.checkAllProperties()
        #expect(v.contains { $0.kind == .configListMismatch && $0.partition == c.descriptor.raw })
        m.memory.store(head.adding(UInt64(ConfigList.count)), n)
        #expect(m.checkAllProperties().isEmpty)
        // shadow 2 pointing at the wrong vaddr in the parent
        let s = leafAt(m, c.descriptor, c.pages[0])
        m.memory.store(s.sh2At, m.memory.load(s.sh2At) + 0x1000)
        v = m.checkAllProperties()
        #expect(v.contains { $0.kind == .shadowMismatch && $0.partition == c.descriptor.raw && $0.vaddr == c.pages[0] })
    }

    @Test func cycleAndUnflaggedDescriptor() {
        let m = ModelMachine()
        let c = m.makeChild(of: m.root, pages: 16)
        let g = m.makeChild(of: c.descriptor, pages: 1)
        // g's parent field lies
        DescriptorLayout.overwriteForTesting(m.memory, g.descriptor, DescriptorLayout.parent, m.root.raw)
        #expect(m.checkAllProperties().contains { $0.kind == .descriptorFields && $0.partition == g.descriptor.raw })
        DescriptorLayout.overwriteForTesting(m.memory, g.descriptor, DescriptorLayout.parent, c.descriptor.raw)
        // g flags c's descriptor as its own child (c is g's parent): a cycle
        let s = leafAt(m, g.descriptor, g.pages[0])
        m.memory.store(s.entryAt, PageTableEntry(frame: c.descriptor, flags: PageTableEntry.leafFlags(rights: PageRights(kernel: Rights.read), accessible: false)).raw)
        m.memory.store(s.sh1At, c.descriptor.raw | Shadow.descriptorFlag)
        #expect(m.checkAllProperties().contains { $0.kind == .treeCycle && $0.page == c.descriptor.raw })
    }

    @Test func depthFieldNotTheDepthInTheTree() {
        let m = ModelMachine()
        let c = m.makeChild(of: m.root, pages: 16)
        let g = m.makeChild(of: c.descriptor, pages: 1)
        expectProperties(m, "before")
        DescriptorLayout.overwriteForTesting(m.memory, g.descriptor, DescriptorLayout.depth, 3)
        let v = m.checkAllProperties()
        #expect(v.contains { $0.kind == .descriptorFields && $0.partition == g.descriptor.raw && $0.detail.contains("depth field 3") }, "\(v)")
    }

    @Test func emptyConfigurationPageOnTheList() {
        let m = ModelMachine()
        let c = m.makeChild(of: m.root, pages: 2)
        expectProperties(m, "before")
        let head = m.descriptor(c.descriptor).configList(m.memory)
        m.memory.store(head.adding(UInt64(ConfigList.count)), 0)
        let v = m.checkAllProperties()
        #expect(v.contains { $0.kind == .configListMismatch && $0.page == head.raw && $0.detail.contains("empty configuration page") }, "\(v)")
    }
}

/// The entry window: the upper half every partition copies maps only the
/// kernel's window pages, supervisor-only, none writable and executable; the property catches
/// each way a kernel could break that in the tables it gives partitions.
@Suite struct EntryWindowPropertyTests {
    /// The kernel half's last-level table and the slot of image page `k` in it.
    func windowSlot(_ m: ModelMachine, _ k: Int) -> PhysicalAddress {
        let va = VirtualAddress(ModelMachine.kernelBase)
        var table = m.kernelPML4
        for level in [4, 3, 2] {
            table = PageTableEntry(raw: m.memory.load(table.adding(UInt64(va.index(level: level)) * 8))).frame
        }
        return table.adding(UInt64(va.index(level: 1) + k) * 8)
    }

    @Test func theModelsKernelHalfIsTheWindowOnly() {
        let m = ModelMachine()
        let window = try! #require(m.kernelWindow)
        #expect(window.count == m.kernelImage.count / 2 && window.contains(m.kernelImage[0].raw))
        #expect(!window.contains(m.kernelImage.last!.raw))
        _ = m.makeChild(of: m.root, pages: 2)
        #expect(Properties.entryWindow(kernelPML4: m.kernelPML4, window: window, memory: m.memory).isEmpty)
        expectProperties(m, "a machine with a child")
    }

    /// The CPU sets the accessed bit in the partition's copy of the window's PML4 entry when it
    /// enters the kernel through it; a replayed or booted state carries it. That is the
    /// hardware's write, not a kernel mapping: the property must hold, and must still catch any
    /// other difference in the same entry.
    @Test func theAccessedBitInACopiedUpperHalfEntryIsTheCPUs() {
        let m = ModelMachine()
        let c = m.makeChild(of: m.root, pages: 2)
        let table = m.rootTable(c.descriptor)
        var i: UInt64 = 511
        while m.memory.load(table.adding(i * 8)) & PageTableEntry.present == 0 { i -= 1 }
        let slot = table.adding(i * 8)
        let entry = m.memory.load(slot)
        m.memory.store(slot, entry | PageTableEntry.accessed)
        expectProperties(m, "an upper-half entry the CPU marked accessed")
        m.memory.store(slot, entry | PageTableEntry.accessed | PageTableEntry.global)
        #expect(m.checkAllProperties().contains { $0.kind == .kernelMapping && $0.description.contains("upper-half entry \(i)") })
    }

    @Test func aKernelPageOutsideTheWindowInTheKernelHalf() {
        let m = ModelMachine()
        let outside = m.kernelImage.last!
        m.memory.store(windowSlot(m, m.kernelImage.count - 1),
                       PageTableEntry(frame: outside, flags: PageTableEntry.present | PageTableEntry.noExecute).raw)
        let v = m.checkAllProperties()
        #expect(v.contains { $0.kind == .kernelMapping && $0.page == outside.raw && $0.description.contains("outside the entry window") })
    }

    @Test func aUserAccessibleWindowPage() {
        let m = ModelMachine()
        let slot = windowSlot(m, 1)
        m.memory.store(slot, m.memory.load(slot) | PageTableEntry.user)
        #expect(m.checkAllProperties().contains { $0.kind == .kernelMapping && $0.description.contains("user-accessible") })
    }

    @Test func aWritableExecutableWindowPage() {
        let m = ModelMachine()
        let slot = windowSlot(m, 0)
        m.memory.store(slot, m.memory.load(slot) | PageTableEntry.writable)
        #expect(m.checkAllProperties().contains { $0.kind == .kernelMapping && $0.description.contains("writable and executable") })
    }
}
