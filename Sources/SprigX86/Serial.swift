/// The kernel's console: COM1 (0x3F8), polled, 115200 8N1.
///
/// Used for the boot log, the crash report and root's `consoleWrite`. Printing never allocates:
/// messages are `StaticString`s and numbers are formatted digit by digit.
import SprigABI

enum Serial {
    static let port: UInt16 = 0x3F8

    static func initialize() {
        outb(port + 1, 0x00)  // no interrupts
        outb(port + 3, 0x80)  // DLAB
        outb(port + 0, 0x01)  // divisor 1: 115200 baud
        outb(port + 1, 0x00)
        outb(port + 3, 0x03)  // 8N1
        outb(port + 2, 0xC7)  // FIFO on, cleared
        outb(port + 4, 0x03)  // DTR, RTS
    }

    static func put(_ byte: UInt8) {
        var spins = 0
        while inb(port + 5) & 0x20 == 0 && spins < 100_000 { spins += 1 }
        outb(port, byte)
    }
}

@_cdecl("sprig_serial_putc")
func serialPutC(_ c: UInt8) {
    if c == 10 { Serial.put(13) }
    Serial.put(c)
}

/// Formatted console output without allocation.
enum Console {
    static func write(_ s: StaticString) {
        s.withUTF8Buffer { for c in $0 { serialPutC(c) } }
    }

    static func line(_ s: StaticString) {
        write(s)
        serialPutC(10)
    }

    static func hex(_ v: UInt64, digits: Int = 16) {
        write("0x")
        var shift = (digits - 1) * 4
        while shift >= 0 {
            let d = UInt8(truncatingIfNeeded: (v >> UInt64(shift)) & 0xF)
            serialPutC(d < 10 ? 48 + d : 87 + d)
            shift -= 4
        }
    }

    static func decimal(_ v: UInt64) {
        if v >= 10 { decimal(v / 10) }
        serialPutC(48 + UInt8(truncatingIfNeeded: v % 10))
    }

    static func newline() { serialPutC(10) }
}
