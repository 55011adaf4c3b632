/// The model CPU's TLB: translations cached by ring 3's accesses, kept until the kernel drops them.
///
/// The rule the kernel relies on (Intel SDM vol. 3 §4.10.2–4.10.4): an access that succeeds may
/// leave its page's translation (frame and the rights of the walk) in the TLB, and later accesses
/// may use that entry *even after the tables changed*, until the kernel executes `invlpg` for the
/// page or loads CR3. Sprig uses no PCIDs and maps no partition page global, so a CR3 load drops
/// every entry. The model caches every successful ring-3 translation and never evicts one: a
/// real TLB holds a subset, so whatever is stale on the machine is stale here too.
///
/// An entry that does not permit an access (a write through a read-only entry) is not used: the
/// model walks the tables again. A real CPU may instead raise a spurious page fault (SDM
/// §4.10.4.3); the kernel avoids those by dropping the entry whenever it gives a page back.
///
/// `stale` is the check that matters: an entry that lets ring 3 reach a page its tables no longer
/// give it (another frame, or no access, or no write) means the kernel changed the running
/// partition's tables without the flush request.
import SprigABI
import SprigCore

public struct ModelTLB: Equatable, Sendable {
    /// One cached translation of a page.
    public struct Entry: Equatable, Hashable, Sendable {
        /// The physical page.
        public var frame: UInt64
        /// Whether the walk that made the entry allowed ring-3 writes.
        public var writable: Bool
    }

    /// Cached translations by page vaddr (lower half).
    public private(set) var entries: [UInt64: Entry] = [:]

    /// An empty TLB.
    public init() {}

    /// A ring-3 access to `va` by the partition whose tables are `pml4`: through a cached entry
    /// when one permits it, else through the MMU's walk as the SDM gives it (`SpecMMU`, not the
    /// kernel's own walk), whose success is cached.
    /// - Returns: the physical address of the byte, or `addressNotMapped` where the CPU faults.
    package mutating func access(_ memory: SimulatedMemory, pml4: PhysicalAddress, va: VirtualAddress, write: Bool)
        -> Result<PhysicalAddress, Status> {
        let page = va.pageBase.raw
        if let e = entries[page], !write || e.writable {
            return .success(PhysicalAddress(e.frame | va.pageOffset))
        }
        guard case .success(let t) = SpecMMU.walk(cr3: pml4.raw, linear: va.raw, load: memory.specLoad),
              t.userAccessible, !write || t.userWritable
        else { return .failure(.addressNotMapped) }
        // The TLB holds 4 KiB translations (a large page's are cached per 4 KiB page).
        entries[page] = Entry(frame: t.physical & ~0xFFF, writable: t.userWritable)
        return .success(PhysicalAddress(t.physical))
    }

    /// `invlpg va`: drops the entry of `va`'s page.
    package mutating func invalidate(_ va: VirtualAddress) { entries[va.pageBase.raw] = nil }

    /// A CR3 load: drops every entry.
    public mutating func flush() { entries.removeAll() }

    /// Replaces every entry (restoring an explored state).
    public mutating func load(_ saved: [UInt64: Entry]) { entries = saved }

    /// The entries that grant more than the tables at `pml4` do now, one line each: empty when
    /// every cached translation is one a walk would give.
    package func stale(_ memory: SimulatedMemory, pml4: PhysicalAddress) -> [String] {
        var out: [String] = []
        for (page, e) in entries.sorted(by: { $0.key < $1.key }) {
            let what = "TLB entry 0x\(String(page, radix: 16)) → 0x\(String(e.frame, radix: 16))\(e.writable ? " writable" : "")"
            switch SpecMMU.walk(cr3: pml4.raw, linear: page, load: memory.specLoad) {
            case .failure(let s):
                out.append("\(what), but the tables no longer map the page (\(s))")
            case .success(let w):
                if w.physical != e.frame {
                    out.append("\(what), but the tables map 0x\(String(w.physical, radix: 16))")
                } else if !w.userAccessible {
                    out.append("\(what), but the page is no longer accessible to ring 3 (a kernel structure)")
                } else if e.writable && !w.userWritable {
                    out.append("\(what), but the tables no longer let ring 3 write it")
                }
            }
        }
        return out
    }

    /// The entries as sorted words (page | 1 when writable, frame), for state images.
    public var words: [UInt64] {
        entries.sorted(by: { $0.key < $1.key }).flatMap { [$0.key | ($0.value.writable ? 1 : 0), $0.value.frame] }
    }

    /// The entries `words` describes.
    public static func entries(fromWords w: [UInt64]) -> [UInt64: Entry] {
        var out: [UInt64: Entry] = [:]
        for k in stride(from: 0, to: w.count - 1, by: 2) {
            out[w[k] & ~0xFFF] = Entry(frame: w[k + 1], writable: w[k] & 1 != 0)
        }
        return out
    }
}
