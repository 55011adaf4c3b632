/// `sprig build`: cross-compiles the kernel and the partitions with swiftc, clang and ld.lld.
///
/// The host package (`swift build`) cannot build for `x86_64-unknown-none-elf`, so this builder
/// drives the toolchain directly, one Embedded Swift module at a time (SprigABI → SprigCore →
/// SprigX86 for the kernel; SprigABI → SprigUser → SprigThreads → each partition for ring 3). Each step is
/// skipped when its outputs are newer than its inputs and its command line is unchanged, so
/// repeated builds (tests, `make run`) cost only the up-to-date checks. docs/build.md explains it.
import Foundation

public enum Variant: String, CaseIterable, Sendable {
    /// Kernel -O, partitions -Osize; failed checks are a bare ud2 (reported as "kernel trap").
    case release
    /// As release, with -assert-config Debug: failed checks print their message; SPRIG_DEBUG on;
    /// DWARF (-g) in the kernel and the partitions, for gdb (`sprig run-gdb`).
    case debug
    /// As release, with SPRIG_TRACE in the kernel: every kernel entry is recorded on the debug
    /// port for `sprig replay` (docs/replay.md). Assertions are on, as in the host's debug build
    /// that replays it, so that both make the same memory requests. Partitions are release's.
    case trace
}

public struct BuildProducts: Sendable {
    public let directory: URL
    public let kernelELF: URL
    public let kernelImage: URL
    /// Flat partition images by partition name.
    public let partitions: [String: URL]

    /// The ELF (with its symbols) a partition's flat image was made from.
    public func partitionELF(_ name: String) -> URL {
        partitions[name]!.deletingPathExtension().appendingPathExtension("elf")
    }
}

public final class Builder {
    public let project: Project
    public let toolchain: Toolchain
    public let variant: Variant
    /// Called with one line per step actually run (not for up-to-date steps).
    public var progress: (String) -> Void = { _ in }

    public init(project: Project, variant: Variant = .release) throws {
        self.project = project
        self.toolchain = try Toolchain.find()
        self.variant = variant
    }

    public var outputDirectory: URL { project.buildDirectory.appendingPathComponent(variant.rawValue) }

    /// Where the partitions go: the trace variant's are the release ones (same flags), so they
    /// are built once for both.
    public var partitionOutputDirectory: URL {
        project.buildDirectory.appendingPathComponent(partitionVariant.rawValue)
    }

    static let embedded = [
        "-target", "x86_64-unknown-none-elf", "-enable-experimental-feature", "Embedded",
        "-enable-experimental-feature", "Extern", "-wmo", "-parse-as-library",
        "-Xfrontend", "-function-sections", "-Xfrontend", "-disable-stack-protector",
    ]

    /// Swift flags of every kernel module: no SSE/MMX/x87 use, no red zone (interrupts arrive
    /// on the kernel stack), kernel code model (linked in the top 2 GiB), no stack protector;
    /// the clang module of inline FPU instructions SprigX86 imports on the import path.
    public var kernelSwiftFlags: [String] {
        Builder.embedded + ["-O",
            "-Xcc", "-mno-red-zone", "-Xcc", "-mcmodel=kernel",
            "-Xcc", "-mno-sse", "-Xcc", "-mno-sse2", "-Xcc", "-mno-mmx",
            "-I", project.path(Builder.kernelInclude).path,
        ] + variantFlags
    }
    /// SprigX86's clang module (`module.modulemap`, `fpu_instructions.h`, `kernel_words.h`).
    static let kernelInclude = "Sources/SprigX86/include"

    var variantFlags: [String] { Builder.variantFlags(variant) }

    static func variantFlags(_ variant: Variant) -> [String] {
        switch variant {
        // Release: a function that makes no call sets up no frame (`sprig_trap_syscall`, which
        // only jumps on, and every leaf); the crash report's frame-pointer walk then starts at
        // the faulting leaf's caller's frame (docs/debugging.md). Debug keeps every frame.
        case .release: return ["-Xcc", "-momit-leaf-frame-pointer"] + Builder.swiftDebugInfo
        case .debug: return ["-assert-config", "Debug", "-D", "SPRIG_DEBUG"] + Builder.swiftDebugInfo
        case .trace: return ["-assert-config", "Debug", "-D", "SPRIG_TRACE"]
        }
    }

    public var kernelCFlags: [String] {
        ["-target", "x86_64-unknown-none-elf", "-ffreestanding", "-fno-builtin", "-mno-red-zone",
         "-mcmodel=kernel", "-mno-sse", "-mno-sse2", "-mno-mmx", "-fno-stack-protector", "-O2", "-fomit-frame-pointer"]
            + debugInfo
    }

