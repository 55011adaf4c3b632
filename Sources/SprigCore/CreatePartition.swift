/// `createPartition`: five pages of the caller become a new child's structures (DESIGN.md §4).
import SprigABI

package enum CreatePartition {
    /// Makes a new child of `caller` out of five of its pages: descriptor, root table, shadow 1 root,
    /// shadow 2 root, first configuration page. The child is named by `descriptor`'s vaddr.
    ///
    /// - Postcondition: on success the five pages are zeroed structures, inaccessible to the
    ///   caller and its ancestors; the root table's upper half is the caller's (the kernel's,
    ///   supervisor-only); `Partition.child(caller, descriptor)` is the new descriptor, whose
    ///   configuration list records the four other pages. On failure nothing changed.
    package static func createPartition<P: Platform>(
        _ p: P, caller: Descriptor,
        descriptor: UserAddress, rootTable: UserAddress, shadow1: UserAddress, shadow2: UserAddress, configList: UserAddress
    ) -> Status {
        // Check everything first.
        var pages = InlineArray<5, PageOwnership.OwnedPage?>(repeating: nil)
        let names = [descriptor, rootTable, shadow1, shadow2, configList] as InlineArray<5, UserAddress>
        var i = 0
        do throws(Status) {
            while i < 5 {
                let page = try PageOwnership.checkGivable(p, caller: caller, names[i], structure: true)
                var j = 0
                while j < i {
                    if pages[j]?.paddr == page.paddr { return .duplicatePage }
                    j += 1
                }
                pages[i] = page
                i += 1
            }
        } catch {
            return error
        }
        guard let d = pages[0], let t = pages[1], let s1 = pages[2], let s2 = pages[3], let cfg = pages[4]
        else { return .invalidArgument }

        // Then change: every step below succeeds.
        i = 0
        while i < 5 {
            if let page = pages[i] { PageOwnership.takeAsStructure(p, caller: caller, page) }
            i += 1
        }
        KernelHalf.share(p, from: caller.rootTable(p).paddr, to: t.paddr)
        let child = Descriptor.initializeChild(
            p, d.paddr, name: d.va, parent: caller,
            rootTable: (t.paddr, t.va), shadow1: (s1.paddr, s1.va), shadow2: (s2.paddr, s2.va), configListVAddr: cfg.va)
        ConfigList.pushPage(p, child, page: cfg.paddr, va: cfg.va)
        i = 0
        while i < 4 {
            if let page = pages[i] { ConfigList.append(p, child, page: page.paddr, va: page.va) }
            i += 1
        }
        Structures.write(p, d.slots.sh1At, d.paddr.raw | Shadow.descriptorFlag)

        assert(Partition.child(p, caller: caller, named: descriptor)?.paddr == d.paddr)
        return .success
    }
}
