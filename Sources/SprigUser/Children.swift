/// Starting a child partition from ring 3 with Pip's services: what a multiplexer (root, or a
/// mini-OS under it) does, written once.
///
/// Every child gets the same layout (`ChildLayout`): its image at `imageBase`, a main stack, a
/// handler stack, its VIDT, two pages of context slots, optionally the shared console page and a
/// pool of pages for its own use, plus any extra region the parent maps. The parent takes every
/// page from a `PageSource`, writes the child's VIDT and first context through its own mapping
/// (a parent keeps access to what it gives), and enters the child with `Sprig.yield(child.name,
/// target: VIDTIndex.main, …)`.
import SprigABI

/// Pages a partition may hand out: a bump allocator over one run of its memory that steps over
/// excluded ranges (boot modules, in root's window).
public struct PageSource {
    public var next: UInt64
    public private(set) var end: UInt64
    public private(set) var taken: UInt64 = 0
    private var excluded: InlineArray<8, (start: UInt64, end: UInt64)> = .init(repeating: (0, 0))
    private var excludedCount = 0

    public init(start: UInt64, pages: UInt64) {
        next = start
        end = start + pages * AddressSpace.pageSize
    }

    /// Root's largest window range, skipping every boot module in it.
    public init(largestRangeOf info: BootInfo) {
        var largest = info.range(0)
        var i = 1
        while i < info.rangeCount {
            if info.range(i).pages > largest.pages { largest = info.range(i) }
            i += 1
        }
        self.init(start: largest.vaddr, pages: largest.pages)
        var m = 0
        while m < info.moduleCount && excludedCount < 8 {
            let mod = info.module(m)
            excluded[excludedCount] = (mod.vaddr & ~0xFFF, (mod.vaddr + mod.bytes + 0xFFF) & ~0xFFF)
            excludedCount += 1
            m += 1
        }
    }

    /// The longest run of root's window that holds no boot module: pages that are all root's to
    /// give, one after the other (a copy taken from it is contiguous).
    public init(largestFreeRunOf info: BootInfo) {
        var best = (start: UInt64(0), pages: UInt64(0))
        var i = 0
        while i < info.rangeCount {
            let range = info.range(i)
            let end = range.vaddr + range.pages * AddressSpace.pageSize
            var at = range.vaddr
            while at < end {
                // The run from `at` ends at the first module at or after it, or at the range's end.
                var stop = end, resume = end
                var m = 0
                while m < info.moduleCount {
                    let mod = info.module(m)
                    let from = mod.vaddr & ~0xFFF, to = (mod.vaddr + mod.bytes + 0xFFF) & ~0xFFF
                    if to > at && from < stop { stop = max(from, at); resume = to }
                    m += 1
                }
                if (stop - at) / AddressSpace.pageSize > best.pages { best = (at, (stop - at) / AddressSpace.pageSize) }
                at = max(resume, stop == at ? at + AddressSpace.pageSize : stop)
            }
            i += 1
        }
        self.init(start: best.start, pages: best.pages)
    }

    /// Pages left to take (exact for a source that excludes nothing).
    public var pagesLeft: UInt64 { next < end ? (end - next) / AddressSpace.pageSize : 0 }

    /// The next page (a vaddr in this partition); stops the partition with a fault when empty.
    public mutating func take() -> UInt64 {
        var moved = true
        while moved {
            moved = false
            var k = 0
            while k < excludedCount {
                if next >= excluded[k].start && next < excluded[k].end { next = excluded[k].end; moved = true }
                k += 1
            }
        }
        precondition(next < end, "partition ran out of pages")
        let p = next
        next += AddressSpace.pageSize
        taken += 1
        return p
    }

    /// `count` pages linked as a free list for `prepare` (each page's first word is the next
    /// page's vaddr, 0 ending it); returns the head.
    public mutating func freeList(_ count: UInt64) -> UInt64 {
        var head: UInt64 = 0
        var k: UInt64 = 0
        while k < count {
            let p = take()
            word(p).pointee = head
            head = p
            k += 1
        }
        return head
    }

    /// Takes no page past `pages` pages from where it stands now (root: the memory its
    /// description gives it, out of the largest range it owns).
    public mutating func limit(toPages pages: UInt64) {
        end = min(end, next + pages * AddressSpace.pageSize)
    }

    /// The pages of this source from `start` to `end` (the same boot modules skipped), zeroed:
    /// what a parent builds a restarted child from, the pages the child's first build took,
    /// which every page came back from when it deleted the child.
    public func reused(from start: UInt64, to end: UInt64) -> PageSource {
        var s = self
        s.next = start
        s.end = end
        while s.next < end { _ = s.takeZeroed() }
        s.next = start
        s.taken = 0
        return s
    }

