/// Formatted console output for partitions, without allocation: text accumulates in a fixed
/// line buffer on the stack and goes out once per line: to the kernel with `consoleWrite` in
/// root, through the shared console page (`SharedConsole`) in any other partition.
import SprigABI

public struct Output {
    private var buffer: InlineArray<160, UInt8> = .init(repeating: 0)
    private var count = 0

    public init() {}

    public mutating func write(_ s: StaticString) {
        s.withUTF8Buffer { for c in $0 { byte(c) } }
    }

    public mutating func byte(_ c: UInt8) {
        if count == 160 { flush() }
        buffer[count] = c
        count += 1
        if c == 10 { flush() }
    }

    public mutating func decimal(_ v: UInt64) {
        var digits: InlineArray<20, UInt8> = .init(repeating: 0)
        var n = v
        var k = 0
        repeat {
            digits[k] = 48 + UInt8(truncatingIfNeeded: n % 10)
            n /= 10
            k += 1
        } while n > 0
        while k > 0 { k -= 1; byte(digits[k]) }
    }

    public mutating func hex(_ v: UInt64) {
        write("0x")
        var shift: UInt64 = 60
        var started = false
        while true {
            let d = UInt8(truncatingIfNeeded: (v >> shift) & 0xF)
            if d != 0 || started || shift == 0 {
                started = true
                byte(d < 10 ? 48 + d : 87 + d)
            }
            if shift == 0 { break }
            shift -= 4
        }
    }

    public mutating func line(_ s: StaticString) {
        write(s)
        byte(10)
    }

    public mutating func flush() {
        guard count > 0 else { return }
        let n = UInt64(count)
        withUnsafeMutablePointer(to: &buffer) { p in
            let bytes = UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self)
            if SharedConsole.page != 0 {
                SharedConsole.send(bytes, count: Int(n))
            } else {
                _ = Sprig.consoleWrite(UInt64(UInt(bitPattern: bytes)), n)
            }
        }
        count = 0
    }
}
