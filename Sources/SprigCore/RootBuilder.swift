/// Building the root partition at boot (DESIGN.md §2).
///
/// The same function builds root on the real machine (`SprigX86`) and in the model
/// (`SprigModel`), so the model starts from exactly the state the kernel boots into. It takes
/// every page it needs from the `BootAllocator` and gives root all that is left:
///
/// * a descriptor and a root table whose upper half (`KernelHalf`) is the kernel's, supervisor-only,
///   with shadow 1 and shadow 2 mirroring every lower-half table page (see `Shadow`); root has no
///   configuration list: its structure pages are the kernel's and are never given back;
/// * its image copied to fresh pages at `AddressSpace.imageBase` (read, write, execute);
/// * a stack, the VIDT page, the boot-info page and an initial-context page, read/write, no-exec;
/// * every remaining free page and every boot module, mapped at `rootWindowBase + paddr`:
///   free pages read/write, no-exec; module pages read/write/execute, because they are
///   partition images root gives to the children it starts (a child can only be given rights
///   its parent holds, so code has to start out executable somewhere);
/// * `VIDT[0]` pointing at the initial context: `rip` = image base, `rsp` = stack top,
///   `rdi` = boot-info address, interrupts enabled.
import SprigABI

/// A boot module (a partition image the firmware loaded) as the kernel found it.
package struct BootModule: Sendable {
    package private(set) var start: PhysicalAddress
    package private(set) var bytes: UInt64
    /// Up to 16 bytes of name, NUL-padded, as two little-endian words.
    package private(set) var name0: UInt64
    package private(set) var name1: UInt64
    package init(start: PhysicalAddress, bytes: UInt64, name0: UInt64, name1: UInt64) {
        self.start = start; self.bytes = bytes; self.name0 = name0; self.name1 = name1
    }
}

/// The kernel command line as the loader gave it, cut at `BootInfoLayout.maxCommandLine` bytes
/// (the size of `bytes`); `RootBuilder` copies it to root's boot-info page.
package struct BootCommandLine: Sendable {
    package private(set) var bytes: InlineArray<256, UInt8> = .init(repeating: 0)
    package private(set) var count = 0
    package init() {}

    /// Appends `byte`; false (nothing appended) when the line is full.
    package mutating func append(_ byte: UInt8) -> Bool {
        guard count < BootInfoLayout.maxCommandLine else { return false }
        bytes[count] = byte
        count += 1
        return true
    }
}

package struct RootBuildResult: Sendable {
    package private(set) var descriptor: Descriptor
    package private(set) var rootTable: RootTable
    /// Roots of root's shadow 1 and shadow 2.
    package private(set) var shadow1: PhysicalAddress
    package private(set) var shadow2: PhysicalAddress
    /// Kernel structure pages allocated to build root (descriptor, tables and shadows).
    package private(set) var structurePages: UInt64
    package private(set) var imagePages: UInt64
    package private(set) var windowPages: UInt64
    package private(set) var rangeCount: UInt64
}

package enum RootBuildError: Error, Sendable {
    case outOfMemory
    case tooManyModules
    case imageTooLarge
}

