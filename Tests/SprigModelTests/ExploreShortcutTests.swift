/// The explorer's shortcuts give what the long way gives: a state captured from the pages
/// written since the last restore is the state captured from every page, and the abstraction
/// of a memory nothing was stored to since, with the CPU's part taken again, is the whole
/// abstraction.
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
}
