/// yield and event delivery, abstractly (DESIGN.md §5–§6, docs/yield.md).
///
/// A context is 768 bytes (`ContextLayout`) at a vaddr its owner's VIDT names. The
/// specification locates it as the 96 physical words it covers, each found through the owner's
/// mappings, after the checks of docs/yield.md: nonzero, 16-byte aligned, all in the lower half,
/// every page accessible to the owner (writable too for a save slot) and none of them the
/// owner's VIDT page. Saving writes the registers there word by word; loading reads them back,
/// sanitized as `Platform.swift` requires of every platform.
import SprigABI

extension Spec {
    /// The rflags bits a context may carry into ring 3 (SDM Vol. 1 §3.4.3): the status flags
    /// CF, PF, AF, ZF, SF, OF, and TF, DF, AC and ID, which ring 3 changes itself with `popf`.
    /// Not IF (the kernel decides it: DESIGN.md §6), IOPL (no port I/O from ring 3), NT, RF,
    /// VM, VIF, VIP. Bit 1 always reads 1.
    enum RFLAGS {
        static let partitionOwned: UInt64 = [0, 2, 4, 6, 7, 8, 10, 11, 18, 21].reduce(0) { $0 | 1 << $1 }
        static let interrupt: UInt64 = 1 << 9
        static let alwaysOne: UInt64 = 1 << 1
    }

    /// The physical words of a located context, in `ContextLayout` order (96 of them).
    typealias ContextWords = [UInt64]

    static let contextWordCount = ContextLayout.size / 8

    /// The context `owner` claims is at `va` (a VIDT entry), or nil when any check fails.
    static func locate(_ s: AbstractState, _ owner: UInt64, va: UInt64, write: Bool) -> ContextWords? {
        let size = UInt64(ContextLayout.size)
        guard va != 0, va % 16 == 0, va < AddressSpace.lowerHalfEnd, AddressSpace.lowerHalfEnd - va >= size,
              let vidt = s.vidtPage(of: owner), let pages = s.partitions[owner]?.pages
        else { return nil }
        var frames: [UInt64: UInt64] = [:]
        for pageVA in Set([pageBase(va), pageBase(va + size - 1)]) {
            guard let m = pages[pageVA], m.accessible, !write || m.writable, m.page != vidt else { return nil }
            frames[pageVA] = m.page
        }
        return (0..<contextWordCount).map { k in
            let byte = va + 8 * UInt64(k)
            return frames[pageBase(byte)]! + (byte - pageBase(byte))
        }
    }

    /// `partition`'s VIDT entry `index` (< 512), when it has a VIDT it can access.
    static func vidtEntry(_ s: AbstractState, _ partition: UInt64, _ index: UInt64) -> UInt64? {
        guard let page = s.vidtPage(of: partition) else { return nil }
        return s.memory[page]?[Int(index)]
    }

    static func read(_ s: AbstractState, _ paddr: UInt64) -> UInt64 {
        s.memory[pageBase(paddr)]?[Int((paddr & (AddressSpace.pageSize - 1)) / 8)] ?? 0
    }

    static func write(_ s: inout AbstractState, _ paddr: UInt64, _ value: UInt64) {
        s.memory[pageBase(paddr)]?[Int((paddr & (AddressSpace.pageSize - 1)) / 8)] = value
    }

