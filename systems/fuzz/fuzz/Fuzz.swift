/// The `fuzz` system's root: a random campaign of services, yields and faults on the booted
/// kernel, checking after every call that root still owns its memory and that the
/// kernel still answers. docs/fuzz.md, "The fuzzer partition".
///
/// `sprig run --system fuzz --seed S --calls N` (kernel command line `fuzz.seed=S
/// fuzz.calls=N`, read from the boot-info page). One seed is one campaign: every choice comes
/// from the seed (`Random`) and from the kernel's answers.
///
/// Root builds three children from the `fuzzchild` image (ChildBuilder, one boot module each)
/// and then makes N calls (Operations.swift): every memory service with arguments drawn from
/// its own free pages, pages it gave away, kernel structures, its own vital pages, children's
/// names living and dead, kernel-half, non-canonical, misaligned and unmapped addresses;
/// yields into children at random VIDT indices with random save slots and flags, through
/// contexts and VIDT entries it writes at random; and commands its children carry out: faults
/// of every kind, `int n` for any n, system calls, yields back, grandchildren that fault.
///
/// The oracle (after every call, `Checks.afterCall`):
/// * each service answered a status SprigABI defines, and what it must have answered where root
///   can tell (Operations.swift states each prediction beside its call);
/// * a delivery names a live child, a vector, a save slot the kernel may use; a fault command
///   arrives with the vector (and error code, fault address) its instruction raises;
/// * root still owns its memory: its VIDT and handler contexts as it wrote them, canary words on
///   its data, on the unused bottom of its stack and on every free page it tracks; the pages the
///   call named are what root believes (`Model.disagreement`); every 64 calls all of them are;
/// * the kernel answers: an unknown service number is refused with `unknownService`.
/// Root itself never faults: a fault of root is the kernel's crash report (status 0x70).
///
/// At the end root deletes every child, checks that every tracked page came back (not given,
/// givable, writable, canaries), prints the summary (Report.swift) and `fuzz: done N calls`,
/// and powers off with 0. Any violation: `fuzz: FAIL …` and status 3.
import SprigABI
import SprigUser

enum Defaults {
    static let seed: UInt64 = 1
    static let calls: UInt64 = 2000
    /// The largest campaign root accepts (the command line is checked by `sprig run` too).
    static let maxCalls: UInt64 = 100_000_000
}

/// Root's VIDT layout.
enum RootVIDT {
    /// Exceptions of children (0…31) enter `exceptionHandler`; 32…199 `interruptHandler` (int n,
    /// yields to those vectors); 200…255 are 0, so `int n` there is refused.
    static let lastHandled: UInt64 = 199
    /// Where root saves its main flow when it enters a child; set only while it waits there.
    static let resume = FuzzMailbox.rootResume
    /// Save slots that must be refused (check 8): kernel half, kernel image, non-canonical,
    /// misaligned, the VIDT itself, straddling into it, unmapped, straddling into the unmapped
    /// page above the stack, a kernel structure page (set when used).
    static let hostileFirst: UInt64 = 400
    static let hostileCount: UInt64 = 9
    /// The handlers' contexts and the main flow's resume context (root's context page).
    static let resumeContext = RootLayout.contextSlot(0)
    static let exceptionContext = RootLayout.contextSlot(1)
    static let interruptContext = RootLayout.contextSlot(2)
    static let continueContext = RootLayout.contextSlot(3)
    /// rdi/rsi of a handler's context: a delivery overrides them, a yield does not.
    static let yieldSource: UInt64 = 0x5E17
    static let yieldVector: UInt64 = 0x1_0000
}

/// How control came back to root after it entered a child.
struct Outcome {
    static let returned: UInt64 = 0
    static let delivered: UInt64 = 1
    static let yieldEntry: UInt64 = 2
    var kind: UInt64 = 0
    /// yield's status (returned).
    var status: UInt64 = 0
    var source: UInt64 = 0
    var vector: UInt64 = 0
    var errorCode: UInt64 = 0
    var faultAddress: UInt64 = 0
    var savedAt: UInt64 = 0
}

