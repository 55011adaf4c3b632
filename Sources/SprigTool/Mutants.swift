/// Deliberately broken kernels: named mutants of SprigCore, each one textual edit, for showing
/// that the fuzzer (`sprig fuzz --mutant`) and the explorer (`sprig check --mutant`) catch a
/// dropped check.
///
/// A mutant is (file, exact original snippet, replacement). `HostBuild` copies the sources to a
/// temporary directory, applies the edit there and compiles the copy: the kernel source in the
/// checkout is never edited. The snippet must occur exactly once in the file, or the build stops
/// with `MutantError` — a mutant that silently stopped applying after a refactoring would make
/// "the fuzzer finds it" mean nothing.

/// One edit of one kernel source file.
public struct Mutant: Sendable, Equatable {
    /// The name `--mutant` takes.
    public let name: String
    /// What the edit breaks, in one line.
    public let summary: String
    /// Path of the edited file, relative to the checkout.
    public let file: String
    /// The exact text replaced (must occur once in `file`).
    public let original: String
    /// The text put in its place.
    public let replacement: String
    /// Further edits of the same mutant (other files), for a behaviour that two checks stopped.
    public let also: [Mutant]

    /// A mutant replacing `original` with `replacement` in `file`, and making the edits `also`.
    public init(name: String, summary: String, file: String, original: String, replacement: String, also: [Mutant] = []) {
        self.name = name; self.summary = summary; self.file = file
        self.original = original; self.replacement = replacement; self.also = also
    }

    /// This edit and the further ones.
    public var edits: [Mutant] { [self] + also }

    /// `text` with the edit applied.
    /// - Throws: `MutantError` unless `original` occurs exactly once in `text`.
    public func apply(to text: String) throws -> String {
        let parts = text.components(separatedBy: original)
        guard parts.count == 2 else {
            throw MutantError(mutant: name, file: file, occurrences: parts.count - 1)
        }
        return parts[0] + replacement + parts[1]
    }
}

/// A mutant's snippet is not in its file exactly once.
public struct MutantError: Error, CustomStringConvertible, Sendable {
    /// The mutant's name.
    public let mutant: String
    /// The file its snippet was looked for in.
    public let file: String
    /// How many times the snippet occurs (0, or more than 1).
    public let occurrences: Int

    /// What went wrong and what to do.
    public var description: String {
        "mutant \(mutant): its original snippet occurs \(occurrences) times in \(file), not exactly once "
            + "(the kernel source changed; update Sources/SprigTool/Mutants.swift)"
    }
}