    /// Writes the current registers as a context at `place`: every register, `flags`,
    /// `valid` = 1, `rax` replaced by `rax` when given; the reserved words (bytes 160…255) keep
    /// the slot's own bytes. Of the FXSAVE image, the bytes FXSAVE does not write (`SpecFXSAVE`,
    /// from the SDM) keep the slot's own bytes when it lies on one page; when it straddles two
    /// pages (it goes through the kernel's staging area) they are zero but 464…511 (available to
    /// software), which keep the slot's own bytes either way.
    static func save(_ s: inout AbstractState, at place: ContextWords, flags: UInt64, rax: UInt64?) {
        let r = s.registers
        let onePage = pageBase(place[0]) == pageBase(place[place.count - 1])
        for (k, paddr) in place.enumerated() {
            let offset = 8 * k
            var value: UInt64 = 0
            switch offset {
            case ContextLayout.rip: value = r.rip
            case ContextLayout.rsp: value = r.rsp
            case ContextLayout.rflags: value = r.rflags
            case ContextLayout.rax: value = rax ?? r[ContextLayout.rax]
            case ContextLayout.gprs..<ContextLayout.flags: value = r[offset]
            case ContextLayout.flags: value = flags
            case ContextLayout.valid: value = 1
            case ContextLayout.fpu..<ContextLayout.size:
                let w = (offset - ContextLayout.fpu) / 8
                let written = SpecFXSAVE.writtenMask(word: w)
                let kept = onePage || w >= 464 / 8 ? read(s, paddr) & ~written : 0
                value = kept | r.fpu[w] & written
            default: value = read(s, paddr)
            }
            write(&s, paddr, value)
        }
    }

    /// What an event handler is told (`SprigABI.Delivery`).
    struct Told {
        var source, vector, errorCode, faultAddress, savedAt: UInt64
    }

    /// Makes `partition` current, entered with the context at `place`: its interrupt state
    /// becomes the context's `flags` word (normalized), and the registers are the context's,
    /// sanitized — rip outside the lower half is 0, rflags keeps only the user flags and has IF
    /// set unless the partition is root with interrupts masked, FXSAVE bytes 464… are zero,
    /// MXCSR loses the bits MXCSR_MASK lacks — then the five delivery registers if `told`.
    static func enter(_ s: inout AbstractState, _ partition: UInt64, at place: ContextWords, told: Told?) {
        let before = s
        let word = { (offset: Int) in read(before, place[offset / 8]) }
        let state = word(ContextLayout.flags) == 0 ? InterruptFlags.enabled : InterruptFlags.masked
        s.partitions[partition]?.interruptState = state
        s.current = partition
        s.addressSpaceIsCurrent = true
        var r = RegisterFile()
        let rip = word(ContextLayout.rip)
        r.rip = rip < AddressSpace.lowerHalfEnd ? rip : 0
        r.rsp = word(ContextLayout.rsp)
        let interruptsOn = partition != s.root || state == InterruptFlags.enabled
        r.rflags = (word(ContextLayout.rflags) & RFLAGS.partitionOwned) | RFLAGS.alwaysOne
            | (interruptsOn ? RFLAGS.interrupt : 0)
        for g in 0..<ContextLayout.gprCount { r.gprs[g] = word(ContextLayout.gprs + 8 * g) }
        for w in r.fpu.indices { r.fpu[w] = word(ContextLayout.fpu + 8 * w) & ModelCPU.heldBytes(word: w) }
        r.fpu[0] = r.fpu[0] & ~(1 << 31) | (r.fpu[0] >> 23 & 1) << 31  // FSW.B mirrors FSW.ES
        let mask = UInt64(s.mxcsrMask)
        r.fpu[3] = (r.fpu[3] & 0xFFFF_FFFF & mask) | mask << 32
        if let t = told {
            let told = [(Delivery.sourceRegister, t.source), (Delivery.vectorRegister, t.vector),
                        (Delivery.errorCodeRegister, t.errorCode), (Delivery.faultAddressRegister, t.faultAddress),
                        (Delivery.savedAtRegister, t.savedAt)]
            for (register, value) in told { r[register] = value }
        }
        s.registers = r
    }

    // MARK: yield (DESIGN.md §5)

    /// A yield that passed the check chain: who is entered where, and where the caller goes.
    struct Switch {
        var callee: UInt64
        var target: ContextWords
        /// nil: the caller's save entry is 0, its context is dropped.
        var save: ContextWords?
    }

