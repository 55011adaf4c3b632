/// Table shapes where the kernel's walk (`PageTableWalk`) and the MMU the Intel SDM describes
/// (`SpecMMU`) disagree, or where a reader that skips what the kernel never builds would see
/// nothing: a PS bit in a page directory entry, a page table at physical page 0, XD set only in
/// an upper level. Each is planted in a child's (or root's) tables as a buggy kernel would
/// leave it after a step; the refinement check, which reads the tables as the SDM's MMU does,
/// reports it, and so do the isolation properties where the shape maps pages.
import Testing
import SprigABI
import SprigCore
import SprigModel

@Suite struct SpecMMUDetectionTests {
    private let present: UInt64 = 1, writable: UInt64 = 2, user: UInt64 = 4, pageSize: UInt64 = 0x80

    /// A child prepared at 0x2000_0000 (its PDPT, PD and PT exist), one harmless step run, and the
    /// physical page of its page directory there.
    private func childWithDirectory() throws -> (r: Refined, kid: Kid, event: TrapEvent, outcome: TrapOutcome, pd: UInt64) {
        let r = Refined()
        let kid = r.makeChild(of: r.root, pages: 1)
        r.prepare(kid, at: 0x2000_0000)
        r.expectRefines("set-up")
        let event = TrapEvent.systemCall(number: Service.getIntState.rawValue, SystemCallArguments(kid.name))
        let outcome = r.system.trap(event)
        let tables = Abstraction.of(r.system).partitions[kid.descriptor.raw]?.structures.tables
        let pd = try #require(tables?[TableNode(level: 2, containing: 0x2000_0000)]?.first)
        return (r, kid, event, outcome, pd)
    }

    private func rootTable(_ r: Refined, _ partition: PhysicalAddress) -> UInt64 { r.machine.rootTable(partition).raw }

    @Test func aLargePageInAChildsDirectoryIsCaught() throws {
        let (r, kid, event, outcome, pd) = try childWithDirectory()
        // PD entry 1 (0x2020_0000 … 0x203F_FFFF): a 2 MiB page at physical 0, user and writable.
        let va: UInt64 = 0x2020_0000
        r.memory.store(PhysicalAddress(pd + 8 * ((va >> 21) & 0x1FF)), present | writable | user | pageSize)
        // The shapes differ: the kernel's walk says nothing is mapped there, the SDM's MMU maps
        // physical 0x1000 at va + 0x1000.
        let cr3 = rootTable(r, kid.descriptor)
        #expect(PageTableWalk.leaf(r.memory, rootTable: PhysicalAddress(cr3), va: VirtualAddress(va + 0x1000)) == nil)
        #expect(SpecMMU.user(.write, cr3: cr3, linear: va + 0x1000, load: r.memory.specLoad) == 0x1000)
        let v = r.checker.step(event, outcome: outcome, system: r.system)
        #expect(v.contains { $0.kind == .refinement && $0.detail.contains("pages[0x20201000]: spec unmapped, concrete 0x1000 rwx") },
                "\(v.prefix(3).map(\.detail))")
        #expect(r.machine.checkAllProperties().contains { $0.description.contains("large page") })
    }

    @Test func aPageTableAtPhysicalPageZeroIsCaught() throws {
        let (r, kid, event, outcome, pd) = try childWithDirectory()
        // PD entry 2 points to a page table at physical page 0, whose entry 3 maps the child's
        // own descriptor page, user and writable: 0x2040_3000 then reaches a kernel structure.
        let va: UInt64 = 0x2040_0000
        r.memory.store(PhysicalAddress(pd + 8 * ((va >> 21) & 0x1FF)), present | writable | user)
        r.memory.store(PhysicalAddress(3 * 8), kid.descriptor.raw | present | writable | user)
        let cr3 = rootTable(r, kid.descriptor)
        #expect(SpecMMU.user(.write, cr3: cr3, linear: va + 0x3000, load: r.memory.specLoad) == kid.descriptor.raw)
        let v = r.checker.step(event, outcome: outcome, system: r.system)
        #expect(v.contains { $0.detail.contains("pages[0x20403000]: spec unmapped, concrete 0x\(String(kid.descriptor.raw, radix: 16)) rwx") },
                "\(v.prefix(3).map(\.detail))")
        #expect(v.contains { $0.detail.contains("structures.tables[level 1 at 0x20400000]: spec absent, concrete") })
        #expect(!r.machine.checkAllProperties().isEmpty)
    }

    @Test func noExecuteInAnUpperLevelIsCaught() throws {
        let r = Refined()
        let event = TrapEvent.systemCall(number: Service.getIntState.rawValue, SystemCallArguments(0))
        let outcome = r.system.trap(event)
        // Root's executable pages (its program image): set XD in the PD entry above one of them.
        let rootPages = Abstraction.of(r.system).partitions[r.root.raw]?.pages ?? [:]
        let (va, _) = try #require(rootPages.filter { $0.value.executable && $0.value.accessible }.min { $0.key < $1.key })
        let cr3 = rootTable(r, r.root)
        let pdEntry = try #require(pdEntryAddress(r.memory, cr3: cr3, va: va))
        r.memory.store(PhysicalAddress(pdEntry), r.memory.load(PhysicalAddress(pdEntry)) | 1 << 63)
        // The shapes differ: the kernel's walk ANDs the raw entries, so XD above a leaf without
        // it does not survive; the SDM's MMU refuses a fetch when any level has XD.
        let kernel = try PageTableWalk.walk(r.memory, rootTable: PhysicalAddress(cr3), va: VirtualAddress(va))
        #expect(kernel.walk.rights & PageTableEntry.noExecute == 0)
        #expect(SpecMMU.user(.fetch, cr3: cr3, linear: va, load: r.memory.specLoad) == nil)
        let v = r.checker.step(event, outcome: outcome, system: r.system)
        let field = "pages[0x\(String(va, radix: 16))].rights: spec "
        #expect(v.contains { $0.detail.contains(field + "r-x, concrete r--") || $0.detail.contains(field + "rwx, concrete rw-") },
                "\(v.prefix(3).map(\.detail))")
    }

    /// The physical address of the PD entry on the path of `va` (the SDM's index bits).
    private func pdEntryAddress(_ m: SimulatedMemory, cr3: UInt64, va: UInt64) -> UInt64? {
        var table = cr3
        for level in [4, 3] {
            guard let e = m.specLoad(table + 8 * ((va >> (12 + 9 * UInt64(level - 1))) & 0x1FF)), e & 1 != 0 else { return nil }
            table = e & SpecMMU.frameBits
        }
        return table + 8 * ((va >> 21) & 0x1FF)
    }
}
