/// The x86-64 MMU as the Intel SDM (Vol. 3A, §4.5 "4-level paging", §4.6 "access rights",
/// §4.7 "page-fault exceptions") describes it, for a ring-3 access: written from the manual, not
/// from the kernel's walks (`PageTableWalk`), and sharing no code or type with SprigCore, so
/// that a mistake in the kernel's walk is not repeated by what checks it.
///
/// What it models (CR0.PG = CR0.WP = 1, CR4.PAE = 1, EFER.LME = EFER.NXE = 1, no LA57, no
/// protection keys, CPL 3):
/// * the linear address must be canonical: bits 63:47 all equal (else #GP, not a page fault);
/// * PML4E bits 47:39, PDPTE 38:30, PDE 29:21, PTE 20:12; each entry's bit 0 (P) must be set;
/// * PS (bit 7) in a PDPTE maps a 1 GiB page, in a PDE a 2 MiB page; in a PML4E it is reserved;
/// * reserved bits: physical-address bits at or above MAXPHYADDR, PS in a PML4E, the bits
///   between the PAT bit and the frame of a large page (20:13 for 2 MiB, 29:13 for 1 GiB): any
///   set is a page fault with RSVD, whatever the other bits say;
/// * a user-mode access needs U/S = 1 in every entry of the walk; a user-mode write also
///   R/W = 1 in every entry (CR0.WP does not matter at CPL 3); a user-mode instruction fetch
///   XD (bit 63) = 0 in every entry.
public enum SpecMMU {
    /// The physical-address width the model's CPU reports (CPUID 0x80000008 EAX[7:0]); QEMU's
    /// default CPU reports 40.
    public static let maxPhysicalAddressBits: UInt64 = 40

    /// A ring-3 translation of one linear address.
    public struct Translation: Equatable, Sendable {
        /// The physical address of the byte.
        public var physical: UInt64
        /// The physical address of the first byte of the page (4 KiB, 2 MiB or 1 GiB).
        public var pageFrame: UInt64
        /// The page's size in bytes.
        public var pageSize: UInt64
        /// What ring 3 may do there: read (always, when it may access it at all), write, fetch.
        public var userAccessible: Bool
        public var userWritable: Bool
        public var userExecutable: Bool
        /// The physical address of the entry that maps the page (PTE, or PDE/PDPTE with PS).
        public var leafEntryAddress: UInt64
    }

    /// Why there is no translation.
    public enum Fault: Error, Equatable, Sendable {
        /// Bits 63:47 of the address are not all equal (#GP).
        case nonCanonical
        /// An entry of the walk has P = 0, at `level` (4 = PML4E … 1 = PTE).
        case notPresent(level: Int)
        /// An entry of the walk has a reserved bit set, at `level`.
        case reservedBit(level: Int)
        /// An entry of the walk lies outside physical memory (the load returned nil).
        case entryUnreadable(level: Int)
    }

    /// Whether bits 63:47 of `linear` are all equal.
    public static func isCanonical(_ linear: UInt64) -> Bool {
        let top = linear >> 47
        return top == 0 || top == (1 << 17) - 1
    }

    /// The bits of a paging-structure entry this walk reads (SDM Vol. 3A, Tables 4-15 … 4-20).
    public enum Bit {
        public static let present: UInt64 = 1 << 0
        public static let writable: UInt64 = 1 << 1
        public static let user: UInt64 = 1 << 2
        /// Set by the CPU in every entry a translation goes through (§4.8).
        public static let accessed: UInt64 = 1 << 5
        /// PS: a 1 GiB page in a PDPTE, a 2 MiB page in a PDE; reserved in a PML4E.
        public static let pageSize: UInt64 = 1 << 7
        /// XD: no instruction fetch through this entry (EFER.NXE = 1).
        public static let noExecute: UInt64 = 1 << 63
    }

    /// Bits 51:12 an entry may use for a physical address below MAXPHYADDR.
    public static let frameBits: UInt64 = ((1 << maxPhysicalAddressBits) - 1) & ~0xFFF