    /// The check chain of DESIGN.md §5, one status per check, in its order.
    static func checkYield(_ s: AbstractState, callee name: UInt64, target: UInt64, saveIndex: UInt64)
        -> Result<Switch, Status> {
        let caller = s.current
        guard target < VIDTIndex.count else { return .failure(.invalidInterruptIndex) }               // 1
        guard saveIndex < VIDTIndex.count else { return .failure(.invalidSaveIndex) }                  // 2
        let callee: UInt64
        if name == 0 {
            guard let parent = s.partitions[caller]?.parent else { return .failure(.rootHasNoParent) }  // 3
            callee = parent
        } else {
            guard let c = child(s, of: caller, named: name) else { return .failure(.invalidChild) }     // 4
            callee = c
        }
        guard s.vidtPage(of: caller) != nil else { return .failure(.callerVIDTUnavailable) }           // 5
        guard let entry = vidtEntry(s, callee, target) else { return .failure(.calleeVIDTUnavailable) } // 6
        guard let context = locate(s, callee, va: entry, write: false)
        else { return .failure(.calleeContextUnavailable) }                                           // 7
        var save: ContextWords? = nil
        let saveVA = vidtEntry(s, caller, saveIndex) ?? 0
        if saveVA != 0 {
            guard let slot = locate(s, caller, va: saveVA, write: true), Set(slot).isDisjoint(with: context)
            else { return .failure(.callerContextUnavailable) }                                       // 8
            save = slot
        }
        guard !masked(s, callee, target) else { return .failure(.interruptMasked) }                   // 9
        return .success(Switch(callee: callee, target: context, save: save))
    }

    /// Interrupt vectors 32…255 are refused by a partition whose interrupt state is masked.
    static func masked(_ s: AbstractState, _ partition: UInt64, _ index: UInt64) -> Bool {
        s.partitions[partition]?.interruptState != InterruptFlags.enabled
            && index >= VIDTIndex.firstInterrupt && index < VIDTIndex.endInterrupts
    }

    /// yield: save the caller (rax 0, flags = flagsOnWake) or drop it, the caller's interrupt
    /// state := flagsOnYield, enter the callee at VIDT[target]. Flags are 0 or "masked".
    static func yield(_ s: inout AbstractState, callee: UInt64, target: UInt64, saveIndex: UInt64,
                      flagsOnYield: UInt64, flagsOnWake: UInt64) -> Status {
        switch checkYield(s, callee: callee, target: target, saveIndex: saveIndex) {
        case .failure(let status):
            return status
        case .success(let sw):
            let caller = s.current
            if let slot = sw.save { save(&s, at: slot, flags: flagsOnWake == 0 ? 0 : 1, rax: Status.success.rawValue) }
            s.partitions[caller]?.interruptState = flagsOnYield == 0 ? 0 : 1
            enter(&s, sw.callee, at: sw.target, told: nil)
            return .success
        }
    }

    // MARK: Event delivery (DESIGN.md §6, docs/yield.md "Events")

    /// `receiver`'s handler at VIDT[index]: a VIDT it can access, a context there it can read
    /// (yield check 7), and the index not masked by it.
    static func handler(_ s: AbstractState, _ receiver: UInt64, _ index: UInt64) -> ContextWords? {
        guard index < VIDTIndex.count, let entry = vidtEntry(s, receiver, index), !masked(s, receiver, index)
        else { return nil }
        return locate(s, receiver, va: entry, write: false)
    }

    /// Saves the current partition at its CLI/STI slot (by its interrupt state), keeping its rax
    /// and its state as the context's flags, when the slot passes yield's check 8 against
    /// `target`. Returns the slot, or `Delivery.notSaved` (nothing written).
    static func saveInterrupted(_ s: inout AbstractState, avoiding target: ContextWords) -> UInt64 {
        let me = s.current
        let state = s.partitions[me]?.interruptState ?? InterruptFlags.enabled
        let slot = state == InterruptFlags.enabled ? VIDTIndex.stiSave : VIDTIndex.cliSave
        guard let va = vidtEntry(s, me, slot), let place = locate(s, me, va: va, write: true),
              Set(place).isDisjoint(with: target)
        else { return Delivery.notSaved }
        save(&s, at: place, flags: state, rax: nil)
        return slot
    }

