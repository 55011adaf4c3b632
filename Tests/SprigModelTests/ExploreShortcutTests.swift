/// The explorer's shortcuts give what the long way gives: a state captured from the pages
/// written since the last restore is the state captured from every page, the abstraction
/// of a memory nothing was stored to since, with the CPU's part taken again, is the whole
/// abstraction, what a walk keeps of the state it is in is what reading it again gives, and
/// the menu's removal of repeats is the plain one.
import SprigABI
import SprigCore
@testable import SprigModel
import Testing

@Suite struct ExploreShortcutTests {
    /// From the tree start and from each state one step away, every step of the menu: the
    /// capture that compares only written pages equals the one that compares every page.
    @Test func captureOfWrittenPagesIsTheWholeCapture() {
        let system = ExplorationStart.tree.makeSystem(pages: 160)
        let store = StateStore(system)
        let domain = Domain(DomainConfiguration(vidtSlots: 1, maxPartitions: 3))
        var states = [store.loaded]
        var compared = 0, differing = 0
        for depth in 0..<2 {
            var next: [StateImage] = []
            for image in states {
                store.restore(image, into: system)
                for step in domain.steps(for: system) {
                    store.restore(image, into: system)
                    step.prepare(system)
                    _ = step.perform(on: system)
                    let written = store.capture(system)
                    let whole = store.capture(system, everyPage: true)
                    #expect(written.indices == whole.indices && written.values == whole.values, "\(step)")
                    #expect(written.key == whole.key, "\(step)")
                    compared += 1
                    if written.key != image.key { differing += 1 }
                    if system.crashed || system.poweredOff != nil {
                        system.restartAfterStop()
                        continue
                    }
                    if depth == 0 && next.count < 12 && !next.contains(where: { $0.key == written.key }) { next.append(written) }
                }
            }
            states = next
        }
        #expect(compared > 200 && differing > 100, "\(compared) compared, \(differing) changed the state")
    }

    /// For every step of the tree start's menu: when no word was stored, the state's
    /// abstraction with the CPU's part taken again is `Abstraction.of` the system; when words
    /// were stored it is not (so the comparison sees a difference when there is one).
    @Test func abstractionOfUnchangedMemoryIsTheWholeAbstraction() {
        let domain = Domain(DomainConfiguration(vidtSlots: 1, maxPartitions: 3))
        let system = ExplorationStart.tree.makeSystem(pages: 160)
        let store = StateStore(system)
        let start = store.loaded
        let known = Abstraction.of(system)
        var unchanged = 0, changed = 0
        for step in domain.steps(for: system) {
            store.restore(start, into: system)
            step.prepare(system)
            guard !system.memory.wroteAnyPage else { continue }
            let before = Abstraction.of(system, sameMemoryAs: known)
            let sameBefore = before == Abstraction.of(system)
            #expect(sameBefore, "before \(step)")
            _ = step.perform(on: system)
            let after = Abstraction.of(system)
            let shortcut = Abstraction.of(system, sameMemoryAs: before)
            if system.memory.wroteAnyPage {
                if shortcut != after { changed += 1 }
            } else {
                unchanged += 1
                let sameAfter = shortcut == after
                #expect(sameAfter, "after \(step)")
            }
            // The store restores what it captured last.
            _ = store.capture(system)
            if system.crashed || system.poweredOff != nil { system.restartAfterStop() }
        }
        #expect(unchanged > 20 && changed > 10, "\(unchanged) steps stored nothing, \(changed) changed the abstraction")
    }

    /// Along a walk of 1,000 steps from the tree start (restarts included), after every step
    /// what the walk keeps of the state it is in (`Session.Known`: tree, menu, the memory's
    /// abstraction) is what reading the state again gives.
    @Test func walkKeepsWhatReadingTheStateGives() {
        var c = Explorer.Configuration()
        c.domain = DomainConfiguration(vidtSlots: 1, maxPartitions: 3)
        var session = Session(c)
        let startKnown = session.know()
        var known = startKnown
        var image = session.start
        var rng = SplitMix64(seed: 11)
        var kept = 0, changed = 0, restarts = 0, abstractions = 0
        for n in 0..<1000 {
            let step = known.menu[Int(rng.next() % UInt64(known.menu.count))]
            let result = session.walk(step, before: image, known: &known)
            if session.stopped {
                session.replaceStoppedSystem()
                image = session.start
                known = startKnown
                restarts += 1
            } else {
                image = result.image
                if result.memoryChanged { changed += 1 } else { kept += 1 }
            }
            let read = session.know()
            #expect(Self.render(known.tree) == Self.render(read.tree), "tree after step \(n), \(step)")
            #expect(known.menu == read.menu, "menu after step \(n), \(step)")
            if let a = known.abstraction {
                abstractions += 1
                let same = Abstraction.of(session.system, sameMemoryAs: a) == read.abstraction
                #expect(same, "abstraction after step \(n), \(step)")
            }
        }
        #expect(kept > 100 && changed > 100 && restarts > 10 && abstractions > 500,
                "\(kept) kept, \(changed) changed, \(restarts) restarts, \(abstractions) abstractions compared")
    }

    /// The menu's removal of repeats keeps the first of each step, in order, as comparing
    /// every step with every kept one does: over the menus of the tree start and of each state
    /// one step away, each repeated and reversed.
    @Test func uniqueIsThePlainRemovalOfRepeats() {
        let system = ExplorationStart.tree.makeSystem(pages: 160)
        let store = StateStore(system)
        let domain = Domain(DomainConfiguration(vidtSlots: 1, maxPartitions: 3))
        let start = store.loaded
        var menus = [domain.steps(for: system)]
        for step in menus[0] {
            store.restore(start, into: system)
            _ = step.apply(to: system)
            _ = store.capture(system)
            if system.crashed || system.poweredOff != nil {
                system.restartAfterStop()
                continue
            }
            menus.append(domain.steps(for: system))
        }
        var repeats = 0
        for menu in menus {
            let list = menu + menu.reversed() + menu.filter { if case .write = $0 { true } else { false } }
            var plain: [ExplorationStep] = []
            for s in list where !plain.contains(s) { plain.append(s) }
            #expect(Domain.unique(list) == plain)
            #expect(plain == menu)
            repeats += list.count - plain.count
        }
        #expect(menus.count > 50 && repeats > 1000, "\(menus.count) menus, \(repeats) repeats")
    }

    /// Every field of a tree, its violations too.
    static func render(_ t: PartitionTree) -> String {
        let partitions = t.partitions.map { p in
            let leaves = p.leaves.map { "\($0.va) \($0.paddr) \($0.accessible) \($0.writable) \($0.executable) \($0.sh1) \($0.sh2)" }
            let config = p.configEntries.map { [$0.page, $0.va] } + [[]] + p.configPages.map { [$0.page, $0.va] }
            return "\(p.descriptor) \(p.parent ?? -1) \(leaves) \(p.tables) \(p.shadow1) \(p.shadow2) \(config) \(p.children)"
        }
        return (partitions + t.violations.map(\.description)).joined(separator: "\n")
    }
}
