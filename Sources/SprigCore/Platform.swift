/// The kernel's only door to the machine (Pip's MAL/IAL).
///
/// SprigCore never touches memory or the CPU directly: everything goes through a `Platform`.
/// `SprigX86` implements it on the real machine (physical memory through the kernel's direct
/// map); `SprigModel` implements it on simulated memory for tests, exploration and fuzzing. In
/// Embedded Swift every use is specialized for the one concrete platform, so the surface stays
/// small and concrete: words and pages of physical memory.
public protocol Platform {
    /// The 8-byte word at `paddr` (8-byte aligned, inside RAM).
    func load(_ paddr: PhysicalAddress) -> UInt64
    /// Writes the 8-byte word at `paddr` (8-byte aligned, inside RAM).
    func store(_ paddr: PhysicalAddress, _ value: UInt64)
    /// Fills the page at `page` (page-aligned) with zeros.
    func zeroPage(_ page: PhysicalAddress)
    /// Copies `bytes` bytes from `source` to `destination` (both inside RAM, not overlapping).
    func copy(from source: PhysicalAddress, to destination: PhysicalAddress, bytes: UInt64)
}
