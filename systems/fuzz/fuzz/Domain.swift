/// The argument domains of the campaign: where random arguments come from.
///
/// Arguments are drawn from what makes a kernel check work: root's own free pages (most calls
/// should be able to succeed), pages it already gave, kernel structures, its vital pages,
/// children's names living and dead, the child address space's interesting places, and
/// addresses no partition may use (kernel half, kernel image, non-canonical, unmapped,
/// misaligned). A `hostile` address is refused wherever a page is checked; root adds one to a
/// call that names one of its vital pages where the kernel would take a page (createPartition,
/// a free list), so that a kernel following the rules can never take those.
import SprigABI
import SprigUser

/// What a page argument was, for predicting the answer.
enum PageClass {
    static let free: UInt64 = 0
    static let given: UInt64 = 1
    static let structure: UInt64 = 2
    static let vital: UInt64 = 3
    static let module: UInt64 = 4
    static let hostile: UInt64 = 5
}

enum Domain {
    /// An address no byte of which is root's: kernel half, non-canonical, unmapped.
    static func notMine(_ r: inout Random) -> UInt64 {
        var a = hostile(&r)
        while a & 0xFFF != 0 || a == AddressSpace.rootWindowBase { a = hostile(&r) }
        return a
    }

    /// An address no partition may name as a page of its own.
    static func hostile(_ r: inout Random) -> UInt64 {
        switch r.below(8) {
        case 0: return 0xFFFF_8000_0000_0000 &+ r.below(1 << 20) &* 4096   // kernel half, the direct map
        case 1: return 0xFFFF_FFFF_8000_0000 &+ r.below(1024) &* 4096      // the kernel image
        case 2: return 0x0000_8000_0000_0000 &+ r.below(1 << 20) &* 4096   // non-canonical
        case 3: return 0xFFFF_0000_0000_0000 | (r.below(1 << 30) &* 4096)  // non-canonical
        case 4: return 0x0000_6000_0000_0000 &+ r.below(1 << 20) &* 4096   // unmapped
        case 5: return Model.va(Int(r.below(Model.poolPages))) &+ 8 &* (1 &+ r.below(511))  // misaligned
        case 6: return 0                                                    // page 0, unmapped
        default: return AddressSpace.rootWindowBase                         // below 1 MiB: not root's
        }
    }

    /// A page argument of root's: free 'percent of the time, else any other class.
    static func page(_ r: inout Random, freePercent: UInt64) -> (va: UInt64, cls: UInt64) {
        if r.chance(freePercent) {
            let i = Model.random(&r, home: Home.pool, use: Use.mine)
            if i >= 0 { return (Model.va(i), PageClass.free) }
        }
        switch r.below(10) {
        case 0, 1:
            let i = Model.random(&r, home: nil, use: Use.given)
            if i >= 0 { return (Model.va(i), PageClass.given) }
        case 2, 3:
            let i = Model.random(&r, home: nil, use: Use.structure)
            if i >= 0 { return (Model.va(i), PageClass.structure) }
        case 4:
            let i = Model.random(&r, home: Home.vital, use: Use.mine)
            if i >= 0 { return (Model.va(i), PageClass.vital) }
        case 5:
            let i = Model.random(&r, home: Home.module, use: Use.mine)
            if i >= 0 { return (Model.va(i), PageClass.module) }
        case 6:
            return (r.next(), PageClass.hostile)
        default:
            break
        }
        return (hostile(&r), PageClass.hostile)
    }

    /// A child name: live children most of the time, also deleted ones, structure pages that
    /// are not descriptors, pages of root's, 0, hostile values.
    static func childName(_ r: inout Random) -> UInt64 {
        let roll = r.below(20)
        if roll < 14 {
            var s = Int(roll < 10 ? r.below(UInt64(Model.builtSlots)) : UInt64(Model.builtSlots) + r.below(3))
            var tries = Model.slots
            while tries > 0 {
                if Model.child(s).pointee.name != 0 { return Model.child(s).pointee.name }
                s = (s + 1) % Model.slots
                tries -= 1
            }
        }
        switch roll {
        case 14, 15:
            let d = Model.dead[Int(r.below(4))]
            if d != 0 { return d }
        case 16:
            let i = Model.random(&r, home: nil, use: Use.structure)
            if i >= 0 { return Model.va(i) }
        case 17:
            let i = Model.random(&r, home: Home.pool, use: Use.mine)
            if i >= 0 { return Model.va(i) }
        case 18:
            return 0
        default:
            break
        }
        return hostile(&r)
    }

