/// The kernel's structures as docs/structures.md documents them, restated for the readers of the
/// concrete state (the abstraction function, the partition tree the properties read): the
/// format they decode, written from the documentation and not imported from SprigCore's
/// `DescriptorLayout`, `ConfigList` or `Shadow`, so that a kernel whose layout disagrees with
/// its documentation fails the refinement instead of being read with its own mistake.
///
/// What is representation here (offsets, the descriptor flag, the configuration page's header)
/// is only *read*; the specification itself (`Spec`) never sees it: it works on
/// `AbstractState`'s sets and maps.
public enum SpecLayout {
    /// Byte offsets of the words of a partition descriptor (docs/structures.md "Descriptor").
    public enum Descriptor {
        public static let rootTable: UInt64 = 0
        public static let shadow1: UInt64 = 8
        public static let shadow2: UInt64 = 16
        /// The configuration list's head page (0 for root).
        public static let configList: UInt64 = 24
        /// The parent's descriptor paddr (0 for root).
        public static let parent: UInt64 = 32
        /// The descriptor's vaddr in the parent: the partition's name.
        public static let vaddrInParent: UInt64 = 40
        /// 0 enabled, 1 masked.
        public static let interruptState: UInt64 = 48
        /// The partition's depth in the tree (root 0).
        public static let depth: UInt64 = 56
        /// How many configuration pages the list has: bounds the walk of it.
        public static let configPages: UInt64 = 64
        /// The vaddrs in the parent of the PML4, shadow 1, shadow 2 and the first configuration
        /// page (0 for root).
        public static let rootTableVAddr: UInt64 = 72
        public static let shadow1VAddr: UInt64 = 80
        public static let shadow2VAddr: UInt64 = 88
        public static let configListVAddr: UInt64 = 96
    }

    /// A configuration page (docs/structures.md "Configuration list"): a header, then entries of
    /// two words (a structure page's paddr, its vaddr in the parent).
    public enum ConfigPage {
        public static let next: UInt64 = 0
        public static let ownVAddr: UInt64 = 8
        public static let count: UInt64 = 16
        public static let entries: UInt64 = 32
        public static let entrySize: UInt64 = 16
        /// Entries one page holds: (4096 − 32) / 16.
        public static let capacity: UInt64 = 254
    }

    /// Shadow 1's leaf (docs/structures.md "Page tables and shadows"): 0 kept, `D` given to the
    /// child with descriptor `D`, `D | descriptorFlag` the page *is* child `D`'s descriptor.
    public enum Shadow1 {
        public static let descriptorFlag: UInt64 = 1
        /// The descriptor paddr a shadow-1 leaf names.
        public static func named(_ word: UInt64) -> UInt64 { word & ~(pageBytes - 1) }
    }

    /// Bytes of a page (SDM: 4 KiB pages at the last level).
    public static let pageBytes: UInt64 = 4096
}
