/// The compiled plan (Sources/SprigABI/SystemPlan.swift, Sources/SprigTool/PlanCompiler.swift):
/// what the host encodes is what root's decoder reads, and the decoder refuses a plan of another
/// version, of a size its counts do not give, or with an index out of range. No QEMU.
import Foundation
import SprigABI
import Testing
@testable import SprigTool

@Suite struct SystemPlanTests {
    static func fixturePlan() throws -> PlanImage {
        let demo = try DescriptionFixture.folder(DescriptionFixture.valid)
        defer { try? FileManager.default.removeItem(at: demo.deletingLastPathComponent()) }
        let file = SystemFile(text: DescriptionFixture.valid, path: "demo/system.toml", folder: demo)
        #expect(SystemValidators.validate(file).isEmpty)
        return PlanCompiler.compile(file, images: .notBuilt)
    }

    /// Runs `body` on a PlanView of `bytes`.
    static func view<T>(_ bytes: [UInt8], _ body: (PlanView) -> T) -> T {
        bytes.withUnsafeBytes { body(PlanView(base: $0.baseAddress!, bytes: UInt64($0.count))) }
    }

    static func name(_ w0: UInt64, _ w1: UInt64) -> String {
        var b: [UInt8] = []
        for k in 0..<16 { let w = k < 8 ? w0 : w1; let c = UInt8(truncatingIfNeeded: w >> (UInt64(k % 8) * 8)); if c != 0 { b.append(c) } }
        return String(decoding: b, as: UTF8.self)
    }

    @Test func theDecoderReadsWhatTheEncoderWrote() throws {
        let bytes = try Self.fixturePlan().encoded()
        Self.view(bytes) { v in
            #expect(v.check() == nil)
            #expect(v.tickHz == 1000)
            // Parents before children, in each parent's children order.
            let names = (0..<v.partitionCount).map { Self.name(v.partition($0).name0, v.partition($0).name1) }
            #expect(names == ["init", "producer", "nest", "service", "logger", "console"])
            #expect(Self.name(v.partition(3).program0, v.partition(3).program1) == "service")
            #expect(v.partition(0).parent == PlanLayout.none)
            #expect(v.partition(3).parent == 2)
            #expect(v.partition(2).memoryPages == 256)
            // What init in each instance takes (validator plan-fits), 0 for the partitions without children.
            #expect(v.needPages(2) == 143)
            #expect(v.needPages(0) > 256 && v.needPages(0) < 2048)
            #expect(v.needPages(1) == 0 && v.needPages(3) == 0)
            #expect(v.partition(0).schedule == PlanLayout.cyclic)
            #expect(v.partition(2).schedule == PlanLayout.roundRobin && v.partition(2).quantum == 1)
            #expect(v.partition(3).flags & PlanLayout.restart != 0)
            #expect(v.partition(5).flags & (PlanLayout.mayPrint | PlanLayout.handlesSerial) == PlanLayout.mayPrint | PlanLayout.handlesSerial)
            let root = v.partition(0)
            let frames = (Int(root.firstFrame)..<Int(root.firstFrame + root.frameCount)).map { v.frame($0) }
            #expect(frames.map(\.partition) == [1, 2, 5] && frames.map(\.ticks) == [2, 2, 2])
            #expect(v.eventCount == 1 && v.event(0).source == 1 && v.event(0).target == 2 && v.event(0).vector == 0xA1 && v.event(0).kind == PlanLayout.handover)
            // Channels by name: lines (service→console, 1 KiB: copied), samples (producer→service).
            #expect(v.channelCount == 2)
            #expect(v.channel(0).writer == 3 && v.channel(0).reader == 5 && v.channel(0).size == 1024 && v.channel(0).transfer == PlanLayout.copy && v.channel(0).vector == 0xB1)
            #expect(v.channel(1).writer == 1 && v.channel(1).reader == 3 && v.channel(1).size == 64)
        }
    }

    /// Sets the word at `offset` of `bytes`.
    static func patched(_ bytes: [UInt8], _ offset: Int, _ value: UInt64) -> [UInt8] {
        var b = bytes
        for k in 0..<8 { b[offset + k] = UInt8(truncatingIfNeeded: value >> (UInt64(k) * 8)) }
        return b
    }

