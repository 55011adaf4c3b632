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

/// A `key=value` argument of the kernel command line, as `BootInfo.argument` found it.
public enum BootArgument {
    case absent
    /// A decimal or `0x` hexadecimal number that fits 64 bits.
    case value(UInt64)
    /// The key is there but its value is not such a number.
    case malformed
}

extension BootInfo {
    /// Bytes of the kernel command line in this page (0 from a kernel older than version 2).
    public var commandLineLength: Int {
        guard word(BootInfoLayout.version) >= 2 else { return 0 }
        return Int(min(word(BootInfoLayout.commandLineLength), UInt64(BootInfoLayout.maxCommandLine)))
    }

    /// Byte `i` (below `commandLineLength`) of the kernel command line.
    public func commandLineByte(_ i: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: word(BootInfoLayout.commandLine + (i / 8) * 8) >> UInt64((i % 8) * 8))
    }

    /// The value of the first space-separated word `key=value` of the command line.
    public func argument(_ key: StaticString) -> BootArgument {
        let length = commandLineLength
        var start = 0
        while start < length {
            var end = start
            while end < length && commandLineByte(end) != 32 { end += 1 }
            let keyEnd: Int? = key.withUTF8Buffer { k in
                guard end - start > k.count, commandLineByte(start + k.count) == 61 else { return nil }  // '='
                var i = 0
                while i < k.count && commandLineByte(start + i) == k[i] { i += 1 }
                return i == k.count ? start + k.count + 1 : nil
            }
            if let from = keyEnd { return BootInfo.number(self, from: from, to: end) }
            start = end + 1
        }
        return .absent
    }

    private static func number(_ info: BootInfo, from: Int, to end: Int) -> BootArgument {
        var i = from
        var base: UInt64 = 10
        if end - from > 2 && info.commandLineByte(from) == 48 && (info.commandLineByte(from + 1) | 0x20) == 120 {  // "0x"
            base = 16
            i += 2
        }
        guard i < end else { return .malformed }
        var v: UInt64 = 0
        while i < end {
            let c = info.commandLineByte(i)
            let digit: UInt64
            switch c {
            case 48...57: digit = UInt64(c - 48)
            case 97...102 where base == 16: digit = UInt64(c - 87)
            case 65...70 where base == 16: digit = UInt64(c - 55)
            default: return .malformed
            }
            let (m, o1) = v.multipliedReportingOverflow(by: base)
            let (s, o2) = m.addingReportingOverflow(digit)
            guard !o1 && !o2 else { return .malformed }
            v = s
            i += 1
        }
        return .value(v)
    }
}