    /// The next page, zeroed.
    public mutating func takeZeroed() -> UInt64 {
        let p = take()
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(p))!.initialize(repeating: 0, count: 512)
        return p
    }
}

/// Root's own context slots: its initial-context page holds five contexts; slot 0 is the one
/// root booted from (free for reuse once root runs).
public enum RootLayout {
    @inlinable public static func contextSlot(_ k: UInt64) -> UInt64 {
        AddressSpace.rootInitialContext + k * UInt64(ContextLayout.size)
    }
}

/// A child as its parent knows it.
public struct Child {
    /// Its name: its descriptor's vaddr in the parent (what yield and the services take).
    public var name: UInt64
    /// The parent's vaddrs of the child's VIDT and context pages.
    public var vidt: UInt64
    public var contexts: UInt64
}

public enum ChildBuilder {
    /// What the child gets besides the fixed layout.
    public struct Plan {
        /// The image (flat, entry at its first byte) in the parent's memory, page-aligned; its
        /// pages are given to the child (read/write/execute), not copied.
        public var image: UInt64
        public var imageBytes: UInt64
        /// The parent's vaddr of the shared console page, or 0.
        public var console: UInt64 = 0
        /// Pages for the child's pool at `ChildLayout.poolBase`.
        public var poolPages: UInt64 = 0
        /// A region of the parent's (page-aligned) mapped at `ChildLayout.extraBase` with
        /// `extraRights` (default read/write/execute: an image for the child's own child).
        public var extra: UInt64 = 0
        public var extraBytes: UInt64 = 0
        public var extraRights: UInt64 = Rights.all
        /// rdi of the child's first context (its `sprig_partition_main` argument).
        public var argument: UInt64 = 0
        public init(image: UInt64, imageBytes: UInt64) { self.image = image; self.imageBytes = imageBytes }
    }

    /// Makes a child with `plan`, every page from `pages`.
    /// - Returns: the child, or the status of the first service that refused (nothing is undone:
    ///   a parent that gets an error deletes the child).
    public static func build(_ plan: Plan, pages: inout PageSource) -> Result<Child, Status> {
        let d = pages.take(), pml4 = pages.take(), sh1 = pages.take(), sh2 = pages.take(), list = pages.take()
        let r = Sprig.call(.createPartition, d, pml4, sh1, sh2, list)
        guard r.succeeded else { return .failure(r.status ?? .unknownService) }
        let rw = Rights.read | Rights.write
        func give(_ page: UInt64, at va: UInt64, _ rights: UInt64, _ pages: inout PageSource) -> Status {
            let need = Sprig.call(.countToMap, d, va)
            guard need.succeeded else { return need.status ?? .unknownService }
            if need.value > 0 {
                let prep = Sprig.call(.prepare, d, va, pages.freeList(need.value))
                guard prep.succeeded else { return prep.status ?? .unknownService }
            }
            let add = Sprig.call(.addVAddr, page, d, va, rights)
            guard add.succeeded else { return add.status ?? .unknownService }
            return .success
        }
        func region(_ from: UInt64, _ bytes: UInt64, at va: UInt64, _ rights: UInt64, _ pages: inout PageSource) -> Status {
            var off: UInt64 = 0
            while off < bytes {
                let s = give(from + off, at: va + off, rights, &pages)
                guard s == .success else { return s }
                off += AddressSpace.pageSize
            }
            return .success
        }
        var s = region(plan.image, plan.imageBytes, at: AddressSpace.imageBase, Rights.all, &pages)
        if s == .success, plan.extraBytes > 0 {
            s = region(plan.extra, plan.extraBytes, at: ChildLayout.extraBase, plan.extraRights, &pages)
        }
        // `count` fresh read/write pages from `base` up.
        func fresh(_ count: UInt64, from base: UInt64, _ pages: inout PageSource) -> Status {
            var k: UInt64 = 0
            while k < count {
                let s = give(pages.take(), at: base + k * AddressSpace.pageSize, rw, &pages)
                guard s == .success else { return s }
                k += 1
            }
            return .success
        }
        let page = AddressSpace.pageSize
        if s == .success { s = fresh(ChildLayout.stackPages, from: ChildLayout.stackTop - ChildLayout.stackPages * page, &pages) }
        if s == .success {
            s = fresh(ChildLayout.handlerStackPages, from: ChildLayout.handlerStackTop - ChildLayout.handlerStackPages * page, &pages)
        }
        if s == .success { s = fresh(plan.poolPages, from: ChildLayout.poolBase, &pages) }
        if s == .success, plan.console != 0 { s = give(plan.console, at: ChildLayout.consolePage, rw, &pages) }
        let vidt = pages.takeZeroed()
        let contexts = pages.takeZeroed(), contexts2 = pages.takeZeroed()
        if s == .success { s = give(vidt, at: AddressSpace.vidt, rw, &pages) }
        if s == .success { s = give(contexts, at: ChildLayout.contextPages, rw, &pages) }
        if s == .success { s = give(contexts2, at: ChildLayout.contextPages + AddressSpace.pageSize, rw, &pages) }
        guard s == .success else { return .failure(s) }
        // The first context: _start with rdi = argument, on the main stack, interrupts enabled.
        Contexts.write(at: contexts, rip: AddressSpace.imageBase, rsp: ChildLayout.stackTop, rdi: plan.argument)
        word(vidt + 8 * VIDTIndex.main).pointee = ChildLayout.contextSlot(0)
        // Where the kernel saves it when interrupted or when it raises `int n`.
        word(vidt + 8 * VIDTIndex.stiSave).pointee = ChildLayout.contextSlot(1)
        word(vidt + 8 * VIDTIndex.cliSave).pointee = ChildLayout.contextSlot(1)
        return .success(Child(name: d, vidt: vidt, contexts: contexts))
    }
}

