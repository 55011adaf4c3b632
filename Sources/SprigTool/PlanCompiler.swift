/// Compiles a validated system description into the plan module the generic root reads
/// (Sources/SprigABI/SystemPlan.swift has the layout, the encoder and the decoder).
import Foundation
import SprigABI

public enum PlanCompiler {
    /// The plan of `file`, which must have passed every validator, with the pages each instance
    /// of init takes counted with `images` (root checks its memory holds them at boot).
    public static func compile(_ file: SystemFile, images: ProgramImages) -> PlanImage {
        let order = file.preorder
        var index: [String: UInt64] = [:]
        for (i, n) in order.enumerated() { index[n] = UInt64(i) }
        let up = file.parents
        var plan = PlanImage()
        plan.tickHz = UInt64(file.root.flatMap { file.schedules[$0]?.tickHz } ?? 0)
        for n in order {
            let p = file.partitions[n]!
            var flags: UInt64 = 0
            if p.restart { flags |= PlanLayout.restart }
            if file.printers.contains(n) { flags |= PlanLayout.mayPrint }
            if file.serial == n { flags |= PlanLayout.handlesSerial }
            if p.program == SystemFile.genericProgram { flags |= PlanLayout.generic }
            var record = PlanImage.Partition(name: n, program: p.program ?? "", parent: up[n].flatMap { index[$0] } ?? PlanLayout.none,
                                             memoryPages: (p.memory ?? 0) / SystemValidators.pageSize, flags: flags)
            if p.program == SystemFile.genericProgram && !p.children.isEmpty {
                record.needPages = InitMemory.need(of: n, in: file, imageBytes: images.bytes(of:)).total
            }
            if let s = file.schedules[n] {
                record.firstFrame = UInt64(plan.frames.count)
                switch s.kind {
                case .roundRobin?:
                    record.flags |= PlanLayout.roundRobin << PlanLayout.scheduleShift
                    record.quantum = UInt64(s.quantum ?? 0)
                    for m in s.members { plan.frames.append((index[m]!, UInt64(s.quantum ?? 0))) }
                default:
                    record.flags |= PlanLayout.cyclic << PlanLayout.scheduleShift
                    for f in s.frames { plan.frames.append((index[f.partition]!, UInt64(f.ticks))) }
                }
                record.frameCount = UInt64(plan.frames.count) - record.firstFrame
            }
            plan.partitions.append(record)
        }
        for n in file.events.keys.sorted() {
            let e = file.events[n]!
            plan.events.append((index[e.source!]!, index[e.target!]!, UInt64(e.vector!), e.kind == .handover ? PlanLayout.handover : PlanLayout.interrupt, n))
        }
        for n in file.channels.keys.sorted() {
            let c = file.channels[n]!
            let handover = transfersByHandover(c, in: file)
            plan.channels.append((index[c.writer!]!, index[c.reader!]!, UInt64(c.size!),
                                  handover ? PlanLayout.pageHandover : PlanLayout.copy, UInt64(c.vector ?? 0), n))
        }
        return plan
    }

    /// The smallest message that `auto` hands over rather than copies. `sprig bench` measured
    /// (docs/bench.md, "Events and channels") the carrier's copy at 160 instructions for 64
    /// bytes, 2080 for 1024 and 8176 for 4072 (about 2 a byte), and a hand-over at 2717
    /// whatever the size (two removeVAddr, two addVAddr): they meet near 1340 bytes.
    public static let handoverFromBytes = 1344

    /// Whether channel `c` is carried by hand-over: as its description says, or for `auto`
    /// when its messages are at least `handoverFromBytes` and both ends are children of the
    /// carrier (the one shape init hands pages over in; validator handover-between-children).
    public static func transfersByHandover(_ c: ChannelDecl, in file: SystemFile) -> Bool {
        switch c.transfer {
        case .handover?: return true
        case .auto?:
            guard let w = c.writer, let r = c.reader, let size = c.size, size >= handoverFromBytes,
                  let carrier = file.carrier(w, r) else { return false }
            return file.parents[w] == carrier && file.parents[r] == carrier
        default: return false
        }
    }

    /// Writes the plan module of `system` to `directory/<system>/plan.bin`, once every validator
    /// has passed it counting `images` (the built programs': plan-fits counts their sizes).
    /// - Throws: `ToolError` with every finding, one a line, and writes nothing.
    @discardableResult
    public static func write(_ system: SystemDescription, to directory: URL, images: ProgramImages) throws -> URL {
        guard let file = system.file else { throw ToolError("\(system.name) has no description to compile") }
        let findings = SystemValidators.validate(file, images: images)
        guard findings.isEmpty else { throw ToolError(findings.map(\.description).joined(separator: "\n")) }
        let dir = directory.appendingPathComponent(system.name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(planModuleName)
        try Data(compile(file, images: images).encoded()).write(to: url)
        return url
    }

    /// The plan module's name in root's boot info.
    public static let planModuleName = "plan.bin"
}
