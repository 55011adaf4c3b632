/// Reading what the multiboot loader (QEMU's `-kernel`) tells the kernel.
///
/// The information structure, memory map, module list and strings all lie in low physical
/// memory, which the direct map covers. Everything is copied into fixed-size values before the
/// kernel starts handing out pages, because those pages may overwrite the loader's structures.
import SprigABI
import SprigCore

struct MultibootInfo {
    static let magic: UInt64 = 0x2BAD_B002
    /// Below it, the BIOS data area, the loader's structures and the VGA hole: never used.
    static let firstUsable: UInt64 = 0x10_0000

    var allocator = BootAllocator()
    /// Pages of RAM the map reports (all "available" ranges, below and above 4 GiB).
    var totalPages: UInt64 = 0
    /// Available pages below 1 MiB, which the kernel leaves to the firmware and nobody uses.
    var lowPages: UInt64 = 0
    /// Bytes of available RAM above the direct-map limit, which the kernel does not use.
    var ignoredBytes: UInt64 = 0
    var modules: InlineArray<17, BootModule> = .init(repeating: BootModule(start: .null, bytes: 0, name0: 0, name1: 0))
    var moduleCount = 0
    /// The kernel command line (its first `BootInfoLayout.maxCommandLine` bytes), also given to
    /// root in its boot-info page.
    var commandLine = BootCommandLine()

    /// True when `word` appears in the command line.
    func commandLineContains(_ word: StaticString) -> Bool {
        word.withUTF8Buffer { w in
            guard w.count <= commandLine.count else { return false }
            var start = 0
            while start + w.count <= commandLine.count {
                var i = 0
                while i < w.count && commandLine.bytes[start + i] == w[i] { i += 1 }
                if i == w.count { return true }
                start += 1
            }
            return false
        }
    }

    private static func u32(_ p: PhysicalAddress) -> UInt64 {
        UInt64(UnsafeMutablePointer<UInt32>(bitPattern: UInt(X86Platform.directMapBase &+ p.raw))!.pointee)
    }
    private static func u64(_ p: PhysicalAddress) -> UInt64 {
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(X86Platform.directMapBase &+ p.raw))!.pointee
    }

    /// A module's name: the last path component of the first word of its string, up to 16
    /// bytes, as two little-endian words.
    private static func moduleName(_ p: PhysicalAddress) -> (UInt64, UInt64) {
        let base = X86Platform.bytePointer(p)
        var start = 0
        var end = 0
        while end < 256 && base[end] != 0 && base[end] != 32 {
            if base[end] == 47 { start = end + 1 }  // '/'
            end += 1
        }
        var w0: UInt64 = 0
        var w1: UInt64 = 0
        var i = 0
        while i < 16 && start + i < end {
            let b = UInt64(base[start + i])
            if i < 8 { w0 |= b << UInt64(i * 8) } else { w1 |= b << UInt64((i - 8) * 8) }
            i += 1
        }
        return (w0, w1)
    }

    /// Parses the structure at `infoPhys`. Returns nil when it lacks a memory map.
    static func parse(_ infoPhys: UInt64, kernelStart: UInt64, kernelEnd: UInt64) -> MultibootInfo? {
        let info = PhysicalAddress(infoPhys)
        let flags = u32(info)
        var result = MultibootInfo()
        guard flags & (1 << 6) != 0 else { return nil }

        if flags & (1 << 2) != 0 {
            let line = X86Platform.bytePointer(PhysicalAddress(u32(info.adding(16))))
            var i = 0
            while line[i] != 0 && result.commandLine.append(line[i]) { i += 1 }
        }

        let mapLength = u32(info.adding(44))
        let mapAddress = u32(info.adding(48))
        func forEachEntry(_ body: (FirmwareEntry) -> Void) {
            var offset: UInt64 = 0
            var entries = 0
            while offset + 24 <= mapLength && entries < 128 {
                let entry = PhysicalAddress(mapAddress + offset)
                body(FirmwareEntry(base: u64(entry.adding(4)), length: u64(entry.adding(12)), usable: u32(entry.adding(20)) == 1))
                offset += u32(entry) + 4
                entries += 1
            }
        }
        // RAM as the allocator reads the map, counted once: the usable entries' whole pages less
        // every page another entry lists (entries may overlap; BootAllocator.addFirmwareMap). A map
        // with more than `BootAllocator.capacity` separate runs of RAM counts the first ones only,
        // as the allocator below uses only those.
        var ram = BootAllocator()
        ram.addFirmwareMap(low: 0, high: ~(AddressSpace.pageSize - 1), forEachEntry)
        var r = 0
        while r < ram.count {
            let run = ram.range(r)
            result.totalPages += run.pages
            if run.end > X86Platform.directMapLimit { result.ignoredBytes += run.end - max(run.start, X86Platform.directMapLimit) }
            if run.start < Self.firstUsable { result.lowPages += (min(run.end, Self.firstUsable) - run.start) / AddressSpace.pageSize }
            r += 1
        }
        result.allocator.addFirmwareMap(low: Self.firstUsable, high: X86Platform.directMapLimit, forEachEntry)
        result.allocator.reserve(start: kernelStart, end: kernelEnd)

        if flags & (1 << 3) != 0 {
            let count = u32(info.adding(20))
            let list = u32(info.adding(24))
            var i: UInt64 = 0
            while i < count && result.moduleCount < 17 {
                let m = PhysicalAddress(list + i * 16)
                let start = u32(m)
                let end = u32(m.adding(4))
                let (n0, n1) = moduleName(PhysicalAddress(u32(m.adding(8))))
                if end > start {
                    result.modules[result.moduleCount] = BootModule(start: PhysicalAddress(start), bytes: end - start, name0: n0, name1: n1)
                    result.moduleCount += 1
                    result.allocator.reserve(start: start, end: end)
                }
                i += 1
            }
        }
        return result
    }
}
