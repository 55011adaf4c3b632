/// What root believes it owns, and the checks that the kernel agrees.
///
/// Every page the campaign may name is *tracked*: one entry (its vaddr, where it comes from, who
/// uses it now). Root changes an entry only on a service's success, by what that service
/// promises (DESIGN.md §4): createPartition and prepare turn its pages into `structure`s of the
/// child, addVAddr `give`s a page, removeVAddr, collect and deletePartition give pages back.
/// The kernel is never asked what to believe, only checked against it:
///
/// * a page that is `mine` holds its canary words (1 and 511; word 0 is free for free-list
///   links), is writable, is given to no child (`mappedInChild` 0) and can be given
///   (`createPartition` with it five times answers `duplicatePage`: each check passed until
///   the second copy — a probe that changes nothing whatever it answers);
/// * a page `given` to child k is what `mappedInChild` says was given to k;
/// * a `structure` page cannot be given (the same probe answers `pageNotAccessible`).
///
/// Root reads and writes only pages that are `mine`, its own vital pages, and the pages of an
/// intact child it shares on purpose (mailbox, VIDT, contexts). A kernel that took one of them
/// away anyway would make root fault: a root fault is a kernel crash report, a failure too.
import SprigABI
import SprigUser

/// Where a tracked page comes from; fixed for the campaign.
enum Home {
    /// Root's pool: the pages its own random calls draw from.
    static let pool: UInt64 = 0
    /// A child slot's region: ChildBuilder builds that child from it.
    static let region: UInt64 = 1
    /// A child image module (read/write/execute, restored before each build).
    static let module: UInt64 = 2
    /// Root's own pages that the campaign may share read-only (image, stack, VIDT, boot info…).
    static let vital: UInt64 = 3
}

/// Who uses a tracked page now.
enum Use {
    static let mine: UInt64 = 0
    static let given: UInt64 = 1
    static let structure: UInt64 = 2
}

/// A child of root as root knows it. Slots 0…2 are built with ChildBuilder from an image
/// module (they run the fuzzchild program); slots 3…5 are bare children that root's own
/// random createPartition calls made.
struct ChildSlot {
    /// Its descriptor's vaddr (its name); 0 when the slot is empty.
    var name: UInt64 = 0
    var built = false
    /// False once root took back one of the pages ChildBuilder gave it: what it does is no
    /// longer predicted, and its pages are no longer touched.
    var intact = false
    /// Root's vaddrs of its mailbox, VIDT and first context page (built children).
    var mailbox: UInt64 = 0
    var vidt: UInt64 = 0
    var contexts: UInt64 = 0
    var grandchild = false
}

enum Model {
    static let poolPages: UInt64 = 160
    static let regionPages: UInt64 = 176
    static let builtSlots = 3
    static let slots = 6
    static let maxEntries = 1024

    nonisolated(unsafe) static var seed: UInt64 = 0
    nonisolated(unsafe) static var entries = UnsafeMutablePointer<UInt64>(bitPattern: 8)!
    nonisolated(unsafe) static var count = 0
    nonisolated(unsafe) static var arenaStart: UInt64 = 0
    nonisolated(unsafe) static var children = UnsafeMutablePointer<ChildSlot>(bitPattern: 8)!
    /// Names of deleted children (a deleted name must name nothing).
    nonisolated(unsafe) static var dead: InlineArray<4, UInt64> = [0, 0, 0, 0]
    nonisolated(unsafe) static var deadNext = 0

    static var arenaPages: UInt64 { poolPages + UInt64(builtSlots) * regionPages }
    static func regionStart(_ slot: Int) -> UInt64 { arenaStart + (poolPages + UInt64(slot) * regionPages) * AddressSpace.pageSize }

    // MARK: Entries

    static func va(_ i: Int) -> UInt64 { entries[2 * i] }
    static func home(_ i: Int) -> UInt64 { entries[2 * i + 1] & 0xFF }
    static func use(_ i: Int) -> UInt64 { (entries[2 * i + 1] >> 8) & 0xFF }
    static func slot(_ i: Int) -> Int { Int((entries[2 * i + 1] >> 16) & 0xFF) }
    static func set(_ i: Int, use: UInt64, slot: Int = 0) {
        entries[2 * i + 1] = home(i) | use << 8 | UInt64(slot) << 16
    }

    /// Tracks `va`; returns its index.
    @discardableResult
    static func track(_ va: UInt64, home: UInt64) -> Int {
        precondition(count < maxEntries, "fuzz: too many tracked pages")
        entries[2 * count] = va
        entries[2 * count + 1] = home
        count += 1
        return count - 1
    }

    /// The entry of the page at `va` (page-aligned), or -1.
    static func find(_ va: UInt64) -> Int {
        guard va & 0xFFF == 0 else { return -1 }
        if va >= arenaStart && va < arenaStart + arenaPages * AddressSpace.pageSize {
            return Int((va - arenaStart) / AddressSpace.pageSize)
        }
        var i = Int(arenaPages)
        while i < count {
            if entries[2 * i] == va { return i }
            i += 1
        }
        return -1
    }

    static func canary(_ va: UInt64) -> UInt64 { mix(seed, va) }

