/// Root's view of the boot-info page the kernel wrote at `AddressSpace.bootInfo`.
import SprigABI

public struct BootInfo {
    public let base: UnsafePointer<UInt64>

    public init(address: UInt64) {
        base = UnsafePointer<UInt64>(bitPattern: UInt(address))!
    }

    @inline(__always) func word(_ offset: Int) -> UInt64 { base[offset / 8] }

    public var isValid: Bool { word(BootInfoLayout.magic) == BootInfoLayout.magicValue }
    public var totalPages: UInt64 { word(BootInfoLayout.totalPages) }
    public var windowPages: UInt64 { word(BootInfoLayout.windowPages) }
    public var rangeCount: Int { Int(min(word(BootInfoLayout.rangeCount), UInt64(BootInfoLayout.maxRanges))) }
    public var moduleCount: Int { Int(min(word(BootInfoLayout.moduleCount), UInt64(BootInfoLayout.maxModules))) }
    public var imagePages: UInt64 { word(BootInfoLayout.imagePages) }
    public var kernelPages: UInt64 { word(BootInfoLayout.kernelPages) }
    public var rootDescriptor: UInt64 { word(BootInfoLayout.rootDescriptor) }

    /// Range `i`: its first virtual address in root's window and its length in pages.
    public func range(_ i: Int) -> (vaddr: UInt64, pages: UInt64) {
        let o = BootInfoLayout.ranges + i * BootInfoLayout.rangeStride
        return (word(o), word(o + 8))
    }

    /// Module `i`: where root sees it, its size in bytes, and its name bytes.
    public func module(_ i: Int) -> (vaddr: UInt64, bytes: UInt64, name0: UInt64, name1: UInt64) {
        let o = BootInfoLayout.modules + i * BootInfoLayout.moduleStride
        return (word(o), word(o + 8), word(o + 16), word(o + 24))
    }
}

extension BootInfo {
    /// The first module whose name is `name` (at most 16 bytes), or nil.
    public func module(named name: StaticString) -> (vaddr: UInt64, bytes: UInt64)? {
        var w0: UInt64 = 0, w1: UInt64 = 0
        var i: UInt64 = 0
        name.withUTF8Buffer { b in
            for c in b where i < 16 {
                if i < 8 { w0 |= UInt64(c) << (i * 8) } else { w1 |= UInt64(c) << ((i - 8) * 8) }
                i += 1
            }
        }
        var m = 0
        while m < moduleCount {
            let mod = module(m)
            if mod.name0 == w0 && mod.name1 == w1 { return (mod.vaddr, mod.bytes) }
            m += 1
        }
        return nil
    }
}

extension Output {
    /// Writes a name held as two little-endian words (NUL-padded, up to 16 bytes).
    public mutating func name(_ w0: UInt64, _ w1: UInt64) {
        var i: UInt64 = 0
        while i < 16 {
            let b = UInt8(truncatingIfNeeded: (i < 8 ? w0 >> (i * 8) : w1 >> ((i - 8) * 8)))
            if b == 0 { break }
            byte(b)
            i += 1
        }
    }
}
