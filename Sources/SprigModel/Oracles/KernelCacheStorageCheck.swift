/// The kernel caches' storage against the region the machine kernel has for it: entry.S
/// reserves `(32 * 3 + 16 * 16 + 1) * 8` bytes of BSS (the translation cache's 32 entries of
/// 3 words, the yield cache's 16 entries of 16 words, the generation word), and the kernel
/// refuses to boot when `KernelCache.words` is another size (Main.swift). The model sizes its
/// storage from `KernelCache.words` itself, so a cache geometry that grows or shrinks the
/// storage passes every exploration while the machine kernel would not boot, or would index
/// past the region into the kernel's other data if that check were not there.
import SprigCore

/// See the file overview.
public enum KernelCacheStorageCheck {
    /// Words of entry.S's reservation (`BootStateCheckTests` reads entry.S for it).
    public static let reservedWords = 32 * 3 + 16 * 16 + 1

    /// What disagrees with the reservation; empty when nothing does.
    public static func run() -> [String] {
        var out: [String] = []
        let parts: [(String, Int, Int)] = [
            ("KernelCache.words", KernelCache.words, reservedWords),
            ("YieldCache.base", YieldCache.base, 32 * 3),
            ("YieldCache.words", YieldCache.words, 16 * 16),
            ("KernelCache.generation", KernelCache.generation, reservedWords - 1),
        ]
        for (name, kernel, reserved) in parts where kernel != reserved {
            out.append("\(name) is \(kernel) words, entry.S's reservation has \(reserved) (the kernel refuses to boot)")
        }
        return out
    }
}
