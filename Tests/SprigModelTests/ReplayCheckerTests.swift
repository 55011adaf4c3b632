/// The replay's request checker (`SprigModel/Replay/Replayer.swift`) on its own: the model's
/// platform requests held against recorded ones, strictly, and with the one tolerance it has —
/// loads made by one side only when the kernel and the model differ in assertions. The replay of
/// real traces is in Tests/BootTests/ReplayBootTests.swift.
import SprigABI
import SprigCore
@testable import SprigModel
import Testing

@Suite("Replay: the request checker")
struct ReplayCheckerTests {
    let memory: SimulatedMemory = {
        let m = SimulatedMemory(pages: 4)
        m.store(PhysicalAddress(0x1000), 5)
        m.store(PhysicalAddress(0x1008), 6)
        return m
    }()

    func checker(_ expected: [PlatformRequest], _ tolerance: RequestChecker.Tolerance = .none) -> RequestChecker {
        RequestChecker(expected: expected, memory: memory, tolerance: tolerance)
    }

    @Test("the same requests in the same order pass; a different value, address, order or count does not")
    func strict() {
        let expected: [PlatformRequest] = [.load(0x1000, value: 5), .store(0x1010, value: 7), .zeroPage(0x2000)]
        var c = checker(expected)
        c.willLoad(PhysicalAddress(0x1000)); c.didStore(PhysicalAddress(0x1010), 7); c.didZeroPage(PhysicalAddress(0x2000))
        c.finish()
        #expect(c.mismatch == nil && c.next == 3)

        c = checker(expected)
        c.willLoad(PhysicalAddress(0x1000)); c.didStore(PhysicalAddress(0x1010), 8)
        #expect(c.mismatch?.what == "request #1 of the event")
        #expect(c.mismatch?.model == "store 0x1010 := 0x8")

        c = checker(expected)
        c.willLoad(PhysicalAddress(0x1008))
        #expect(c.mismatch?.machine == "load 0x1000 → 0x5" && c.mismatch?.model == "load 0x1008 → 0x6")

        c = checker(expected)
        c.didStore(PhysicalAddress(0x1010), 7)
        #expect(c.mismatch != nil)

        c = checker([.load(0x1000, value: 5)])
        c.willLoad(PhysicalAddress(0x1000)); c.willLoad(PhysicalAddress(0x1000))
        #expect(c.mismatch?.machine == "no more requests")
    }

    @Test("a model with assertions the kernel lacked may load more, and only load")
    func modelExtraLoads() {
        let expected: [PlatformRequest] = [.load(0x1000, value: 5), .store(0x1010, value: 7)]
        var c = checker(expected, .modelExtraLoads)
        c.willLoad(PhysicalAddress(0x1008)); c.willLoad(PhysicalAddress(0x1000)); c.willLoad(PhysicalAddress(0x1008))
        c.didStore(PhysicalAddress(0x1010), 7); c.willLoad(PhysicalAddress(0x1000))
        c.finish()
        #expect(c.mismatch == nil && c.next == 2 && c.skipped == 3)

        c = checker(expected, .modelExtraLoads)
        c.willLoad(PhysicalAddress(0x1000)); c.didStore(PhysicalAddress(0x1018), 7)
        #expect(c.mismatch != nil, "an extra or different store is never let through")

        c = checker(expected)
        c.willLoad(PhysicalAddress(0x1008))
        #expect(c.mismatch != nil, "without the tolerance an extra load is a divergence")
    }

    @Test("a kernel with assertions the model lacks may have loaded more, and only loaded")
    func machineExtraLoads() {
        let expected: [PlatformRequest] = [.load(0x1008, value: 6), .load(0x1000, value: 5), .store(0x1010, value: 7), .load(0x1008, value: 6)]
        var c = checker(expected, .machineExtraLoads)
        c.willLoad(PhysicalAddress(0x1000)); c.didStore(PhysicalAddress(0x1010), 7)
        c.finish()
        #expect(c.mismatch == nil && c.next == 4 && c.skipped == 2)

        c = checker([.store(0x1018, value: 1), .store(0x1010, value: 7)], .machineExtraLoads)
        c.didStore(PhysicalAddress(0x1010), 7)
        #expect(c.mismatch != nil, "a store the model did not make is never let through")
    }

    @Test("a saved context that differs is reported by its first differing word")
    func savedContextWord() {
        let place = ContextPlace(first: 0x1000, firstBytes: UInt64(ContextLayout.size), second: 0x1000)
        var machineWords = (0..<TraceFormat.contextWords).map { memory.load(PhysicalAddress(place.word(at: 8 * $0))) }
        let model = PlatformRequest.saveContext(place, flags: 0, returnValue: 0, words: machineWords)
        machineWords[2] ^= 1
        let machine = PlatformRequest.saveContext(place, flags: 0, returnValue: 0, words: machineWords)
        #expect(RequestChecker.difference(machine, model).contains("context word at offset 16 (0x1010)"))
    }
}
