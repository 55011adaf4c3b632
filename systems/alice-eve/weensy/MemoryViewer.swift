/// Root's memory viewer, after WeensyOS's: the physical memory map, 64 pages a row, one letter
/// and colour per owner, and what root mapped in a child; like WeensyOS's, it is also a checker
/// that prints PAGE TABLE ERROR where ownership is not what it must be.
///
/// Root draws it from what it knows without any service of its own: what it gave (its ledger:
/// the runs of pages it set aside for each child, the pages it shares), where the kernel built
/// its boot pages (RootBuilder's order, which boot info's counts pin down: `BootPages`), the
/// kernel image's physical extent (from kernel.elf's symbols on the command line), and the
/// kernel's answers to `mappedInChild` (which child a page was given to) and `consoleRead`
/// (whether root can still write a page).
///
/// Letters: K kernel image, S kernel structure pages (descriptors, page tables, shadows,
/// configuration lists: root's own and its children's), R root (its boot pages and the pages it
/// keeps for itself), A Alice, E Eve, . free (root's, given to nobody, unused), - not RAM the
/// kernel uses (below 1 MiB, holes). docs/alice-eve.md explains them; `sprig memmap` draws the
/// same map from the model, where R and . are both "root's, given to no child".
///
/// The checks (each failure one `PAGE TABLE ERROR` line):
/// * a page root gave one child is given to another (two incomparable partitions), or a page
///   root never gave is given to a child;
/// * a page root gave as a kernel structure is still writable by root (a kernel page
///   reachable from a partition: `consoleRead` of one byte into it succeeds);
/// * a page root gave a child is given to no child any more.
import SprigABI
import SprigUser

enum Letter {
    static let kernel = UInt8(ascii: "K")
    static let structure = UInt8(ascii: "S")
    static let root = UInt8(ascii: "R")
    static let alice = UInt8(ascii: "A")
    static let eve = UInt8(ascii: "E")
    static let free = UInt8(ascii: ".")
    static let none = UInt8(ascii: "-")
    static let unknown = UInt8(ascii: "?")

    /// The ANSI foreground colour of each letter.
    static func colour(_ l: UInt8) -> StaticString {
        switch l {
        case kernel: return "\u{1B}[1;31m"
        case structure: return "\u{1B}[35m"
        case root: return "\u{1B}[33m"
        case alice: return "\u{1B}[32m"
        case eve: return "\u{1B}[36m"
        case none: return "\u{1B}[90m"
        default: return "\u{1B}[0m"
        }
    }
}

/// The pages the kernel's boot allocator handed out to build root, replayed in RootBuilder's
/// order (Sources/SprigCore/RootBuilder.swift): from the top of the highest free range down,
/// a descriptor, a PML4 and two shadow roots, then each of root's own pages (image, stack,
/// VIDT, boot info, initial context) followed by the three pages (table and two shadows) of
/// every table level its mapping lacked, then the tables of the window, whose pages are taken
/// from the bottom. Boot info gives the counts; a count that does not come out is reported.
enum BootPages {
    static let capacity = 1024
    /// Physical address of the lowest page handed out, and how many.
    nonisolated(unsafe) static var low: UInt64 = 0
    nonisolated(unsafe) static var count: UInt64 = 0
    /// The letter of each, from `low` up.
    nonisolated(unsafe) static var letters: InlineArray<1024, UInt8> = .init(repeating: 0)
    nonisolated(unsafe) static var tables: InlineArray<128, UInt64> = .init(repeating: 0)
    nonisolated(unsafe) static var tableCount = 0
    nonisolated(unsafe) static var next: UInt64 = 0
    nonisolated(unsafe) static var consistent = true

    static func hand(_ letter: UInt8) {
        guard next < count, next < UInt64(capacity) else { consistent = false; return }
        // The n-th page handed out is the n-th from the top.
        letters[Int(count - 1 - next)] = letter
        next += 1
    }

