/// Every write SprigCore makes to physical memory passes through KernelWrites.swift: no other
/// kernel source calls `Platform`'s writers or makes a `WriteAccess` (the compiler refuses the
/// latter while its initializer is file-private; this also catches the file-private being
/// dropped), and only the descriptor's interrupt state is written without advancing the cache
/// generation.
import Foundation
import Testing

@Suite("Kernel writes")
struct KernelWritesTests {
    static let core = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Sources/SprigCore").standardized

    /// Each SprigCore source file but KernelWrites.swift, with its comment lines removed.
    static func otherSources() throws -> [(file: String, code: String)] {
        let files = (FileManager.default.subpaths(atPath: core.path) ?? []).filter { $0.hasSuffix(".swift") }
        #expect(files.contains("KernelWrites.swift") && files.contains("Arch/X86_64/KernelHalf.swift"))
        return try files.filter { $0 != "KernelWrites.swift" }.map { file in
            let text = try String(contentsOf: core.appendingPathComponent(file), encoding: .utf8)
            let code = text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }
                .joined(separator: "\n")
            return (file, code)
        }
    }

    @Test("no SprigCore file but KernelWrites.swift writes memory or makes a WriteAccess")
    func oneDoor() throws {
        let sources = try Self.otherSources()
        #expect(sources.count > 20)
        for (file, code) in sources {
            for raw in [".store(", ".zeroPage(", ".copy(from", "WriteAccess("] {
                #expect(!code.contains(raw), "\(file) calls \(raw): kernel writes go through Structures or PartitionMemory (KernelWrites.swift)")
            }
        }
    }

    @Test("only Descriptor.swift writes a word without advancing the generation, and only the interrupt state")
    func oneUnsummarizedWord() throws {
        for (file, code) in try Self.otherSources() {
            let uses = code.components(separatedBy: "Structures.writeUnsummarized(").count - 1
            if file == "Descriptor.swift" {
                #expect(uses == 1)
                let line = code.split(separator: "\n").first { $0.contains("Structures.writeUnsummarized(") }
                #expect(line?.contains("DescriptorLayout.interruptState") == true)
            } else {
                #expect(uses == 0, "\(file) writes a word without advancing the cache generation")
            }
        }
    }

    /// The leaf door drops only what read the old word, which is sound for the level-1 table
    /// entries and the shadow leaf words of a page given or taken back and for nothing else
    /// (`Structures.writeLeaf`): its callers are addVAddr's four writes and removeVAddr's three,
    /// each on a leaf slot (`Shadow.leafSlots`), and nothing else writes through it.
    @Test("only Sharing.swift writes through the leaf door: addVAddr's four leaf words and removeVAddr's three")
    func leafDoorCallers() throws {
        for (file, code) in try Self.otherSources() {
            let lines = code.split(separator: "\n").filter { $0.contains("Structures.writeLeaf(") }
            if file == "Sharing.swift" {
                #expect(lines.count == 7, "\(lines)")
                for line in lines {
                    let table = line.contains(".table(owner: child, va: va), slots.entryAt,")
                    let shadow = line.contains(".shadow, slots.sh1At,") || line.contains(".shadow, slots.sh2At,")
                        || line.contains(".shadow, page.slots.sh1At,") || line.contains(".shadow, parentSlots.sh1At,")
                    #expect(table || shadow, "not a leaf slot of the page given or taken back: \(line)")
                }
            } else {
                #expect(lines.isEmpty, "\(file) writes through the leaf door: \(lines)")
            }
        }
    }
}
