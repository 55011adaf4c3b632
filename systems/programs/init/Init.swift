/// The generic root: runs a system from its compiled plan (the last boot module, `plan.bin`;
/// Sources/SprigABI/SystemPlan.swift) instead of hand-written policy. A partition whose
/// description gives it children and `program = "init"` runs this same program one level down
/// (*nested*): its parent hands it the plan and its children's images in its extra region.
///
/// Each instance checks the plan (magic, version, size, every index) and refuses one that fails
/// with one console line; builds each of its children from a fresh copy of its program's image
/// with the memory the plan gives it, a console page and its channel pages; installs its
/// handlers; and runs its level's plan (cyclic, or round-robin with a quantum). Root sets the
/// timer to the plan's rate; every tick comes to root, which counts it and, when a nested
/// partition's frame runs, passes it on at the child's `ChannelLayout.parentTick`, so each level
/// counts the ticks it is given. At a frame's last tick the running partition is preempted
/// wherever it is (an overrun never delays the next frame by more than that tick) and the next
/// frame's partition is resumed where the kernel saved it. Root routes events (`handover`: the
/// target runs now, in the source's frame; `interrupt`: when the target's frame next starts) and
/// carries channels by copy between pages of its own, one per end, never shared. A child that
/// faults is reported and, if the plan says so, deleted and built again from its image; the
/// plan goes on. Root prints every frame start, event, message carried, fault and restart
/// (`init: …`), and powers off after `majorFramesToRun` major frames.
import SprigABI
import SprigUser

/// What an instance knows of one of its children.
struct Running {
    var name: UInt64 = 0
    var plan: Int = 0
    var vidt: UInt64 = 0
    var console: UInt64 = 0
    /// Its program's image: executable pages given to it (not copied), and a copy of them as
    /// they were before it ran, written back over them when it is restarted.
    var image: UInt64 = 0
    var imageBytes: UInt64 = 0
    var pristine: UInt64 = 0
    /// A nested child's header page (its extra region's first page), in this instance.
    var header: UInt64 = 0
    /// Where the kernel last saved it (`VIDTIndex.stiSave`); `VIDTIndex.main` before it ran.
    var resumeAt: UInt64 = VIDTIndex.main
    /// Interrupt events waiting for its next frame, by event index.
    var pending: UInt64 = 0
    /// Its stamp page (`ChannelLayout.stampPage`): when it last raised an event, when its last
    /// event handler began.
    var stamps: UInt64 = 0
    /// The pages its first build took from this instance ([from, to)); a restart builds it
    /// again in the same pages, so restarts never use more memory than the first start.
    var pagesFrom: UInt64 = 0
    var pagesTo: UInt64 = 0
}

/// The first page of a nested instance's extra region: what its parent hands it.
enum NestedHeader {
    static let magic: UInt64 = 0x4445_5453_454E_5049  // "IPNESTED"
    static let magicWord: UInt64 = 0, indexWord: UInt64 = 8, planOffset: UInt64 = 16, planBytes: UInt64 = 24
    static let imageCount: UInt64 = 32
    /// (plan index, offset, bytes) per child image, from here.
    static let images: UInt64 = 40
    /// The last word: when (time-stamp counter) the tick its parent passes on was due.
    static let tickInstant: UInt64 = 4088
    /// Non-zero while its parent enters it at an event's vector as that event's target (the
    /// same vector may be one it routes for its own children).
    static let enteredAsTarget: UInt64 = 4080
}

enum Init {
    static let majorFramesToRun: UInt64 = 3
    static let maxChildren = 16

    nonisolated(unsafe) static var isRoot = true
    nonisolated(unsafe) static var me = 0
    nonisolated(unsafe) static var plan = PlanView(base: UnsafeRawPointer(bitPattern: 8)!, bytes: 0)
    nonisolated(unsafe) static var children: InlineArray<16, Running> = .init(repeating: Running())
    nonisolated(unsafe) static var childCount = 0
    nonisolated(unsafe) static var pages = PageSource(start: 0, pages: 0)
    nonisolated(unsafe) static var tick: UInt64 = 0
    nonisolated(unsafe) static var frame = 0
    nonisolated(unsafe) static var ticksLeft: UInt64 = 0
    nonisolated(unsafe) static var majorFrames: UInt64 = 0
    nonisolated(unsafe) static var failures: UInt64 = 0
    nonisolated(unsafe) static var messages: UInt64 = 0
    /// Scheduling accuracy (guest instructions under -icount, where the counter advances one per
    /// instruction): each frame start's delay after the instant the plan gives it. Root counts
    /// from its call to setTimer; a nested instance reads the instant of the tick it is passed from
    /// `NestedHeader.tickInstant`, which its parent writes before entering it.
    nonisolated(unsafe) static var firstTick: UInt64 = 0
    nonisolated(unsafe) static var firstTickCount: UInt64 = 0
    nonisolated(unsafe) static var instant: UInt64 = 0
    nonisolated(unsafe) static var delays: InlineArray<64, UInt64> = .init(repeating: 0)
    nonisolated(unsafe) static var delayCount = 0
    nonisolated(unsafe) static var delaysReported = false

    /// The carrier of channel `i` (this instance or another): its vaddr of the writer's and
    /// reader's pages (swapped by each hand-over), the reader's ack page of a channel carried by
    /// hand-over, and the channel's message count (a hand-over's sequence number).
    nonisolated(unsafe) static var writerPages: InlineArray<64, UInt64> = .init(repeating: 0)
    nonisolated(unsafe) static var readerPages: InlineArray<64, UInt64> = .init(repeating: 0)
    nonisolated(unsafe) static var ackPages: InlineArray<64, UInt64> = .init(repeating: 0)
    nonisolated(unsafe) static var sequence: InlineArray<64, UInt64> = .init(repeating: 0)

