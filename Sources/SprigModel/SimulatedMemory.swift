/// The host `Platform`: simulated physical memory, one Swift array of words.
///
/// Addresses outside `[0, size)` or misaligned words are programming errors of the kernel logic
/// under test and stop the test with a message (the real kernel never reaches them because
/// every address it uses came from its own structures).
import SprigABI
import SprigCore

public final class SimulatedMemory: Platform {
    public private(set) var words: [UInt64]
    public let bytes: UInt64

    /// The kernel caches' storage (`KernelCache`: translation and yield caches): kernel memory outside physical RAM,
    /// so not part of `words`, of snapshots or of explored states.
    public private(set) var translationCache = [UInt64](repeating: 0, count: KernelCache.words)

    /// One bit per page written since `forgetWritten()`: the explorer's state store compares
    /// only those pages (and those its stored state already differs in) with its base.
    public private(set) var writtenPages: [UInt64]

    public init(pages: Int) {
        bytes = UInt64(pages) * AddressSpace.pageSize
        words = [UInt64](repeating: 0, count: pages * 512)
        writtenPages = [UInt64](repeating: 0, count: (pages + 63) / 64)
    }

    /// No page written since now.
    public func forgetWritten() {
        for i in writtenPages.indices where writtenPages[i] != 0 { writtenPages[i] = 0 }
    }

    /// Whether any page was written since `forgetWritten()`.
    public var wroteAnyPage: Bool { writtenPages.contains { $0 != 0 } }

    private func noteWritten(_ wordIndex: Int) {
        let page = wordIndex >> 9
        writtenPages[page >> 6] |= 1 << UInt64(page & 63)
    }

    public func translationCacheLoad(_ index: Int) -> UInt64 { translationCache[index] }
    public func translationCacheStore(_ index: Int, _ value: UInt64) { translationCache[index] = value }

    /// Memory alone caches no translation (a CPU does: `ModelCPU.tlb`), so there is nothing to drop.
    package func invalidateTranslation(_ va: VirtualAddress) {}

    public var pageCount: Int { words.count / 512 }

    private func index(_ p: PhysicalAddress) -> Int {
        precondition(p.raw & 7 == 0 && p.raw < bytes, "simulated memory: bad physical address \(p.raw)")
        return Int(p.raw >> 3)
    }

    package func load(_ paddr: PhysicalAddress) -> UInt64 { words[index(paddr)] }
    package func store(_ paddr: PhysicalAddress, _ value: UInt64) {
        let i = index(paddr)
        words[i] = value
        noteWritten(i)
    }

    // The writers SprigCore calls (with the `WriteAccess` only its KernelWrites.swift makes);
    // the model's own code and the tests write through the ones beside them.
    package func store(_ paddr: PhysicalAddress, _ value: UInt64, _ access: WriteAccess) { store(paddr, value) }
    package func zeroPage(_ page: PhysicalAddress, _ access: WriteAccess) { zeroPage(page) }
    package func copy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64, _ access: WriteAccess) {
        copy(from: source, to: destination, bytes: bytes)
    }

    package func zeroPage(_ page: PhysicalAddress) {
        precondition(page.raw & (AddressSpace.pageSize - 1) == 0)
        let i = index(page)
        for k in i..<(i + 512) { words[k] = 0 }
        noteWritten(i)
    }

    package func copy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes n: UInt64) {
        // Byte-granular copy over the word array (little-endian).
        var k: UInt64 = 0
        while k < n {
            writeByte(destination.adding(k), readByte(source.adding(k)))
            k += 1
        }
    }

    package func readByte(_ p: PhysicalAddress) -> UInt8 {
        let w = words[index(PhysicalAddress(p.raw & ~7))]
        return UInt8(truncatingIfNeeded: w >> ((p.raw & 7) * 8))
    }

    package func writeByte(_ p: PhysicalAddress, _ b: UInt8) {
        let i = index(PhysicalAddress(p.raw & ~7))
        let shift = (p.raw & 7) * 8
        words[i] = (words[i] & ~(0xFF << shift)) | (UInt64(b) << shift)
        noteWritten(i)
    }

    /// A copy of the whole memory, to compare states before and after a refused call.
    public func snapshot() -> [UInt64] { words }
}

extension SimulatedMemory {
    /// One physical word for `SpecMMU`'s walk: nil when misaligned or outside memory.
    public func specLoad(_ paddr: UInt64) -> UInt64? {
        paddr & 7 == 0 && paddr < bytes ? words[Int(paddr >> 3)] : nil
    }
}