    /// DWARF for gdb in the debug variant (assembly and C too: their source lines and frames);
    /// line tables only for the release variant's C and assembly, for `sprig bench --profile`
    /// and crash reports to name file:line (its Swift has full DWARF, `swiftDebugInfo`; debug
    /// sections are not loaded: the flat images are the same bytes).
    var debugInfo: [String] { Builder.debugInfo(variant) }

    static func debugInfo(_ variant: Variant) -> [String] {
        variant == .debug ? ["-g"] : variant == .release ? ["-gline-tables-only"] : []
    }

    /// The variant whose flags the partitions are built with: the trace variant's partitions are
    /// release's, in release's folder, so they are built with release's flags exactly (another
    /// command line there would rebuild them on every switch between the two, and two builds
    /// running at once would overwrite each other's objects).
    var partitionVariant: Variant { variant == .trace ? .release : variant }

    /// Swift's DWARF as gdb reads it: no references to clang's module cache (gdb would look
    /// for those files) and no accelerator table (lld's merged one is one gdb rejects). The
    /// release variant's Swift too: with line tables only, a specialized function's inlined
    /// frames lost their names and files (`<compiler-generated>`), so `sprig bench --profile`
    /// could not say which check of the yield chain an instruction belongs to; the code is the
    /// same bytes either way (debug sections are not loaded).
    static let swiftDebugInfo = ["-g", "-Xfrontend", "-no-clang-module-breadcrumbs", "-Xllvm", "-accel-tables=Disable"]

    /// Partitions are ordinary ring-3 code: SSE allowed, small code model at 0x400000.
    /// Swift flags of every ring-3 module and partition; SprigUser's clang module of the inline
    /// `syscall` (inlined into every partition that calls a service) on the import path.
    public var userSwiftFlags: [String] {
        Builder.embedded + ["-Osize", "-I", project.path(Builder.userInclude).path] + Builder.variantFlags(partitionVariant)
    }
    /// SprigUser's clang module (`module.modulemap`, `syscall_instruction.h`).
    static let userInclude = "Sources/SprigUser/include"
    var userCFlags: [String] {
        ["-target", "x86_64-unknown-none-elf", "-ffreestanding", "-fno-builtin", "-fno-stack-protector", "-O2"]
            + Builder.debugInfo(partitionVariant)
    }

    /// The files of `dir` ending in `.ext`, and with `recursive` those of its subfolders too
    /// (SprigCore's architecture layer lives in `Sources/SprigCore/Arch/<arch>/`).
    func sources(_ dir: String, ext: String, recursive: Bool = false) throws -> [URL] {
        let url = project.path(dir)
        let fm = FileManager.default
        let names = recursive ? (fm.subpaths(atPath: url.path) ?? []) : try fm.contentsOfDirectory(atPath: url.path)
        return names.filter { $0.hasSuffix("." + ext) }.sorted().map { url.appendingPathComponent($0) }
    }

    /// Runs `tool args` unless every output is newer than every input and the command is the
    /// one recorded last time.
    func step(_ label: String, tool: String, _ args: [String], inputs: [URL], outputs: [URL]) throws {
        try step(label, executable: toolchain.tool(tool), args, inputs: inputs, outputs: outputs)
    }

    /// How far before a step's start its outputs are dated. File times come from the kernel's
    /// coarse clock, which can lag `Date()` by a tick, so an input saved just after the step
    /// began could otherwise look older than the outputs; the margin only costs a rerun of a
    /// step whose input was saved in the second before it ran.
    static let outputDateMargin: TimeInterval = 1

    func step(_ label: String, executable: URL, _ args: [String], inputs: [URL], outputs: [URL]) throws {
        let stamp = outputs[0].appendingPathExtension("cmd")
        let command = ([executable.lastPathComponent] + args).joined(separator: " ")
        let fm = FileManager.default
        func mtime(_ u: URL) -> Date? { (try? fm.attributesOfItem(atPath: u.path))?[.modificationDate] as? Date }
        if let recorded = try? String(contentsOf: stamp, encoding: .utf8), recorded == command,
           let oldestOut = outputs.compactMap(mtime).min(), outputs.allSatisfy({ mtime($0) != nil }),
           inputs.allSatisfy({ (mtime($0) ?? .distantFuture) <= oldestOut }) {
            return
        }
        progress(label)
        let started = Date()
        try run(executable, args)
        // The outputs are dated when the step began, not when it ended: a source saved while the
        // compiler ran is newer than them, so the next build compiles it again. (Dating them at
        // all matters because swiftc leaves an object it would write byte for byte the same
        // untouched, so after a source is touched without a change the step would otherwise
        // run on every build.)
        let made = started.addingTimeInterval(-Builder.outputDateMargin)
        for u in outputs { try? fm.setAttributes([.modificationDate: made], ofItemAtPath: u.path) }
        try command.write(to: stamp, atomically: true, encoding: .utf8)
    }