/// The named mutants.
public enum Mutants {
    /// Every mutant `--mutant` accepts.
    public static let all: [Mutant] = [
        Mutant(
            name: "addvaddr-rights",
            summary: "addVAddr no longer checks that the child's rights stay within the caller's (write, execute)",
            file: "Sources/SprigCore/Sharing.swift",
            original: """
                        if rights.write {
                            guard (try? PageTableWalk.userTranslate(
                                p, rootTable: caller.rootTable(p).paddr, va: page.va, write: true)) != nil
                            else { return .rightsExceedCaller }
                        }
                        if rights.execute, !callerLeaf.isExecutable { return .rightsExceedCaller }

                """,
            replacement: """
                        _ = callerLeaf

                """),
        Mutant(
            name: "yield-save-overlap",
            summary: "yield check 8 no longer refuses a save slot that overlaps the callee's context",
            file: "Sources/SprigCore/Yield.swift",
            original: """
                guard let slot = ContextCheck.locate(p, descriptor: caller, rootTable: callerRootTable, va: saveVA, write: true, vidt: callerVIDT),
                                  !slot.overlaps(target)
                """,
            replacement: """
                guard let slot = ContextCheck.locate(p, descriptor: caller, rootTable: callerRootTable, va: saveVA, write: true, vidt: callerVIDT)
                """),
        Mutant(
            name: "context-straddle",
            summary: "a context that straddles two pages is taken as lying on its first page (checks 7 and 8 skip the second page)",
            file: "Sources/SprigCore/ContextLocation.swift",
            original: """
                guard room < size else { return ContextLocation(first: first, firstBytes: size, second: first.pageBase) }
                """,
            replacement: """
                guard room < 0 else { return ContextLocation(first: first, firstBytes: size, second: first.pageBase) }
                """),
        Mutant(
            name: "translation-cache-stale",
            summary: "a write to a kernel structure no longer advances the cache generation, so yield may use a stale translation or plan",
            file: "Sources/SprigCore/KernelWrites.swift",
            original: """
                p.translationCacheStore(generation, next)
                """,
            replacement: """
                _ = next
                """),
        // A table write that skips the choke point: it needs a `WriteAccess`, so the mutant
        // also makes its initializer reachable outside KernelWrites.swift.
        Mutant(
            name: "table-write-bypass",
            summary: "removeVAddr unmaps the child's page with raw stores that do not pass Structures, so the caches keep the child's translation and plan",
            file: "Sources/SprigCore/Sharing.swift",
            original: """
                        Structures.writeLeaf(p, .table(owner: child, va: va), slots.entryAt, 0)
                        Structures.writeLeaf(p, .shadow, slots.sh2At, 0)
                        Structures.writeLeaf(p, .shadow, parentSlots.sh1At, 0)
                """,
            replacement: """
                        p.store(slots.entryAt, 0, WriteAccess())
                        p.store(slots.sh2At, 0, WriteAccess())
                        p.store(parentSlots.sh1At, 0, WriteAccess())
                """,
            also: [Mutant(
                name: "table-write-bypass", summary: "WriteAccess can be made anywhere",
                file: "Sources/SprigCore/KernelWrites.swift",
                original: """
                    fileprivate init() {}
                    """,
                replacement: """
                    init() {}
                    """)]),
        // The narrow door without its drop: a leaf write that ends no cached answer.
        Mutant(
            name: "leaf-write-keeps-caches",
            summary: "a leaf write (addVAddr, removeVAddr) drops no cache entry, so the caches keep a translation and a plan through a page the child no longer maps",
            file: "Sources/SprigCore/KernelWrites.swift",
            original: """
                        if e.isPresent {
                """,
            replacement: """
                        if e.isPresent && false {
                """),
        Mutant(
            name: "yield-cache-vidt",
            summary: "a yield that hits the yield cache no longer re-reads the callee's VIDT entry, so it enters a context ring 3 has since replaced",
            file: "Sources/SprigCore/YieldCache.swift",
            original: """
                if targetValue == p.translationCacheLoad(e &+ targetVA), saveValue == p.translationCacheLoad(e &+ saveVA) {
                """,
            replacement: """
                if targetValue == targetValue, saveValue == p.translationCacheLoad(e &+ saveVA) {
                """),
        // The model's picture of entry.S's exit path (`ModelCPU.returnToUser`) without the
        // null selectors the kernel loads: the exit path before DS/ES/FS/GS were nulled.
        Mutant(
            name: "exit-data-selectors",
            summary: "the way back to ring 3 no longer nulls DS, ES, FS and GS, so a partition resumes with the selectors the last one loaded",
            file: "Sources/SprigModel/ModelCPU.swift",
            original: """
                registers.dataSelectors = [0, 0, 0, 0]
                """,
            replacement: """
                _ = registers.dataSelectors
                """),
        // The model's picture of X86Platform.saveCPUState's straddling path without the zeroing
        // of the bytes FXSAVE does not write: the staging area's old bytes are copied out.
        Mutant(
            name: "fxsave-staging",
            summary: "a context saved over two pages copies the FXSAVE bytes the CPU does not write from the kernel's staging area, which holds the last image loaded through it",
            file: "Sources/SprigModel/ModelCPU.swift",
            original: """
                for w in 0..<fpuWords { stagingArea[w] &= UserRegisters.fxsaveWrittenBytes(word: w) }
                """,
            replacement: """
                _ = fpuWords
                """),
        // Both checks of the return rip gone: what the kernel did before them.
        Mutant(
            name: "exit-return-rip",
            summary: "the kernel returns to the rip ring 3 trapped with, unchecked, and lets a parent put code on its child's VIDT page: a syscall at its last bytes makes iretq fault at CPL 0",
            file: "Sources/SprigCore/KernelEntry.swift",
            original: """
                if rip >= AddressSpace.lowerHalfEnd { p.setTrappedRIP(UserRegisters.rip(rip)) }
                """,
            replacement: """
                _ = rip
                """,
            also: [codeAtVIDT]),
        codeAtVIDT,
        Mutant(
            name: "context-user-bit",
            summary: "the translation yield and delivery use for VIDTs and contexts no longer requires the user bit, so a context on a kernel structure page is loaded and saved",
            file: "Sources/SprigCore/TranslationCache.swift",
            original: """
                                  w.userAccessible
                """,
            replacement: """
                                  w.rights & PageTableEntry.present != 0
                """),
        Mutant(
            name: "tlb-flush",
            summary: "giving a page to the kernel (or back) no longer drops the CPU's cached translation, so the running partition reaches a structure page through a stale TLB entry",
            file: "Sources/SprigCore/PageOwnership.swift",
            original: """
                defer { p.invalidateTranslation(va) }
                """,
            replacement: """
                defer { _ = va }
                """),
    ]

    /// addVAddr without its `executeAtVIDT` refusal: a mutant of its own, and the second edit of
    /// `exit-return-rip` (written once here).
    static let codeAtVIDT = Mutant(
        name: "addvaddr-execute-vidt",
        summary: "addVAddr no longer refuses execute rights at the child's VIDT address, so a child can run a syscall at the last bytes of the lower half",
        file: "Sources/SprigCore/Sharing.swift",
        original: """
            if rights.execute, va.raw == AddressSpace.vidt { return .executeAtVIDT }
            """,
        replacement: """
            _ = va
            """)

    /// The mutant called `name`.
    /// - Throws: `ToolError` naming the known mutants.
    public static func named(_ name: String) throws -> Mutant {
        guard let m = all.first(where: { $0.name == name }) else {
            throw ToolError("no mutant named \(name); known: \(all.map(\.name).joined(separator: ", "))")
        }
        return m
    }
}