    /// Hands out the table pages `va`'s mapping lacks (levels 4, 3, 2 of the walk).
    static func tablesFor(_ va: UInt64) {
        var shift: UInt64 = 39
        while shift >= 21 {
            let key = (shift << 56) | (va >> shift)
            var k = 0
            var present = false
            while k < tableCount { if tables[k] == key { present = true; break }; k += 1 }
            if !present {
                if tableCount < 128 { tables[tableCount] = key; tableCount += 1 } else { consistent = false }
                hand(Letter.structure); hand(Letter.structure); hand(Letter.structure)
            }
            shift -= 9
        }
    }

    static func compute(_ info: BootInfo, kernelImagePages: UInt64) {
        let page = AddressSpace.pageSize
        var top: UInt64 = 0
        var i = 0
        while i < info.rangeCount {
            let r = info.range(i)
            top = max(top, r.vaddr - AddressSpace.rootWindowBase + r.pages * page)
            i += 1
        }
        let structures = info.kernelPages &- kernelImagePages
        count = structures + info.imagePages + AddressSpace.rootStackPages + 3
        low = top
        next = 0
        consistent = count <= UInt64(capacity)
        guard consistent else { return }
        hand(Letter.structure); hand(Letter.structure); hand(Letter.structure); hand(Letter.structure)
        func fresh(_ va: UInt64) { hand(Letter.root); tablesFor(va) }
        var n: UInt64 = 0
        while n < info.imagePages { fresh(AddressSpace.imageBase + n * page); n += 1 }
        n = 1
        while n <= AddressSpace.rootStackPages { fresh(AddressSpace.rootStackTop - n * page); n += 1 }
        fresh(AddressSpace.vidt)
        fresh(AddressSpace.bootInfo)
        fresh(AddressSpace.rootInitialContext)
        i = 0
        var lastTable: UInt64 = ~0
        while i < info.rangeCount {
            let r = info.range(i)
            var k: UInt64 = 0
            while k < r.pages {
                let va = r.vaddr + k * page
                if va >> 21 != lastTable { tablesFor(va); lastTable = va >> 21 }
                k += 1
            }
            i += 1
        }
        if next != count { consistent = false }
    }

    static func letter(_ paddr: UInt64) -> UInt8? {
        guard paddr >= low, paddr < low + count * AddressSpace.pageSize else { return nil }
        return letters[Int((paddr - low) / AddressSpace.pageSize)]
    }
}

enum MemoryViewer {
    nonisolated(unsafe) static var rootStart: UInt64 = 0
    nonisolated(unsafe) static var rootEnd: UInt64 = 0
    nonisolated(unsafe) static var kernelStart: UInt64 = 0
    nonisolated(unsafe) static var kernelEnd: UInt64 = 0
    nonisolated(unsafe) static var info = BootInfo(address: AddressSpace.bootInfo)
    nonisolated(unsafe) static var errors: UInt64 = 0

    static func setUp(_ i: BootInfo, rootStart rs: UInt64, rootEnd re: UInt64, kernelStart ks: UInt64, kernelEnd ke: UInt64) {
        info = i
        rootStart = rs
        rootEnd = re
        kernelStart = ks
        kernelEnd = ke
        BootPages.compute(i, kernelImagePages: (ke - ks) / AddressSpace.pageSize)
        if !BootPages.consistent {
            var out = Output()
            out.line("root: PAGE TABLE ERROR: the kernel's boot pages do not add up to boot info's counts")
            errors += 1
        }
    }

    static func inRun(_ va: UInt64, _ start: UInt64, _ pages: UInt64) -> Bool {
        va >= start && va < start + pages * AddressSpace.pageSize
    }

    static func pagesOf(_ bytes: UInt64) -> UInt64 { (bytes + AddressSpace.pageSize - 1) / AddressSpace.pageSize }

    /// Whether root's window holds `paddr`.
    static func inWindow(_ paddr: UInt64) -> Bool {
        var i = 0
        let va = AddressSpace.rootWindowBase + paddr
        while i < info.rangeCount {
            let r = info.range(i)
            if inRun(va, r.vaddr, r.pages) { return true }
            i += 1
        }
        return false
    }

    static func error(_ what: StaticString, _ paddr: UInt64, _ named: UInt64) {
        errors += 1
        var out = Output()
        out.write("root: PAGE TABLE ERROR: page ")
        out.hex(paddr)
        out.write(" ")
        out.write(what)
        out.write(" (mappedInChild: ")
        out.hex(named)
        out.line(")")
    }