    /// A hardware interrupt (an NMI too, at VIDT[2]) goes to root at VIDT[vector], unless root
    /// has no usable handler or masked it (then it is dropped: nothing changes; an NMI is never
    /// masked). Root is told who was interrupted, by the
    /// vaddr at which root maps that partition's descriptor (0 for root itself).
    static func hardwareInterrupt(_ s: inout AbstractState, vector: UInt64) {
        guard vector == VIDTIndex.nmi || vector >= VIDTIndex.firstInterrupt && vector < VIDTIndex.endInterrupts,
              let target = handler(s, s.root, vector)
        else { return }
        let interrupted = s.current
        let source = interrupted == s.root ? 0 : s.partitions[s.root]?.vaddr(of: interrupted) ?? 0
        let savedAt = saveInterrupted(&s, avoiding: target)
        enter(&s, s.root, at: target, told: Told(source: source, vector: vector, errorCode: 0, faultAddress: 0,
                                                   savedAt: savedAt))
    }

    /// A CPU exception of the current partition goes to its parent at VIDT[vector] (the faulting
    /// context saved at its CLI/STI slot); a parent that cannot take it makes a double fault
    /// (VIDT[8], naming that parent, nothing saved) for its own parent, and so on up; root, when
    /// it cannot take it, gets the double fault about the same source at its own VIDT[8] (the
    /// faulting context saved when that source is the faulting partition). Root faulting, or
    /// nobody able to take it: false (kernel crash report), nothing changed.
    static func exception(_ s: inout AbstractState, vector: UInt64, errorCode: UInt64, faultAddress: UInt64) -> Bool {
        let faulting = s.current
        var source = faulting
        var index = vector
        var hops = 0  // a tree has no cycle; the bound keeps a broken abstraction from looping
        while let receiver = s.partitions[source]?.parent, hops < s.partitions.count {
            hops += 1
            if let target = handler(s, receiver, index) {
                let saved = source == faulting
                let first = saved && index == vector
                let savedAt = saved ? saveInterrupted(&s, avoiding: target) : Delivery.notSaved
                let name = s.partitions[source]?.name ?? 0
                enter(&s, receiver, at: target, told: Told(
                    source: name, vector: index, errorCode: first ? errorCode : 0,
                    faultAddress: first ? faultAddress : 0, savedAt: savedAt))
                return true
            }
            if receiver == s.root && index != VIDTIndex.doubleFault {
                index = VIDTIndex.doubleFault  // root's own VIDT[8], about the same source
                continue
            }
            source = receiver
            index = VIDTIndex.doubleFault
        }
        return false
    }

    /// `int n` (not a service): exactly `yield(0, n, slot, state, state)` where slot is the
    /// caller's CLI/STI index by its state, plus the delivery registers for the parent.
    static func softwareInterrupt(_ s: inout AbstractState, vector: UInt64) -> Status {
        let caller = s.current
        let state = s.partitions[caller]?.interruptState ?? InterruptFlags.enabled
        let slot = state == InterruptFlags.enabled ? VIDTIndex.stiSave : VIDTIndex.cliSave
        switch checkYield(s, callee: 0, target: vector, saveIndex: slot) {
        case .failure(let status):
            return status
        case .success(let sw):
            if let place = sw.save { save(&s, at: place, flags: state, rax: Status.success.rawValue) }
            s.partitions[caller]?.interruptState = state
            enter(&s, sw.callee, at: sw.target, told: Told(
                source: s.partitions[caller]?.name ?? 0, vector: vector, errorCode: 0, faultAddress: 0,
                savedAt: sw.save == nil ? Delivery.notSaved : slot))
            return .success
        }
    }
}