    /// The bench's samples, in guest instructions under -icount (docs/bench.md): the carrier's
    /// cost of each message of the first `sampledChannels` channels, and each event's latency
    /// (its source's `raiseEvent` to its target handler's `handlerEntered`) by kind. An event's
    /// first `eventLinesPerEvent` occurrences are printed and not sampled (the lines are not
    /// part of routing); later ones are only counted.
    static let sampledChannels = 8, eventLinesPerEvent: UInt64 = 2
    nonisolated(unsafe) static var carryCost: InlineArray<8, Samples> = .init(repeating: Samples())
    /// By kind: handover, interrupt.
    nonisolated(unsafe) static var latency: InlineArray<2, Samples> = .init(repeating: Samples())
    nonisolated(unsafe) static var raised: InlineArray<64, UInt64> = .init(repeating: 0)
    /// The event whose handler runs now (-1: none), and whether it is sampled.
    nonisolated(unsafe) static var inFlight = -1
    nonisolated(unsafe) static var inFlightSampled = false
    /// Two back-to-back counter reads: subtracted from each sample, as the bench does.
    nonisolated(unsafe) static var counterCost: UInt64 = 0
    /// Whether some channel with an end below this instance is carried above it.
    nonisolated(unsafe) static var forwardsSends = false

    static var level: PlanView.Partition { plan.partition(me) }

    /// The child running the current frame.
    static var current: Int {
        let p = Int(plan.frame(Int(level.firstFrame) + frame).partition)
        return child(plan: p) ?? 0
    }

    static func child(plan p: Int) -> Int? {
        var k = 0
        while k < childCount { if children[k].plan == p { return k }; k += 1 }
        return nil
    }

    static func child(named name: UInt64) -> Int? {
        var k = 0
        while k < childCount { if children[k].name == name { return k }; k += 1 }
        return nil
    }

    static func words(_ out: inout Output, _ w0: UInt64, _ w1: UInt64) {
        var k: UInt64 = 0
        while k < 16 {
            let c = UInt8(truncatingIfNeeded: (k < 8 ? w0 : w1) >> ((k % 8) * 8))
            if c == 0 { break }
            out.byte(c)
            k += 1
        }
    }

    static func name(_ out: inout Output, _ p: Int) {
        let r = plan.partition(p)
        words(&out, r.name0, r.name1)
    }

    /// `init:` for root, `<name>:` for a nested instance.
    static func prefix(_ out: inout Output) {
        if isRoot { out.write("init") } else { name(&out, me) }
        out.write(": ")
    }

    /// Whether `p` is in the subtree of `q` (and not `q`).
    static func below(_ p: Int, _ q: Int) -> Bool {
        var at = p
        while at != 0 && at != q { at = Int(plan.partition(at).parent) }
        return at == q && p != q
    }

    /// The partition `p` runs, as seen from this level: `p` itself if it is one of this
    /// instance's children, else the child whose subtree holds it (nil if none).
    static func childHolding(_ p: Int) -> Int? {
        var at = p
        while at != me && at != 0 {
            let parent = Int(plan.partition(at).parent)
            if parent == me { return child(plan: at) }
            at = parent
        }
        return nil
    }

    /// Starts frame `frame`: prints it, resets its ticks, delivers its partition's pending
    /// interrupt events (the first one now, the others at its next frames).
    static func announceFrame() {
        ticksLeft = plan.frame(Int(level.firstFrame) + frame).ticks
        if instant != 0 && delayCount < 64 {
            delays[delayCount] = readTSC() &- instant
            delayCount += 1
        }
        var out = Output()
        prefix(&out)
        out.write("tick ")
        out.decimal(tick)
        out.write(" major ")
        out.decimal(majorFrames)
        out.write(" frame ")
        out.decimal(UInt64(frame))
        out.write(": ")
        name(&out, children[current].plan)
        out.byte(10)
    }

    /// Runs child `k` where it was saved; with `tick`, a nested instance that is ready is entered
    /// at its tick vector instead, to count the tick and run its own frame. Delivers a pending
    /// interrupt event first.
    static func resume(_ k: Int, tick: Bool = false) -> Never {
        var e = 0
        while e < plan.eventCount && children[k].pending & (1 << UInt64(e)) == 0 { e += 1 }
        // Only to a child that has run and installed its handler for the event's vector.
        if e < plan.eventCount && children[k].resumeAt != VIDTIndex.main
            && word(children[k].vidt + 8 * plan.event(e).vector).pointee != 0 {
            children[k].pending &= ~(1 << UInt64(e))
            let ev = plan.event(e)
            inFlight = e
            inFlightSampled = raised[e] > eventLinesPerEvent
            if !inFlightSampled {
                var out = Output()
                prefix(&out)
                out.write("event ")
                let n = plan.eventName(e)
                words(&out, n.0, n.1)
                out.write(" delivered to ")
                name(&out, children[k].plan)
                out.write(" at its frame, vector ")
                out.hex(ev.vector)
                out.byte(10)
            }
            enterForEvent(k, at: ev.vector)
        }
        let nested = plan.partition(children[k].plan).flags & PlanLayout.generic != 0
        if tick && nested && word(children[k].vidt + 8 * ChannelLayout.parentTick).pointee != 0 {
            if children[k].header != 0 { word(children[k].header + NestedHeader.tickInstant).pointee = instant }
            // Refused while the instance has interrupts masked (it is restarting a child of its
            // own): it goes on where it was, and counts this tick's time without the tick.
            _ = Sprig.yield(children[k].name, target: ChannelLayout.parentTick, save: Sprig.noSave)
        }
        let at = children[k].resumeAt
        children[k].resumeAt = VIDTIndex.stiSave
        let r = Sprig.yield(children[k].name, target: at, save: Sprig.noSave)
        stop("resume", k, r.raw)
    }

    /// Back to child `k` after its `int`, saved at `savedAt`: at its own saved context
    /// (`stiSave`) as `resume` does; a handler of its (run masked, saved at `cliSave`) goes on
    /// without becoming where the child resumes.
    static func back(_ k: Int, _ savedAt: UInt64) -> Never {
        if savedAt != VIDTIndex.stiSave {
            let r = Sprig.yield(children[k].name, target: savedAt, save: Sprig.noSave)
            stop("resume", k, r.raw)
        }
        children[k].resumeAt = savedAt
        resume(k)
    }