    /// The page is root's again: `mine`, with fresh canaries when it is pool or region memory.
    static func giveBack(_ i: Int) {
        set(i, use: Use.mine)
        writeCanaries(i)
    }

    static func writeCanaries(_ i: Int) {
        guard home(i) == Home.pool || home(i) == Home.region else { return }
        let va = va(i)
        word(va).pointee = 0
        word(va + 8).pointee = canary(va)
        word(va + 4088).pointee = ~canary(va)
    }

    static func canariesHold(_ i: Int) -> Bool {
        guard use(i) == Use.mine, home(i) == Home.pool || home(i) == Home.region else { return true }
        let va = va(i)
        return word(va + 8).pointee == canary(va) && word(va + 4088).pointee == ~canary(va)
    }

    /// A random entry of `home` (any home when nil) used as `use`, or -1 after a bounded search.
    static func random(_ r: inout Random, home wanted: UInt64?, use wanted2: UInt64) -> Int {
        var lo = 0, hi = count
        if wanted == Home.pool { hi = Int(poolPages) }
        else if wanted == Home.region { lo = Int(poolPages); hi = Int(arenaPages) }
        else if wanted == Home.module || wanted == Home.vital { lo = Int(arenaPages) }
        guard hi > lo else { return -1 }
        var i = lo + Int(r.below(UInt64(hi - lo)))
        var tries = hi - lo
        while tries > 0 {
            if use(i) == wanted2 && (wanted == nil || home(i) == wanted!) { return i }
            i = i + 1 == hi ? lo : i + 1
            tries -= 1
        }
        return -1
    }

    // MARK: Children

    static func child(_ slot: Int) -> UnsafeMutablePointer<ChildSlot> { children + slot }

    /// The slot whose live child is named `name`, or -1.
    static func slot(named name: UInt64) -> Int {
        guard name != 0 else { return -1 }
        var s = 0
        while s < slots {
            if children[s].name == name { return s }
            s += 1
        }
        return -1
    }

    static func isLiveChild(_ name: UInt64) -> Bool { slot(named: name) >= 0 }

    static func bury(_ name: UInt64) {
        dead[deadNext] = name
        deadNext = (deadNext + 1) % 4
    }

    // MARK: Checks against the kernel

    /// The probe: `createPartition(va × 5)` changes nothing; `duplicatePage` means every check
    /// of a page to be given passed on `va`.
    static func probe(_ va: UInt64) -> UInt64 {
        Stats.probes += 1
        return Sprig.callRaw(Service.createPartition.rawValue, va, va, va, va, va).raw
    }

    /// The class of the page-argument domain (`PageClass`) of the bytes `[va, va + length)`
    /// (`length` 1…4096): the first class among hostile, structure, given, vital, module, free
    /// that a page they touch has. An untracked page is hostile. A byte range is what
    /// consoleRead checks, so an address inside a tracked page is that page's, not hostile.
    static func byteRangeClass(_ va: UInt64, _ length: UInt64) -> UInt64 {
        let last = va &+ (length &- 1)
        guard length >= 1, last >= va else { return PageClass.hostile }
        var worst = PageClass.free
        var page = va & ~0xFFF
        while page <= last & ~0xFFF {
            let i = find(page)
            let cls: UInt64
            if i < 0 { cls = PageClass.hostile }
            else if use(i) == Use.structure { cls = PageClass.structure }
            else if use(i) == Use.given { cls = PageClass.given }
            else if home(i) == Home.vital { cls = PageClass.vital }
            else if home(i) == Home.module { cls = PageClass.module }
            else { cls = PageClass.free }
            worst = rank(cls) > rank(worst) ? cls : worst
            page &+= AddressSpace.pageSize
        }
        return worst
    }

    private static func rank(_ cls: UInt64) -> Int {
        switch cls {
        case PageClass.hostile: return 5
        case PageClass.structure: return 4
        case PageClass.given: return 3
        case PageClass.vital: return 2
        case PageClass.module: return 1
        default: return 0
        }
    }

    /// Whether the kernel agrees with entry `i`: nil when it does, else what it said instead.
    static func disagreement(_ i: Int) -> StaticString? {
        let va = va(i)
        let given = Sprig.callRaw(Service.mappedInChild.rawValue, va)
        Stats.probes += 1
        switch use(i) {
        case Use.mine:
            guard given.raw == 0, given.value == 0 else { return "mappedInChild of a page of mine is not 0" }
            guard probe(va) == Status.duplicatePage.rawValue else { return "a page of mine cannot be given (probe)" }
            guard canariesHold(i) else { return "a page of mine lost its canary words" }
        case Use.given:
            guard given.raw == 0, given.value == child(slot(i)).pointee.name else {
                return "mappedInChild of a page I gave does not name the child"
            }
        default:
            guard probe(va) == Status.pageNotAccessible.rawValue else { return "a structure page is not pageNotAccessible (probe)" }
        }
        return nil
    }

    /// Every page of mine is writable: a word written and read back (root faults otherwise).
    static func writable(_ i: Int) -> Bool {
        guard use(i) == Use.mine, home(i) == Home.pool || home(i) == Home.region else { return true }
        let w = word(va(i) + 2048)
        let saved = w.pointee
        w.pointee = ~saved
        let ok = w.pointee == ~saved
        w.pointee = saved
        return ok
    }
}