    /// Who root gave the page at window vaddr `va` to, by its ledger (0: nobody).
    static func grantee(_ va: UInt64) -> Who? {
        let page = AddressSpace.pageSize
        if Root.labDoubleGrant && va == Root.alice.console { return .eve }
        if inRun(va, Root.alice.pagesStart, Root.alice.pagesUsed) || va == Root.alice.console
            || inRun(va, Root.aliceModule.vaddr & ~(page - 1), pagesOf(Root.aliceModule.bytes)) { return .alice }
        if inRun(va, Root.eve.pagesStart, Root.eve.pagesUsed) || va == Root.eve.console || va == Root.clue
            || inRun(va, Root.eveImage, pagesOf(Root.eveModule.bytes)) { return .eve }
        return nil
    }

    /// The letter of physical page `paddr`, checked.
    static func classify(_ paddr: UInt64) -> UInt8 {
        if paddr >= kernelStart && paddr < kernelEnd { return Letter.kernel }
        guard inWindow(paddr) else { return BootPages.letter(paddr) ?? Letter.none }
        let va = AddressSpace.rootWindowBase + paddr
        let m = Sprig.call(.mappedInChild, va)
        guard m.succeeded else { error("in root's window is not root's", paddr, m.raw); return Letter.unknown }
        let gave = grantee(va)
        if m.value != 0 {
            let holder = Root.who(m.value)
            if holder == nil || gave == nil || holder! != gave! {
                error("is held by a partition root did not give it to", paddr, m.value)
                return Letter.unknown
            }
            return holder! == .alice ? Letter.alice : Letter.eve
        }
        if gave != nil {
            // Given to a child's builder and named by no child: one of its kernel structures,
            // which root must no longer be able to write.
            let probe = Sprig.consoleRead(va, 1)
            if probe.succeeded { error("is a kernel structure root can still write", paddr, 0); return Letter.unknown }
            if va == Root.alice.console || va == Root.eve.console || va == Root.clue {
                error("was shared with a child that no longer holds it", paddr, 0)
            }
            return Letter.structure
        }
        if va >= rootStart && va < rootEnd && !inRun(va, Root.alice.pagesStart, childPages)
            && !inRun(va, Root.eve.pagesStart, childPages) { return Letter.root }
        return Letter.free
    }

    /// Writes 64 letters from `row` with their colours.
    static func writeRow(_ out: inout Output, _ letters: InlineArray<64, UInt8>) {
        var colour: UInt8 = 0
        var k = 0
        while k < 64 {
            let l = letters[k]
            if l != colour { out.write(Letter.colour(l)); colour = l }
            out.byte(l)
            k += 1
        }
        out.write("\u{1B}[0m")
    }

    static func rowAddress(_ out: inout Output, _ paddr: UInt64) {
        out.write("  ")
        var shift: UInt64 = 28
        while true {
            let d = UInt8(truncatingIfNeeded: (paddr >> shift) & 0xF)
            out.byte(d < 10 ? 48 + d : 87 + d)
            if shift == 0 { break }
            shift -= 4
        }
        out.write(" ")
    }

    /// The view key `k` asks for: `m` the physical map, `a` or `e` Alice's or Eve's address space.
    static func draw(_ k: UInt8) {
        switch k {
        case UInt8(ascii: "a"): virtual(.alice)
        case UInt8(ascii: "e"): virtual(.eve)
        default: physical()
        }
    }