    /// Enters child `k` at its VIDT `vector` as the target of an event; a nested instance is
    /// told so in its header (it may route events of its own at the same vector).
    static func enterForEvent(_ k: Int, at vector: UInt64) -> Never {
        if children[k].header != 0 { word(children[k].header + NestedHeader.enteredAsTarget).pointee = 1 }
        enter(k, at: vector)
    }

    /// Enters child `k` at its VIDT `vector` (its saved context stays where it is).
    static func enter(_ k: Int, at vector: UInt64) -> Never {
        let r = Sprig.yield(children[k].name, target: vector, save: Sprig.noSave)
        stop("enter", k, r.raw)
    }

    /// Stops with one console line saying what to do (`remedy`), before building anything, when
    /// `pages` (`what` holds them) are fewer than the plan says this instance takes to build its
    /// children.
    static func checkMemory(has pages: UInt64, _ what: StaticString, _ remedy: StaticString) {
        let need = plan.needPages(me)
        guard pages < need else { return }
        var out = Output()
        prefix(&out)
        out.write("cannot build the children of ")
        name(&out, me)
        out.write(": init takes ")
        out.decimal(need * 4)
        out.write(" KiB, ")
        out.write(what)
        out.write(" holds ")
        out.decimal(pages * 4)
        out.write(" KiB (")
        out.decimal((need - pages) * 4)
        out.write(" KiB short); ")
        out.line(remedy)
        SharedConsole.countFailure()
        if isRoot { Sprig.powerOff(7) }
        while true {}
    }

    /// The same for the memory the plan gives this instance, which plan-fits held to what it
    /// takes: only a plan that skipped the validators is short.
    static func checkGivenMemory() {
        checkMemory(has: pages.pagesLeft, "its memory", "rebuild the plan with `sprig build` (validator plan-fits)")
    }

    static func stop(_ what: StaticString, _ k: Int, _ raw: UInt64) -> Never {
        var out = Output()
        prefix(&out)
        out.write("could not ")
        out.write(what)
        out.write(" ")
        name(&out, children[k].plan)
        out.write(": ")
        out.line(statusName(raw))
        SharedConsole.countFailure()
        if isRoot { Sprig.powerOff(5) }
        while true {}
    }

    /// Gives this instance's page `page` to child `c` at `va` (read/write unless `rights` says).
    static func give(_ page: UInt64, to c: UInt64, at va: UInt64, rights: UInt64 = Rights.read | Rights.write,
                     tablesFrom pages: inout PageSource) -> Bool {
        let need = Sprig.call(.countToMap, c, va)
        guard need.succeeded else { return false }
        if need.value > 0 {
            guard Sprig.call(.prepare, c, va, pages.freeList(need.value)).succeeded else { return false }
        }
        return Sprig.call(.addVAddr, page, c, va, rights).succeeded
    }

    /// Copies `bytes` from `from` into fresh pages; returns the first.
    static func copy(_ from: UInt64, _ bytes: UInt64, into pages: inout PageSource) -> UInt64 {
        let count = (bytes + AddressSpace.pageSize - 1) / AddressSpace.pageSize
        var first: UInt64 = 0
        var i: UInt64 = 0
        while i < count {
            let p = pages.take()
            if i == 0 { first = p }
            // PageSource hands out consecutive pages unless it steps over a boot module.
            precondition(p == first + i * AddressSpace.pageSize, "init: a copy must be contiguous")
            i += 1
        }
        var w: UInt64 = 0
        while w < count * 512 {
            word(first + w * 8).pointee = w * 8 < bytes ? word(from + w * 8).pointee : 0
            w += 1
        }
        return first
    }

    /// Copies `bytes` from `from` over `to` (whole words).
    static func copy(_ from: UInt64, over to: UInt64, _ bytes: UInt64) {
        var off: UInt64 = 0
        while off < bytes { word(to + off).pointee = word(from + off).pointee; off += 8 }
    }

    /// Builds child `k` from its image as it was first (again, after a restart) (again, after a restart): its memory,
    /// console page, channel pages, and for a nested instance the plan and its children's images.
    static func build(_ k: Int) -> Bool {
        if children[k].pagesTo == 0 {
            let from = pages.next
            let ok = construct(k, &pages)
            children[k].pagesFrom = from
            children[k].pagesTo = pages.next
            return ok
        }
        var again = pages.reused(from: children[k].pagesFrom, to: children[k].pagesTo)
        return construct(k, &again)
    }

