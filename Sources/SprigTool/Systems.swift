/// The systems Sprig ships: a system is a bootable set of the kernel, a root partition and the
/// partitions root starts (given to the kernel as boot modules, root's image first). Each is
/// described by `systems/<name>/system.toml` (SystemFile.swift, docs/systems.md); this reads the
/// descriptions and gives the rest of the tool what it needs of each.
import Foundation

public struct SystemDescription: Sendable {
    public let name: String
    public let summary: String
    /// The programs of the boot modules, root's first, then root's tree parents before
    /// children; each becomes one boot module.
    public let partitions: [String]
    /// The `sprig run` options this system takes (`--seed`, `--calls`), passed to root on the
    /// kernel command line as `<name>.<option>=<value>` (SystemArguments).
    public var options: [SystemOption] = []
    /// Root reads the serial console: `sprig run` connects the terminal to the serial input.
    public var readsConsole = false
    /// Root reports time-stamp-counter deltas as instruction counts: QEMU must count
    /// instructions (`-icount`), under `sprig run` as under `sprig bench`.
    public var countsInstructions = false
    /// Kernel symbols root is told the address of on the command line (`KernelSymbols`).
    public var kernelSymbols: [String] = []
    /// Where each program's sources are, relative to the checkout.
    public var programDirectories: [String: String] = [:]
    /// The description this was read from.
    public var file: SystemFile?

    /// Root runs the generic library, which reads the compiled plan (PlanCompiler).
    public var usesPlan: Bool { file.flatMap { f in f.root.flatMap { f.partitions[$0]?.program } } == SystemFile.genericProgram }

    /// The key of this system's plan module in `BuildProducts.partitions`.
    public var planKey: String { "\(name)/\(PlanCompiler.planModuleName)" }

    /// The boot modules' keys in `BuildProducts.partitions`, in order: the programs of root's
    /// tree, then the compiled plan when root reads one.
    public var bootModules: [String] { partitions + (usesPlan ? [planKey] : []) }
}

public enum Systems {
    public static let defaultName = "signal"
    /// The folder of the descriptions, and of programs several systems run (`programs/`).
    public static let folder = "systems"
    public static let sharedPrograms = "programs"

    /// Every system of the checkout around the current directory, by name; empty when the
    /// descriptions cannot be read (`named` then says why).
    public static var all: [SystemDescription] { (try? catalog()) ?? [] }

    /// Every description under systems/, read and validated.
    /// - Throws: `ToolError` with every validator's finding when a description is invalid.
    public static func catalog(project: Project? = nil) throws -> [SystemDescription] {
        let project = try project ?? Project.current()
        let dir = project.path(folder)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        var out: [SystemDescription] = []
        var programHome: [String: String] = [:]
        for name in names.sorted() where name != sharedPrograms {
            let url = dir.appendingPathComponent(name).appendingPathComponent("system.toml")
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let s = try describe(SystemFile.load(url, relativeTo: project.root), project: project)
            for (program, home) in s.programDirectories {
                if let other = programHome[program], other != home {
                    throw ToolError("program '\(program)' is both \(other) and \(home): programs of different systems need different names (their images share .build/sprig/<variant>/)")
                }
                programHome[program] = home
            }
            out.append(s)
        }
        // The default first, as `sprig systems` and the error for an unknown name list them.
        return out.filter { $0.name == defaultName } + out.filter { $0.name != defaultName }
    }

    /// A validated description as the rest of the tool uses it.
    /// - Throws: `ToolError` listing every finding, one a line.
    public static func describe(_ file: SystemFile, project: Project) throws -> SystemDescription {
        let findings = SystemValidators.validate(file)
        guard findings.isEmpty else {
            throw ToolError(findings.map(\.description).joined(separator: "\n"))
        }
        var dirs: [String: String] = [:]
        var programs: [String] = []
        for p in file.preorder {
            guard let program = file.partitions[p]?.program, let d = file.programDirectory(program) else { continue }
            programs.append(program)
            var rel = d.standardizedFileURL.path
            let base = project.root.standardizedFileURL.path + "/"
            if rel.hasPrefix(base) { rel = String(rel.dropFirst(base.count)) }
            dirs[program] = rel
        }
        return SystemDescription(name: file.name ?? file.folder.lastPathComponent, summary: file.summary ?? "",
                                 partitions: programs, options: file.options.compactMap(SystemOption.init(rawValue:)),
                                 readsConsole: file.readsConsole, countsInstructions: file.countsInstructions,
                                 kernelSymbols: file.kernelSymbols,
                                 programDirectories: dirs, file: file)
    }

    public static func named(_ name: String) throws -> SystemDescription {
        let systems = try catalog()
        guard let s = systems.first(where: { $0.name == name }) else {
            throw ToolError("no system named '\(name)'; the systems are \(systems.map(\.name).joined(separator: ", ")) (`sprig systems` describes each)")
        }
        return s
    }

    /// Every program some system needs, and where its sources are.
    public static func allPrograms(project: Project? = nil) throws -> [String: String] {
        var out: [String: String] = [:]
        for s in try catalog(project: project) { out.merge(s.programDirectories) { a, _ in a } }
        return out
    }

    /// Every partition program some system needs.
    public static var allPartitions: [String] {
        ((try? allPrograms()) ?? [:]).keys.sorted()
    }
}