enum Campaign {
    nonisolated(unsafe) static var random = Random(seed: 1)
    nonisolated(unsafe) static var calls: UInt64 = 0
    nonisolated(unsafe) static var outcome = Outcome()
    /// True while root waits for a child it entered (an event then concludes the operation).
    nonisolated(unsafe) static var waiting = false
    nonisolated(unsafe) static var handlerStackTop: UInt64 = 0
    nonisolated(unsafe) static var expectedVIDT: UInt64 = 0
    /// Copies of the two handler contexts, checked after every call.
    nonisolated(unsafe) static var handlerCopies: UInt64 = 0
    nonisolated(unsafe) static var bootInfoHash: UInt64 = 0
    nonisolated(unsafe) static var dataCanary: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// The child image's pristine bytes (a child's .data changes as it runs).
    nonisolated(unsafe) static var imageBackup: UInt64 = 0
    nonisolated(unsafe) static var imageBytes: UInt64 = 0
    nonisolated(unsafe) static var modules: InlineArray<3, UInt64> = [0, 0, 0]
    /// The one line consoleWrite may print successfully.
    nonisolated(unsafe) static var consoleLine: UInt64 = 0
    nonisolated(unsafe) static var consoleLineBytes: UInt64 = 0
    /// Vaddrs the current call named, checked against the model after it.
    nonisolated(unsafe) static var touched: InlineArray<8, UInt64> = [0, 0, 0, 0, 0, 0, 0, 0]
    nonisolated(unsafe) static var touchedCount = 0

    static func touch(_ va: UInt64) {
        if touchedCount < 8 { touched[touchedCount] = va; touchedCount += 1 }
    }

    /// Sets root's `VIDT[index]` and the copy it is checked against.
    static func setVIDT(_ index: UInt64, _ value: UInt64) {
        Contexts.setVIDT(index, value)
        word(expectedVIDT + 8 * index).pointee = value
    }

    /// Enters `callee` with yield; returns its status when refused or when the child came back
    /// to `RootVIDT.resume`. When a handler takes the event instead, this never returns: the
    /// campaign goes on from `fuzz_continue`.
    static func enter(_ callee: UInt64, target: UInt64, save: UInt64, flagsOnYield: UInt64, flagsOnWake: UInt64) -> UInt64 {
        if save == RootVIDT.resume { setVIDT(RootVIDT.resume, RootVIDT.resumeContext) }
        waiting = true
        let r = Sprig.yield(callee, target: target, save: save, flagsOnYield: flagsOnYield, flagsOnWake: flagsOnWake)
        waiting = false
        setVIDT(RootVIDT.resume, 0)
        return r.raw
    }
}

// MARK: Handlers and the fresh continuation

@inline(never)
func functionAddress(_ f: Handler) -> UInt64 { UInt64(UInt(bitPattern: unsafeBitCast(f, to: UnsafeRawPointer.self))) }

/// Every delivery and every yield to root's handler indices: record it, go on afresh.
@_cdecl("fuzz_event")
func fuzzEvent(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    guard Campaign.waiting else { Report.fail("an event reached root while it was not waiting for a child", vector) }
    Campaign.waiting = false
    var o = Outcome()
    if source == RootVIDT.yieldSource && vector & RootVIDT.yieldVector != 0 {
        o.kind = Outcome.yieldEntry
        o.vector = vector
        Stats.yieldEntries += 1
    } else {
        o.kind = Outcome.delivered
        o.source = source
        o.vector = vector
        o.errorCode = errorCode
        o.faultAddress = faultAddress
        o.savedAt = savedAt
    }
    Campaign.outcome = o
    // The main flow's stack is abandoned: start over at its top.
    Contexts.write(at: RootVIDT.continueContext, rip: functionAddress(fuzzContinue), rsp: AddressSpace.rootStackTop - 8,
                   flags: InterruptFlags.masked)
    sprigResumeContext(RootVIDT.continueContext)
}

@_cdecl("fuzz_continue")
func fuzzContinue(_ a: UInt64, _ b: UInt64, _ c: UInt64, _ d: UInt64, _ e: UInt64) {
    Campaign.setVIDT(RootVIDT.resume, 0)
    Operations.conclude(Campaign.outcome)
    Checks.afterCall()
    campaign()
}

// MARK: The campaign

func campaign() -> Never {
    let progressStep = Campaign.calls / 10 == 0 ? Campaign.calls : Campaign.calls / 10
    while Current.call < Campaign.calls {
        Current.call += 1
        if Current.call % progressStep == 0 {
            var out = Output()
            out.write("fuzz: call ")
            out.decimal(Current.call)
            out.write(" of ")
            out.decimal(Campaign.calls)
            out.byte(10)
        }
        Campaign.touchedCount = 0
        Operations.runOne(&Campaign.random)
        Checks.afterCall()
    }
    finishCampaign()
}

