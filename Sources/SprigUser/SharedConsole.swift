/// How partitions other than root print: only root may call `consoleWrite`, so every partition
/// of a system shares one console page that root gave down the tree, and asks its parent to
/// print it with `int 0x80` (`SharedConsole.vector`).
///
/// The page: word 0 is the number of bytes waiting, word 1 a failure count the partitions add
/// to (root reads it to decide its exit status), text from byte 16. A partition appends a line
/// and interrupts its parent; root's handler writes the waiting bytes to the console and
/// empties the page; a partition between root and the writer forwards the interrupt up by
/// interrupting its own parent. The kernel saves the writer at its STI/CLI slot and the parent
/// resumes it there (`Handlers.resume`). One partition runs at a time, so the page needs no lock.
import SprigABI

@_extern(c, "sprig_console_interrupt")
func sprigConsoleInterrupt() -> UInt64

public enum SharedConsole {
    /// The software interrupt a partition raises to have the shared page printed.
    public static let vector: UInt64 = 0x80
    public static let lengthWord: UInt64 = 0
    public static let failuresWord: UInt64 = 8
    public static let text: UInt64 = 16
    public static let capacity: UInt64 = AddressSpace.pageSize - text

    /// This partition's vaddr of the shared page; 0 in root, which writes to the kernel itself.
    nonisolated(unsafe) public static var page: UInt64 = 0

    /// A partition whose threads share the page guards each append: `enter` sets its virtual
    /// interrupt flag and says whether it was set already, `leave` puts it back. A writer that
    /// had the flag set leaves its text in the page for the next line or for its parent (an
    /// `int 0x80` with the flag set would be saved at the CLI slot, where the threads library
    /// looks for held ticks).
    public struct Guard {
        public var enter: @convention(c) () -> Bool
        public var leave: @convention(c) (Bool) -> Void
        public init(enter: @convention(c) () -> Bool, leave: @convention(c) (Bool) -> Void) {
            self.enter = enter
            self.leave = leave
        }
    }
    nonisolated(unsafe) public static var appendGuard: Guard? = nil

    /// Appends `count` bytes to the page and interrupts the parent to print them; when the page
    /// is full, it is flushed first (and the bytes dropped if it stays full).
    public static func send(_ bytes: UnsafePointer<UInt8>, count: Int) {
        var tries = 0
        while tries < 2 {
            let wasMasked = appendGuard?.enter() ?? false
            let used = word(page + lengthWord).pointee
            let fits = used + UInt64(count) <= capacity
            if fits {
                let dst = UnsafeMutablePointer<UInt8>(bitPattern: UInt(page + text + used))!
                var i = 0
                while i < count { dst[i] = bytes[i]; i += 1 }
                word(page + lengthWord).pointee = used + UInt64(count)
            }
            appendGuard?.leave(wasMasked)
            if !wasMasked { _ = sprigConsoleInterrupt() }
            if fits || wasMasked { return }
            tries += 1
        }
    }

    /// Records a failure for root's exit status.
    public static func countFailure() {
        if page != 0 { word(page + failuresWord).pointee += 1 }
    }

    /// Root: writes the waiting text of the page at `page` (root's vaddr) and empties it.
    public static func drain(_ page: UInt64) {
        let used = min(word(page + lengthWord).pointee, capacity)
        if used > 0 { Sprig.consoleWrite(page + text, used) }
        word(page + lengthWord).pointee = 0
    }

    /// Forwards the waiting text one level up (a partition between root and the writer).
    public static func forward() { _ = sprigConsoleInterrupt() }
}

/// The word at `va` in this partition's memory.
@inline(__always) public func word(_ va: UInt64) -> UnsafeMutablePointer<UInt64> {
    UnsafeMutablePointer<UInt64>(bitPattern: UInt(va))!
}