    /// Builds child `k` with pages from `pages`.
    static func construct(_ k: Int, _ pages: inout PageSource) -> Bool {
        let p = children[k].plan
        let record = plan.partition(p)
        copy(children[k].pristine, over: children[k].image, children[k].imageBytes)
        var b = ChildBuilder.Plan(image: children[k].image, imageBytes: children[k].imageBytes)
        word(children[k].console + SharedConsole.lengthWord).pointee = 0
        b.console = children[k].console
        b.poolPages = record.memoryPages
        if record.flags & PlanLayout.generic != 0 {
            let region = nestedRegion(for: p, &pages)
            b.extra = region.start
            b.extraBytes = region.bytes
            children[k].header = region.start
            b.extraRights = Rights.read | Rights.write
            b.argument = NestedHeader.magic
        }
        guard case .success(let c) = ChildBuilder.build(b, pages: &pages) else { return false }
        if record.flags & PlanLayout.generic != 0 {
            // Its descendants' images, executable, after the header and the plan.
            let header = b.extra
            var i: UInt64 = 0
            while i < word(header + NestedHeader.imageCount).pointee {
                let at = header + NestedHeader.images + i * 24
                guard let image = imageOf(Int(word(at).pointee)) else { return false }
                var off: UInt64 = 0
                while off < word(at + 16).pointee {
                    if !give(image.vaddr + off, to: c.name, at: ChildLayout.extraBase + word(at + 8).pointee + off, rights: Rights.all, tablesFrom: &pages) { return false }
                    off += AddressSpace.pageSize
                }
                i += 1
            }
        }
        children[k].name = c.name
        children[k].vidt = c.vidt
        children[k].resumeAt = VIDTIndex.main
        if !give(children[k].stamps, to: c.name, at: ChannelLayout.stampPage, tablesFrom: &pages) { return false }
        // Channel pages of ends in its subtree, at the same address all the way down; a page
        // handed over is the reader's read-only, its ack page read/write.
        var i = 0
        while i < plan.channelCount {
            let ch = plan.channel(i)
            let handover = ackPage(i) != 0
            // A channel carried inside the child's subtree is its carrier's to give.
            let carrier = meeting(Int(ch.writer), Int(ch.reader))
            if carrier != me && !below(me, carrier) { i += 1; continue }
            if childHolding(Int(ch.writer)) == k && !give(writerPage(i), to: c.name, at: ChannelLayout.writer(UInt64(i)), tablesFrom: &pages) { return false }
            if childHolding(Int(ch.reader)) == k {
                if !give(readerPage(i), to: c.name, at: ChannelLayout.reader(UInt64(i)), rights: handover ? Rights.read : Rights.read | Rights.write, tablesFrom: &pages) { return false }
                if handover && !give(ackPage(i), to: c.name, at: ChannelLayout.ack(UInt64(i)), tablesFrom: &pages) { return false }
            }
            i += 1
        }
        return true
    }

    /// Channel `i`'s pages as this instance gives them to its children: its own when it carries
    /// the channel, else the ones its parent gave it (at the same addresses all the way down).
    static func writerPage(_ i: Int) -> UInt64 { carries(i) ? writerPages[i] : ChannelLayout.writer(UInt64(i)) }
    static func readerPage(_ i: Int) -> UInt64 { carries(i) ? readerPages[i] : ChannelLayout.reader(UInt64(i)) }
    /// This instance's ack page of channel `i` when it hands the channel's pages over, else 0.
    static func ackPage(_ i: Int) -> UInt64 { carries(i) ? ackPages[i] : 0 }

    /// The nearest common ancestor of plan partitions `a` and `b` (the carrier of a channel,
    /// the router of an event, between them).
    static func meeting(_ a: Int, _ b: Int) -> Int {
        var x = a
        while x != 0 && !(x == b || below(b, x)) { x = Int(plan.partition(x).parent) }
        return x
    }

    /// Whether this instance carries channel `i` (is its ends' nearest common ancestor), as
    /// found once at setup (`carried`: the tick path asks for every channel).
    static func carries(_ i: Int) -> Bool { carried & (1 << UInt64(i)) != 0 }
    nonisolated(unsafe) static var carried: UInt64 = 0

    /// Whether this instance routes event `e` (is its source's and target's nearest common ancestor).
    static func routes(_ e: Int) -> Bool {
        let ev = plan.event(e)
        return meeting(Int(ev.source), Int(ev.target)) == me
    }

    /// Child index of plan partition `p` when it is one of this instance's own children.
    static func ownChild(_ p: UInt64) -> Int? {
        guard p < UInt64(plan.partitionCount), Int(plan.partition(Int(p)).parent) == me else { return nil }
        return child(plan: Int(p))
    }

    /// The extra region of nested child `p`: a header and the plan (copies, read/write), then
    /// (mapped by `build`) the images of `p`'s descendants, as the header lists them.
    static func nestedRegion(for p: Int, _ pages: inout PageSource) -> (start: UInt64, bytes: UInt64) {
        let header = pages.takeZeroed()
        let planAt = header + AddressSpace.pageSize
        precondition(copy(UInt64(UInt(bitPattern: plan.base)), plan.bytes, into: &pages) == planAt, "init: the nested region must be contiguous")
        word(header + NestedHeader.magicWord).pointee = NestedHeader.magic
        word(header + NestedHeader.indexWord).pointee = UInt64(p)
        word(header + NestedHeader.planOffset).pointee = planAt - header
        word(header + NestedHeader.planBytes).pointee = plan.bytes
        let bytes = AddressSpace.pageSize + ((plan.bytes + 0xFFF) & ~0xFFF)
        var next = bytes
        var count: UInt64 = 0
        var q = p + 1
        while q < plan.partitionCount && count < 16 {
            var at = Int(plan.partition(q).parent)
            while at > p { at = Int(plan.partition(at).parent) }
            if at == p, let image = imageOf(q) {
                let entry = header + NestedHeader.images + count * 24
                word(entry).pointee = UInt64(q)
                word(entry + 8).pointee = next
                word(entry + 16).pointee = image.bytes
                next += (image.bytes + 0xFFF) & ~0xFFF
                count += 1
            }
            q += 1
        }
        word(header + NestedHeader.imageCount).pointee = count
        return (header, bytes)
    }

    /// Where this instance has the image of partition `p`'s program.
    nonisolated(unsafe) static var bootInfo: UInt64 = 0
    static func imageOf(_ p: Int) -> (vaddr: UInt64, bytes: UInt64)? {
        let r = plan.partition(p)
        if isRoot {
            // The boot modules are the plan's partitions in the plan's order (sprig build); root's
            // own, the first, is not among the modules its boot info lists.
            let info = BootInfo(address: bootInfo)
            let want = moduleName(r.program0, r.program1)
            guard p >= 1, p - 1 < info.moduleCount else { return nil }
            let mod = info.module(p - 1)
            return mod.name0 == want.0 && mod.name1 == want.1 ? (mod.vaddr, mod.bytes) : nil
        }
        let header = ChildLayout.extraBase
        var i: UInt64 = 0
        while i < word(header + NestedHeader.imageCount).pointee && i < 16 {
            let at = header + NestedHeader.images + i * 24
            if word(at).pointee == UInt64(p) { return (header + word(at + 8).pointee, word(at + 16).pointee) }
            i += 1
        }
        return nil
    }

