/// The kernel's console: COM1 (0x3F8), 115200 8N1, FIFOs on (receive trigger level 14).
///
/// Output is polled: the boot log, the crash report and root's `consoleWrite`. Printing never
/// allocates: messages are `StaticString`s and numbers are formatted digit by digit.
///
/// Input is root's (`consoleRead`, `setConsoleInterrupt`): the kernel reads the receive FIFO
/// only when root asks, and keeps no buffer. The receive interrupt (IER bit 0, through OUT2 to
/// IRQ 4) is off until root turns it on. The UART holds its interrupt line up while the FIFO
/// holds data at or above the trigger level, or after a character timeout; reading the FIFO
/// empty drops it. The legacy PIC takes IRQ 4 on its rising edge, so one delivery per rise:
/// root drains, and a root that does not cannot be flooded.
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

    /// The next received byte, or nil when the receive FIFO is empty (LSR bit 0, data ready).
    static func receive() -> UInt8? {
        guard inb(port + 5) & 0x01 != 0 else { return nil }
        return inb(port)
    }

    /// Turns the receive interrupt on or off: the UART's IER bit 0 and OUT2 (which gates its
    /// interrupt line on PCs), then the master PIC's mask bit for IRQ 4. Bytes already waiting
    /// raise the line as soon as it is on, so nothing that arrived before is missed.
    static func setReceiveInterrupt(_ on: Bool) {
        if on {
            outb(port + 4, 0x0B)  // DTR, RTS, OUT2
            outb(port + 1, 0x01)  // received data available (and character timeout)
            outb(0x21, inb(0x21) & ~irqMask)
        } else {
            outb(0x21, inb(0x21) | irqMask)
            outb(port + 1, 0x00)
            outb(port + 4, 0x03)
        }
    }

    /// COM1's line on the master PIC: IRQ 4, vector `VIDTIndex.serial`.
    static let irqMask: UInt8 = 1 << 4

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
