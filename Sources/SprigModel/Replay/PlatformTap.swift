/// A watcher of the model CPU's platform requests (`ModelCPU.tap`), for trace replay.
///
/// `ModelCPU` calls its tap around every request SprigCore makes of the platform, in the order
/// the kernel makes them, so that the replay can hold the model's requests against the ones the
/// machine recorded (`Replayer`). The tap only watches: the one thing it may do to the machine
/// is write memory in `willLoad` / `willLoadCPUState`, before the load, to give ring 3's input
/// to the kernel (the replay does its adopting before an event instead, and only checks here).
import SprigCore

package protocol PlatformTap: AnyObject {
    /// Before `load(paddr)` reads memory.
    func willLoad(_ paddr: PhysicalAddress)
    func didStore(_ paddr: PhysicalAddress, _ value: UInt64)
    func didZeroPage(_ page: PhysicalAddress)
    func didCopy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64)
    /// After word `index` of the translation cache was read (`value`) or written.
    func didLoadTranslationCache(_ index: Int, _ value: UInt64)
    func didStoreTranslationCache(_ index: Int, _ value: UInt64)
    func didSetCurrentPartition(_ descriptor: PhysicalAddress)
    func didSwitchAddressSpace(_ pml4: PhysicalAddress)
    func didInvalidateTranslation(_ va: VirtualAddress)
    /// After the whole context was written.
    func didSaveCPUState(to location: ContextLocation, flags: UInt64, returnValue: UInt64?)
    /// Before the context is read.
    func willLoadCPUState(from location: ContextLocation, interruptsEnabled: Bool, delivery: DeliveryInfo?)
    func didSetTrappedInterruptFlag(_ enabled: Bool)
}
