/// The one page-table walk: `PageTableWalk.userWalk`, unrolled for yield and delivery, gives
/// exactly what the level-by-level reference walk (`PageTableWalk.walk`) gives, on tables with
/// every combination of present, user, writable, large-page and no-execute bits; and the one
/// shadow walk (`Shadow.slots`), over the tables `Shadow.buildLevels` grew for root at boot
/// (`RootBuilder`) and for a child (`prepare`), reaches the very leaf entry the MMU's walk does.
import SprigABI
import SprigCore
import SprigModel
import Testing

@Suite("One page-table walk")
struct OneWalkTests {
    /// A deterministic generator (SplitMix64), so a failure names a reproducible seed.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z &>> 31)
        }
    }

    @Test("the unrolled walk agrees with the reference walk on random tables", arguments: [1, 2, 3, 4] as [UInt64])
    func unrolledEqualsReference(seed: UInt64) {
        let pages: UInt64 = 8
        let m = SimulatedMemory(pages: Int(pages))
        var g = Generator(state: seed)
        // Each bit with its chance in eighths: present and large pages are what end a walk.
        let flagBits: [(UInt64, UInt64)] = [(PageTableEntry.present, 7), (PageTableEntry.writable, 4),
                                            (PageTableEntry.user, 5), (PageTableEntry.largePage, 1),
                                            (PageTableEntry.noExecute, 4)]
        // Entries point at pages of the same small memory, so walks go several levels deep.
        for word in 0..<(pages * 512) {
            var flags: UInt64 = 0
            for (bit, eighths) in flagBits where g.next() % 8 < eighths { flags |= bit }
            let frame = PhysicalAddress((g.next() % pages) * 4096)
            m.store(PhysicalAddress(word * 8), PageTableEntry(frame: frame, flags: flags).raw)
        }
        var compared = 0, reached = 0
        for _ in 0..<4000 {
            // Indices below 8 at each level keep the walk on the few pages that have entries
            // worth following; a few addresses are non-canonical or in the kernel half.
            var raw: UInt64 = g.next() & 0xFFF
            for level in 1...4 { raw |= (g.next() % 8) << (12 + 9 * UInt64(level - 1)) }
            switch g.next() % 16 {
            case 0: raw |= 0x0000_8000_0000_0000
            case 1: raw |= 0xFFFF_8000_0000_0000
            default: break
            }
            let pml4 = PhysicalAddress((g.next() % pages) * 4096)
            let va = VirtualAddress(raw)
            let unrolled = Result { () throws(Status) in try PageTableWalk.userWalk(m, rootTable: pml4, va: va) }
            let reference = Result { () throws(Status) in try PageTableWalk.walk(m, rootTable: pml4, va: va).walk }
            #expect(unrolled == reference, "seed \(seed), va \(raw), pml4 \(pml4.raw)")
            compared += 1
            if case .success = reference { reached += 1 }
        }
        // Both kinds of outcome were exercised.
        #expect(reached > 100 && reached < compared - 100, "reached \(reached) of \(compared)")
    }

    @Test("root as RootBuilder built it and a prepared child: the shadow walk finds the MMU walk's leaf, for every page")
    func shadowWalkMeetsTheMMUWalk() throws {
        let m = ModelMachine(pages: 256)
        let c = m.makeChild(of: m.root, pages: 3)
        let tree = m.tree()
        #expect(tree.violations.isEmpty)
        var checked = 0
        for view in tree.partitions {
            let d = m.descriptor(PhysicalAddress(view.descriptor))
            let rootTable = d.rootTable(m.memory).paddr
            for leaf in view.leaves {
                let va = VirtualAddress(leaf.va)
                let mmu = try PageTableWalk.walk(m.memory, rootTable: rootTable, va: va)
                let shadow = try #require(Shadow.leafSlots(m.memory, descriptor: d, va: va), "va \(leaf.va)")
                #expect(shadow.entryAt == mmu.leafAt && mmu.walk.frame == leaf.paddr, "va \(leaf.va)")
                // One page further in a level nobody built: both walks stop.
                let past = VirtualAddress(leaf.va | (1 << 38))
                if (try? PageTableWalk.walk(m.memory, rootTable: rootTable, va: past)) == nil {
                    #expect(Shadow.leafSlots(m.memory, descriptor: d, va: past) == nil
                            || !PageTableEntry(raw: m.memory.load(Shadow.leafSlots(m.memory, descriptor: d, va: past)!.entryAt)).isPresent)
                }
                checked += 1
            }
        }
        // Root's whole window and the child's pages were compared.
        #expect(checked > 200 && tree.partitions.count == 2 && c.name != 0)
    }
}
