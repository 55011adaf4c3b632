/// `sprig bench` end to end: the bench system boots under -icount, reports every path, and the
/// counts are instruction counts (deterministic: min = max where the path does not depend on
/// the timer). The targets themselves are checked by `sprig bench --check`, not here.
import SprigTool
import Testing

@Suite("Benchmark system")
struct BenchBootTests {
    @Test("the bench system reports every path, in guest instructions, deterministically")
    func benchReportsEveryPath() throws {
        let (_, products) = try Boot.products(.release)
        let ms = try Bench.run(products, variant: .release)
        #expect(Set(ms.map(\.key)) == Set(Bench.expectedKeys + Bench.threadsKeys))
        for m in ms {
            #expect(m.median > 0 && m.min <= m.median && m.median <= m.max, "\(m.key)")
            if m.key.hasPrefix("yield.") || m.key.hasPrefix("service.") {
                #expect(m.min == m.max, "\(m.key) should not vary under icount: \(m.min)…\(m.max)")
            }
        }
        // Every path measured again with the entry window off (skim=off): the window's cost is
        // its CR3 loads and stack switch, a few instructions each way.
        for m in ms {
            let off = try #require(m.windowOffMedian, "\(m.key) has no skim=off number")
            #expect(off > 0, "\(m.key)")
        }
        let byKey = Dictionary(uniqueKeysWithValues: ms.map { ($0.key, $0) })
        // Under -icount a CR3 load is one instruction: on and off differ by a handful (off
        // writes CR3 through a call in the kernel, on stores it for the exit path).
        for k in ["yield.parent_to_child", "yield.child_to_parent", "irq.to_root_handler"] {
            let on = byKey[k]!.median, off = byKey[k]!.windowOffMedian!
            #expect(on < off + 30 && off < on + 30, "\(k): window on \(on), off \(off)")
        }
        // A round trip is two one-way yields plus the child's few instructions of bookkeeping.
        let trip = byKey["yield.round_trip"]!.median
        let oneWay = byKey["yield.parent_to_child"]!.median + byKey["yield.child_to_parent"]!.median
        #expect(trip >= oneWay && trip < oneWay + 100)
        #expect(byKey["yield.parent_to_child"]?.target == 200 && byKey["service.null"]?.target == 100)
        // The cold yields (a page neither yield uses given to the child and taken back) hit the
        // plans the caches kept: the warm cost (docs/yield.md, "Leaf writes").
        #expect(byKey["yield.parent_to_child_cold"]!.median == byKey["yield.parent_to_child"]!.median)
        #expect(byKey["yield.child_to_parent_cold"]!.median == byKey["yield.child_to_parent"]!.median)
        // The missed yields (every entry ended by a partition created and deleted) run the
        // whole chain and its walks.
        #expect(byKey["yield.parent_to_child_miss"]!.median > byKey["yield.parent_to_child"]!.median + 200)
        #expect(byKey["yield.child_to_parent_miss"]!.median > byKey["yield.child_to_parent"]!.median + 100)
        // A thread switch inside a partition: its cli and sti are two setIntState calls,
        // so it costs more than one yield and far less than a tick's trip through root.
        #expect(byKey["threads.switch"]!.median > byKey["service.setIntState"]!.median * 2)
        #expect(byKey["threads.tick_to_handler"]!.median > byKey["irq.to_root_handler"]!.median + byKey["yield.parent_to_child"]!.median)
        let json = try Bench.json(ms)
        #expect(json.contains("\"unit\" : \"guest instructions\""))
    }
}