    /// Where root shares pages in a child (prepared on demand).
    static let shareBase: UInt64 = 0x3000_0000
    static let shareSlots: UInt64 = 8

    /// A vaddr in a child's address space.
    static func childVA(_ r: inout Random) -> UInt64 {
        switch r.below(20) {
        case 0..<8: return shareBase + r.below(shareSlots) * AddressSpace.pageSize
        case 8, 9: return 0x5555_0000_0000 &+ r.below(4) &* 0x80_0000_0000
        case 10: return AddressSpace.vidt
        case 11: return ChildLayout.contextPages + r.below(2) * AddressSpace.pageSize
        case 12: return ChildLayout.stackTop - AddressSpace.pageSize
        case 13: return ChildLayout.poolBase + r.below(FuzzMailbox.poolPages) * AddressSpace.pageSize
        case 14: return AddressSpace.imageBase
        case 15: return ChildLayout.extraBase
        case 16: return hostile(&r)
        case 17: return r.next()
        case 18: return shareBase + 8 * (1 + r.below(511))
        default: return ChildLayout.consolePage
        }
    }

    /// A page of a built child's own space for a system call it makes on root's orders: mostly
    /// its pool, sometimes a page root reads or writes or the child runs on
    /// (`isSpecialChildPage`), which the caller keeps from becoming a structure page.
    static func childOwnPage(_ r: inout Random) -> UInt64 {
        switch r.below(20) {
        case 0..<12:
            let spare = FuzzMailbox.poolPages - FuzzMailbox.grandchildPages
            return ChildLayout.poolBase + (FuzzMailbox.grandchildPages + r.below(spare)) * AddressSpace.pageSize
        case 12, 13: return ChildLayout.poolBase + r.below(FuzzMailbox.grandchildPages) * AddressSpace.pageSize
        case 14: return AddressSpace.vidt
        case 15: return ChildLayout.contextPages + r.below(2) * AddressSpace.pageSize
        case 16: return r.chance(50) ? ChildLayout.extraBase : AddressSpace.imageBase
        case 17: return ChildLayout.stackTop - AddressSpace.pageSize
        default: return hostile(&r)
        }
    }

    /// Whether `va` lies on one of a built child's pages that root reads or writes (mailbox,
    /// VIDT, contexts, console) or that the child runs on (image, stacks): the pages that must
    /// never reach the kernel as a structure page, whichever domain named them.
    static func isSpecialChildPage(_ va: UInt64) -> Bool {
        let page = va & ~0xFFF
        let ps = AddressSpace.pageSize
        if page == AddressSpace.vidt || page == ChildLayout.extraBase || page == ChildLayout.consolePage { return true }
        if page >= ChildLayout.contextPages && page < ChildLayout.contextPages + 2 * ps { return true }
        if page >= AddressSpace.imageBase && page < AddressSpace.imageBase + 64 * ps { return true }
        if page < ChildLayout.stackTop && page >= ChildLayout.stackTop - ChildLayout.stackPages * ps { return true }
        return page < ChildLayout.handlerStackTop && page >= ChildLayout.handlerStackTop - ChildLayout.handlerStackPages * ps
    }

    /// A VIDT index, mostly in range.
    static func vidtIndex(_ r: inout Random) -> UInt64 {
        switch r.below(10) {
        case 0: return 512 &+ r.below(1 << 20)
        case 1: return r.next()
        default: return r.below(512)
        }
    }

    /// yield's flags: enabled, masked, or any value (the kernel stores nonzero as masked).
    static func flags(_ r: inout Random) -> UInt64 {
        switch r.below(6) {
        case 0, 1, 2: return InterruptFlags.enabled
        case 3, 4: return InterruptFlags.masked
        default: return r.next()
        }
    }

    /// addVAddr's rights: valid combinations mostly, unknown bits sometimes.
    static func rights(_ r: inout Random) -> UInt64 {
        switch r.below(10) {
        case 0, 1, 2: return Rights.read | Rights.write
        case 3, 4: return Rights.read
        case 5: return Rights.read | Rights.execute
        case 6: return Rights.all
        case 7: return Rights.write
        case 8: return 0
        default: return r.next() & 0xFF
        }
    }
}