    @Test func aPlanOfAnotherVersionIsRefused() throws {
        let bytes = try Self.fixturePlan().encoded()
        #expect(Self.view(Self.patched(bytes, PlanLayout.versionOffset, PlanLayout.version + 1)) { $0.check() } == .wrongVersion)
    }

    @Test func aPlanWhoseSizeIsNotWhatItsCountsGiveIsRefused() throws {
        let bytes = try Self.fixturePlan().encoded()
        #expect(Self.view(Array(bytes.dropLast(8))) { $0.check() } == .sizeMismatch)
        #expect(Self.view(bytes + [0, 0, 0, 0, 0, 0, 0, 0]) { $0.check() } == .sizeMismatch)
        #expect(Self.view(Self.patched(bytes, PlanLayout.frameCount, 4)) { $0.check() } == .sizeMismatch)
        #expect(Self.view(Array(bytes.prefix(40))) { $0.check() } == .tooSmall)
        #expect(Self.view(Self.patched(bytes, PlanLayout.partitionCount, 1000)) { $0.check() } == .tooMany)
        #expect(Self.view(Self.patched(bytes, PlanLayout.magic, 0)) { $0.check() } == .badMagic)
    }

    @Test func aPlanWithAnIndexOutOfRangeIsRefused() throws {
        let bytes = try Self.fixturePlan().encoded()
        let frames = PlanLayout.headerBytes + 6 * PlanLayout.partitionBytes
        #expect(Self.view(Self.patched(bytes, frames, 6)) { $0.check() } == .badIndex)
        // A parent after its child.
        let service = PlanLayout.headerBytes + 3 * PlanLayout.partitionBytes
        #expect(Self.view(Self.patched(bytes, service + 16, 4)) { $0.check() } == .badIndex)
        // root's frames past the end of the frame table.
        #expect(Self.view(Self.patched(bytes, PlanLayout.headerBytes + 40, 5)) { $0.check() } == .badIndex)
    }

    /// The transfer the plan gives a channel added to the fixture: from `writer` to `reader`
    /// with `size` bytes and `transfer`.
    static func transfer(_ writer: String, _ reader: String, _ size: Int, _ transfer: String = "auto") throws -> UInt64 {
        let text = DescriptionFixture.valid.replacingOccurrences(of: "[interrupts]", with: """
            [channels.extra]
            writer = "\(writer)"
            reader = "\(reader)"
            size = \(size)
            transfer = "\(transfer)"

            [interrupts]
            """)
        let demo = try DescriptionFixture.folder(text)
        defer { try? FileManager.default.removeItem(at: demo.deletingLastPathComponent()) }
        let file = SystemFile(text: text, path: "demo/system.toml", folder: demo)
        #expect(SystemValidators.validate(file).isEmpty, "\(SystemValidators.validate(file))")
        let plan = PlanCompiler.compile(file, images: .notBuilt)
        return try #require(plan.channels.first { $0.name == "extra" }).transfer
    }

    @Test func autoHandsOverFromTheMeasuredCrossoverBetweenTheCarriersChildrenOnly() throws {
        let from = PlanCompiler.handoverFromBytes
        #expect(try Self.transfer("producer", "console", from) == PlanLayout.pageHandover)
        #expect(try Self.transfer("producer", "console", Int(PlanLayout.maxMessageBytes)) == PlanLayout.pageHandover)
        #expect(try Self.transfer("producer", "console", from - 8) == PlanLayout.copy)
        #expect(try Self.transfer("producer", "console", 64) == PlanLayout.copy)
        // The reader is nest's child: root could not take the page back from it alone.
        #expect(try Self.transfer("producer", "logger", Int(PlanLayout.maxMessageBytes)) == PlanLayout.copy)
        // What the description says goes.
        #expect(try Self.transfer("producer", "console", 64, "handover") == PlanLayout.pageHandover)
        #expect(try Self.transfer("producer", "console", 4000, "copy") == PlanLayout.copy)
    }
}
