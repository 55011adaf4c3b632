/// The builder's up-to-date check: a step is skipped only when nothing it reads changed since
/// it began.
import Foundation
@testable import SprigTool
import Testing

@Suite struct BuilderStepTests {
    /// A step whose input is saved while the step runs (an editor saving during a long compile)
    /// must run again on the next build: its outputs are dated from the step's start, not its end.
    @Test func anInputSavedDuringTheStepIsBuiltAgain() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-step-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.txt"), output = dir.appendingPathComponent("out.txt")
        try "v1\n".write(to: input, atomically: true, encoding: .utf8)
        // Backdate the input so that the first run is unambiguous.
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-60)], ofItemAtPath: input.path)
        let builder = try Builder(project: Boot.project)
        var ran = 0
        builder.progress = { _ in ran += 1 }
        let sh = URL(fileURLWithPath: "/bin/sh")
        // The "compiler" copies the input; on its first run only, the input is saved again 1.5 s
        // into the step (past the builder's date margin), as an editor would.
        let marker = dir.appendingPathComponent("edited")
        let script = "cp '\(input.path)' '\(output.path)'; if [ ! -e '\(marker.path)' ]; then touch '\(marker.path)'; sleep 1.5; echo v2 >> '\(input.path)'; fi"
        func build() throws { try builder.step("copy", executable: sh, ["-c", script], inputs: [input], outputs: [output]) }
        try build()
        #expect(ran == 1)
        try build()
        #expect(ran == 2, "the input saved during the first step was not seen as newer than its output")
        #expect(try String(contentsOf: output, encoding: .utf8) == "v1\nv2\n")
        // Once the input is older than the outputs, the step is up to date.
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-60)], ofItemAtPath: input.path)
        try build()
        #expect(ran == 2, "an up-to-date step ran again")
    }
}
