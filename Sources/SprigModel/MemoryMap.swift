/// The physical memory map of a model machine, WeensyOS's memory viewer drawn from the model:
/// one letter per physical page by owner, and the checker's errors.
///
/// The letters are the ones the `alice-eve` system's root draws (systems/alice-eve/weensy,
/// MemoryViewer.swift): K a kernel image page; S a kernel structure page (every partition's
/// descriptor, page tables, shadows and configuration pages, root's included); a child's
/// letter for a page the child or one of its descendants can reach (the deepest holder wins);
/// for a page only root reaches, `.` when it lies in root's window (its free memory, given to no
/// child) and R otherwise (its image, stack, VIDT, boot info, initial context); - for a page no
/// one holds (below 1 MiB, holes). Root's own map tells `.` apart from the window pages it keeps
/// for itself (R there too); the model cannot, as it knows nothing of root's bookkeeping.
///
/// The checker is two of the model's isolation properties, WeensyOS's two questions: kernel
/// data isolation (a kernel image or structure page reachable from a partition) and horizontal
/// isolation (a page held by two incomparable partitions); each violation is one
/// `PAGE TABLE ERROR`. (`sprig check` and the replay hold every property of §7.)
import SprigABI
import SprigCore

public struct MemoryMap: Sendable {
    public static let pagesPerRow = 64

    /// One letter (ASCII) per physical page of the model's memory.
    public var letters: [UInt8]
    /// The checker's findings, one line each.
    public var errors: [String]

    /// The map of `machine`; root's children get `childLetters` in the order of their
    /// descriptors' vaddrs in root (a child beyond the list gets `?`).
    public init(machine: ModelMachine, childLetters: [UInt8]) {
        let tree = machine.tree()
        let pages = machine.memory.pageCount
        var letters = [UInt8](repeating: UInt8(ascii: "-"), count: pages)
        func set(_ paddr: UInt64, _ l: UInt8) {
            let i = Int(paddr / AddressSpace.pageSize)
            if i < pages { letters[i] = l }
        }
        // Each partition's letter: root's children by their names in root, descendants as theirs.
        var letterOf = [UInt8](repeating: UInt8(ascii: "?"), count: tree.partitions.count)
        if let root = tree.partitions.first {
            let vaOf = Dictionary(root.leaves.map { ($0.paddr, $0.va) }, uniquingKeysWith: { a, _ in a })
            let kids = root.children.sorted { (vaOf[tree.partitions[$0].descriptor] ?? 0) < (vaOf[tree.partitions[$1].descriptor] ?? 0) }
            for (k, c) in kids.enumerated() where k < childLetters.count { letterOf[c] = childLetters[k] }
            for i in tree.partitions.indices where i > 0 {
                var top = i
                while let parent = tree.partitions[top].parent, parent != 0 { top = parent }
                letterOf[i] = letterOf[top]
            }
        }
        // Depth, so that the deepest holder of a page names it.
        func depth(_ i: Int) -> Int {
            var d = 0, j = i
            while let p = tree.partitions[j].parent { d += 1; j = p }
            return d
        }
        var holderDepth = [Int](repeating: -1, count: pages)
        for (i, p) in tree.partitions.enumerated() {
            let d = depth(i)
            for leaf in p.leaves where leaf.accessible {
                let page = Int(leaf.paddr / AddressSpace.pageSize)
                guard page < pages, d > holderDepth[page] else { continue }
                holderDepth[page] = d
                if i == 0 {
                    let window = leaf.va >= AddressSpace.rootWindowBase && leaf.va < AddressSpace.rootWindowBase + (1 << 40)
                    letters[page] = window ? UInt8(ascii: ".") : UInt8(ascii: "R")
                } else {
                    letters[page] = letterOf[i]
                }
            }
        }
        for p in tree.partitions { for s in p.structurePages { set(s, UInt8(ascii: "S")) } }
        for k in machine.kernelImage { set(k.raw, UInt8(ascii: "K")) }
        self.letters = letters
        errors = (Properties.kernelDataIsolation(tree, kernelPages: machine.kernelPages) + Properties.horizontalIsolation(tree))
            .map { "PAGE TABLE ERROR: \($0)" }
    }

    /// Rows of 64 letters, each `  AAAAAAAA <letters>` with its first page's physical address
    /// (8 hex digits); a row of one letter that repeats the row before it joins it as ` xN`, as
    /// root prints them (without the colours).
    public var rows: [(address: UInt64, letters: [UInt8], count: Int)] {
        var out: [(address: UInt64, letters: [UInt8], count: Int)] = []
        var row = 0
        while row * Self.pagesPerRow < letters.count {
            var r = Array(letters[(row * Self.pagesPerRow)..<min(letters.count, (row + 1) * Self.pagesPerRow)])
            r += [UInt8](repeating: UInt8(ascii: "-"), count: Self.pagesPerRow - r.count)
            let uniform = r.allSatisfy { $0 == r[0] }
            if uniform, let last = out.last, last.letters == r {
                out[out.count - 1].count += 1
            } else {
                out.append((UInt64(row * Self.pagesPerRow) * AddressSpace.pageSize, r, 1))
            }
            row += 1
        }
        return out
    }

    public var text: String {
        rows.map { r in
            let hex = String(r.address, radix: 16)
            return "  " + String(repeating: "0", count: max(0, 8 - hex.count)) + hex + " "
                + String(decoding: r.letters, as: UTF8.self) + (r.count > 1 ? " x\(r.count)" : "")
        }.joined(separator: "\n") + "\n"
    }
}
