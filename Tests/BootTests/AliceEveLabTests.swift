/// docs/labs/alice-eve.md: each lab's reference answer passes its test.
import Foundation
import SprigABI
import SprigCore
import SprigModel
import SprigTool
import Testing

@Suite("alice-eve labs: the reference answers")
struct AliceEveLabTests {
    /// Lines of Alice and of Eve after Eve's loop stage (the attack stages: Eve counts and yields).
    static func linesAfterLoop(_ output: String) -> (alice: Int, eve: Int) {
        guard let r = output.range(of: "root: Eve loops forever") else { return (0, 0) }
        let lines = output[r.upperBound...].split(separator: "\n")
        return (lines.filter { $0.hasPrefix("Hi, I'm Alice! #") }.count, lines.filter { $0.hasPrefix("Hi, I'm Eve! #") }.count)
    }

    @Test("lab 1: alice-eve.weight=3 gives Alice three turns for each of Eve's: three lines for each of hers")
    func weightedPlan() throws {
        // Ticks rare against yields (100 Hz), so that nearly every turn ends in a yield.
        let options = "alice-eve.exit=1 alice-eve.every=16 alice-eve.hz=100"
        let fair = try Boot.run("alice-eve", commandLine: options)
        let weighted = try Boot.run("alice-eve", commandLine: options + " alice-eve.weight=3")
        #expect(fair.ending == .status(0) && weighted.ending == .status(0), "\(weighted.output)")
        let f = Self.linesAfterLoop(fair.output), w = Self.linesAfterLoop(weighted.output)
        // Nine Eves, each saying hello once (after 16 turns) before her attack; Alice says hello
        // every 16 of her turns: about 9 lines round-robin, 27 under weight 3 (a tick that ends
        // one of her turns early costs her an iteration).
        #expect(f.eve == 9 && w.eve == 9, "\(f) \(w)")
        #expect(f.alice >= 6 && f.alice <= 12, "round-robin: \(f)")
        #expect(w.alice >= 22 && w.alice <= 30, "weight 3: \(w)")
    }

    @Test("lab 2: attacks 8 and 9 stop at the checks the answer names, with the status it names")
    func theChecksThatStopEve() throws {
        let m = ModelMachine(pages: 512, kernelImagePages: 8)
        let alice = m.makeChild(of: m.root, pages: 1)
        let eve = m.makeChild(of: m.root, pages: 6)
        // Attack 8: createPartition on kernel-half pages; the answer: the address check.
        let k: UInt64 = 0xFFFF_FFFF_8011_1000
        #expect(m.call(eve.descriptor, .createPartition, k, k + 0x1000, k + 0x2000, k + 0x3000, k + 0x4000).status == .kernelHalfAddress)
        #expect(try Boot.sourceLine(of: "guard va.isLowerHalf else { throw .kernelHalfAddress }", in: "Sources/SprigCore/Address.swift") > 0)
        // Attack 9: a yield to Alice by her name in root; the answer: check 4 of the chain.
        #expect(throws: Status.invalidChild) {
            _ = try Yield.resolve(m.memory, caller: m.descriptor(eve.descriptor), callee: UserAddress(alice.name),
                                  targetInterrupt: VIDTSlot(kernel: 0), saveIndex: VIDTSlot(kernel: 511))
        }
        #expect(try Boot.sourceLine(of: "guard let child = Partition.child(p, caller: caller, named: callee) else { throw .invalidChild }",
                                    in: "Sources/SprigCore/Yield.swift") > 0)
        #expect(m.checkAllProperties().isEmpty)
    }

    @Test("lab 3: root's ledger gives Eve Alice's console page, the kernel refused: the checker prints PAGE TABLE ERROR")
    func checkerCatchesTheLedger() throws {
        let r = try Boot.run("alice-eve", commandLine: "alice-eve.exit=1 alice-eve.every=64 alice-eve.lab3=1")
        #expect(r.ending == .status(3), "\(r.output)")
        #expect(r.output.contains("root: lab 3: giving Alice's console page to Eve as well: pageAlreadyGiven"))
        #expect(r.output.contains("is held by a partition root did not give it to"))
        #expect(r.output.contains("root: map checked: 1 PAGE TABLE ERRORs"))
    }
}
