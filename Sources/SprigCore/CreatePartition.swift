/// `createPartition`: five pages of the caller become a new child's structures (DESIGN.md §4).
import SprigABI

public enum CreatePartition {
    /// Makes a new child of `caller` out of five of its pages: descriptor, PML4, shadow 1 root,
    /// shadow 2 root, first configuration page. The child is named by `descriptor`'s vaddr.
    ///
    /// - Precondition: `caller` is a live partition descriptor (the kernel's, not a hostile value).
    /// - Postcondition: on success the five pages are zeroed structures, inaccessible to the
    ///   caller and its ancestors; the PML4's upper half is the caller's (the kernel's,
    ///   supervisor-only); `Partition.child(caller, descriptor)` is the new descriptor, whose
    ///   configuration list records the four other pages. On failure nothing changed.
    public static func createPartition<P: Platform>(
        _ p: P, caller: PhysicalAddress,
        descriptor: UserAddress, pml4: UserAddress, shadow1: UserAddress, shadow2: UserAddress, configList: UserAddress
    ) -> Status {
        assert(Partition.pml4(p, caller).raw != 0, "caller is not a descriptor")
        // Check everything first.
        var pages = InlineArray<5, PageOwnership.OwnedPage?>(repeating: nil)
        let names = [descriptor, pml4, shadow1, shadow2, configList] as InlineArray<5, UserAddress>
        var i = 0
        while i < 5 {
            switch PageOwnership.checkGivable(p, caller: caller, names[i], structure: true) {
            case .failure(let s): return s
            case .success(let page):
                var j = 0
                while j < i {
                    if pages[j]?.paddr == page.paddr { return .duplicatePage }
                    j += 1
                }
                pages[i] = page
            }
            i += 1
        }
        guard let d = pages[0], let t = pages[1], let s1 = pages[2], let s2 = pages[3], let cfg = pages[4]
        else { return .invalidArgument }

        // Then change: every step below succeeds.
        i = 0
        while i < 5 {
            if let page = pages[i] { PageOwnership.takeAsStructure(p, caller: caller, page) }
            i += 1
        }
        let callerPML4 = Partition.pml4(p, caller)
        var k: UInt64 = 256
        while k < 512 {
            p.store(t.paddr.adding(k * 8), p.load(callerPML4.adding(k * 8)))
            k += 1
        }
        Descriptor.initializeChild(
            p, d.paddr, name: d.va, parent: caller,
            pml4: (t.paddr, t.va), shadow1: (s1.paddr, s1.va), shadow2: (s2.paddr, s2.va), configListVAddr: cfg.va)
        ConfigList.pushPage(p, d.paddr, page: cfg.paddr, va: cfg.va)
        i = 0
        while i < 4 {
            if let page = pages[i] { ConfigList.append(p, d.paddr, page: page.paddr, va: page.va) }
            i += 1
        }
        p.store(d.slots.sh1At, d.paddr.raw | Shadow.descriptorFlag)

        assert(Partition.child(p, caller: caller, named: descriptor) == d.paddr)
        return .success
    }
}
