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

    /// The trace variant's partitions live in release's folder: built with release's command
    /// lines exactly, or each switch between the two variants rebuilds them (and two builds at
    /// once overwrite each other's objects).
    @Test func traceAndReleaseBuildThePartitionsAlike() throws {
        let release = try Builder(project: Boot.project, variant: .release)
        let trace = try Builder(project: Boot.project, variant: .trace)
        #expect(trace.partitionOutputDirectory == release.partitionOutputDirectory)
        #expect(trace.userSwiftFlags == release.userSwiftFlags)
        #expect(trace.userCFlags == release.userCFlags)
    }

    /// A second build of one checkout waits for the first instead of writing the same files.
    @Test func aSecondBuildWaitsForTheFirst() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sprig-lock-\(getpid())-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let project = Project(root: dir)
        try FileManager.default.createDirectory(at: project.buildDirectory, withIntermediateDirectories: true)
        // The first build: this test, holding the lock.
        let fd = open(project.buildDirectory.appendingPathComponent("build.lock").path, O_RDWR | O_CREAT, 0o644)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(flock(fd, LOCK_EX) == 0)
        let builder = try Builder(project: project)
        let state = BuildLockProbe()
        builder.progress = { line in if line.contains("waiting for another build") { state.set(waiting: true) } }
        nonisolated(unsafe) let waiter = builder
        let finished = DispatchSemaphore(value: 0)
        let second = Thread {
            _ = try? waiter.withBuildLock { () throws -> Int in state.set(done: true); return 0 }
            finished.signal()
        }
        second.start()
        let deadline = Date().addingTimeInterval(60)
        while !state.waiting && Date() < deadline { usleep(10_000) }
        #expect(state.waiting, "the second build did not say it waits")
        #expect(!state.done, "the second build ran while the first held the lock")
        flock(fd, LOCK_UN)
        // The second build's thread has ended before anything it uses goes away.
        #expect(finished.wait(timeout: .now() + 60) == .success, "the second build never ran after the first ended")
        #expect(state.done)
    }
}

/// What the second build of `aSecondBuildWaitsForTheFirst` did, shared with its thread.
private final class BuildLockProbe: @unchecked Sendable {
    private let lock = NSLock()
    private var _waiting = false, _done = false
    var waiting: Bool { lock.withLock { _waiting } }
    var done: Bool { lock.withLock { _done } }
    func set(waiting: Bool) { lock.withLock { _waiting = waiting } }
    func set(done: Bool) { lock.withLock { _done = done } }
}
