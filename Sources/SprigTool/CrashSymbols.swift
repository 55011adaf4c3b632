/// Names the addresses of a kernel crash report: the kernel prints raw addresses (rip and its
/// frame-pointer walk of the kernel stack), the host turns each into a function (demangled
/// Swift) and a source line with the kernel ELF, by llvm-symbolizer and swift-demangle.
/// A ring-3 rip of root is named with root's ELF (the report names root's program).
/// docs/debugging.md describes the report.
import Foundation
import SprigABI

public enum CrashSymbols {
    public static let reportMarker = "*** SPRIG KERNEL CRASH ***"

    /// One address of the report to name: its label ("rip", "#1"…), the address, and whether it
    /// is a return address (looked up one byte back, at the call).
    struct Site {
        let label: String
        let address: UInt64
        let isReturn: Bool
    }

    static let kernelBase: UInt64 = KernelLayout.base

    /// The lines that name every address of the last crash report in `console`, or nil when
    /// there is none or the tools are missing (the report stays as the kernel printed it).
    public static func annotate(_ console: String, products: BuildProducts) -> String? {
        guard let at = console.range(of: reportMarker, options: .backwards) else { return nil }
        let report = console[at.upperBound...]
        var kernelSites: [Site] = []
        var userRIP: UInt64?
        var rootProgram: String?
        for line in report.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.hasPrefix("partition: root, program ") {
                rootProgram = String(t.dropFirst("partition: root, program ".count).prefix { $0 != " " })
            }
            if let r = t.range(of: "rip=0x"), let v = UInt64(t[r.upperBound...].prefix { $0.isHexDigit }, radix: 16) {
                if v >= kernelBase { kernelSites.append(Site(label: "rip", address: v, isReturn: false)) } else { userRIP = v }
            }
            if t.hasPrefix("#"), let sp = t.firstIndex(of: " "), t[t.index(after: sp)...].hasPrefix("0x"),
               let v = UInt64(t[t.index(sp, offsetBy: 3)...].prefix { $0.isHexDigit }, radix: 16) {
                let label = String(t[..<sp])
                if label != "#0" { kernelSites.append(Site(label: label, address: v, isReturn: true)) }
            }
        }
        guard let symbolizer = tool("llvm-symbolizer") else { return nil }
        var out = ["sprig: the crash report's addresses, named with the kernel's ELF (a ring-3 rip: root's):"]
        if !kernelSites.isEmpty, let named = symbolize(kernelSites, elf: products.kernelELF, symbolizer: symbolizer) {
            out += named
        }
        if let rip = userRIP, let program = rootProgram {
            let name = program.hasSuffix(".bin") ? String(program.dropLast(4)) : program
            if products.partitions[name] != nil {
                let elf = products.partitionELF(name)
                if let named = symbolize([Site(label: "rip in \(name).elf", address: rip, isReturn: false)], elf: elf,
                                         symbolizer: symbolizer) {
                    out += named
                }
            }
        }
        return out.count > 1 ? out.joined(separator: "\n") + "\n" : nil
    }

    static func tool(_ name: String) -> URL? {
        if let t = try? Toolchain.find(), FileManager.default.isExecutableFile(atPath: t.tool(name).path) { return t.tool(name) }
        return findExecutable(name)
    }

    /// `label  0xADDR  function at file:line`, one line per site; inlined frames follow as
    /// "inlined into" lines.
    static func symbolize(_ sites: [Site], elf: URL, symbolizer: URL) -> [String]? {
        let args = ["--obj=\(elf.path)", "--no-demangle", "--inlining"] + sites.map { "0x" + String($0.isReturn ? $0.address - 1 : $0.address, radix: 16) }
        guard let text = try? run(symbolizer, args) else { return nil }
        // One block per address (pairs of lines: function, file:line:column), blank-line separated.
        let blocks = text.components(separatedBy: "\n\n").map { $0.split(separator: "\n").map(String.init) }.filter { !$0.isEmpty }
        guard blocks.count == sites.count else { return nil }
        let names = Set(blocks.flatMap { b in stride(from: 0, to: b.count, by: 2).map { b[$0] } })
        let demangled = demangle(Array(names))
        var out: [String] = []
        for (site, block) in zip(sites, blocks) {
            var i = 0
            while i + 1 < block.count {
                let function = demangled[block[i]] ?? block[i]
                var place = block[i + 1]
                // A project path from its Sources/ on.
                if let r = place.range(of: "/Sources/") { place = String(place[place.index(after: r.lowerBound)...]) }
                // file:line:column → file:line
                let parts = place.split(separator: ":", omittingEmptySubsequences: false)
                if parts.count >= 3 { place = parts.dropLast().joined(separator: ":") }
                let head = i == 0 ? "  \(site.label + String(repeating: " ", count: max(0, 4 - site.label.count))) 0x\(String(site.address, radix: 16))  "
                                  : "       inlined into  "
                out.append(head + "\(function) at \(place)")
                i += 2
            }
        }
        return out
    }

    /// Swift names (`$e…`, `$s…`) demangled by swift-demangle; others stay as they are.
    static func demangle(_ names: [String]) -> [String: String] {
        let swift = names.filter { $0.hasPrefix("$e") || $0.hasPrefix("$s") || $0.hasPrefix("_$s") }
        guard !swift.isEmpty, let d = tool("swift-demangle"),
              let text = try? run(d, ["--compact", "--simplified"] + swift) else { return [:] }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var map: [String: String] = [:]
        for (n, l) in zip(swift, lines) where !l.isEmpty { map[n] = l }
        return map
    }
}