/// Writing contexts and VIDT entries in one's own memory.
public enum Contexts {
    /// A fresh context at `va` (16-aligned, 768 bytes): `rip`, `rsp`, `rdi`, rflags IF, flags
    /// `flags`, every other register 0, the FPU/SSE reset state.
    public static func write(at va: UInt64, rip: UInt64, rsp: UInt64, rdi: UInt64 = 0, flags: UInt64 = InterruptFlags.enabled) {
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(va))!.initialize(repeating: 0, count: ContextLayout.size / 8)
        word(va + UInt64(ContextLayout.rip)).pointee = rip
        word(va + UInt64(ContextLayout.rsp)).pointee = rsp
        word(va + UInt64(ContextLayout.rflags)).pointee = InitialRegisters.flags
        word(va + UInt64(ContextLayout.rdi)).pointee = rdi
        word(va + UInt64(ContextLayout.flags)).pointee = flags
        word(va + UInt64(ContextLayout.fpu)).pointee = InitialRegisters.fcw
        word(va + UInt64(ContextLayout.fpu + 24)).pointee = InitialRegisters.mxcsr
    }

    /// Points this partition's `VIDT[index]` at `contextVA` (0: no handler / drop the save).
    public static func setVIDT(_ index: UInt64, _ contextVA: UInt64) {
        word(AddressSpace.vidt + 8 * index).pointee = contextVA
    }

    /// Makes `handler` the entry for `VIDT[index]`: a context at `slot` that starts it on the
    /// stack whose top is `stackTop`, with interrupt state `flags` while it runs (root passes
    /// `InterruptFlags.masked` so that a tick never interrupts its own handlers). Handlers are
    /// entered with the delivery registers as their arguments (source, vector, error code, fault
    /// address, saved-at) and never return.
    public static func setHandler(_ index: UInt64, _ handler: Handler, slot: UInt64, stackTop: UInt64,
                                  flags: UInt64 = InterruptFlags.enabled) {
        // As if called: rsp + 8 is 16-aligned at the first instruction.
        write(at: slot, rip: UInt64(UInt(bitPattern: unsafeBitCast(handler, to: UnsafeRawPointer.self))), rsp: stackTop - 8,
              flags: flags)
        setVIDT(index, slot)
    }
}

/// A handler: `(source, vector, errorCode, faultAddress, savedAt)` in rdi, rsi, rdx, rcx, r8.
public typealias Handler = @convention(c) (UInt64, UInt64, UInt64, UInt64, UInt64) -> Void

/// Pages of `[start, start + count pages)` that are this partition's to use: given to no child
/// (`mappedInChild`) and writable (a write and read-back; a page the kernel still held as a
/// structure would fault here, and the fault would reach the parent).
public func freePages(from start: UInt64, count: UInt64) -> UInt64 {
    var free: UInt64 = 0
    var i: UInt64 = 0
    while i < count {
        let va = start + i * AddressSpace.pageSize
        let r = Sprig.call(.mappedInChild, va)
        let saved = word(va).pointee
        word(va).pointee = 0xA5A5_0000 | i
        if r.succeeded && r.value == 0 && word(va).pointee == 0xA5A5_0000 | i { free += 1 }
        word(va).pointee = saved
        i += 1
    }
    return free
}