package enum RootBuilder {
    package static let maxModules = 16

    /// Builds root. `image` is the root partition's flat image (loaded at `imageBase`, entry at
    /// its first byte); `modules` are the other boot modules (root sees them in its window);
    /// `kernelRootTable` provides the upper half; `totalPages`, `kernelImagePages` and `commandLine`
    /// go to boot info.
    /// - Precondition: the allocator no longer contains the image's, the modules' or the
    ///   kernel's pages.
    /// - Postcondition: the allocator is empty; every page it held is root's or a structure.
    package static func build<P: Platform>(
        _ platform: P,
        allocator: inout BootAllocator,
        kernelRootTable: PhysicalAddress,
        image: BootModule,
        modules: InlineArray<16, BootModule>,
        moduleCount: Int,
        totalPages: UInt64,
        kernelImagePages: UInt64,
        commandLine: BootCommandLine = BootCommandLine()
    ) -> Result<RootBuildResult, RootBuildError> {
        guard moduleCount <= maxModules else { return .failure(.tooManyModules) }
        var structurePages: UInt64 = 0
        // Every table page counts as a kernel structure page.
        func table() -> PhysicalAddress? {
            guard let p = allocator.allocatePage() else { return nil }
            structurePages += 1
            return p
        }
        guard let descriptor = table(), let rootTable = table(), let shadow1 = table(), let shadow2 = table()
        else { return .failure(.outOfMemory) }
        Structures.zero(platform, rootTable)
        Structures.zero(platform, shadow1)
        Structures.zero(platform, shadow2)
        KernelHalf.share(platform, from: kernelRootTable, to: rootTable)
        let root = Descriptor.initializeRoot(platform, descriptor, rootTable: rootTable, shadow1: shadow1, shadow2: shadow2)

        // Maps one root page, building each missing level with its two shadow pages.
        func map(_ va: VirtualAddress, _ entry: PageTableEntry) -> Bool {
            let slots = Shadow.buildLevels(platform, descriptor: root, va: va) {
                guard let t = table(), let s1 = table(), let s2 = table() else { return nil }
                Structures.zero(platform, t)
                Structures.zero(platform, s1)
                Structures.zero(platform, s2)
                return Shadow.LevelPages(table: t, shadow1: s1, shadow2: s2)
            }
            guard let s = slots, !PageTableEntry(raw: platform.load(s.entryAt)).isPresent else { return false }
            Structures.write(platform, s.entryAt, entry.raw)
            return true
        }

        func mapFresh(_ va: UInt64, rights: UInt64) -> PhysicalAddress? {
            guard let page = allocator.allocatePage() else { return nil }
            PartitionMemory.zero(platform, page)
            guard map(VirtualAddress(va), PageTableEntry.leaf(page, rights: PageRights(kernel: rights))) else { return nil }
            return page
        }

        // Image: 1 to 0x3FFF pages (AddressSpace.imageBase).
        let imagePages = (image.bytes + AddressSpace.pageSize - 1) / AddressSpace.pageSize
        guard imagePages > 0, imagePages < 0x4000 else { return .failure(.imageTooLarge) }
        var n: UInt64 = 0
        while n < imagePages {
            guard let page = mapFresh(AddressSpace.imageBase + n * AddressSpace.pageSize, rights: Rights.all)
            else { return .failure(.outOfMemory) }
            let offset = n * AddressSpace.pageSize
            let chunk = min(AddressSpace.pageSize, image.bytes - offset)
            PartitionMemory.copy(platform, from: image.start.adding(offset), to: page, bytes: chunk)
            n += 1
        }
        // Stack, VIDT, boot info, initial context.
        let rw = Rights.read | Rights.write
        n = 1
        while n <= AddressSpace.rootStackPages {
            guard mapFresh(AddressSpace.rootStackTop - n * AddressSpace.pageSize, rights: rw) != nil
            else { return .failure(.outOfMemory) }
            n += 1
        }
        guard let vidt = mapFresh(AddressSpace.vidt, rights: rw),
              let bootInfo = mapFresh(AddressSpace.bootInfo, rights: rw),
              let context = mapFresh(AddressSpace.rootInitialContext, rights: rw)
        else { return .failure(.outOfMemory) }

        // The window: modules first, then every free page from the bottom while tables come
        // from the top, until the two meet. Its runs: the image's, one per module, one per free
        // range of the allocator; boot info has room for them all.
        assert(1 + maxModules + BootAllocator.capacity <= BootInfoLayout.maxRanges)
        var windowPages: UInt64 = 0
        var rangeCount: UInt64 = 0
        // The physical end of the current run, to merge adjacent pages; no page starts at ~0
        // (it is not page-aligned), so the first page starts a range.
        var runEnd: UInt64 = ~0
        func mapWindowPage(_ page: PhysicalAddress, rights: UInt64 = rw) -> Bool {
            guard map(VirtualAddress(AddressSpace.rootWindowBase + page.raw), PageTableEntry.leaf(page, rights: PageRights(kernel: rights)))
            else { return false }
            windowPages += 1
            if page.raw == runEnd {
                let at = bootInfo.adding(UInt64(BootInfoLayout.ranges) + (rangeCount - 1) * UInt64(BootInfoLayout.rangeStride) + 8)
                PartitionMemory.write(platform, at, platform.load(at) + 1)
            } else if rangeCount < UInt64(BootInfoLayout.maxRanges) {
                let at = bootInfo.adding(UInt64(BootInfoLayout.ranges) + rangeCount * UInt64(BootInfoLayout.rangeStride))
                PartitionMemory.write(platform, at, AddressSpace.rootWindowBase + page.raw)
                PartitionMemory.write(platform, at.adding(8), 1)
                rangeCount += 1
            } else {
                return false
            }
            runEnd = page.raw + AddressSpace.pageSize
            return true
        }
        // Root's own image module was copied to fresh pages: its pages are free memory now.
        var imagePage = image.start.pageBase.raw
        while imagePage < image.start.raw + image.bytes {
            guard mapWindowPage(PhysicalAddress(imagePage)) else { return .failure(.outOfMemory) }
            imagePage += AddressSpace.pageSize
        }
        var m = 0
        while m < moduleCount {
            let mod = modules[m]
            var p = mod.start.pageBase.raw
            while p < mod.start.raw + mod.bytes {
                guard mapWindowPage(PhysicalAddress(p), rights: Rights.all) else { return .failure(.outOfMemory) }
                p += AddressSpace.pageSize
            }
            let at = bootInfo.adding(UInt64(BootInfoLayout.modules) + UInt64(m) * UInt64(BootInfoLayout.moduleStride))
            PartitionMemory.write(platform, at, AddressSpace.rootWindowBase + mod.start.raw)
            PartitionMemory.write(platform, at.adding(8), mod.bytes)
            PartitionMemory.write(platform, at.adding(16), mod.name0)
            PartitionMemory.write(platform, at.adding(24), mod.name1)
            m += 1
        }
        while let page = allocator.takeLowestPage() {
            guard mapWindowPage(page) else { return .failure(.outOfMemory) }
        }

        // The initial context and VIDT[0].
        UserRegisters.writeInitialContext(
            platform, at: context, entry: AddressSpace.imageBase, stack: AddressSpace.rootStackTop, argument: AddressSpace.bootInfo)
        PartitionMemory.write(platform, vidt, AddressSpace.rootInitialContext)

        // Boot info.
        func info(_ offset: Int, _ value: UInt64) { PartitionMemory.write(platform, bootInfo.adding(UInt64(offset)), value) }
        info(BootInfoLayout.magic, BootInfoLayout.magicValue)
        info(BootInfoLayout.version, BootInfoLayout.currentVersion)
        info(BootInfoLayout.totalPages, totalPages)
        info(BootInfoLayout.windowPages, windowPages)
        info(BootInfoLayout.rangeCount, rangeCount)
        info(BootInfoLayout.moduleCount, UInt64(moduleCount))
        info(BootInfoLayout.rootDescriptor, descriptor.raw)
        info(BootInfoLayout.imagePages, imagePages)
        info(BootInfoLayout.kernelPages, kernelImagePages + structurePages)
        info(BootInfoLayout.windowBase, AddressSpace.rootWindowBase)
        info(BootInfoLayout.commandLineLength, UInt64(commandLine.count))
        var word: UInt64 = 0
        var b = 0
        while b < commandLine.count {
            word |= UInt64(commandLine.bytes[b]) << UInt64((b % 8) * 8)
            if b % 8 == 7 || b == commandLine.count - 1 {
                info(BootInfoLayout.commandLine + (b / 8) * 8, word)
                word = 0
            }
            b += 1
        }

        return .success(RootBuildResult(
            descriptor: root, rootTable: root.rootTable(platform), shadow1: shadow1, shadow2: shadow2, structurePages: structurePages,
            imagePages: imagePages, windowPages: windowPages, rangeCount: rangeCount))
    }
}
