/// The `bench` system's root: guest-instruction counts of the kernel's paths (`sprig bench`).
///
/// Under QEMU with `-icount shift=0,align=off` the time-stamp counter advances by one per guest
/// instruction, so `readTSC()` differences are instruction counts, identical on every machine.
/// Each path is measured `rounds` times; root prints `bench: <key> <median> <min> <max>` with the
/// cost of two back-to-back `readTSC()` calls already subtracted, and `sprig bench` turns the
/// lines into a table and JSON.
///
/// * `service.*`: one service call from root, `syscall` stub to return (the wrapper's few
///   instructions included); `service.null` is an unknown service number (entry and exit only).
/// * `yield.parent_to_child` / `yield.child_to_parent`: from the counter read just before the
///   yielding partition's `syscall` stub to the one just after the other side's stub returns.
/// * `yield.round_trip`: root → child → root, the child doing only its bookkeeping.
/// * `yield.parent_to_child_cold` / `yield.child_to_parent_cold`: the same two yields right
///   after a service that changed the child's tables (addVAddr then removeVAddr of a spare page,
///   which neither yield uses: the kernel's caches keep both plans, docs/yield.md "Leaf writes").
/// * `yield.parent_to_child_miss` / `yield.child_to_parent_miss`: the same two yields right
///   after a partition was created and deleted (structure pages taken and given back, which
///   advances the cache generation): no entry of either cache hits, and yield runs the whole
///   check chain with its walks.
/// * `irq.to_root_handler`: a timer interrupt from a spinning child to the first instruction of
///   root's VIDT[32] handler (the child's loop adds at most a few instructions).
import SprigABI
import SprigUser

let rounds = 16
let parentResumeSlot: UInt64 = 300
let childResumeSlot: UInt64 = 301
let timerVector: UInt64 = 32

nonisolated(unsafe) var sharedPage: UInt64 = 0
nonisolated(unsafe) var childName: UInt64 = 0
nonisolated(unsafe) var baseline: UInt64 = 0
nonisolated(unsafe) var irq = Samples()

/// The timer: first instruction of interest is the counter read.
@_cdecl("bench_tick")
func benchTick(_ source: UInt64, _ vector: UInt64, _ errorCode: UInt64, _ faultAddress: UInt64, _ savedAt: UInt64) {
    let now = readTSC()
    irq.add(now - word(sharedPage + 24).pointee)
    if irq.count < rounds && source == childName {
        _ = Sprig.yield(source, target: savedAt, save: Sprig.noSave)
    }
    Sprig.setTimer(0)
    irq.report("irq.to_root_handler", baseline: baseline)
    var out = Output()
    out.line("bench: done")
    Sprig.powerOff(source == childName ? 0 : 8)
}

