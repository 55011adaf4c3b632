/// Guest-instruction samples for the benchmark partitions (`sprig bench`, docs/bench.md): up to
/// 16 counter deltas of one path, printed as `bench: <key> <median> <min> <max>`.
/// Up to 16 samples of one path.
public struct Samples {
    public var values: InlineArray<16, UInt64> = .init(repeating: 0)
    public var count = 0
    public init() {}
    public mutating func add(_ v: UInt64) { if count < 16 { values[count] = v; count += 1 } }

    /// Prints `bench: <key><suffix> <median> <min> <max>`, each minus `baseline`; nothing
    /// without samples.
    public func report(_ key: StaticString, suffix: UInt64? = nil, baseline: UInt64) {
        guard count > 0 else { return }
        var sorted = values
        var i = 1
        while i < count {
            var j = i
            while j > 0 && sorted[j - 1] > sorted[j] { let t = sorted[j]; sorted[j] = sorted[j - 1]; sorted[j - 1] = t; j -= 1 }
            i += 1
        }
        var out = Output()
        out.write("bench: ")
        out.write(key)
        if let suffix { out.decimal(suffix) }
        for v in [sorted[count / 2], sorted[0], sorted[count - 1]] {
            out.write(" ")
            out.decimal(v >= baseline ? v - baseline : 0)
        }
        out.byte(10)
    }

    /// The cost of measuring: the least of 16 back-to-back counter read pairs.
    public static func counterBaseline() -> UInt64 {
        var least = UInt64.max
        var k = 0
        while k < 16 {
            let a = readTSC()
            let b = readTSC()
            least = min(least, b - a)
            k += 1
        }
        return least
    }
}
