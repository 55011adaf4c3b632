/// `sprig validate [FILE|NAME]`: runs every named validator on a system description.
import ArgumentParser
import Foundation
import SprigTool

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check system descriptions (systems/<name>/system.toml) with every named validator.",
        discussion: """
            With no argument, checks every description under systems/. A NAME is a system's folder \
            under systems/; anything with a '/' or ending in .toml is a file. Each problem is one line: \
            file:line: key: what is wrong [validator]. Validator plan-fits counts the programs' images \
            `sprig build` made (.build/sprig/release), or a page each before a build. Exit 0 when every description passes, 1 otherwise. \
            `--list` prints the validators and their rules (docs/systems.md has the same table).
            """)
    @Argument(help: "A system's name or a description file (default: every system).") var target: String?
    @Flag(help: "List the validators and the rule each checks.") var list = false

    func run() throws {
        if list {
            for v in SystemValidators.all { print("\(v.name): \(v.rule)") }
            return
        }
        let project = try Project.current()
        var files: [URL] = []
        if let target {
            if target.contains("/") || target.hasSuffix(".toml") {
                try checkInputFile(target, option: "FILE")
                files = [URL(fileURLWithPath: target)]
            } else {
                let url = project.path("\(Systems.folder)/\(target)/system.toml")
                guard FileManager.default.fileExists(atPath: url.path) else {
                    throw ValidationError("no system '\(target)': no \(Systems.folder)/\(target)/system.toml (`sprig systems` lists them)")
                }
                files = [url]
            }
        } else {
            let dir = project.path(Systems.folder)
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() {
                let url = dir.appendingPathComponent(name).appendingPathComponent("system.toml")
                if FileManager.default.fileExists(atPath: url.path) { files.append(url) }
            }
        }
        var failed = 0
        for url in files {
            let file = try SystemFile.load(url, relativeTo: project.root)
            // The images `sprig build` made, when every program of the file has one.
            let images = ProgramImages.built(in: project.buildDirectory.appendingPathComponent(Variant.release.rawValue), for: file)
            let findings = SystemValidators.validate(file, images: images)
            for f in findings { print(f.description) }
            if findings.isEmpty {
                let generic = file.root.flatMap { file.partitions[$0]?.program } == SystemFile.genericProgram
                let note = generic && !images.built ? "; images not built: plan-fits counted each as a page, `sprig build` counts them" : ""
                print("\(file.path): ok (\(SystemValidators.all.count) validators\(note))")
            } else { failed += 1 }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}
