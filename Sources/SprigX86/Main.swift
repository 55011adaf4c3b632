/// `sprig_kmain`: from the boot trampoline to the root partition in ring 3.
///
/// 1. console, CPU tables (GDT/TSS/IDT/syscall), legacy PIC masked;
/// 2. the multiboot memory map and modules (module 1 is root's image);
/// 3. root built by SprigCore's `RootBuilder` — the same code the model boots;
/// 4. CR3 to root's PML4 and ring 3 from the context at root's `VIDT[0]`.
import SprigABI
import SprigCore

let kernelVMA: UInt64 = KernelLayout.base

@_cdecl("sprig_kmain")
func kmain(_ magic: UInt64, _ infoPhys: UInt64) -> Never {
    Serial.initialize()
    Console.line("Sprig: kernel booting")
    CPUProtection.enable()
    cpuInit()
    FPU.initialize()
    // entry.S reserves the caches' storage by hand: it must be exactly what SprigCore indexes.
    guard UInt(bitPattern: withUnsafeMutablePointer(to: &translationCacheEndSymbol) { $0 })
            - UInt(bitPattern: X86Platform.translationCache) == UInt(KernelCache.words * 8)
    else { bootFailure("entry.S reserves the wrong size for KernelCache storage") }
    maskLegacyPIC()

    guard magic == MultibootInfo.magic else { bootFailure("not started by a multiboot loader") }
    let kernelStart = UInt64(UInt(bitPattern: withUnsafePointer(to: &imageStartPhysSymbol) { $0 }))
    let kernelEnd = UInt64(UInt(bitPattern: withUnsafePointer(to: &imageEndPhysSymbol) { $0 }))
    guard var boot = MultibootInfo.parse(infoPhys, kernelStart: kernelStart, kernelEnd: kernelEnd)
    else { bootFailure("the loader gave no memory map") }
    guard boot.moduleCount >= 1 else { bootFailure("no root partition image (give it as the first module)") }
    if boot.ignoredBytes > 0 {
        Console.write("Sprig: ignoring ")
        Console.decimal(boot.ignoredBytes >> 20)
        Console.line(" MiB of RAM above 4 GiB (outside the direct map)")
    }

    var others: InlineArray<16, BootModule> = .init(repeating: BootModule(start: .null, bytes: 0, name0: 0, name1: 0))
    var i = 1
    while i < boot.moduleCount && i <= 16 {
        others[i - 1] = boot.modules[i]
        i += 1
    }
    let platform = X86Platform()
    // The entry window (on unless `skim=off`): partitions' PML4s get the upper half of this one.
    let window = !boot.commandLineContains("skim=off")
    let bootPML4 = KernelTables.build(window: window)
    let kernelPages = (kernelEnd - kernelStart) / AddressSpace.pageSize
    let allocatorBefore = Trace.boot(boot, kernelPML4: bootPML4, kernelStart: kernelStart, kernelEnd: kernelEnd)
    let result = RootBuilder.build(
        platform, allocator: &boot.allocator, kernelRootTable: PhysicalAddress(bootPML4),
        image: boot.modules[0], modules: others, moduleCount: boot.moduleCount - 1,
        totalPages: boot.totalPages, kernelImagePages: kernelPages, commandLine: boot.commandLine)
    let root: RootBuildResult
    switch result {
    case .success(let built): root = built
    case .failure(.outOfMemory): bootFailure("not enough memory to build the root partition")
    case .failure(.tooManyModules): bootFailure("more than 16 boot modules besides root's image")
    case .failure(.imageTooLarge): bootFailure("root's image (the first module) is 64 MiB or more; its region holds less")
    }
    CPUProtection.report()
    KernelTables.verify(rootPML4: root.rootTable.paddr.raw, window: window)
    Trace.built(root, before: allocatorBefore, after: boot.allocator)

    Console.write("Sprig: memory ")
    Console.decimal(boot.totalPages)
    Console.write(" pages; kernel keeps ")
    Console.decimal(kernelPages + root.structurePages)
    Console.write(" (image ")
    Console.decimal(kernelPages)
    Console.write(", root structures ")
    Console.decimal(root.structurePages)
    Console.write("); root owns ")
    Console.decimal(root.windowPages)
    Console.write(" window pages in ")
    Console.decimal(root.rangeCount)
    Console.write(" ranges; ")
    Console.decimal(boot.lowPages)
    Console.line(" pages below 1 MiB unused")

    debugCrashTest(boot, rootPML4: root.rootTable.paddr)

    rootDescriptor = root.descriptor.paddr.raw
    CrashReport.rootName0 = boot.modules[0].name0
    CrashReport.rootName1 = boot.modules[0].name1
    currentDescriptor = root.descriptor.paddr.raw
    platform.switchAddressSpace(root.rootTable)
    Console.line("Sprig: entering the root partition")
    enterRoot(platform, pml4: root.rootTable)
}

/// Loads root's first context (the one `VIDT[0]` names) into the initial frame, with the same
/// checks and the same sanitizing load as any yield target, and leaves for ring 3.
func enterRoot(_ platform: X86Platform, pml4: RootTable) -> Never {
    guard let vidt = ContextCheck.vidtPage(platform, descriptor: platform.rootPartition, rootTable: pml4),
          let context = ContextCheck.locate(
            platform, descriptor: platform.rootPartition, rootTable: pml4,
            va: ContextCheck.entry(platform, vidt: vidt, index: .main),
            write: false, vidt: vidt)
    else { bootFailure("root's VIDT[0] names no usable context") }
    let frame = trappedFrame
    platform.loadCPUState(from: context, interruptsEnabled: true, delivery: nil)
    Trace.resuming(TrapFrame(words: frame))
    enterUser(frame)
}

func bootFailure(_ why: StaticString) -> Never {
    Console.write("Sprig: boot failed: ")
    Console.line(why)
    Machine.powerOff(status: ExitStatus.bootFailure)
}

/// Remaps the 8259 PICs to vectors 32–47 and masks every line (the timer is enabled later).
func maskLegacyPIC() {
    outb(0x20, 0x11); outb(0xA0, 0x11)
    outb(0x21, 32); outb(0xA1, 40)
    outb(0x21, 4); outb(0xA1, 2)
    outb(0x21, 1); outb(0xA1, 1)
    outb(0x21, 0xFF); outb(0xA1, 0xFF)
}