    /// The carrier: moves every message waiting in a writer page to its reader when the reader has
    /// taken the one before: by copy into the reader's page, or by hand-over (the writer's page
    /// becomes the reader's, read-only, and the reader's page, which it could not write, the
    /// writer's). Never one page in both.
    static func carry() {
        var i = 0
        while i < plan.channelCount {
            if !carries(i) { i += 1; continue }
            let w = writerPages[i], r = readerPages[i]
            let handover = ackPages[i] != 0
            // A handed-over page is taken when its number is in the reader's ack page.
            let readerFree = word(r + ChannelLayout.fullWord).pointee == 0
                || (handover && word(ackPages[i]).pointee == word(r + ChannelLayout.sequenceWord).pointee)
            if word(w + ChannelLayout.fullWord).pointee != 0 && readerFree {
                let ch = plan.channel(i)
                let start = readTSC()
                let length = min(word(w + ChannelLayout.lengthWord).pointee, ch.size)
                if handover {
                    if !handOver(i, length) { i += 1; continue }
                } else {
                    var off: UInt64 = 0
                    while off < length { word(r + ChannelLayout.data + off).pointee = word(w + ChannelLayout.data + off).pointee; off += 8 }
                    word(r + ChannelLayout.lengthWord).pointee = length
                    word(r + ChannelLayout.sequenceWord).pointee = 0
                    word(r + ChannelLayout.fullWord).pointee = 1
                    word(w + ChannelLayout.fullWord).pointee = 0
                }
                let end = readTSC()
                if !handover { sequence[i] += 1 }
                if i < sampledChannels { carryCost[i].add(end &- start) }
                messages += 1
                // The first few messages of each channel are printed; the rest only counted.
                if sequence[i] <= 3 {
                    var out = Output()
                    prefix(&out)
                    out.write("channel ")
                    let n = plan.channelName(i)
                    words(&out, n.0, n.1)
                    out.write(": ")
                    out.decimal(length)
                    out.write(" bytes from ")
                    name(&out, Int(ch.writer))
                    out.write(" to ")
                    name(&out, Int(ch.reader))
                    out.write(handover ? " (hand-over)" : " (copy)")
                    out.byte(10)
                }
            }
            i += 1
        }
    }

    /// Channel `i` by hand-over: takes the writer's full page and the reader's taken one from
    /// both, numbers the message, and gives each page to the other end. False (and nothing
    /// moved) when an end is not one of this instance's children or a service refuses.
    static func handOver(_ i: Int, _ length: UInt64) -> Bool {
        let ch = plan.channel(i)
        guard let wk = ownChild(ch.writer), let rk = ownChild(ch.reader) else { return false }
        let w = writerPages[i], r = readerPages[i]
        let wva = ChannelLayout.writer(UInt64(i)), rva = ChannelLayout.reader(UInt64(i))
        guard Sprig.call(.removeVAddr, children[wk].name, wva).succeeded else { return false }
        guard Sprig.call(.removeVAddr, children[rk].name, rva).succeeded else {
            _ = Sprig.call(.addVAddr, w, children[wk].name, wva, Rights.read | Rights.write)
            return false
        }
        sequence[i] += 1
        word(w + ChannelLayout.lengthWord).pointee = length
        word(w + ChannelLayout.sequenceWord).pointee = sequence[i]
        word(r + ChannelLayout.fullWord).pointee = 0
        let toReader = Sprig.call(.addVAddr, w, children[rk].name, rva, Rights.read)
        let toWriter = Sprig.call(.addVAddr, r, children[wk].name, wva, Rights.read | Rights.write)
        if !toReader.succeeded || !toWriter.succeeded { stop("hand a channel page to", toReader.succeeded ? wk : rk, toReader.succeeded ? toWriter.raw : toReader.raw) }
        writerPages[i] = r
        readerPages[i] = w
        return true
    }

    /// After event `inFlight`'s handler ended (its `Channel.handled()` is a yield, which names
    /// no source): its latency, from the source's stamp before its raise to the target's at its
    /// handler's start, when both are children of this instance (their stamp pages are its own)
    /// and the occurrence was not printed.
    static func sampleLatency() {
        let e = inFlight
        inFlight = -1
        guard e >= 0, inFlightSampled else { return }
        let ev = plan.event(e)
        guard let t = ownChild(ev.target), let s = ownChild(ev.source) else { return }
        let kind = ev.kind == PlanLayout.handover ? 0 : 1
        let from = word(children[s].stamps + ChannelLayout.raisedWord).pointee
        let to = word(children[t].stamps + ChannelLayout.enteredWord).pointee
        if to > from { latency[kind].add(to - from) }
    }

    /// Root, at the end: the channels' costs per message and the events' latencies.
    static func reportCarrierBench() {
        var i = 0
        while i < plan.channelCount && i < sampledChannels {
            carryCost[i].report(ackPages[i] != 0 ? "channel.handover." : "channel.copy.", suffix: plan.channel(i).size, baseline: counterCost)
            i += 1
        }
        latency[0].report("event.handover", baseline: counterCost)
        latency[1].report("event.interrupt", baseline: counterCost)
    }

    /// Prints `bench: sched.depthN <median> <min> <max>` of the frame-start delays so far.
    static func reportDelays() {
        guard delayCount > 0, !delaysReported else { return }
        delaysReported = true
        var sorted = delays
        var i = 1
        while i < delayCount {
            var j = i
            while j > 0 && sorted[j - 1] > sorted[j] { let t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t; j -= 1 }
            i += 1
        }
        var depth: UInt64 = 1
        var at = me
        while at != 0 { at = Int(plan.partition(at).parent); depth += 1 }
        var out = Output()
        out.write("bench: sched.depth")
        out.decimal(depth)
        out.write(".frame_start_delay ")
        out.decimal(sorted[delayCount / 2])
        out.write(" ")
        out.decimal(sorted[0])
        out.write(" ")
        out.decimal(sorted[delayCount - 1])
        out.byte(10)
    }