    /// The modules of one build share a package, so that SprigCore's `package` declarations (test
    /// hooks, kernel-made values) are visible to the model, the harness and the tests as they are
    /// under SwiftPM, and to nothing else.
    static let packageFlags = ["-package-name", "Sprig"]

    /// Compiles one Embedded Swift module to an object and a .swiftmodule.
    func swiftModule(_ name: String, sources: [URL], flags: [String], dir: URL, dependencies: [URL], emitModule: Bool = true) throws -> URL {
        let object = dir.appendingPathComponent("\(name).o")
        let module = dir.appendingPathComponent("\(name).swiftmodule")
        var args = flags + Builder.packageFlags + ["-I", dir.path, "-module-name", name]
        if emitModule { args += ["-emit-module", "-emit-module-path", module.path] }
        args += sources.map(\.path) + ["-c", "-o", object.path]
        try step("swiftc  \(name) (\(dir.lastPathComponent), \(variant.rawValue))", tool: "swiftc", args,
                 inputs: sources + dependencies, outputs: emitModule ? [object, module] : [object])
        return object
    }

    /// The headers in a source's folder (`kernel_constants.h`): a changed one rebuilds the source.
    func headers(beside source: URL) -> [URL] {
        let dir = source.deletingLastPathComponent()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".h") }.sorted().map { dir.appendingPathComponent($0) }
    }

    /// Compiles one C or assembly file; every header in Sources/include (the generated
    /// `sprig_abi.h`) is on its include path and among its inputs.
    func cObject(_ source: URL, flags: [String], dir: URL) throws -> URL {
        let object = dir.appendingPathComponent(source.lastPathComponent + ".o")
        let include = project.path("Sources/include")
        let includeHeaders = try sources("Sources/include", ext: "h")
        try step("clang   \(source.lastPathComponent) (\(dir.lastPathComponent))", tool: "clang",
                 flags + ["-I", include.path, "-c", source.path, "-o", object.path], inputs: [source] + includeHeaders + headers(beside: source), outputs: [object])
        return object
    }

    /// The files a linker script pulls in with `INCLUDE name` (found beside it, `-L`).
    func included(by script: URL) -> [URL] {
        let text = (try? String(contentsOf: script, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard words.count == 2, words[0] == "INCLUDE" else { return nil }
            return script.deletingLastPathComponent().appendingPathComponent(String(words[1]))
        }
    }

    func link(_ objects: [URL], script: URL, entry: String, elf: URL, flat: URL) throws {
        try step("ld.lld  \(elf.lastPathComponent)", tool: "ld.lld",
                 ["-static", "-nostdlib", "-L", script.deletingLastPathComponent().path, "-T", script.path, "--gc-sections",
                  "-e", entry, "-o", elf.path] + objects.map(\.path),
                 inputs: objects + [script] + included(by: script), outputs: [elf])
        try step("objcopy \(flat.lastPathComponent)", tool: "llvm-objcopy", ["-O", "binary", elf.path, flat.path],
                 inputs: [elf], outputs: [flat])
    }

    /// The directories whose Swift files `build(partitions:)` compiles: the kernel's modules,
    /// SprigUser, SprigThreads, then each partition's program folder (systems/).
    public static func swiftSourceDirectories(partitions: [String] = Systems.allPartitions) -> [String] {
        let dirs = (try? Systems.allPrograms()) ?? [:]
        return ["Sources/SprigABI", "Sources/SprigCore", "Sources/SprigX86", "Sources/SprigUser", "Sources/SprigThreads"]
            + partitions.compactMap { dirs[$0] }
    }

    /// Builds the kernel and the given partitions (default: every partition some system uses).
    @discardableResult
    public func build(partitions: [String] = Systems.allPartitions) throws -> BuildProducts {
        try withBuildLock { try buildLocked(partitions: partitions) }
    }

    /// Runs `body` holding an exclusive lock on the checkout's build folder, so that two builds
    /// of one checkout at once (a test and the `sprig` it starts, two terminals) take turns, the
    /// second finding the first's outputs up to date, instead of writing the same files together.
    /// When the lock file cannot be made, the build goes on unlocked and reports the unwritable
    /// folder itself, in its own words.
    func withBuildLock<T>(_ body: () throws -> T) throws -> T {
        let dir = project.buildDirectory
        guard (try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)) != nil else { return try body() }
        let fd = open(dir.appendingPathComponent("build.lock").path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return try body() }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            progress("waiting for another build of this checkout to finish")
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    func buildLocked(partitions: [String]) throws -> BuildProducts {
        let out = outputDirectory
        let kdir = out.appendingPathComponent("kernel")
        let uout = partitionOutputDirectory
        let udir = uout.appendingPathComponent("user")
        for d in [kdir, udir] { try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true) }
        // What assembly and SprigUser see of the ABI must be what the table says (after the
        // folders: a build folder that cannot be written is the first thing to say).
        let stale = Generated.stale(in: project)
        guard stale.isEmpty else { throw Generated.staleError(stale) }

        // Kernel.
        try KernelConstants.write(project)
        let abiSources = try sources("Sources/SprigABI", ext: "swift")
        let coreSources = try sources("Sources/SprigCore", ext: "swift", recursive: true)
        let x86Sources = try sources("Sources/SprigX86", ext: "swift")
        let x86Headers = try sources(Builder.kernelInclude, ext: "h") + sources(Builder.kernelInclude, ext: "modulemap")
        let kABI = try swiftModule("SprigABI", sources: abiSources, flags: kernelSwiftFlags, dir: kdir, dependencies: [])
        let kCore = try swiftModule("SprigCore", sources: coreSources, flags: kernelSwiftFlags, dir: kdir,
                                    dependencies: abiSources)
        let kX86 = try swiftModule("SprigX86", sources: x86Sources, flags: kernelSwiftFlags, dir: kdir,
                                   dependencies: abiSources + coreSources + x86Headers, emitModule: false)
        var kObjects = [kABI, kCore, kX86]
        let runtimeC = try sources("Sources/SprigRuntime", ext: "c")
        for s in try sources("Sources/SprigX86", ext: "S") + sources("Sources/SprigX86", ext: "c") + runtimeC {
            kObjects.append(try cObject(s, flags: kernelCFlags, dir: kdir))
        }
        let kernelELF = out.appendingPathComponent("kernel.elf")
        let kernelImage = out.appendingPathComponent("kernel.bin")
        try link(kObjects, script: project.path("Sources/SprigX86/kernel.ld"), entry: "sprig_start32",
                 elf: kernelELF, flat: kernelImage)

        // Partitions.
        let userSources = try sources("Sources/SprigUser", ext: "swift")
        let userHeaders = try sources(Builder.userInclude, ext: "h") + sources(Builder.userInclude, ext: "modulemap")
        let uABI = try swiftModule("SprigABI", sources: abiSources, flags: userSwiftFlags, dir: udir, dependencies: [])
        let uUser = try swiftModule("SprigUser", sources: userSources, flags: userSwiftFlags, dir: udir,
                                    dependencies: abiSources + userHeaders)
        // The threads library: its host-tested core and its partition machine, one module.
        let threadsSources = try sources("Sources/SprigThreads", ext: "swift") + sources("Sources/SprigThreads/Partition", ext: "swift")
        let uThreads = try swiftModule("SprigThreads", sources: threadsSources, flags: userSwiftFlags, dir: udir,
                                       dependencies: abiSources + userSources + userHeaders)
        var runtime = [uThreads, uUser, uABI]
        for s in try sources("Sources/SprigUser", ext: "S") + sources("Sources/SprigUser", ext: "c")
            + sources("Sources/SprigThreads/Partition", ext: "S") + runtimeC {
            runtime.insert(try cObject(s, flags: userCFlags, dir: udir), at: 0)
        }
        var images: [String: URL] = [:]
        let homes = try Systems.allPrograms(project: project)
        for name in partitions {
            let pdir = udir.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: pdir, withIntermediateDirectories: true)
            guard let home = homes[name] else {
                throw ToolError("no system description runs a program '\(name)' (systems/*/system.toml, docs/systems.md)")
            }
            let psources = try sources(home, ext: "swift")
            guard !psources.isEmpty else { throw ToolError("\(home) has no Swift source") }
            // Partitions import the user-side SprigABI/SprigUser modules from udir.
            let object = pdir.appendingPathComponent("\(name).o")
            try step("swiftc  partition \(name) (\(variant.rawValue))", tool: "swiftc",
                     userSwiftFlags + ["-I", udir.path, "-module-name", name] + psources.map(\.path) + ["-c", "-o", object.path],
                     inputs: psources + userSources + userHeaders + abiSources + threadsSources, outputs: [object])
            let elf = uout.appendingPathComponent("\(name).elf")
            let flat = uout.appendingPathComponent("\(name).bin")
            try link([object] + runtime, script: project.path("Sources/SprigUser/partition.ld"), entry: "_start",
                     elf: elf, flat: flat)
            images[name] = flat
        }
        // The compiled plan of every system whose root reads one, validated again with the
        // images just built (plan-fits counts their sizes).
        for system in try Systems.catalog(project: project) where system.usesPlan {
            guard let file = system.file else { continue }
            images[system.planKey] = try PlanCompiler.write(system, to: outputDirectory, images: .built(in: uout, for: file))
        }
        return BuildProducts(directory: out, kernelELF: kernelELF, kernelImage: kernelImage, partitions: images)
    }
}
