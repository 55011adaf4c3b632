/// `sprig bench --peer linux` (Sources/SprigTool/Peer.swift): the init's output parser, the rows
/// derived from it, the side-by-side table and its ratios, the initramfs archive, and one boot
/// of Debian's kernel with the init under the bench's QEMU settings.
import Foundation
import SprigTool
import Testing

@Suite("Linux peer")
struct PeerTests {
    /// A console as the init leaves it: kernel messages, CRLF, a line split by a kernel message.
    static let console = """
        [    0.000000] Linux version 6.1.0-57-amd64
        peer: kernel 6.1.0-57-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3\r
        peer: pti on
        peer: mitigation meltdown: Not affected
        peer: mitigation spectre_v2: Mitigation: Retpolines
        peer: baseline 3
        peer: syscall.getppid 331 331 331 1001
        peer: syscall.invalid 298 298 298 1001
        peer: pipe.write_read 2362 2362 12353 1001
        [    1.234567] random: crng init done peer: pipe.round_trip 10580 10578 20995 1001
        peer: bogus 1 2
        peer: inverted 5 9 1 10
        peer: yield.dropped 3044
        peer: yield.round_trip 4459 4459 68847 1001
        peer: done
        """

    @Test("the parser reads every peer line, kernel messages and CRLF around them, and refuses malformed ones")
    func parsesInitOutput() {
        let r = LinuxPeer.parse(Self.console.replacingOccurrences(of: "\r", with: ""))
        #expect(r.kernel == "6.1.0-57-amd64 #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-3")
        #expect(r.pti == true)
        #expect(r.mitigations == ["meltdown: Not affected", "spectre_v2: Mitigation: Retpolines"])
        #expect(r.samples["syscall.getppid"] == PeerSample(median: 331, min: 331, max: 331, count: 1001))
        #expect(r.samples["pipe.write_read"] == PeerSample(median: 2362, min: 2362, max: 12353, count: 1001))
        #expect(r.samples["pipe.round_trip"] == PeerSample(median: 10580, min: 10578, max: 20995, count: 1001))
        // Four fields, and a median below its min: neither is a measurement.
        #expect(r.samples["bogus"] == nil)
        #expect(r.samples["inverted"] == nil)
        #expect(r.samples["yield.round_trip"] == PeerSample(median: 4459, min: 4459, max: 68847, count: 1001))
        #expect(r.droppedYields == 3044)
        #expect(r.samples["syscall.invalid"] == PeerSample(median: 298, min: 298, max: 298, count: 1001))
        #expect(r.samples.count == 5)
        #expect(r.done && r.error == nil)

        let failed = LinuxPeer.parse("peer: pti off\npeer: error: fork\n")
        #expect(failed.error == "fork" && !failed.done && failed.pti == false)
    }