    static func finish() -> Never {
        reportDelays()
        reportCarrierBench()
        var out = Output()
        out.write("init: ")
        out.decimal(majorFrames)
        out.write(" major frames, ")
        out.decimal(tick)
        out.write(" ticks, ")
        out.decimal(messages)
        out.write(" messages carried, ")
        var failures = Init.failures
        var k = 0
        while k < childCount { failures += word(children[k].console + SharedConsole.failuresWord).pointee; k += 1 }
        out.decimal(failures)
        out.line(" failures; powering off")
        _ = Sprig.setTimer(0)
        Sprig.powerOff(failures == 0 ? 0 : 3)
    }

    /// One tick of this level: counts it, moves to the next frame at the end of one.
    static func count() {
        tick += 1
        if ticksLeft > 0 { ticksLeft -= 1 }
        if ticksLeft == 0 {
            frame += 1
            if frame == Int(level.frameCount) {
                frame = 0
                majorFrames += 1
                if isRoot && majorFrames == majorFramesToRun { finish() }
            }
            announceFrame()
        }
    }
}

/// Root's VIDT[32] / a nested instance's `parentTick`: a tick for this level.
@_cdecl("init_tick")
func initTick(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    if Init.isRoot {
        // The PIT counts down from 1193182 / hz at 1193182 Hz; one instruction is one ns.
        let divisor: UInt64 = 1_193_182 / Init.plan.tickHz
        Init.instant = Init.firstTick + (Init.tick + 1 - Init.firstTickCount) * divisor * 1_000_000_000 / 1_193_182
        if let k = Init.child(named: source), savedAt != Delivery.notSaved { Init.children[k].resumeAt = savedAt }
        Init.carry()
    } else {
        Init.instant = word(ChildLayout.extraBase + NestedHeader.tickInstant).pointee
        if Init.majorFrames >= 2 { Init.reportDelays() }
        Init.carry()
    }
    Init.count()
    Init.resume(Init.current, tick: true)
}

/// VIDT[0x80]: a child's line waits on its console page. Root prints it; a nested instance
/// copies it to its own console page and passes it up.
@_cdecl("init_console")
func initConsole(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    guard let k = Init.child(named: source) else { Init.resume(Init.current) }
    let page = Init.children[k].console
    if Init.isRoot {
        SharedConsole.drain(page)
    } else {
        let used = min(word(page + SharedConsole.lengthWord).pointee, SharedConsole.capacity)
        SharedConsole.send(UnsafePointer<UInt8>(bitPattern: UInt(page + SharedConsole.text))!, count: Int(used))
        word(page + SharedConsole.lengthWord).pointee = 0
    }
    Init.back(k, savedAt)
}

/// VIDT[ChannelLayout.send]: a message waits in a writer page below. This instance carries its
/// own channels; a nested instance also passes the request up when a channel with an end below
/// it is carried above it.
@_cdecl("init_send")
func initSend(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    guard let k = Init.child(named: source) else { Init.resume(Init.current) }
    Init.carry()
    if !Init.isRoot && Init.forwardsSends { Channel.raise(ChannelLayout.send) }
    Init.back(k, savedAt)
}

/// VIDT[vector] of an event a child raised: a handover enters the target now (in the source's
/// frame); an interrupt waits for the target's next frame.
@_cdecl("init_event")
func initEvent(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    var out = Output()
    if !Init.isRoot && word(ChildLayout.extraBase + NestedHeader.enteredAsTarget).pointee != 0 {
        // A nested instance is the target of the event (its parent entered it here): it took
        // it; back to the frame that runs.
        // Entered by a yield, it has no vector in its registers: the plan names its events.
        word(ChildLayout.extraBase + NestedHeader.enteredAsTarget).pointee = 0
        Init.prefix(&out)
        out.write("event")
        var e = 0
        while e < Init.plan.eventCount {
            if Int(Init.plan.event(e).target) == Init.me {
                out.write(" ")
                let n = Init.plan.eventName(e)
                Init.words(&out, n.0, n.1)
            }
            e += 1
        }
        out.line(" taken (handover)")
        Channel.handled()
    }
    guard let k = Init.child(named: source) else { Init.resume(Init.current) }
    Init.children[k].resumeAt = savedAt
    var e = 0
    while e < Init.plan.eventCount {
        let ev = Init.plan.event(e)
        if ev.vector == vector && Init.routes(e) && Init.childHolding(Int(ev.source)) == k, let t = Init.childHolding(Int(ev.target)) {
            // The first occurrences are printed; later ones are routed without a line, and sampled.
            Init.raised[e] += 1
            let printed = Init.raised[e] <= Init.eventLinesPerEvent
            if printed {
                Init.prefix(&out)
                out.write("event ")
                let n = Init.plan.eventName(e)
                Init.words(&out, n.0, n.1)
                out.write(" from ")
                Init.name(&out, Int(ev.source))
                out.write(" to ")
                Init.name(&out, Int(ev.target))
            }
            let ready = word(Init.children[t].vidt + 8 * vector).pointee != 0 && Init.children[t].resumeAt != VIDTIndex.main
            if ev.kind == PlanLayout.handover && ready {
                if printed { out.line(": handover, it runs now") }
                Init.inFlight = e
                Init.inFlightSampled = !printed
                Init.enterForEvent(t, at: vector)
            }
            if printed { out.line(ev.kind == PlanLayout.handover ? ": handover to a partition not yet started, at its first frame" : ": interrupt, at its next frame") }
            Init.children[t].pending |= 1 << UInt64(e)
            Init.resume(k)
        }
        e += 1
    }
    Init.prefix(&out)
    out.write("an event at vector ")
    out.hex(vector)
    out.line(" that the plan does not route")
    Init.failures += 1
    Init.resume(k)
}

/// VIDT[ChannelLayout.handled]: an event's handler is done; the frame's partition goes on.
@_cdecl("init_handled")
func initHandled(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    Init.sampleLatency()
    // A nested instance that took a pending event at its frame's start gets that frame's tick.
    Init.resume(Init.current, tick: true)
}

