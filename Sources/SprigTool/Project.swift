/// Where the project and its tools are.
import Foundation

public struct Project: Sendable {
    public let root: URL

    public init(root: URL) { self.root = root }

    /// The checkout containing `start` (a directory or file inside it), found by walking up to
    /// the directory holding both Package.swift and Sources/SprigX86.
    public static func locate(from start: URL) throws -> Project {
        var dir = start.standardizedFileURL
        let fm = FileManager.default
        for _ in 0..<32 {
            if fm.fileExists(atPath: dir.appendingPathComponent("Package.swift").path),
               fm.fileExists(atPath: dir.appendingPathComponent("Sources/SprigX86").path) {
                return Project(root: dir)
            }
            let up = dir.deletingLastPathComponent()
            if up.path == dir.path { break }
            dir = up
        }
        throw ToolError("not inside a Sprig checkout (no Package.swift with Sources/SprigX86 above \(start.path))")
    }

    /// The checkout containing the current directory.
    public static func current() throws -> Project {
        try locate(from: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
    }

    public func path(_ relative: String) -> URL { root.appendingPathComponent(relative) }
    public var buildDirectory: URL { path(".build/sprig") }
}

public struct ToolError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The cross toolchain: Swift's own swiftc, clang, ld.lld and llvm-objcopy, found next to
/// the swiftc on PATH (or /opt/swift/usr/bin).
public struct Toolchain: Sendable {
    public let bin: URL

    public static func find() throws -> Toolchain {
        var candidates: [URL] = []
        if let path = ProcessInfo.processInfo.environment["PATH"] {
            candidates += path.split(separator: ":").map { URL(fileURLWithPath: String($0)) }
        }
        candidates.append(URL(fileURLWithPath: "/opt/swift/usr/bin"))
        for dir in candidates {
            let tools = ["swiftc", "clang", "ld.lld", "llvm-objcopy", "llvm-objdump", "llvm-nm"]
            if tools.allSatisfy({ FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent($0).path) }) {
                return Toolchain(bin: dir)
            }
        }
        throw ToolError("no Swift toolchain with swiftc, clang, ld.lld, llvm-objcopy, llvm-objdump and llvm-nm in one directory on PATH or in /opt/swift/usr/bin")
    }

    public func tool(_ name: String) -> URL { bin.appendingPathComponent(name) }
}

/// Runs a program to completion, capturing its output. Throws with the output when it fails.
@discardableResult
func run(_ executable: URL, _ arguments: [String], in directory: URL? = nil) throws -> String {
    let p = Process()
    p.executableURL = executable
    p.arguments = arguments
    if let directory { p.currentDirectoryURL = directory }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    let out = String(decoding: data, as: UTF8.self)
    guard p.terminationStatus == 0 else {
        throw ToolError("\(executable.lastPathComponent) failed (exit \(p.terminationStatus)):\n\(out)")
    }
    return out
}