    @Test("rows: the measured keys as linux.*, the one-way switch as half the round trip, net of the pipe's median")
    func derivesRows() throws {
        let on = LinuxPeer.parse(Self.console)
        var off = on
        off.samples["syscall.getppid"]!.median = 323
        off.samples["pipe.round_trip"]!.median = 10548
        off.samples["pipe.write_read"]!.median = 2346
        off.samples["yield.round_trip"]!.median = 4443
        let rows = try LinuxPeer.rows(on: on, off: off)
        let byKey = Dictionary(uniqueKeysWithValues: rows.map { ($0.key, $0) })
        #expect(rows.map(\.key) == ["linux.syscall.getppid", "linux.syscall.invalid", "linux.pipe.write_read", "linux.pipe.round_trip",
                                    "linux.yield.round_trip", "linux.switch.sched_yield", "linux.switch.one_way",
                                    "linux.switch.one_way_net"])
        let yielded = try #require(byKey["linux.switch.sched_yield"])
        #expect(yielded.median == 2229 && yielded.min == 2229 && yielded.max == 34423 && yielded.windowOffMedian == 2221)
        #expect(byKey["linux.syscall.getppid"]?.median == 331 && byKey["linux.syscall.getppid"]?.windowOffMedian == 323)
        let oneWay = try #require(byKey["linux.switch.one_way"])
        #expect(oneWay.median == 5290 && oneWay.min == 5289 && oneWay.max == 10497)
        #expect(oneWay.windowOffMedian == 5274)
        let net = try #require(byKey["linux.switch.one_way_net"])
        // Each column halved, less the median of write_read (2362 on, 2346 off).
        #expect(net.median == 5290 - 2362 && net.min == 5289 - 2362 && net.max == 10497 - 2362)
        #expect(net.windowOffMedian == 5274 - 2346)
        #expect(rows.allSatisfy { $0.target == nil })

        // A pipe cost above half the round trip cannot make the count wrap around.
        var odd = on
        odd.samples["pipe.write_read"]!.median = 9000
        #expect(try LinuxPeer.rows(on: odd, off: nil).first { $0.key == "linux.switch.one_way_net" }?.median == 0)

        var missing = on
        missing.samples["pipe.round_trip"] = nil
        #expect(throws: ToolError.self) { try LinuxPeer.rows(on: missing, off: nil) }
    }

    @Test("the side-by-side table: Sprig's null service and slower one-way yield against Linux, with ratios")
    func comparesWithSprig() throws {
        func m(_ key: String, _ median: UInt64, off: UInt64?) -> BenchMeasurement {
            var b = Bench.parse("bench: \(key) \(median) \(median) \(median)")[0]
            b.windowOffMedian = off
            return b
        }
        let sprig = [m("service.null", 187, off: 183), m("yield.parent_to_child", 391, off: 393),
                     m("yield.child_to_parent", 395, off: 390), m("service.addVAddr", 729, off: 725)]
        let linux = [m("linux.syscall.getppid", 374, off: 366), m("linux.syscall.invalid", 300, off: 290),
                     m("linux.switch.sched_yield", 2229, off: 2221),
                     m("linux.switch.one_way", 5290, off: 5274), m("linux.switch.one_way_net", 2928, off: nil)]
        let all = LinuxPeer.comparison(sprig + linux)
        #expect(all.map(\.operation) == ["null call: unknown number / invalid syscall", "null call: unknown number / getppid",
                                         "one-way switch: yield / sched_yield",
                                         "one-way switch: pipe, its cost taken off", "one-way switch: pipe, its cost included"])
        #expect(all[0].sprig == 187 && all[0].linux == 300 && all[0].sprigOff == 183 && all[0].linuxOff == 290)
        #expect(all[2].sprig == 395 && all[2].linux == 2229 && all[2].linuxOff == 2221)
        let rows = [all[1], all[3], all[4]]
        #expect(rows[0].sprig == 187 && rows[0].linux == 374 && rows[0].sprigOff == 183 && rows[0].linuxOff == 366)
        // The slower direction on each setting.
        #expect(rows[1].sprig == 395 && rows[1].sprigOff == 393 && rows[1].linux == 2928 && rows[1].linuxOff == nil)
        #expect(PeerComparison.ratio(374, 187) == "2.00×")
        #expect(PeerComparison.ratio(2928, 395) == "7.41×")
        #expect(PeerComparison.ratio(nil, 393) == "-" && PeerComparison.ratio(5, 0) == "-")

        let table = LinuxPeer.comparisonTable(rows).split(separator: "\n").map(String.init)
        #expect(table.count == 4)
        #expect(table[1].hasPrefix("null call: unknown number / getppid") && table[1].contains(" 187 ") && table[1].contains(" 374 ")
                && table[1].contains("2.00×") && table[1].contains(" 183 ") && table[1].contains(" 366 ")
                && table[1].hasSuffix("2.00×"))
        #expect(table[2].contains("7.41×") && table[2].hasSuffix("-"))

        #expect(LinuxPeer.comparisonTable(all).split(separator: "\n").count == 6)
        // Without Linux rows (no --peer) there is nothing to set side by side.
        #expect(LinuxPeer.comparison(sprig).isEmpty)
    }

    @Test("the image package named by apt-cache depends")
    func imagePackage() throws {
        let out = "linux-image-amd64\n  Depends: linux-image-6.1.0-57-amd64\n"
        #expect(try LinuxPeer.imagePackage(dependsOutput: out) == "linux-image-6.1.0-57-amd64")
        #expect(throws: ToolError.self) { try LinuxPeer.imagePackage(dependsOutput: "linux-image-amd64\n") }
    }

    @Test("the initramfs is a newc archive: headers, names and data 4-byte aligned, device node, trailer")
    func cpioNewc() throws {
        let payload = Data("#!x\n".utf8) + Data([1, 2, 3])
        let a = [UInt8](Cpio.initramfs(init: payload))
        #expect(a.count % 4 == 0)
        // Walks the archive as the kernel's unpacker does.
        var at = 0, names: [String] = [], modes: [UInt32] = []
        var data: [String: [UInt8]] = [:], devices: [String: (UInt32, UInt32)] = [:]
        func field(_ i: Int) -> UInt32 { UInt32(String(decoding: a[(at + 6 + 8 * i)..<(at + 14 + 8 * i)], as: UTF8.self), radix: 16)! }
        while true {
            #expect(String(decoding: a[at..<(at + 6)], as: UTF8.self) == "070701")
            let mode = field(1), size = Int(field(6)), nameSize = Int(field(11))
            let name = String(decoding: a[(at + 110)..<(at + 110 + nameSize - 1)], as: UTF8.self)
            #expect(a[at + 110 + nameSize - 1] == 0)
            let dataStart = (at + 110 + nameSize + 3) & ~3
            if name == "TRAILER!!!" { #expect(dataStart == a.count); break }
            names.append(name); modes.append(mode)
            data[name] = Array(a[dataStart..<(dataStart + size)])
            devices[name] = (field(9), field(10))
            at = (dataStart + size + 3) & ~3
        }
        #expect(names == ["dev", "dev/console", "init"])
        #expect(modes == [0o040755, 0o020600, 0o100755])
        #expect(data["init"] == [UInt8](payload))
        #expect(devices["dev/console"]! == (5, 1))
    }

    /// A checkout-shaped directory whose PATH has a fake apt: apt-cache names an image package,
    /// apt-get fails as it does without the network; no gcc.
    @Test("without the network, without gcc, or with another peer: one line saying what is wrong, non-zero exit")
    func peerErrors() throws {
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("sprig-peer-\(getpid())")
        defer { try? fm.removeItem(at: root) }
        let bin = root.appendingPathComponent("bin"), checkout = root.appendingPathComponent("checkout")
        for d in [bin, checkout.appendingPathComponent("Sources/SprigX86"), checkout.appendingPathComponent("tools/peer")] {
            try fm.createDirectory(at: d, withIntermediateDirectories: true)
        }
        try Data().write(to: checkout.appendingPathComponent("Package.swift"))
        try fm.copyItem(at: Boot.project.path(LinuxPeer.initSource), to: checkout.appendingPathComponent(LinuxPeer.initSource))
        let scripts = [
            "apt-cache": "echo linux-image-amd64; echo '  Depends: linux-image-9.9.9-1-amd64'",
            "apt-get": "echo \"E: Failed to fetch linux-image-9.9.9-1-amd64.deb  Temporary failure resolving 'deb.debian.org'\" >&2; exit 100",
            "dpkg-deb": "exit 2", "tar": "exit 2",
        ]
        for (name, body) in scripts {
            let u = bin.appendingPathComponent(name)
            try Data("#!/bin/sh\n\(body)\n".utf8).write(to: u)
            try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: u.path)
        }
        let env = ["PATH": bin.path]

        let offline = try CLI.run(["bench", "--peer", "linux"], environment: env, in: checkout)
        #expect(offline.status == 1, "\(offline.output)")
        #expect(offline.output.contains("downloading linux-image-9.9.9-1-amd64 with apt-get download"), "\(offline.output)")
        let offlineError = offline.output.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        #expect(offlineError.count == 1 && offlineError[0].contains("apt-get download linux-image-9.9.9-1-amd64 failed (no network")
                && offlineError[0].contains("Temporary failure resolving"), "\(offline.output)")

        // A kernel already in the cache: no download; the init needs gcc, which PATH lacks.
        let cache = checkout.appendingPathComponent(".build/peer/linux")
        try fm.createDirectory(at: cache, withIntermediateDirectories: true)
        try Data("not a kernel".utf8).write(to: cache.appendingPathComponent("vmlinuz-9.9.9-1-amd64"))
        let noCompiler = try CLI.run(["bench", "--peer", "linux"], environment: env, in: checkout)
        #expect(noCompiler.status == 1, "\(noCompiler.output)")
        #expect(!noCompiler.output.contains("downloading"), "\(noCompiler.output)")
        #expect(noCompiler.output.contains("Error: gcc is missing") && noCompiler.output.contains("make peer-tools"), "\(noCompiler.output)")

        let other = try CLI.run(["bench", "--peer", "bsd"])
        #expect(other.status == 64 && other.output.contains("the only peer is linux"), "\(other.output)")
        #expect(other.output.split(separator: "\n").count == 1, "\(other.output)")
    }

    /// Debian's kernel with the init, once (`pti=on`): the download is cached in .build/peer, so
    /// only the first run needs the network, and fails with apt-get's reason when there is none.
    @Test("Debian's Linux boots the peer init under -icount and reports every measurement")
    func linuxBoots() throws {
        let prepared = try LinuxPeer.prepare(Boot.project) { _ in }
        let report = try LinuxPeer.boot(prepared, commandLine: LinuxPeer.isolationOn, timeout: 240)
        #expect(report.kernel?.hasPrefix(prepared.release) == true)
        #expect(report.pti == true)
        let rows = try LinuxPeer.rows(on: report, off: nil)
        let byKey = Dictionary(uniqueKeysWithValues: rows.map { ($0.key, $0) })
        // Instruction counts: a null system call is some hundreds, a switch through a pipe more
        // than a system call and more than the write and read without a switch.
        let null = try #require(byKey["linux.syscall.getppid"]).median
        #expect(null > 50 && null < 5000)
        #expect(byKey["linux.pipe.write_read"]!.median > null)
        // An unknown number is refused before any system call runs: less than getppid.
        #expect(byKey["linux.syscall.invalid"]!.median < null)
        #expect(byKey["linux.switch.one_way"]!.median > byKey["linux.pipe.write_read"]!.median)
        #expect(byKey["linux.switch.one_way_net"]!.median > 0)
        // A switch by sched_yield costs more than a null call; some rounds may not switch.
        #expect(byKey["linux.switch.sched_yield"]!.median > null)
        #expect(report.droppedYields != nil)
        // Under -icount the null call does not depend on the host: its min and median agree.
        #expect(byKey["linux.syscall.getppid"]!.min == null)
    }
}