/// VIDT[0…31]: a child's exception. Reported; restarted from its image when the plan says so.
@_cdecl("init_fault")
func initFault(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    var out = Output()
    guard let k = Init.child(named: source) else {
        Init.prefix(&out)
        out.write("exception ")
        out.decimal(vector)
        out.write(" of an unknown partition ")
        out.hex(source)
        out.byte(10)
        SharedConsole.countFailure()
        if Init.isRoot { Sprig.powerOff(4) }
        Init.resume(Init.current)
    }
    Init.prefix(&out)
    Init.name(&out, Init.children[k].plan)
    out.write(" faulted: exception ")
    out.decimal(vector)
    out.write(" at address ")
    out.hex(faultAddress)
    out.byte(10)
    let restart = Init.plan.partition(Init.children[k].plan).flags & PlanLayout.restart != 0
    if restart {
        // A nested instance's handlers run with interrupts enabled; a tick in the middle of a
        // restart would leave the child half built, so it masks them until the child is whole.
        if !Init.isRoot { _ = Sprig.call(.setIntState, InterruptFlags.masked) }
        let d = Sprig.call(.deletePartition, Init.children[k].name)
        if !d.succeeded || !Init.build(k) { Init.stop("restart", k, d.raw) }
        Init.prefix(&out)
        out.write("restarted ")
        Init.name(&out, Init.children[k].plan)
        out.line(" from its image")
        if !Init.isRoot {
            _ = Sprig.call(.setIntState, InterruptFlags.enabled)
            // A tick its parent could not pass on meanwhile (it wrote the tick's instant in the
            // header all the same) is counted now.
            if word(ChildLayout.extraBase + NestedHeader.tickInstant).pointee != Init.instant {
                Init.instant = word(ChildLayout.extraBase + NestedHeader.tickInstant).pointee
                Init.count()
                if Init.current != k { Init.resume(Init.current, tick: true) }
            }
        }
    } else {
        Init.failures += 1
        SharedConsole.countFailure()
    }
    // A restarted child starts over in the rest of its frame; one that is not restarted leaves
    // the frame idle until the next tick.
    if Init.current == k && restart { Init.resume(k) }
    idle()
}

/// Waits for the next tick with nothing to run (the tick interrupts this loop).
func idle() -> Never {
    _ = Sprig.call(.setIntState, InterruptFlags.enabled)
    while true {}
}

/// The words of `<program>.bin`, the boot module's name for a program name given as two words.
func moduleName(_ p0: UInt64, _ p1: UInt64) -> (UInt64, UInt64) {
    var w = (p0, p1)
    var length: UInt64 = 0
    while length < 16 && UInt8(truncatingIfNeeded: (length < 8 ? p0 : p1) >> ((length % 8) * 8)) != 0 { length += 1 }
    let suffix: UInt64 = 0x6E69_622E  // ".bin", little-endian
    var i: UInt64 = 0
    while i < 4 && length + i < 16 {
        let c = (suffix >> (i * 8)) & 0xFF
        let at = length + i
        if at < 8 { w.0 |= c << (at * 8) } else { w.1 |= c << ((at - 8) * 8) }
        i += 1
    }
    return w
}

/// Prints why the plan cannot be used; root powers off with 2, a nested instance stops.
func refuse(_ refusal: PlanRefusal, moduleBytes: UInt64) -> Never {
    var out = Output()
    out.write("init: plan refused: ")
    switch refusal {
    case .tooSmall: out.write("the module is smaller than a plan header")
    case .badMagic: out.write("not a plan (bad magic)")
    case .wrongVersion:
        out.write("version ")
        out.decimal(Init.plan.version)
        out.write(", this init reads version ")
        out.decimal(PlanLayout.version)
    case .sizeMismatch:
        out.write("the module has ")
        out.decimal(moduleBytes)
        out.write(" bytes, its counts give another size")
    case .tooMany: out.write("more records than a plan may hold")
    case .badIndex: out.write("an index out of range")
    }
    out.line("; rebuild it with `sprig build --system`")
    if Init.isRoot { Sprig.powerOff(2) }
    SharedConsole.countFailure()
    while true {}
}

