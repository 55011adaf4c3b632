/// Stopping the machine.
///
/// Under QEMU (`-device isa-debug-exit,iobase=0xf4,iosize=4`) writing a status `s` to port 0xF4
/// makes QEMU exit with `(s << 1) | 1`, which is how tests read a real exit status. On a machine
/// without that device the write does nothing and the CPU halts with interrupts off.
import SprigABI

enum Machine {
    static func powerOff(status: UInt64) -> Never {
        outl(ExitStatus.debugExitPort, UInt32(truncatingIfNeeded: status))
        haltForever()
    }
}

/// The kernel's global state. The kernel runs on one CPU with interrupts off, so these are
/// touched only from `sprig_kmain` (before ring 3 starts) and `sprig_trap` (never re-entered).
/// The two descriptors are kept as words (0 before boot) and given to the core as `Descriptor`s
/// (`X86Platform.currentPartition`): only ever words of descriptors the core gave.
nonisolated(unsafe) var rootDescriptor: UInt64 = 0
nonisolated(unsafe) var currentDescriptor: UInt64 = 0
