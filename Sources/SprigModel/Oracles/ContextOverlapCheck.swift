/// `ContextLocation.overlaps` (yield check 8, the save slot of an interrupted partition)
/// against the specification's rule: two contexts overlap when a byte of one is a byte of the
/// other (`SpecYieldPlan.Bytes`).
///
/// The explorer's partitions put a save slot and a target on the same bytes, or a save slot
/// right before a target, only where some parent's mapping of its child's pages lines them up,
/// which the starts do for a few of the cases. Here contexts that `ContextCheck.locate` found in
/// root's window (physical pages in order) are compared in both orders: one on one page, the
/// same bytes, one ending where the other begins (on one page and across a page boundary), one
/// ending at its page's end, one starting at a page base, and ones that straddle two pages.
import SprigABI
import SprigCore

/// See the file overview.
public enum ContextOverlapCheck {
    /// What disagrees; empty when nothing does.
    public static func run() -> [String] {
        let m = ModelMachine(pages: 64, kernelImagePages: 1)
        let root = m.root
        let descriptor = m.descriptor(root)
        let size = UInt64(ContextLayout.size), ps = AddressSpace.pageSize
        let window = Set(m.pool[root.raw] ?? [])
        guard let vidt = m.translate(root, AddressSpace.vidt),
              let w = window.sorted().first(where: { window.contains($0 + ps) && window.contains($0 + 2 * ps) })
        else { return ["root has no three window pages in a row for the overlap check"] }
        let offsets: [UInt64] = [0x100, 0x100 + size, 0x100 + size - 16, ps + 0x110 - size, ps - size, ps, ps - 0x180,
                                 ps - 0x180 + size, ps - 0x180 - size, 2 * ps - size / 2]
        var out: [String] = []
        let contexts: [(UInt64, ContextLocation, SpecYieldPlan.Bytes)] = offsets.compactMap { o in
            let va = w + o
            guard let location = ContextCheck.locate(m.memory, descriptor: descriptor, rootTable: descriptor.rootTable(m.memory),
                                                     va: UncheckedContextAddress(va), write: true, vidt: vidt)
            else { out.append("root's context at 0x\(String(va, radix: 16)) in its window is refused"); return nil }
            var ranges: [Range<UInt64>] = []
            var at = va
            while at < va + size {
                let end = min(va + size, (at & ~(ps - 1)) + ps)
                guard let pa = m.translate(root, at) else { return nil }
                ranges.append(pa.raw..<(pa.raw + end - at))
                at = end
            }
            return (va, location, SpecYieldPlan.Bytes(ranges: ranges))
        }
        for (va, a, bytesA) in contexts {
            for (vb, b, bytesB) in contexts where a.overlaps(b) != bytesA.overlaps(bytesB) {
                out.append("ContextLocation.overlaps: contexts at 0x\(String(va, radix: 16)) and 0x\(String(vb, radix: 16)): \(a.overlaps(b)), not \(bytesA.overlaps(bytesB))")
            }
        }
        return out
    }
}