@_cdecl("sprig_partition_main")
func initMain(_ argument: UInt64) {
    var out = Output()
    var stackTop = ChildLayout.handlerStackTop
    if argument == NestedHeader.magic {
        // Nested: the plan and the images are in the extra region; memory is the pool.
        Init.isRoot = false
        SharedConsole.page = ChildLayout.consolePage
        let header = ChildLayout.extraBase
        Init.plan = PlanView(base: UnsafeRawPointer(bitPattern: UInt(header + word(header + NestedHeader.planOffset).pointee))!,
                             bytes: word(header + NestedHeader.planBytes).pointee)
        if let refusal = Init.plan.check() { refuse(refusal, moduleBytes: Init.plan.bytes) }
        Init.me = Int(word(header + NestedHeader.indexWord).pointee)
        guard Init.me > 0 && Init.me < Init.plan.partitionCount else { refuse(.badIndex, moduleBytes: Init.plan.bytes) }
        Init.pages = PageSource(start: ChildLayout.poolBase, pages: Init.plan.partition(Init.me).memoryPages)
        Init.checkGivenMemory()
    } else {
        Init.bootInfo = argument
        let info = BootInfo(address: argument)
        guard let module = info.module(named: "plan.bin") else {
            out.line("init: no plan module (plan.bin): build the system with `sprig build --system`")
            Sprig.powerOff(1)
        }
        Init.plan = PlanView(base: UnsafeRawPointer(bitPattern: UInt(module.vaddr))!, bytes: module.bytes)
        if let refusal = Init.plan.check() { refuse(refusal, moduleBytes: module.bytes) }
        // Root's pages are one run free of boot modules, so every copy it makes is contiguous.
        // Where the machine's memory and the modules lie is known only now: the run must hold
        // what init takes to build the tree (the plan says how much; sprig build counted it).
        Init.pages = PageSource(largestFreeRunOf: info)
        Init.checkMemory(has: Init.pages.pagesLeft, "the largest run of free memory", "give the machine more memory")
        // Root takes what its description gives it, no more (children, restarts included).
        Init.pages.limit(toPages: Init.plan.partition(0).memoryPages)
        Init.checkGivenMemory()
        let handlerStack = Init.pages.take()
        _ = Init.pages.take()
        stackTop = handlerStack + 2 * AddressSpace.pageSize
    }
    let level = Init.level
    guard level.schedule != PlanLayout.noSchedule, level.frameCount > 0, !Init.isRoot || Init.plan.tickHz > 0 else {
        Init.prefix(&out)
        out.line("the plan gives this partition no plan of its own to run")
        if Init.isRoot { Sprig.powerOff(2) }
        while true {}
    }
    do {
        var i = 0
        while i < Init.plan.channelCount {
            let ch = Init.plan.channel(i)
            if Init.meeting(Int(ch.writer), Int(ch.reader)) == Init.me { Init.carried |= 1 << UInt64(i) }
            i += 1
        }
        // The ends of every channel this instance carries: one page per end, never the same
        // page for both.
        i = 0
        while i < Init.plan.channelCount && i < 64 {
            if !Init.carries(i) { i += 1; continue }
            Init.writerPages[i] = Init.pages.takeZeroed()
            Init.readerPages[i] = Init.pages.takeZeroed()
            if Init.plan.channel(i).transfer == PlanLayout.pageHandover { Init.ackPages[i] = Init.pages.takeZeroed() }
            i += 1
        }
        Init.counterCost = Samples.counterBaseline()
        i = 0
        while i < Init.plan.channelCount {
            let ch = Init.plan.channel(i)
            if !Init.isRoot && !Init.carries(i) && (Init.below(Int(ch.writer), Init.me) || Init.below(Int(ch.reader), Init.me)) {
                Init.forwardsSends = true
            }
            i += 1
        }
    }
    // Handler contexts: two pages of this instance's, five contexts each.
    let contexts = Init.pages.takeZeroed()
    _ = Init.pages.takeZeroed()
    func slot(_ k: UInt64) -> UInt64 { contexts + (k / 5) * AddressSpace.pageSize + (k % 5) * UInt64(ContextLayout.size) }
    // Root's handlers run with interrupts masked: a tick during one is dropped, never nested. A
    // nested instance's stay enabled: ticks come to root whatever it does, and its parent must
    // always be able to enter it at its tick and event vectors (32…255 are refused while masked).
    let masked = Init.isRoot ? InterruptFlags.masked : InterruptFlags.enabled
    Contexts.setHandler(SharedConsole.vector, initConsole, slot: slot(1), stackTop: stackTop, flags: masked)
    Contexts.setHandler(ChannelLayout.send, initSend, slot: slot(2), stackTop: stackTop, flags: masked)
    Contexts.setHandler(0, initFault, slot: slot(3), stackTop: stackTop, flags: masked)
    var v: UInt64 = 1
    while v < 32 { Contexts.setVIDT(v, slot(3)); v += 1 }
    Contexts.setHandler(ChannelLayout.handled, initHandled, slot: slot(4), stackTop: stackTop, flags: masked)
    var e = 0
    while e < Init.plan.eventCount {
        // Each instance routes the events it is the router of; a nested instance also takes
        // the ones for it.
        let ev = Init.plan.event(e)
        let mine = Init.routes(e) || Int(ev.target) == Init.me
        if mine {
            Contexts.setHandler(ev.vector, initEvent, slot: slot(5), stackTop: stackTop, flags: masked)
        }
        e += 1
    }

    var p = 1
    while p < Init.plan.partitionCount && Init.childCount < Init.maxChildren {
        if Int(Init.plan.partition(p).parent) == Init.me {
            let k = Init.childCount
            Init.children[k].plan = p
            Init.children[k].console = Init.pages.takeZeroed()
            Init.children[k].stamps = Init.pages.takeZeroed()
            var ok = false
            if let image = Init.imageOf(p) {
                Init.children[k].image = image.vaddr
                Init.children[k].imageBytes = image.bytes
                Init.children[k].pristine = Init.copy(image.vaddr, image.bytes, into: &Init.pages)
                Init.childCount += 1
                ok = Init.build(k)
            }
            if !ok {
                Init.prefix(&out)
                out.write("could not start ")
                Init.name(&out, p)
                out.line(" (no image of its program, or not enough memory)")
                if Init.isRoot { Sprig.powerOff(6) }
                while true {}
            }
        }
        p += 1
    }
    Init.prefix(&out)
    out.decimal(UInt64(Init.childCount))
    out.write(" partitions, ")
    out.decimal(level.frameCount)
    out.write(level.schedule == PlanLayout.roundRobin ? " round-robin slots" : " minor frames")
    if Init.isRoot {
        out.write(" at ")
        out.decimal(Init.plan.tickHz)
        out.write(" Hz")
    }
    out.byte(10)
    Init.announceFrame()
    if Init.isRoot {
        Contexts.setHandler(VIDTIndex.timer, initTick, slot: slot(0), stackTop: stackTop, flags: masked)
        // The plan's instants count from here: the PIT loads its count inside setTimer, so
        // this read precedes the load by the service's few hundred instructions, and every
        // delay is at most that much too large, never negative (counting from the first tick's
        // arrival instead made a later, less delayed tick come out "early").
        Init.firstTick = readTSC()
        Init.firstTickCount = 0
        let t = Sprig.setTimer(Init.plan.tickHz)
        if !t.succeeded {
            out.write("init: setTimer: ")
            out.line(statusName(t.raw))
            Sprig.powerOff(5)
        }
    } else {
        // Last: from now on the parent passes ticks on here instead of resuming this setup.
        Contexts.setHandler(ChannelLayout.parentTick, initTick, slot: slot(0), stackTop: stackTop, flags: masked)
    }
    Init.resume(Init.current)
}
