/// `addVAddr`, `removeVAddr`, `mappedInChild`: sharing the caller's pages with its children
/// (DESIGN.md §4).
///
/// A page is given to at most one child, at one vaddr: the caller's shadow 1 records the child at
/// the page's vaddr, the child's shadow 2 records the page's vaddr in the caller. Rights are
/// monotonic: the child's leaf never grants write or execute the caller lacks on that page.
/// (Pip's x86 code does not check this; Sprig does.) The caller's rights are what its own leaf
/// grants: every non-leaf entry of a partition's lower half is built by the kernel as
/// `PageTableEntry.table` (granting every right), so the leaf decides.
import SprigABI

package enum Sharing {
    /// Maps the caller's page at `vaParent` into the child named `child` at `vaChild` with
    /// `rights` (`Rights.read` required, plus `write`/`execute`; no other bit).
        /// - Postcondition: on success the child maps the page at `vaChild` with exactly `rights`,
    ///   `mappedInChild(vaParent)` names the child, and the caller still maps it. On failure
    ///   nothing changed.
    package static func addVAddr<P: Platform>(
        _ p: P, caller: Descriptor, vaParent: UserAddress, child name: UserAddress,
        vaChild: UserAddress, rights unchecked: UncheckedRights
    ) -> Status {
        guard let rights = unchecked.checked() else { return .invalidArgument }
        guard let child = Partition.child(p, caller: caller, named: name) else { return .invalidChild }
        let page: PageOwnership.OwnedPage
        do throws(Status) { page = try PageOwnership.checkGivable(p, caller: caller, vaParent, structure: false) } catch { return error }
        let callerLeaf = PageTableEntry(raw: p.load(page.slots.entryAt))
        if rights.write {
            guard (try? PageTableWalk.userTranslate(
                p, rootTable: caller.rootTable(p).paddr, va: page.va, write: true)) != nil
            else { return .rightsExceedCaller }
        }
        if rights.execute, !callerLeaf.isExecutable { return .rightsExceedCaller }
        let va: VirtualAddress
        do throws(Status) { va = try vaChild.checkedPage() } catch { return error }
        // No code on the VIDT page: a 2-byte syscall or int n at its last bytes would return to
        // 0x0000_8000_0000_0000, where iretq faults at CPL 0 (the exit path also checks rip).
        if rights.execute, va.raw == AddressSpace.vidt { return .executeAtVIDT }
        guard let slots = Shadow.leafSlots(p, descriptor: child, va: va) else { return .notPrepared }
        guard !PageTableEntry(raw: p.load(slots.entryAt)).isPresent else { return .childAddressInUse }

        // Leaf words only: the caches keep every answer that did not read them (`writeLeaf`).
        Structures.writeLeaf(p, .table(owner: child, va: va), slots.entryAt, PageTableEntry.leaf(page.paddr, rights: rights).raw)
        Structures.writeLeaf(p, .shadow, slots.sh1At, 0)
        Structures.writeLeaf(p, .shadow, slots.sh2At, page.va.raw)
        Structures.writeLeaf(p, .shadow, page.slots.sh1At, child.paddr.raw)

        assert(mappedInChild(p, caller: caller, vaParent: vaParent).child == name.raw)
        return .success
    }

    /// Takes back the page mapped at `vaChild` in the child named `child`, if the child has not
    /// given it on (to a grandchild, or as a structure).
        /// - Postcondition: on success nothing is mapped at `vaChild` in the child and the caller's
    ///   page is no longer given (`mappedInChild` is 0). On failure nothing changed.
    package static func removeVAddr<P: Platform>(
        _ p: P, caller: Descriptor, child name: UserAddress, vaChild: UserAddress
    ) -> Status {
        let child: Descriptor, va: VirtualAddress
        do throws(Status) { (child, va) = try Partition.child(p, caller: caller, named: name, page: vaChild) } catch { return error }
        guard let slots = Shadow.leafSlots(p, descriptor: child, va: va) else { return .addressNotMapped }
        let leaf = PageTableEntry(raw: p.load(slots.entryAt))
        guard leaf.isPresent else { return .addressNotMapped }
        guard leaf.isUser, p.load(slots.sh1At) == 0 else { return .pageGivenFurther }
        let vaParent = VirtualAddress(p.load(slots.sh2At))
        guard let parentSlots = Shadow.leafSlots(p, descriptor: caller, va: vaParent),
              p.load(parentSlots.sh1At) == child.paddr.raw
        else {
            assertionFailure("child's shadow 2 disagrees with the caller's shadow 1")
            return .invalidChild
        }

        // Leaf words only: the caches drop what named the page and keep the rest (`writeLeaf`).
        Structures.writeLeaf(p, .table(owner: child, va: va), slots.entryAt, 0)
        Structures.writeLeaf(p, .shadow, slots.sh2At, 0)
        Structures.writeLeaf(p, .shadow, parentSlots.sh1At, 0)

        assert(mappedInChild(p, caller: caller, vaParent: UserAddress(vaParent.raw)).child == 0)
        return .success
    }

    /// Which child the caller's page at `vaParent` was given to: the child's name (its descriptor's
    /// vaddr in the caller), or 0 when it was not given (or is a child's structure page).
        /// - Postcondition: nothing changed.
    package static func mappedInChild<P: Platform>(
        _ p: P, caller: Descriptor, vaParent: UserAddress
    ) -> (status: Status, child: UInt64) {
        let va: VirtualAddress
        do throws(Status) { va = try vaParent.checkedPage() } catch { return (error, 0) }
        guard let slots = Shadow.leafSlots(p, descriptor: caller, va: va),
              PageTableEntry(raw: p.load(slots.entryAt)).isPresent
        else { return (.addressNotMapped, 0) }
        let sh1 = p.load(slots.sh1At)
        guard let child = Descriptor.given(shadow1: sh1) else { return (.success, 0) }
        return (.success, child.vaddrInParent(p))
    }
}
