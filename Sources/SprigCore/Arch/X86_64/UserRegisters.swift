/// The x86-64 register file as ring 3 may hold it: what every platform's context load keeps
/// of a context's rflags, rip and MXCSR, and which FXSAVE bytes the CPU writes.
import SprigABI

/// The sanitization every `CPUPlatform.loadCPUState` applies to a context's values, written
/// once so that the model and the machine load exactly the same registers.
package enum UserRegisters {
    /// rflags bits a partition may hold: CF, PF, AF, ZF, SF, TF, DF, OF, AC, ID. Not IF (the core
    /// decides), IOPL (no port I/O from ring 3), NT, RF, VM, VIF, VIP.
    static let userFlagsMask: UInt64 = 0x0000_0000_0024_0DD5
    package static let interruptFlag: UInt64 = 0x200
    /// Bit 1 of rflags always reads 1.
    package static let reservedOne: UInt64 = 0x2

    @inlinable package static func rflags(_ raw: UInt64, interruptsEnabled: Bool) -> UInt64 {
        (raw & userFlagsMask) | reservedOne | (interruptsEnabled ? interruptFlag : 0)
    }

    /// A rip outside the partition half (non-canonical or kernel) becomes 0: the partition then
    /// takes a page fault in ring 3, delivered to its parent like any other.
    @inlinable package static func rip(_ raw: UInt64) -> UInt64 {
        raw < AddressSpace.lowerHalfEnd ? raw : 0
    }

    /// MXCSR (FXSAVE bytes 24…27) without the bits FXRSTOR refuses; `mask` is the CPU's
    /// MXCSR_MASK (0xFFBF when FXSAVE reports 0).
    @inlinable package static func mxcsr(_ raw: UInt32, mask: UInt32) -> UInt32 { raw & mask }
    package static let defaultMXCSRMask: UInt32 = 0xFFBF

    /// FXSAVE (64-bit form) leaves some bytes of its image as they were in memory: the six
    /// padding bytes of each 16-byte ST/MM slot (bytes 42…47, 58…63, …, 154…159) and bytes
    /// 416…511. A save must not leave them to chance (the straddling path goes through a
    /// staging buffer that held another partition's image): these are the bytes of FXSAVE word
    /// `w` (0…63) the CPU writes; a save through a staging buffer stores zeros in the others
    /// below byte 464 and leaves 464…511, the owner's, unwritten.
    @inlinable package static func fxsaveWrittenBytes(word w: Int) -> UInt64 {
        if w >= fxsaveFirstUnwrittenWord { return 0 }
        // ST/MM slot k is words 4 + 2k (mantissa) and 5 + 2k (exponent and sign, then padding).
        if w >= 5 && w <= 19 && w & 1 == 1 { return 0xFFFF }
        return ~0
    }
    /// FXSAVE bytes 416… (word 52 on) are never written by the CPU.
    package static let fxsaveFirstUnwrittenWord = 416 / 8

    /// Writes a fresh context on the zeroed page `context` (root's first, at boot): `entry` in
    /// rip, `stack` in rsp, `argument` in rdi, rflags with IF, the FPU/SSE at their reset defaults
    /// (FXSAVE image: FCW at byte 0, MXCSR at byte 24, all exceptions masked, so the first FXRSTOR
    /// gives the partition the state a fresh CPU would), and valid.
    static func writeInitialContext<P: Platform>(
        _ p: P, at context: PhysicalAddress, entry: UInt64, stack: UInt64, argument: UInt64
    ) {
        PartitionMemory.write(p, context.adding(UInt64(ContextLayout.rip)), entry)
        PartitionMemory.write(p, context.adding(UInt64(ContextLayout.rsp)), stack)
        PartitionMemory.write(p, context.adding(UInt64(ContextLayout.rflags)), InitialRegisters.flags)
        PartitionMemory.write(p, context.adding(UInt64(ContextLayout.fpu)), InitialRegisters.fcw)
        PartitionMemory.write(p, context.adding(UInt64(ContextLayout.fpu + 24)), InitialRegisters.mxcsr)
        PartitionMemory.write(p, context.adding(UInt64(ContextLayout.rdi)), argument)
        PartitionMemory.write(p, context.adding(UInt64(ContextLayout.valid)), 1)
    }
}