    /// The physical map: every page of RAM, 64 a row; a run of rows of one letter that repeats
    /// the row before it is one line ending ` xN`.
    static func physical() {
        var out = Output()
        out.line("root: physical memory, 64 pages a row: K kernel image, S kernel structures, R root, A Alice, E Eve, . free, - not RAM")
        let errorsBefore = errors
        var end = info.totalPages
        let top = BootPages.low / AddressSpace.pageSize + BootPages.count
        if top > end { end = top }
        let rows = (end + 63) / 64
        var row: UInt64 = 0
        var held: InlineArray<64, UInt8> = .init(repeating: 0)
        var heldAt: UInt64 = 0
        var heldCount: UInt64 = 0
        func emit(_ out: inout Output) {
            guard heldCount > 0 else { return }
            rowAddress(&out, heldAt)
            writeRow(&out, held)
            if heldCount > 1 { out.write(" x"); out.decimal(heldCount) }
            out.byte(10)
            heldCount = 0
        }
        while row < rows {
            var letters: InlineArray<64, UInt8> = .init(repeating: Letter.none)
            var uniform = true
            var k = 0
            while k < 64 {
                let p = (row * 64 + UInt64(k)) * AddressSpace.pageSize
                letters[k] = row * 64 + UInt64(k) < end ? classify(p) : Letter.none
                if letters[k] != letters[0] { uniform = false }
                k += 1
            }
            var same = heldCount > 0 && uniform
            k = 0
            while same && k < 64 { if held[k] != letters[k] { same = false }; k += 1 }
            if same {
                heldCount += 1
            } else {
                emit(&out)
                held = letters
                heldAt = row * 64 * AddressSpace.pageSize
                heldCount = 1
            }
            row += 1
        }
        emit(&out)
        out.write("root: map checked: ")
        if errors == errorsBefore {
            out.line("no PAGE TABLE ERROR")
        } else {
            out.decimal(errors - errorsBefore)
            out.line(" PAGE TABLE ERRORs")
        }
    }

    /// What root mapped in Alice or Eve, region by region (ChildLayout), each page's letter
    /// checked with `mappedInChild` where root knows the page behind it.
    static func virtual(_ w: Who) {
        let k = Root.kid(w)
        let letter = w == .alice ? Letter.alice : Letter.eve
        var out = Output()
        out.write(w == .alice ? "root: Alice's" : "root: Eve's")
        out.line(" address space (what root mapped in it; letters as in the physical map)")
        let image = w == .alice ? Root.aliceModule.vaddr : Root.eveImage
        let imageBytes = w == .alice ? Root.aliceModule.bytes : Root.eveModule.bytes
        let page = AddressSpace.pageSize
        func region(_ out: inout Output, _ name: StaticString, _ va: UInt64, _ pages: UInt64, _ rights: StaticString,
                    backing: UInt64, _ l: UInt8) {
            out.write("  ")
            out.hex(va)
            out.write("-")
            out.hex(va + pages * page)
            out.write(" ")
            out.write(rights)
            out.write(" ")
            out.write(Letter.colour(l))
            var n: UInt64 = 0
            var bad = false
            while n < pages {
                if backing != 0 {
                    let m = Sprig.call(.mappedInChild, backing + n * page)
                    if !m.succeeded || m.value != k.name { bad = true }
                }
                out.byte(bad ? Letter.unknown : l)
                n += 1
            }
            out.write("\u{1B}[0m ")
            out.line(name)
            if bad { errors += 1; out.line("root: PAGE TABLE ERROR: a page root mapped there is not the child's") }
        }
        region(&out, "image", AddressSpace.imageBase, pagesOf(imageBytes), "rwx", backing: image, letter)
        // Which of the child's pages went to its stacks root does not record: shown, not checked.
        region(&out, "handler stack (not checked)", ChildLayout.handlerStackTop - ChildLayout.handlerStackPages * page,
               ChildLayout.handlerStackPages, "rw-", backing: 0, letter)
        region(&out, "stack (not checked)", ChildLayout.stackTop - ChildLayout.stackPages * page, ChildLayout.stackPages,
               "rw-", backing: 0, letter)
        region(&out, "console page (shared with root)", ChildLayout.consolePage, 1, "rw-", backing: k.console, letter)
        region(&out, "contexts", ChildLayout.contextPages, 2, "rw-", backing: k.contexts, letter)
        region(&out, "VIDT", AddressSpace.vidt, 1, "rw-", backing: k.vidt, letter)
        if w == .eve { region(&out, "what Eve knows (root's page, read-only)", ChildLayout.extraBase, 1, "r--", backing: Root.clue, letter) }
        out.line("  everything else: not mapped; the upper half: the kernel's, supervisor-only")
    }
}
