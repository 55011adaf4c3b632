/// Options of `sprig run` that only some systems take (`--seed`, `--calls` for `fuzz`), checked
/// here and turned into the kernel command line root reads from its boot-info page
/// (`fuzz.seed=S fuzz.calls=N`; Sources/SprigUser/BootInfo.swift parses it).
public enum SystemOption: String, Sendable, CaseIterable {
    case seed
    case calls

    /// The campaign sizes root accepts (systems/fuzz/fuzz: `Defaults.maxCalls`).
    public static let callsRange: ClosedRange<UInt64> = 1...100_000_000
}

public enum SystemArguments {
    /// The command-line words for `values` (nil: not given) on `system`, after checking that the
    /// system takes each given option and that each value is one it accepts.
    /// - Throws: `ToolError` naming the option, the value and what is accepted.
    public static func commandLine(for system: SystemDescription, _ values: [SystemOption: String]) throws -> String {
        var words: [String] = []
        for option in SystemOption.allCases {
            guard let text = values[option] else { continue }
            guard system.options.contains(option) else {
                let takers = Systems.all.filter { $0.options.contains(option) }.map(\.name).joined(separator: ", ")
                throw ToolError("--\(option.rawValue) applies only to the systems that take it (\(takers)); the \(system.name) system takes none")
            }
            guard let value = parse(text) else {
                throw ToolError("--\(option.rawValue) must be an unsigned 64-bit number (decimal, or hexadecimal with 0x), not '\(text)'")
            }
            if option == .calls && !SystemOption.callsRange.contains(value) {
                throw ToolError("--calls must be between \(SystemOption.callsRange.lowerBound) and \(SystemOption.callsRange.upperBound), not \(text)")
            }
            words.append("\(system.name).\(option.rawValue)=\(value)")
        }
        return words.joined(separator: " ")
    }

    /// A decimal or 0x-hexadecimal UInt64, nil otherwise.
    public static func parse(_ text: String) -> UInt64? {
        let lower = text.lowercased()
        if lower.hasPrefix("0x") { return lower.count > 2 ? UInt64(lower.dropFirst(2), radix: 16) : nil }
        return UInt64(text)
    }

    /// Seconds `sprig run` waits for a system by default: 60, and for a fuzz campaign enough for
    /// `calls` at 50 calls per second (measured about 200 under TCG on a shared core).
    public static func defaultTimeout(calls: UInt64?) -> Double {
        guard let calls else { return 60 }
        return 60 + Double(calls) / 50
    }
}
