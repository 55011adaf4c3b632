/// `Speculation.clamp` (Spectre v1): the index itself on the architectural
/// path, 0 for anything out of range (so a load the CPU runs ahead of the bounds check stays in
/// the table), and the service-number clamp maps no number onto another service.
import SprigABI
import SprigCore
import Testing

@Suite("Spectre v1 index clamp")
struct SpeculationTests {
    @Test("in range: the index; out of range (the bound, past it, the top bit, all ones): 0")
    func clamp() {
        for size: UInt64 in [1, 2, 3, 512, Service.numberLimit, 1 << 62] {
            for i in [0, 1, size / 2, size - 1] where i < size {
                #expect(Speculation.clamp(i, below: size) == i, "\(i) < \(size)")
            }
            for i: UInt64 in [size, size + 1, size * 2, 1 << 62, 1 << 63, UInt64.max - 1, .max] where i >= size {
                #expect(Speculation.clamp(i, below: size) == 0, "\(i) >= \(size)")
            }
        }
    }

    @Test("wrap: in range, the index; any index at all lands below the power-of-two size")
    func wrap() {
        for size: UInt64 in [1, 2, 512, VIDTIndex.count, 1 << 62] {
            for i in [0, 1, size / 2, size - 1] where i < size {
                #expect(Speculation.wrap(i, belowPowerOfTwo: size) == i, "\(i) < \(size)")
            }
            for i: UInt64 in [size, size + 1, size * 2 + 3, 1 << 63, UInt64.max - 1, .max] where i >= size {
                #expect(Speculation.wrap(i, belowPowerOfTwo: size) < size, "\(i) >= \(size)")
            }
        }
    }

    @Test("every service number is below the limit and 0 is no service: the clamp changes no answer")
    func serviceNumbers() {
        for s in Service.allCases { #expect(s.rawValue > 0 && s.rawValue < Service.numberLimit, "\(s)") }
        #expect(Service(rawValue: 0) == nil)
    }
}
