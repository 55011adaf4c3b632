/// Shared by the boot tests: one build per variant per test process, and a boot helper.
import Foundation
import SprigABI
@testable import SprigTool
import Testing

enum Boot {
    static let project: Project = {
        try! Project.locate(from: URL(fileURLWithPath: #filePath))
    }()

    private static let lock = NSLock()
    nonisolated(unsafe) private static var built: [Variant: Result<(Builder, BuildProducts), Error>] = [:]

    /// The builder and products of `variant`, built once (the builder skips up-to-date steps).
    static func products(_ variant: Variant) throws -> (Builder, BuildProducts) {
        lock.lock()
        defer { lock.unlock() }
        if let r = built[variant] { return try r.get() }
        let r = Result { () throws -> (Builder, BuildProducts) in
            let b = try Builder(project: project, variant: variant)
            return (b, try b.build())
        }
        built[variant] = r
        return try r.get()
    }

    /// Seconds after which a boot test's machine is stopped as hung. Tests wait for conditions
    /// on the console, never for a time: this is far above any boot's length on a loaded
    /// machine (every boot test passes long before), only so that a hang ends.
    static let hangGuard: Double = 600

    /// The 1-based line of `file` (project-relative) that contains `text`.
    static func sourceLine(of text: String, in file: String) throws -> Int {
        let lines = try String(contentsOf: project.path(file), encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        return try #require(lines.firstIndex { $0.contains(text) }, "\(text) not in \(file)") + 1
    }

    /// Boots `system` under TCG and returns the console and how the machine stopped.
    static func run(_ system: String, variant: Variant = .release, commandLine: String = "", timeout: Double = hangGuard,
                    input: RunInput = .none, monitorOnSerial: Bool = false, cpu: String? = nil,
                    stop: RunStop? = nil, icount: Bool = false) throws -> RunResult {
        let (_, products) = try products(variant)
        var o = RunOptions()
        o.system = system
        o.variant = variant
        o.commandLine = commandLine
        o.timeout = timeout
        o.input = input
        o.monitorOnSerial = monitorOnSerial
        if let cpu { o.cpu = cpu }
        o.stop = stop
        o.icount = icount
        return try QEMU.run(products, options: o)
    }

    /// Boots `system` (release, under -icount, on `memoryMiB`) with its plan module replaced by
    /// `bytes`: the same programs, another plan.
    static func run(_ system: String, plan bytes: [UInt8], memoryMiB: Int = RunOptions().memoryMiB) throws -> RunResult {
        try run(system, module: try Systems.named(system).planKey, bytes, memoryMiB: memoryMiB)
    }

    /// Boots `system` (release, under -icount, on `memoryMiB`) with the boot module `key` (a
    /// partition's name or the plan's key) replaced by `bytes`.
    static func run(_ system: String, module key: String, _ bytes: [UInt8], memoryMiB: Int = RunOptions().memoryMiB) throws -> RunResult {
        let (_, products) = try products(.release)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-module-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent(key == (try Systems.named(system)).planKey ? PlanCompiler.planModuleName : "\(key).bin")
        try Data(bytes).write(to: file)
        var modules = products.partitions
        modules[key] = file
        let changed = BuildProducts(directory: products.directory, kernelELF: products.kernelELF, kernelImage: products.kernelImage,
                                    partitions: modules)
        var o = RunOptions()
        o.system = system
        o.timeout = hangGuard
        o.icount = true
        o.memoryMiB = memoryMiB
        return try QEMU.run(changed, options: o)
    }
}

extension String {
    /// Expects every one of `steps` in this output, in that order (each after the previous).
    func expectInOrder(_ steps: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        var position = startIndex
        for step in steps {
            let found = range(of: step, range: position..<endIndex)
            #expect(found != nil, "missing or out of order: \(step)\n\(self)", sourceLocation: sourceLocation)
            if let found { position = found.upperBound }
        }
    }

    /// The lines that have ended (a last line without its newline is still arriving).
    var completeLines: [Substring] {
        var lines = split(separator: "\n", omittingEmptySubsequences: false)
        lines.removeLast()
        return lines
    }

    /// The first line containing `marker`, or nil.
    func line(containing marker: String) -> Substring? {
        split(separator: "\n").first { $0.contains(marker) }
    }

    /// The unsigned integer that follows `prefix` on `line`.
    static func number(after prefix: String, in line: Substring) -> UInt64? {
        guard let r = line.range(of: prefix) else { return nil }
        let digits = line[r.upperBound...].prefix { $0.isNumber }
        return UInt64(digits)
    }
}