    /// One present paging-structure entry at `level` (4 = PML4E … 1 = PTE), as the SDM reads it.
    public struct Entry: Equatable, Sendable {
        /// Some reserved bit is set: a walk through this entry faults (RSVD), whatever else it says.
        public var reserved: Bool
        /// It maps a page (a PTE, or a PDPTE / PDE with PS) rather than pointing to a table.
        public var mapsPage: Bool
        /// The physical address of the page it maps or of the table it points to.
        public var frame: UInt64
        /// Bytes of address space it covers: 4 KiB at level 1, 2 MiB at 2, 1 GiB at 3, 512 GiB at 4.
        public var span: UInt64
        public var user: Bool
        public var writable: Bool
        public var executable: Bool
    }

    /// Decodes the present entry `raw` met at `level`.
    public static func entry(_ raw: UInt64, level: Int) -> Entry {
        let span: UInt64 = 1 << (12 + 9 * UInt64(level - 1))
        let pageSize = raw & Bit.pageSize != 0
        let mapsPage = level == 1 || (pageSize && level < 4)
        // Bits 62:MAXPHYADDR are reserved in every entry (bit 63 is XD); PS in a PML4E; in a
        // large page, the bits from 13 (above its PAT bit) up to the frame.
        var reserved = raw & ~frameBits & 0x7FFF_FFFF_FFFF_F000 != 0 || (level == 4 && pageSize)
        var frame = raw & frameBits
        if mapsPage && level > 1 {
            reserved = reserved || raw & (span - 1) & ~0x1FFF & frameBits != 0
            frame &= ~(span - 1)
        }
        return Entry(reserved: reserved, mapsPage: mapsPage, frame: frame, span: span, user: raw & Bit.user != 0,
                     writable: raw & Bit.writable != 0, executable: raw & Bit.noExecute == 0)
    }

    /// Walks the tables rooted at the physical page `cr3` for `linear`. `load` reads one
    /// 8-byte-aligned physical word (nil outside memory). The translation records the rights
    /// ring 3 gets; whether an access is allowed is the caller's question (`user(_:cr3:linear:load:)`).
    public static func walk(cr3: UInt64, linear: UInt64, load: (UInt64) -> UInt64?) -> Result<Translation, Fault> {
        guard isCanonical(linear) else { return .failure(.nonCanonical) }
        var table = cr3 & frameBits
        var user = true, write = true, execute = true
        for level in stride(from: 4, through: 1, by: -1) {
            let shift = UInt64(12 + 9 * (level - 1))
            let index = (linear >> shift) & 0x1FF
            let at = table + index * 8
            guard let raw = load(at) else { return .failure(.entryUnreadable(level: level)) }
            guard raw & Bit.present != 0 else { return .failure(.notPresent(level: level)) }
            let e = entry(raw, level: level)
            guard !e.reserved else { return .failure(.reservedBit(level: level)) }
            user = user && e.user
            write = write && e.writable
            execute = execute && e.executable
            if e.mapsPage {
                return .success(Translation(physical: e.frame | (linear & (e.span - 1)), pageFrame: e.frame, pageSize: e.span,
                                            userAccessible: user, userWritable: user && write,
                                            userExecutable: user && execute, leafEntryAddress: at))
            }
            table = e.frame
        }
        return .failure(.notPresent(level: 1))  // not reached: level 1 always maps a page
    }

    /// The kind of ring-3 access.
    public enum Access: Sendable { case read, write, fetch }

    /// The physical address a ring-3 `access` to `linear` reaches, or nil when the CPU would
    /// fault (#PF, or #GP for a non-canonical address).
    public static func user(_ access: Access, cr3: UInt64, linear: UInt64, load: (UInt64) -> UInt64?) -> UInt64? {
        guard case .success(let t) = walk(cr3: cr3, linear: linear, load: load) else { return nil }
        switch access {
        case .read: return t.userAccessible ? t.physical : nil
        case .write: return t.userWritable ? t.physical : nil
        case .fetch: return t.userExecutable ? t.physical : nil
        }
    }
}
