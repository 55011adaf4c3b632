/// Pip's memory services on the real machine: SprigCore's `Kernel.dispatch`, with the
/// registers of the `syscall` convention (`SprigABI.Service`) and the calling partition.
import SprigABI
import SprigCore

func coreService(_ number: UInt64, _ frame: TrapFrame) -> (Status, UInt64) {
    let (status, value) = Kernel.dispatch(
        X86Platform(), caller: PhysicalAddress(currentDescriptor), service: number,
        frame[TrapFrame.rdi], frame[TrapFrame.rsi], frame[TrapFrame.rdx], frame[TrapFrame.r10], frame[TrapFrame.r8])
    // A service may have taken pages away from the caller (structure pages): drop stale TLB
    // entries of the current address space.
    if status == .success { writeCR3(readCR3()) }
    return (status, value)
}
