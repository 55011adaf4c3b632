/// Booting the model into the machine's boot state, from a trace's boot record.
///
/// The model gets the memory the machine's boot code saw: a `SimulatedMemory` reaching the
/// highest address the record names, the boot modules' bytes where the loader put them, the boot
/// PML4's kernel half where the kernel image has it, and a `BootAllocator` with the same free
/// ranges. Then the same `RootBuilder.build` runs on it, and what it built is held against the
/// machine's `built` record: root's descriptor and PML4, and the digest of every page the
/// allocator handed out (taken again from a copy of the allocator, in the same order, as the
/// kernel's trace hook does). Last, root's first context is located and loaded as `enterRoot`
/// does, and the registers held against the machine's start state.
///
/// The model's memory differs from the machine's only where nothing reads it: the kernel image's
/// code and data (zeros here), firmware areas, and the loader's structures below 1 MiB.
import SprigABI
import SprigCore

public enum ReplayBoot {
    /// Pages of simulated memory the record needs.
    public static func pages(_ boot: BootRecord, _ built: BuiltRecord) -> Int {
        var end = max(boot.kernelEnd, boot.kernelPML4 + AddressSpace.pageSize)
        for r in boot.ranges { end = max(end, r.end) }
        for m in boot.modules { end = max(end, m.start + UInt64(m.bytes.count)) }
        for p in built.pages { end = max(end, p.page + AddressSpace.pageSize) }
        return Int((end + AddressSpace.pageSize - 1) / AddressSpace.pageSize)
    }

    /// The largest guest memory replay accepts: 1 GiB (as much host memory for the simulation).
    public static let maxPages = 1 << 18

    /// The booted model system, or where its boot differs from the machine's.
    public static func boot(_ trace: Trace) -> Result<ModelSystem, Divergence> {
        let boot = trace.boot, built = trace.built
        func differs(_ what: String, machine: String, model: String) -> Result<ModelSystem, Divergence> {
            .failure(Divergence(event: nil, offset: 0, step: "boot", what: what, machine: machine, model: model))
        }
        let pageCount = pages(boot, built)
        guard pageCount <= maxPages, !boot.modules.isEmpty,
              boot.kernelStart <= boot.kernelEnd, boot.kernelPML4 & (AddressSpace.pageSize - 1) == 0
        else {
            return differs("the boot record is not one the model can boot", machine: "\(pageCount) pages, \(boot.modules.count) modules",
                           model: "at most \(maxPages) pages, at least one module (root's image)")
        }
        let memory = SimulatedMemory(pages: pageCount)
        for (k, entry) in boot.kernelHalf.enumerated() {
            memory.store(PhysicalAddress(boot.kernelPML4 + UInt64(256 + k) * 8), entry)
        }
        for m in boot.modules {
            for (k, b) in m.bytes.enumerated() { memory.writeByte(PhysicalAddress(m.start + UInt64(k)), b) }
        }
        var allocator = BootAllocator()
        for r in boot.ranges { allocator.addFree(start: r.start, end: r.end) }
        let before = allocator
        func module(_ m: BootRecord.Module) -> BootModule {
            BootModule(start: PhysicalAddress(m.start), bytes: UInt64(m.bytes.count), name0: m.name0, name1: m.name1)
        }
        var others: InlineArray<16, BootModule> = .init(repeating: BootModule(start: .null, bytes: 0, name0: 0, name1: 0))
        for (k, m) in boot.modules.dropFirst().prefix(16).enumerated() { others[k] = module(m) }
        let kernelPages = (boot.kernelEnd - boot.kernelStart) / AddressSpace.pageSize
        var line = BootCommandLine()
        for b in boot.commandLine { _ = line.append(b) }
        let result = RootBuilder.build(
            memory, allocator: &allocator, kernelRootTable: PhysicalAddress(boot.kernelPML4),
            image: module(boot.modules[0]), modules: others, moduleCount: boot.modules.count - 1,
            totalPages: boot.totalPages, kernelImagePages: kernelPages, commandLine: line)
        guard case .success(let root) = result else {
            return differs("RootBuilder", machine: "built root", model: "failed: \(result)")
        }
        guard root.descriptor.paddr.raw == built.descriptor, root.rootTable.paddr.raw == built.pml4 else {
            return differs("root's descriptor and PML4",
                           machine: "\(Domain.hex(built.descriptor)), \(Domain.hex(built.pml4))",
                           model: "\(Domain.hex(root.descriptor.paddr.raw)), \(Domain.hex(root.rootTable.paddr.raw))")
        }
        let count = allocator.allocated - before.allocated
        guard count == UInt64(built.pages.count) else {
            return differs("pages the boot allocator handed out", machine: "\(built.pages.count)", model: "\(count)")
        }
        var probe = before
        for (page, digest) in built.pages {
            guard let p = probe.allocatePage() else { return differs("the allocator ran dry", machine: Domain.hex(page), model: "none") }
            let mine = digestOfPage(memory, p)
            guard p.raw == page, mine == digest else {
                return differs("a page root's boot built (descriptor, tables, shadows, image, stack, VIDT, boot info, context)",
                               machine: "\(Domain.hex(page)) digest \(Domain.hex(digest))",
                               model: "\(Domain.hex(p.raw)) digest \(Domain.hex(mine))")
            }
        }
        let kernelImage = stride(from: boot.kernelStart, to: boot.kernelEnd, by: Int(AddressSpace.pageSize)).map { PhysicalAddress($0) }
        let system = ModelSystem(machine: ModelMachine(memory: memory, root: root.descriptor.paddr, kernelPML4: PhysicalAddress(boot.kernelPML4),
                                                       kernelImage: kernelImage))
        system.cpu.mxcsrMask = UInt32(truncatingIfNeeded: boot.mxcsrMask)
        // enterRoot: the context VIDT[0] names, checked and loaded like any yield target.
        let cpu = system.cpu
        guard let vidt = ContextCheck.vidtPage(cpu, descriptor: root.descriptor, rootTable: root.rootTable),
              let context = ContextCheck.locate(cpu, descriptor: root.descriptor, rootTable: root.rootTable,
                                                va: ContextCheck.entry(cpu, vidt: vidt, index: .main),
                                                write: false, vidt: vidt)
        else { return differs("root's VIDT[0]", machine: "a usable context", model: "no usable context") }
        cpu.loadCPUState(from: context, interruptsEnabled: true, delivery: nil)
        if let d = Replayer.stateDifference(machine: trace.start, cpu: cpu) {
            return differs("the state root starts in: \(d.what)", machine: d.machine, model: d.model)
        }
        return .success(system)
    }

    static func digestOfPage(_ memory: SimulatedMemory, _ page: PhysicalAddress) -> UInt64 {
        var h = TraceFormat.digestSeed
        for w in 0..<512 { h = TraceFormat.digest(h, memory.load(page.adding(UInt64(w) * 8))) }
        return h
    }
}