@_cdecl("sprig_partition_main")
func benchRoot(_ bootInfoAddress: UInt64) {
    var out = Output()
    let info = BootInfo(address: bootInfoAddress)
    guard let image = info.module(named: "benchchild.bin") else {
        out.line("bench: the benchchild module is missing")
        Sprig.powerOff(1)
    }
    var pages = PageSource(largestRangeOf: info)

    // The cost of measuring: two back-to-back counter reads.
    baseline = Samples.counterBaseline()
    out.write("bench: baseline ")
    out.decimal(baseline)
    out.line(" instructions per counter read pair (subtracted below)")

    // Each memory service, on the same pages every round (each round gives them all back).
    let d = pages.take(), pml4 = pages.take(), sh1 = pages.take(), sh2 = pages.take(), list = pages.take()
    let page = pages.take()
    // countToMap asks for a table page and its two shadows per missing level: 9 at most here.
    var free: InlineArray<12, UInt64> = .init(repeating: 0)
    for k in 0..<12 { free[k] = pages.take() }
    let va = AddressSpace.imageBase
    var null = Samples(), create = Samples(), count = Samples(), prepare = Samples(), add = Samples()
    var mapped = Samples(), getState = Samples(), setState = Samples(), remove = Samples(), collect = Samples(), delete = Samples()
    var failures: UInt64 = 0
    func timed(_ s: inout Samples, _ service: Service, _ a0: UInt64, _ a1: UInt64 = 0, _ a2: UInt64 = 0,
               _ a3: UInt64 = 0, _ a4: UInt64 = 0) -> CallResult {
        let t0 = readTSC()
        let r = Sprig.call(service, a0, a1, a2, a3, a4)
        let t1 = readTSC()
        s.add(t1 - t0)
        if !r.succeeded { failures += 1 }
        return r
    }
    for _ in 0..<rounds {
        let t0 = readTSC()
        _ = Sprig.callRaw(0x999)
        null.add(readTSC() - t0)
        _ = timed(&create, .createPartition, d, pml4, sh1, sh2, list)
        let n = timed(&count, .countToMap, d, va).value
        var k = 0
        while k < Int(n) && k < 12 { word(free[k]).pointee = k + 1 < Int(n) ? free[k + 1] : 0; k += 1 }
        _ = timed(&prepare, .prepare, d, va, free[0])
        _ = timed(&add, .addVAddr, page, d, va, Rights.read | Rights.write)
        _ = timed(&mapped, .mappedInChild, page)
        _ = timed(&getState, .getIntState, d)
        _ = timed(&setState, .setIntState, InterruptFlags.enabled)
        _ = timed(&remove, .removeVAddr, d, va)
        _ = timed(&collect, .collect, d, va)
        _ = timed(&delete, .deletePartition, d)
    }
    null.report("service.null", baseline: baseline)
    create.report("service.createPartition", baseline: baseline)
    count.report("service.countToMap", baseline: baseline)
    prepare.report("service.prepare", baseline: baseline)
    add.report("service.addVAddr", baseline: baseline)
    mapped.report("service.mappedInChild", baseline: baseline)
    getState.report("service.getIntState", baseline: baseline)
    setState.report("service.setIntState", baseline: baseline)
    remove.report("service.removeVAddr", baseline: baseline)
    collect.report("service.collect", baseline: baseline)
    delete.report("service.deletePartition", baseline: baseline)
    if failures > 0 {
        out.write("bench: ")
        out.decimal(failures)
        out.line(" service calls failed  <-- FAILED")
        Sprig.powerOff(3)
    }

    // yield, both ways, with a child that only answers.
    sharedPage = pages.takeZeroed()
    var plan = ChildBuilder.Plan(image: image.vaddr, imageBytes: image.bytes)
    plan.extra = sharedPage
    plan.extraBytes = AddressSpace.pageSize
    plan.extraRights = Rights.read | Rights.write
    guard case .success(let child) = ChildBuilder.build(plan, pages: &pages) else {
        out.line("bench: could not build the child  <-- FAILED")
        Sprig.powerOff(4)
    }
    childName = child.name
    Contexts.setVIDT(parentResumeSlot, RootLayout.contextSlot(1))
    var r = Sprig.yield(child.name, target: VIDTIndex.main, save: parentResumeSlot)  // the child starts
    // One unmeasured round trip: the warm keys measure the steady state, in which both yields'
    // plans are kept (`YieldCache`); the cold keys below measure the first yield after a change.
    r = Sprig.yield(child.name, target: childResumeSlot, save: parentResumeSlot)
    var down = Samples(), up = Samples(), trip = Samples()
    var coldDown = Samples(), coldUp = Samples(), missDown = Samples(), missUp = Samples()
    /// One measured round trip: root → child (`down`), child → root (`up`); returns both.
    func roundTrip(_ down: inout Samples, _ up: inout Samples) -> UInt64 {
        let t0 = readTSC()
        r = Sprig.yield(child.name, target: childResumeSlot, save: parentResumeSlot)
        let t2 = readTSC()
        if !r.succeeded { failures += 1 }
        down.add(word(sharedPage + 8).pointee - t0)
        up.add(t2 - word(sharedPage).pointee)
        return t2 - t0
    }
    for _ in 0..<rounds { trip.add(roundTrip(&down, &up)) }
    // The same yields with the kernel's caches emptied first: give the child a spare page and
    // take it back (both services change the child's tables).
    let spare = pages.takeZeroed()
    let spareVA = ChildLayout.extraBase + AddressSpace.pageSize
    for _ in 0..<rounds {
        if !Sprig.call(.addVAddr, spare, child.name, spareVA, Rights.read).succeeded { failures += 1 }
        if !Sprig.call(.removeVAddr, child.name, spareVA).succeeded { failures += 1 }
        _ = roundTrip(&coldDown, &coldUp)
    }
    // And after a change that ends every cached answer: a partition created and deleted (the
    // service bench's pages, all given back by each round's deletePartition).
    for _ in 0..<rounds {
        if !Sprig.call(.createPartition, d, pml4, sh1, sh2, list).succeeded { failures += 1 }
        if !Sprig.call(.deletePartition, d).succeeded { failures += 1 }
        _ = roundTrip(&missDown, &missUp)
    }
    down.report("yield.parent_to_child", baseline: baseline)
    up.report("yield.child_to_parent", baseline: baseline)
    trip.report("yield.round_trip", baseline: baseline)
    coldDown.report("yield.parent_to_child_cold", baseline: baseline)
    coldUp.report("yield.child_to_parent_cold", baseline: baseline)
    missDown.report("yield.parent_to_child_miss", baseline: baseline)
    missUp.report("yield.child_to_parent_miss", baseline: baseline)
    if failures > 0 {
        out.line("bench: a yield failed  <-- FAILED")
        Sprig.powerOff(5)
    }

    // A hardware interrupt: the child spins, the timer takes it to root's VIDT[32]. Root masks
    // its own interrupts (its IF follows) while it runs, so ticks only ever interrupt the child,
    // and unmasks them as it yields (a masked root drops hardware interrupts, DESIGN.md §6).
    Contexts.setHandler(timerVector, benchTick, slot: RootLayout.contextSlot(2),
                        stackTop: pages.takeZeroed() + AddressSpace.pageSize, flags: InterruptFlags.masked)
    word(sharedPage + 16).pointee = 1
    _ = Sprig.call(.setIntState, InterruptFlags.masked)
    _ = Sprig.setTimer(1000)
    r = Sprig.yield(child.name, target: childResumeSlot, save: parentResumeSlot,
                    flagsOnYield: InterruptFlags.enabled, flagsOnWake: InterruptFlags.masked)
    out.write("bench: could not start the interrupt benchmark: ")
    out.line(statusName(r.raw))
    Sprig.powerOff(6)
}
