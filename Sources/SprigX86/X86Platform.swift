/// `Platform` on the real machine: physical memory through the kernel's direct map.
///
/// The boot page tables map the first 4 GiB of physical memory at `directMapBase` (supervisor
/// only). The kernel never gives a partition RAM above that limit, so every physical address
/// SprigCore computes is reachable here.
import SprigABI
import SprigCore
import SprigFPUInstructions

struct X86Platform: Platform {
    static let directMapBase: UInt64 = 0xFFFF_8000_0000_0000
    static let directMapLimit: UInt64 = 0x1_0000_0000

    @inline(__always)
    static func pointer(_ p: PhysicalAddress) -> UnsafeMutablePointer<UInt64> {
        UnsafeMutablePointer<UInt64>(bitPattern: UInt(directMapBase &+ p.raw)).unsafelyUnwrapped
    }

    @inline(__always)
    static func bytePointer(_ p: PhysicalAddress) -> UnsafeMutablePointer<UInt8> {
        UnsafeMutablePointer<UInt8>(bitPattern: UInt(directMapBase &+ p.raw)).unsafelyUnwrapped
    }

    func load(_ paddr: PhysicalAddress) -> UInt64 { X86Platform.pointer(paddr).pointee }
    func store(_ paddr: PhysicalAddress, _ value: UInt64, _ access: WriteAccess) { store(paddr, value) }
    /// The platform's own word store (saving a context); SprigCore's writes come through the
    /// one above, with the `WriteAccess` only its KernelWrites.swift makes.
    func store(_ paddr: PhysicalAddress, _ value: UInt64) { X86Platform.pointer(paddr).pointee = value }
    func zeroPage(_ page: PhysicalAddress, _ access: WriteAccess) {
        // By words: a byte fill compiles to `rep stosb`, one guest instruction per byte under TCG.
        X86Platform.pointer(page).initialize(repeating: 0, count: Int(AddressSpace.pageSize / 8))
    }
    func invalidateTranslation(_ va: VirtualAddress) { invlpg(va.raw) }
    func translationCacheLoad(_ index: Int) -> UInt64 { X86Platform.translationCache[index] }
    func translationCacheStore(_ index: Int, _ value: UInt64) { X86Platform.translationCache[index] = value }
    @inline(__always)
    static var translationCache: UnsafeMutablePointer<UInt64> {
        withUnsafeMutablePointer(to: &sprig_translation_cache) { $0 }
    }
    func copy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64, _ access: WriteAccess) {
        if (source.raw | destination.raw | bytes) & 7 == 0 {
            X86Platform.pointer(destination).update(from: X86Platform.pointer(source), count: Int(bytes / 8))
        } else {
            X86Platform.bytePointer(destination).update(from: X86Platform.bytePointer(source), count: Int(bytes))
        }
    }
}