func finishCampaign() -> Never {
    Current.call += 1
    Current.start("final deletion of every child", count: 0)
    var s = 0
    while s < Model.slots {
        let name = Model.child(s).pointee.name
        if name != 0 {
            let r = Sprig.call(.deletePartition, name)
            Stats.record(Service.deletePartition.rawValue, r.raw)
            Report.require(r.succeeded, "deletePartition of a live child at the end was refused", r.raw)
            Operations.childDeleted(s)
        }
        s += 1
    }
    Checks.full()
    var i = 0
    while i < Model.count {
        Report.require(Model.use(i) == Use.mine, "a tracked page is not mine after every child was deleted", Model.va(i))
        i += 1
    }
    Report.summary()
    var out = Output()
    out.write("fuzz: every tracked page came back: ")
    out.decimal(UInt64(Model.count))
    out.line(" pages not given, givable, writable, canaries intact")
    out.write("fuzz: done ")
    out.decimal(Campaign.calls)
    out.write(" calls, seed ")
    out.decimal(Model.seed)
    out.byte(10)
    Sprig.powerOff(0)
}

// MARK: Checks

enum Checks {
    static func hash(_ va: UInt64, words: UInt64) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        var k: UInt64 = 0
        while k < words {
            h = (h ^ word(va + 8 * k).pointee) &* 0x100_0000_01B3
            k += 1
        }
        return h
    }

    static let stackCanaryBase = AddressSpace.rootStackTop - AddressSpace.rootStackPages * AddressSpace.pageSize
    static let stackCanaryWords: UInt64 = 1024  // the two deepest pages of root's stack

    static func writeStackCanary() {
        var k: UInt64 = 0
        while k < stackCanaryWords { word(stackCanaryBase + 8 * k).pointee = mix(Model.seed, 0x57AC + k); k += 1 }
    }

    /// After every call: root's own memory, the pages the call named, every free page's canary,
    /// and an answer from the kernel.
    static func afterCall() {
        var k: UInt64 = 0
        while k < AddressSpace.vidtEntries {
            Report.require(word(AddressSpace.vidt + 8 * k).pointee == word(Campaign.expectedVIDT + 8 * k).pointee,
                           "an entry of my VIDT changed", k)
            k += 1
        }
        k = 0
        while k < 2 * UInt64(ContextLayout.size) / 8 {
            Report.require(word(RootVIDT.exceptionContext + 8 * k).pointee == word(Campaign.handlerCopies + 8 * k).pointee,
                           "a word of my handler contexts changed", k)
            k += 1
        }
        Report.require(hash(AddressSpace.bootInfo, words: 512) == Campaign.bootInfoHash, "my boot-info page changed", 0)
        let d = Campaign.dataCanary
        Report.require(d.0 == mix(Model.seed, 1) && d.1 == mix(Model.seed, 2) && d.2 == mix(Model.seed, 3) && d.3 == mix(Model.seed, 4),
                       "a canary word in my data changed", d.0)
        k = 0
        while k < stackCanaryWords {
            Report.require(word(stackCanaryBase + 8 * k).pointee == mix(Model.seed, 0x57AC + k), "a canary word on my stack changed", k)
            k += 1
        }
        var t = 0
        while t < Campaign.touchedCount {
            let i = Model.find(Campaign.touched[t])
            if i >= 0, let why = Model.disagreement(i) { Report.fail(why, Model.va(i)) }
            t += 1
        }
        var i = 0
        while i < Model.count {
            Report.require(Model.canariesHold(i), "a free page of mine lost its canary words", Model.va(i))
            i += 1
        }
        let unknown = 0x1F0 + (Current.call & 0xF)
        let answer = Sprig.callRaw(unknown).raw
        Report.require(answer == Status.unknownService.rawValue, "the kernel did not answer an unknown service with unknownService", answer)
        if Current.call % 64 == 0 { full() }
    }

    /// Every tracked page against the kernel, and every free one written and read back.
    static func full() {
        Stats.fullChecks += 1
        var i = 0
        while i < Model.count {
            if let why = Model.disagreement(i) { Report.fail(why, Model.va(i)) }
            Report.require(Model.writable(i), "a free page of mine is not writable", Model.va(i))
            i += 1
        }
    }
}

// MARK: Setup

