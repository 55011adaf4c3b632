/// What the `hello` system's console and exit must show, wherever it booted: QEMU's `-kernel`
/// (BootTests) or a GRUB image under SeaBIOS or OVMF (ImageBootTests).
import Foundation
import SprigABI
import SprigTool
import Testing

enum HelloConsole {
    static func expect(_ r: RunResult) throws {
        #expect(r.ending == .status(0), "\(r.summary)\n\(r.output)")
        #expect(r.output.contains("Sprig: entering the root partition"))
        #expect(r.output.contains("root: hello from ring 3"))
        #expect(r.output.contains("root: goodbye, powering off with status 0"))

        // The kernel's account and root's (read from its boot-info page) must agree.
        let kernel = try #require(r.output.line(containing: "root owns"))
        let root = try #require(r.output.line(containing: "root: I own"))
        let kernelWindow = try #require(String.number(after: "root owns ", in: kernel))
        let kernelRanges = try #require(String.number(after: "window pages in ", in: kernel))
        let rootWindow = try #require(String.number(after: "I own ", in: root))
        let rootRanges = try #require(String.number(after: "free memory in ", in: root))
        #expect(kernelWindow == rootWindow)
        #expect(kernelRanges == rootRanges)
        #expect(rootWindow > 30_000, "128 MiB of RAM leaves root over 30000 pages")

        // Root lists each range; they add up to the window.
        let ranges = r.output.split(separator: "\n").filter { $0.hasPrefix("root:   0x") }
        #expect(UInt64(ranges.count) == rootRanges)
        let summed = ranges.compactMap { l -> UInt64? in
            let fields = l.split(separator: " ")
            return fields.count >= 3 ? UInt64(fields[2]) : nil
        }.reduce(0, +)
        #expect(summed == rootWindow)

        // Every page is the kernel's, root's, or below 1 MiB (left to the firmware): nothing leaks.
        let total = try #require(String.number(after: "Sprig: memory ", in: kernel))
        let kept = try #require(String.number(after: "kernel keeps ", in: kernel))
        let rootSummary = try #require(r.output.line(containing: "root: image "))
        let image = try #require(String.number(after: "root: image ", in: rootSummary))
        let rootOwned = rootWindow + image + AddressSpace.rootStackPages + 3  // VIDT, boot info, context
        let low = try #require(String.number(after: "ranges; ", in: kernel))
        #expect(kept + rootOwned + low == total, "kernel \(kept) + root \(rootOwned) + low \(low) != \(total)")
    }
}
