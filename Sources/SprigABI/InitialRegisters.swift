/// The registers of a fresh context, as the kernel writes root's first one and partitions write
/// their children's: the state a CPU has after reset, with interrupts on. Defined once for the
/// kernel (RootBuilder, the FPU's boot state), the partitions (`Contexts.write`) and the model.
public enum InitialRegisters {
    /// rflags: IF (bit 9) and bit 1, which always reads 1.
    public static let flags: UInt64 = 0x202
    /// The x87 control word: every x87 exception masked, 64-bit precision, round to nearest.
    public static let fcw: UInt64 = 0x037F
    /// MXCSR: every SSE exception masked, round to nearest, no flush to zero.
    public static let mxcsr: UInt64 = 0x1F80
}
