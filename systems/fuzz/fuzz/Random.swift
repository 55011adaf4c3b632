/// The campaign's only source of choices: SplitMix64 (Steele, Lea, Flood 2014) from the seed.
/// Every choice root makes comes from here and from the kernel's answers, so one seed is one
/// campaign: the same calls with the same arguments, in the same order, on every run.
struct Random {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    mutating func below(_ n: UInt64) -> UInt64 { n == 0 ? 0 : next() % n }

    /// True `percent` times in a hundred.
    mutating func chance(_ percent: UInt64) -> Bool { below(100) < percent }

    /// One of `choices`, each as likely.
    mutating func pick(_ choices: InlineArray<8, UInt64>, count: Int) -> UInt64 {
        choices[Int(below(UInt64(count)))]
    }
}

/// A word that depends on the seed and `x` only (a canary, a context's filler).
func mix(_ seed: UInt64, _ x: UInt64) -> UInt64 {
    var r = Random(seed: seed ^ (x &* 0xD1B5_4A32_D192_ED03))
    return r.next()
}