func argument(_ info: BootInfo, _ key: StaticString, default value: UInt64) -> UInt64 {
    switch info.argument(key) {
    case .absent: return value
    case .value(let v): return v
    case .malformed:
        var out = Output()
        out.write("fuzz: the command line's ")
        out.write(key)
        out.line(" is not a decimal or 0x-hex number that fits 64 bits; refusing to run")
        Sprig.powerOff(2)
    }
}

@_cdecl("sprig_partition_main")
func fuzzMain(_ bootInfoAddress: UInt64) {
    var out = Output()
    let info = BootInfo(address: bootInfoAddress)
    let seed = argument(info, "fuzz.seed", default: Defaults.seed)
    let calls = argument(info, "fuzz.calls", default: Defaults.calls)
    guard calls >= 1 && calls <= Defaults.maxCalls else {
        out.write("fuzz: fuzz.calls must be between 1 and ")
        out.decimal(Defaults.maxCalls)
        out.write(", got ")
        out.decimal(calls)
        out.line("; refusing to run")
        Sprig.powerOff(2)
    }
    Current.trace = argument(info, "fuzz.trace", default: 0) != 0
    Model.seed = seed
    Campaign.calls = calls
    Campaign.random = Random(seed: seed)
    out.write("fuzz: seed ")
    out.decimal(seed)
    out.write(", ")
    out.decimal(calls)
    out.line(" calls")
    Report.require(Sprig.call(.setIntState, InterruptFlags.masked).succeeded, "root could not mask its interrupts", 0)

    // Three child image modules (one per built child: a page goes to one child only).
    var found = 0
    if let first = info.module(named: "fuzzchild.bin") {
        var m = 0
        var name: (UInt64, UInt64) = (0, 0)
        while m < info.moduleCount {
            if info.module(m).vaddr == first.vaddr { name = (info.module(m).name0, info.module(m).name1) }
            m += 1
        }
        m = 0
        while m < info.moduleCount && found < 3 {
            let mod = info.module(m)
            if mod.name0 == name.0 && mod.name1 == name.1 && mod.bytes == first.bytes {
                Campaign.modules[found] = mod.vaddr
                found += 1
            }
            m += 1
        }
        Campaign.imageBytes = first.bytes
    }
    guard found == 3 else {
        out.line("fuzz: the fuzz system needs three fuzzchild modules")
        Sprig.powerOff(1)
    }

    var pages = PageSource(largestRangeOf: info)
    // Root's vital pages: handler stack, the model, the expected VIDT, statistics, image backup.
    let handlerStack = pages.take()
    _ = pages.take()
    Campaign.handlerStackTop = handlerStack + 2 * AddressSpace.pageSize
    let entries = pages.takeZeroed()
    var e = 1
    while e < Model.maxEntries * 16 / 4096 {
        Report.require(pages.takeZeroed() == entries + UInt64(e) * AddressSpace.pageSize, "the model's pages are not contiguous", 0)
        e += 1
    }
    Model.entries = UnsafeMutablePointer<UInt64>(bitPattern: UInt(entries))!
    let misc = pages.takeZeroed()
    Model.children = UnsafeMutablePointer<ChildSlot>(bitPattern: UInt(misc))!
    Model.children.initialize(repeating: ChildSlot(), count: Model.slots)
    Campaign.handlerCopies = misc + 2048
    Campaign.consoleLine = misc + 3840
    let line: StaticString = "fuzz: consoleWrite of my own line\n"
    line.withUTF8Buffer { b in
        var i = 0
        while i < b.count { UnsafeMutablePointer<UInt8>(bitPattern: UInt(misc + 3840))![i] = b[i]; i += 1 }
        Campaign.consoleLineBytes = UInt64(b.count)
    }
    Campaign.expectedVIDT = pages.takeZeroed()
    Stats.table = UnsafeMutablePointer<UInt64>(bitPattern: UInt(pages.takeZeroed()))!
    let imagePages = (Campaign.imageBytes + AddressSpace.pageSize - 1) / AddressSpace.pageSize
    Campaign.imageBackup = pages.take()
    var p: UInt64 = 1
    while p < imagePages {
        Report.require(pages.take() == Campaign.imageBackup + p * AddressSpace.pageSize, "the image backup is not contiguous", 0)
        p += 1
    }
    copyBytes(from: Campaign.modules[0], to: Campaign.imageBackup, Campaign.imageBytes)

    // The arena: root's pool, then one region per built child, contiguous.
    var start = pages.take()
    var run: UInt64 = 1
    while run < Model.arenaPages {
        let next = pages.take()
        if next == start + run * AddressSpace.pageSize { run += 1 } else { start = next; run = 1 }
    }
    Model.arenaStart = start
    var k: UInt64 = 0
    while k < Model.arenaPages {
        let i = Model.track(start + k * AddressSpace.pageSize, home: k < Model.poolPages ? Home.pool : Home.region)
        Model.writeCanaries(i)
        k += 1
    }
    var mi = 0
    while mi < 3 {
        p = 0
        while p < imagePages { Model.track(Campaign.modules[mi] + p * AddressSpace.pageSize, home: Home.module); p += 1 }
        mi += 1
    }
    let vital: InlineArray<9, UInt64> = [
        AddressSpace.imageBase, AddressSpace.imageBase + AddressSpace.pageSize, Checks.stackCanaryBase,
        AddressSpace.rootStackTop - AddressSpace.pageSize, AddressSpace.vidt, AddressSpace.bootInfo,
        AddressSpace.rootInitialContext, handlerStack, entries,
    ]
    var v = 0
    while v < 9 { Model.track(vital[v], home: Home.vital); v += 1 }

    // Root's VIDT: handlers (masked), hostile save slots, the rest 0.
    Contexts.setHandler(0, fuzzEvent, slot: RootVIDT.exceptionContext, stackTop: Campaign.handlerStackTop, flags: InterruptFlags.masked)
    Contexts.setHandler(32, fuzzEvent, slot: RootVIDT.interruptContext, stackTop: Campaign.handlerStackTop, flags: InterruptFlags.masked)
    word(RootVIDT.exceptionContext + UInt64(ContextLayout.rdi)).pointee = RootVIDT.yieldSource
    word(RootVIDT.exceptionContext + UInt64(ContextLayout.rsi)).pointee = RootVIDT.yieldVector
    word(RootVIDT.interruptContext + UInt64(ContextLayout.rdi)).pointee = RootVIDT.yieldSource
    word(RootVIDT.interruptContext + UInt64(ContextLayout.rsi)).pointee = RootVIDT.yieldVector | 1
    copyBytes(from: RootVIDT.exceptionContext, to: Campaign.handlerCopies, 2 * UInt64(ContextLayout.size))
    var index: UInt64 = 0
    while index < AddressSpace.vidtEntries {
        let value: UInt64
        switch index {
        case 0..<32: value = RootVIDT.exceptionContext
        case 32...RootVIDT.lastHandled: value = RootVIDT.interruptContext
        default: value = 0
        }
        Campaign.setVIDT(index, value)
        index += 1
    }
    let hostile: InlineArray<9, UInt64> = [
        0xFFFF_8000_0000_0000, 0xFFFF_FFFF_8010_0000, 0x0000_8000_0000_0000, RootLayout.contextSlot(4) + 8,
        AddressSpace.vidt, AddressSpace.vidt - 256, 0x0000_6000_0000_0000, AddressSpace.rootStackTop - 256,
        0x0000_6000_0000_1000,
    ]
    var h = 0
    while h < 9 { Campaign.setVIDT(RootVIDT.hostileFirst + UInt64(h), hostile[h]); h += 1 }

    Checks.writeStackCanary()
    Campaign.dataCanary = (mix(seed, 1), mix(seed, 2), mix(seed, 3), mix(seed, 4))
    Campaign.bootInfoHash = Checks.hash(AddressSpace.bootInfo, words: 512)
    out.write("fuzz: tracking ")
    out.decimal(UInt64(Model.count))
    out.write(" pages (pool ")
    out.decimal(Model.poolPages)
    out.write(", ")
    out.decimal(UInt64(Model.builtSlots))
    out.write(" child regions of ")
    out.decimal(Model.regionPages)
    out.write(", ")
    out.decimal(3 * imagePages)
    out.line(" image module pages, 9 of my own)")
    var s = 0
    while s < Model.builtSlots {
        Current.start("building a child", UInt64(s), count: 1)
        Report.require(Operations.build(s), "could not build a child at the start", UInt64(s))
        s += 1
    }
    Checks.full()
    out.line("fuzz: three children built; starting the campaign")
    campaign()
}

func copyBytes(from: UInt64, to: UInt64, _ bytes: UInt64) {
    let src = UnsafePointer<UInt8>(bitPattern: UInt(from))!
    let dst = UnsafeMutablePointer<UInt8>(bitPattern: UInt(to))!
    var i = 0
    while i < Int(bytes) { dst[i] = src[i]; i += 1 }
}
