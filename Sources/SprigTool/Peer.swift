/// `sprig bench --peer linux`: Debian's Linux kernel measured by the same method as Sprig, in the
/// same run, so the two sets of numbers share one unit (guest instructions under QEMU's
/// `-icount shift=0,align=off`) and one table.
///
/// The kernel comes from the package `linux-image-amd64` depends on in the running Debian release
/// (`apt-get download`, then `dpkg-deb` and `tar` take out only `/boot/vmlinuz-*`); it is kept in
/// `.build/peer/linux/`, so the network is needed once. The init is `tools/peer/init.c`, built
/// with `gcc -static`; the initramfs is a cpio `newc` archive written here (`Cpio`). Linux boots
/// twice under the same QEMU settings as Sprig's bench system (TCG, `-cpu max`, one CPU): with
/// `pti=on` (page-table isolation, a CR3 load on every kernel entry and exit, like Sprig's entry
/// window) for the main columns, and with `pti=off` for the column Sprig fills with `skim=off`.
/// QEMU's `-cpu max` says it is not affected by Meltdown, so Linux's own default is `pti=off`.
///
/// The init prints `peer: <key> <median> <min> <max> <samples>` (init.c says what each key
/// measures); `rows` turns them into bench rows named `linux.*`, with the one-way switch derived
/// from the pipe round trip, and `comparison` sets them against Sprig's null service and one-way
/// yield with the ratios.
import Foundation
import SprigABI
#if canImport(Glibc)
import Glibc
#endif

/// One `peer:` line: guest instructions, the counter-read cost already subtracted.
public struct PeerSample: Equatable, Sendable {
    public var median: UInt64
    public var min: UInt64
    public var max: UInt64
    public var count: Int
    public init(median: UInt64, min: UInt64, max: UInt64, count: Int) {
        self.median = median; self.min = min; self.max = max; self.count = count
    }
}

/// What one boot of the peer's init printed.
public struct PeerReport: Equatable, Sendable {
    /// `uname -r` and `uname -v` of the booted kernel.
    public var kernel: String?
    /// Whether page-table isolation was on (the `pti` CPU flag).
    public var pti: Bool?
    /// The kernel's own lines from /sys/devices/system/cpu/vulnerabilities, `name: text`.
    public var mitigations: [String] = []
    public var samples: [String: PeerSample] = [:]
    /// The init's `peer: error:` line, when it stopped early.
    public var error: String?
    /// Rounds of the sched_yield ping-pong dropped because the other process did not run
    /// exactly once in them (the scheduler let the caller go on instead).
    public var droppedYields: Int?
    /// The init reached its last line.
    public var done = false
    public init() {}
}

/// A row of the side-by-side table: one operation, Sprig's and Linux's medians, both settings.
public struct PeerComparison: Equatable, Sendable {
    public var operation: String
    public var sprigKey: String
    public var linuxKey: String
    /// Entry window on (Sprig) and `pti=on` (Linux).
    public var sprig: UInt64
    public var linux: UInt64
    /// `skim=off` and `pti=off`, when measured.
    public var sprigOff: UInt64?
    public var linuxOff: UInt64?

    /// Linux's count over Sprig's, e.g. "1.77×"; "-" when Sprig's is zero or missing.
    public static func ratio(_ linux: UInt64?, _ sprig: UInt64?) -> String {
        guard let linux, let sprig, sprig > 0 else { return "-" }
        return String(format: "%.2f×", Double(linux) / Double(sprig))
    }
}

public enum LinuxPeer {
    public static let name = "linux"
    /// The Debian package whose dependency names the release's current kernel image package.
    public static let metapackage = "linux-image-amd64"
    /// The keys the init must report.
    public static let keys = ["syscall.getppid", "syscall.invalid", "pipe.write_read", "pipe.round_trip", "yield.round_trip"]
    /// The two boots: isolation on (the main columns) and off (the `skim=off` column).
    public static let isolationOn = "pti=on"
    public static let isolationOff = "pti=off"
    /// The source of the init, in the checkout.
    public static let initSource = "tools/peer/init.c"

    // MARK: The init's output

    /// The `peer:` lines of `output` (QEMU's console, kernel messages mixed in).
    public static func parse(_ output: String) -> PeerReport {
        var r = PeerReport()
        for raw in output.split(separator: "\n") {
            guard let at = raw.range(of: "peer: ") else { continue }
            // A kernel message can share the console line; the init's text is what follows.
            let line = raw[at.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
            if line == "done" { r.done = true; continue }
            if line.hasPrefix("error: ") { r.error = String(line.dropFirst(7)); continue }
            if line.hasPrefix("kernel ") { r.kernel = String(line.dropFirst(7)); continue }
            if line.hasPrefix("mitigation ") { r.mitigations.append(String(line.dropFirst(11))); continue }
            if line == "pti on" { r.pti = true; continue }
            if line == "pti off" { r.pti = false; continue }
            if line.hasPrefix("yield.dropped "), let n = Int(line.dropFirst(14)) { r.droppedYields = n; continue }
            let f = line.split(separator: " ")
            guard f.count == 5, let median = UInt64(f[1]), let lo = UInt64(f[2]), let hi = UInt64(f[3]),
                  let n = Int(f[4]), n > 0, lo <= median, median <= hi
            else { continue }
            r.samples[String(f[0])] = PeerSample(median: median, min: lo, max: hi, count: n)
        }
        return r
    }

    /// The bench rows of a boot with isolation on (`on`) and off (`off`, the `skim=off` column):
    /// the measured keys as `linux.<key>`, and three derived from them —
    /// `linux.switch.sched_yield`, the sched_yield round trip halved (a system call that gives
    /// the CPU to the other process, the switch, the other's return to ring 3);
    /// `linux.switch.one_way`, the pipe round trip halved (a write that wakes the other side, a read
    /// that blocks, one process switch), and `linux.switch.one_way_net`, that less the median of
    /// `pipe.write_read` (the write and the read without the switch; lmbench's lat_ctx takes its
    /// overhead off the same way). Every column of a derived row is the round trip's column
    /// halved, less the overhead's median. Throws when a key is missing.
    public static func rows(on: PeerReport, off: PeerReport?) throws -> [BenchMeasurement] {
        func measured(_ r: PeerReport) throws -> [BenchMeasurement] {
            let missing = keys.filter { r.samples[$0] == nil }
            guard missing.isEmpty else { throw ToolError("the Linux peer's init did not report \(missing.joined(separator: ", "))") }
            var rows = keys.map { k in
                let s = r.samples[k]!
                return BenchMeasurement(key: "linux." + k, median: s.median, min: s.min, max: s.max)
            }
            let yields = r.samples["yield.round_trip"]!
            rows.append(BenchMeasurement(key: "linux.switch.sched_yield", median: yields.median / 2, min: yields.min / 2, max: yields.max / 2))
            let trip = r.samples["pipe.round_trip"]!, pipe = r.samples["pipe.write_read"]!.median
            func net(_ v: UInt64) -> UInt64 { v / 2 >= pipe ? v / 2 - pipe : 0 }
            rows.append(BenchMeasurement(key: "linux.switch.one_way", median: trip.median / 2, min: trip.min / 2, max: trip.max / 2))
            rows.append(BenchMeasurement(key: "linux.switch.one_way_net", median: net(trip.median), min: net(trip.min), max: net(trip.max)))
            return rows
        }
        var rows = try measured(on)
        if let off {
            let offRows = try measured(off)
            for i in rows.indices { rows[i].windowOffMedian = offRows.first { $0.key == rows[i].key }?.median }
        }
        return rows
    }

    /// Sprig's null service and one-way yield against Linux's null system call and one-way switch.
    /// Sprig's one-way yield is the slower of its two directions. Operations either side did not
    /// report are left out.
    public static func comparison(_ ms: [BenchMeasurement]) -> [PeerComparison] {
        let byKey = Dictionary(ms.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let yieldKeys = ["yield.parent_to_child", "yield.child_to_parent"]
        let yields = yieldKeys.compactMap { byKey[$0] }
        let slower = yields.max { $0.median < $1.median }
        let pairs: [(String, BenchMeasurement?, String)] = [
            ("null call: unknown number / invalid syscall", byKey["service.null"], "linux.syscall.invalid"),
            ("null call: unknown number / getppid", byKey["service.null"], "linux.syscall.getppid"),
            ("one-way switch: yield / sched_yield", slower, "linux.switch.sched_yield"),
            ("one-way switch: pipe, its cost taken off", slower, "linux.switch.one_way_net"),
            ("one-way switch: pipe, its cost included", slower, "linux.switch.one_way"),
        ]
        return pairs.compactMap { operation, sprig, linuxKey in
            guard let sprig, let linux = byKey[linuxKey] else { return nil }
            var offs = yields.compactMap(\.windowOffMedian)
            if sprig.key == "service.null" { offs = sprig.windowOffMedian.map { [$0] } ?? [] }
            return PeerComparison(operation: operation, sprigKey: sprig.key.hasPrefix("yield.") ? "yield (one way)" : sprig.key,
                                  linuxKey: linuxKey, sprig: sprig.median, linux: linux.median,
                                  sprigOff: offs.max(), linuxOff: linux.windowOffMedian)
        }
    }

    /// The side-by-side table: medians in guest instructions and Linux/Sprig, both settings.
    public static func comparisonTable(_ rows: [PeerComparison]) -> String {
        func pad(_ s: String, _ n: Int, left: Bool = true) -> String {
            let fill = String(repeating: " ", count: Swift.max(0, n - s.count))
            return left ? fill + s : s + fill
        }
        let width = max(38, (rows.map(\.operation.count).max() ?? 0) + 2)
        var lines = [pad("operation (median)", width, left: false) + pad("Sprig", 8) + pad("Linux", 8) + pad("Linux/Sprig", 13)
                     + pad("skim=off", 10) + pad("pti=off", 9) + pad("Linux/Sprig", 13)]
        for r in rows {
            lines.append(pad(r.operation, width, left: false) + pad("\(r.sprig)", 8) + pad("\(r.linux)", 8)
                         + pad(PeerComparison.ratio(r.linux, r.sprig), 13)
                         + pad(r.sprigOff.map { "\($0)" } ?? "-", 10) + pad(r.linuxOff.map { "\($0)" } ?? "-", 9)
                         + pad(PeerComparison.ratio(r.linuxOff, r.sprigOff), 13))
        }
        return lines.joined(separator: "\n")
    }

    // MARK: Getting the kernel and building the init

    /// What a boot needs, in the cache.
    public struct Prepared: Sendable {
        public var kernel: URL
        public var initramfs: URL
        /// The kernel's release, e.g. `6.1.0-57-amd64`.
        public var release: String
    }

    public static func cacheDirectory(_ project: Project) -> URL { project.path(".build/peer/linux") }

    /// Fetches the kernel once (later runs use the cached one), builds the init and its initramfs.
    public static func prepare(_ project: Project, progress: (String) -> Void) throws -> Prepared {
        let cache = cacheDirectory(project)
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        let kernel = try cachedKernel(cache) ?? fetchKernel(into: cache, progress: progress)
        let release = String(kernel.lastPathComponent.dropFirst("vmlinuz-".count))
        progress("building the peer's init: gcc -static \(initSource)")
        // Built under this process's own names: a test and a CLI run may prepare at the same time.
        let initBinary = cache.appendingPathComponent("init-\(getpid())")
        defer { try? FileManager.default.removeItem(at: initBinary) }
        try buildInit(source: project.path(initSource), output: initBinary)
        let initramfs = cache.appendingPathComponent("initramfs.cpio")
        try Cpio.initramfs(init: Data(contentsOf: initBinary)).write(to: initramfs, options: .atomic)
        return Prepared(kernel: kernel, initramfs: initramfs, release: release)
    }

    /// The newest `vmlinuz-*` already in the cache.
    static func cachedKernel(_ cache: URL) -> URL? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: cache.path)) ?? []
        return names.filter { $0.hasPrefix("vmlinuz-") }.sorted().last.map { cache.appendingPathComponent($0) }
    }

    static func fetchKernel(into cache: URL, progress: (String) -> Void) throws -> URL {
        guard let aptCache = findExecutable("apt-cache"), let aptGet = findExecutable("apt-get"),
              let dpkgDeb = findExecutable("dpkg-deb"), let tar = findExecutable("tar") else {
            throw ToolError("the Linux peer is fetched with apt-get and unpacked with dpkg-deb: this is not a Debian system with both")
        }
        var package = try? imagePackage(aptCache)
        if package == nil {
            guard getuid() == 0 else {
                throw ToolError("apt does not know \(metapackage) yet: run apt-get update as root, then sprig bench --peer linux again")
            }
            progress("apt-get update (apt's lists do not know \(metapackage) yet)")
            _ = try? run(aptGet, ["-o", "DPkg::Lock::Timeout=600", "update", "-qq"])
            package = try imagePackage(aptCache)
        }
        let name = package!
        progress("downloading \(name) with apt-get download (about 70 MB, once: kept in \(cache.path))")
        let staging = cache.appendingPathComponent("download-\(getpid())")
        try? FileManager.default.removeItem(at: staging)
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: staging) }
        do {
            try run(aptGet, ["download", name], in: staging)
        } catch let e as ToolError {
            let last = e.description.split(separator: "\n").last { $0.hasPrefix("E:") || $0.hasPrefix("Err") } ?? ""
            throw ToolError("apt-get download \(name) failed (no network to Debian's archive?): \(last.trimmingCharacters(in: .whitespaces))")
        }
        guard let deb = try FileManager.default.contentsOfDirectory(atPath: staging.path).first(where: { $0.hasSuffix(".deb") }) else {
            throw ToolError("apt-get download \(name) left no .deb in \(staging.path)")
        }
        progress("unpacking /boot/vmlinuz-* from \(deb) with dpkg-deb")
        try unpackKernel(deb: staging.appendingPathComponent(deb), into: staging, dpkgDeb: dpkgDeb, tar: tar)
        let boot = staging.appendingPathComponent("boot")
        guard let image = try FileManager.default.contentsOfDirectory(atPath: boot.path).first(where: { $0.hasPrefix("vmlinuz-") }) else {
            throw ToolError("\(deb) has no /boot/vmlinuz-*")
        }
        let kernel = cache.appendingPathComponent(image)
        try? FileManager.default.removeItem(at: kernel)
        try FileManager.default.moveItem(at: boot.appendingPathComponent(image), to: kernel)
        return kernel
    }

    /// The kernel image package `linux-image-amd64` depends on, e.g. `linux-image-6.1.0-57-amd64`.
    static func imagePackage(_ aptCache: URL) throws -> String {
        let out = try run(aptCache, ["depends", metapackage])
        return try imagePackage(dependsOutput: out)
    }

    /// The first `Depends: linux-image-…` of `apt-cache depends` output.
    public static func imagePackage(dependsOutput out: String) throws -> String {
        for line in out.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 2, f[0] == "Depends:", f[1].hasPrefix("linux-image-"), f[1] != metapackage { return String(f[1]) }
        }
        throw ToolError("apt-cache depends \(metapackage) names no linux-image package")
    }

    /// `dpkg-deb --fsys-tarfile deb | tar -x ./boot/vmlinuz-*`: only the kernel image, not the modules.
    static func unpackKernel(deb: URL, into dir: URL, dpkgDeb: URL, tar: URL) throws {
        let script = "\"$0\" --fsys-tarfile \"$2\" | \"$1\" -x -C \"$3\" --wildcards './boot/vmlinuz-*'"
        do {
            try run(URL(fileURLWithPath: "/bin/sh"), ["-c", script, dpkgDeb.path, tar.path, deb.path, dir.path])
        } catch let e as ToolError {
            let first = e.description.split(separator: "\n").dropFirst().first ?? "dpkg-deb or tar failed"
            throw ToolError("could not unpack \(deb.lastPathComponent): \(first)")
        }
    }

    static func buildInit(source: URL, output: URL) throws {
        guard let gcc = findExecutable("gcc") else {
            throw ToolError("gcc is missing: the Linux peer's init is built with gcc -static. Run make peer-tools as root (or apt-get install gcc libc6-dev)")
        }
        do {
            try run(gcc, ["-static", "-O2", "-Wall", "-o", output.path, source.path])
        } catch let e as ToolError {
            let first = e.description.split(separator: "\n").dropFirst().first { $0.contains("error") } ?? ""
            throw ToolError("gcc -static could not build \(initSource) (libc6-dev missing? make peer-tools installs it): \(first)")
        }
    }

    // MARK: Booting

    /// The QEMU arguments of one boot: those `QEMU.arguments` gives the bench system (RunOptions'
    /// memory and CPU model, TCG, `QEMU.icountArguments`, the debug-exit device, no reboot), with
    /// Linux and its initramfs in place of Sprig's kernel and partitions.
    public static func arguments(_ p: Prepared, commandLine: String) -> [String] {
        let o = RunOptions()
        return ["-kernel", p.kernel.path, "-initrd", p.initramfs.path,
                "-m", "\(o.memoryMiB)M", "-display", "none", "-monitor", "none", "-serial", "stdio",
                "-cpu", o.cpu, "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
                "-append", "console=ttyS0 rdinit=/init quiet panic=-1 " + commandLine,
                "-accel", "tcg"] + QEMU.icountArguments
    }

    /// Boots the peer once with `commandLine` and returns what its init reported.
    public static func boot(_ p: Prepared, commandLine: String, timeout: Double) throws -> PeerReport {
        let process = Process()
        process.executableURL = try QEMU.find()
        process.arguments = arguments(p, commandLine: commandLine)
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let collected = OutputCollector(echo: false)
        pipe.fileHandleForReading.readabilityHandler = { h in
            let d = h.availableData
            if !d.isEmpty { collected.append(d) }
        }
        try process.run()
        ProcessGuard.register(process.processIdentifier)
        defer { ProcessGuard.release(process.processIdentifier) }
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline { timedOut = true; kill(process.processIdentifier, SIGKILL); break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        collected.append(pipe.fileHandleForReading.readDataToEndOfFile())
        let output = collected.text
        let report = parse(output)
        let tail = output.split(separator: "\n").suffix(20).joined(separator: "\n")
        if timedOut { throw ToolError("the Linux peer (\(commandLine)) did not finish in \(Int(timeout)) s; its console ended:\n\(tail)") }
        if let e = report.error { throw ToolError("the Linux peer's init failed (\(commandLine)): \(e)") }
        guard report.done, ExitStatus.decode(qemuExitCode: process.terminationStatus) == 0 else {
            throw ToolError("the Linux peer (\(commandLine)) stopped before its init finished (QEMU exit \(process.terminationStatus)); its console ended:\n\(tail)")
        }
        return report
    }

    /// Both boots, as bench rows, and the report of the boot with isolation on.
    public static func measure(_ p: Prepared, timeout: Double, progress: (String) -> Void) throws -> (rows: [BenchMeasurement], on: PeerReport, off: PeerReport) {
        progress("booting Linux \(p.release) with \(isolationOn) under the same QEMU settings (TCG, -cpu max, -icount shift=0,align=off)")
        let on = try boot(p, commandLine: isolationOn, timeout: timeout)
        progress("booting Linux \(p.release) again with \(isolationOff)")
        let off = try boot(p, commandLine: isolationOff, timeout: timeout)
        guard on.pti == true, off.pti == false else {
            throw ToolError("the Linux peer did not run with page-table isolation as asked (pti=on gave \(on.pti.map { "\($0)" } ?? "nothing"), pti=off gave \(off.pti.map { "\($0)" } ?? "nothing"))")
        }
        return (try rows(on: on, off: off), on, off)
    }
}

/// A cpio archive in the `newc` format, the one Linux unpacks as an initramfs
/// (Documentation/driver-api/early-userspace/buffer-format.rst): per entry a 110-byte ASCII
/// header of thirteen 8-digit hex fields after the magic `070701`, the NUL-terminated name, the
/// data, each padded to 4 bytes; `TRAILER!!!` ends it.
public enum Cpio {
    public struct Entry: Sendable {
        public var name: String
        /// File type and permission bits (`S_IFREG | 0o755`, …).
        public var mode: UInt32
        public var data: Data
        /// Device numbers of a character or block special file.
        public var deviceMajor: UInt32
        public var deviceMinor: UInt32
        public init(name: String, mode: UInt32, data: Data = Data(), deviceMajor: UInt32 = 0, deviceMinor: UInt32 = 0) {
            self.name = name; self.mode = mode; self.data = data; self.deviceMajor = deviceMajor; self.deviceMinor = deviceMinor
        }
    }

    public static func archive(_ entries: [Entry]) -> Data {
        var out = Data()
        func pad() { while out.count % 4 != 0 { out.append(0) } }
        let trailer = Entry(name: "TRAILER!!!", mode: 0)
        for (i, e) in (entries + [trailer]).enumerated() {
            let name = Array(e.name.utf8) + [0]
            let isTrailer = i == entries.count
            // inode, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
            let fields: [UInt32] = [isTrailer ? 0 : UInt32(i + 1), e.mode, 0, 0, e.mode & 0o170000 == 0o040000 ? 2 : 1, 0,
                                    UInt32(e.data.count), 0, 0, e.deviceMajor, e.deviceMinor, UInt32(name.count), 0]
            out.append(contentsOf: Array("070701".utf8))
            for f in fields { out.append(contentsOf: Array(String(format: "%08X", f).utf8)) }
            out.append(contentsOf: name)
            pad()
            out.append(e.data)
            pad()
        }
        return out
    }

    /// `/dev`, `/dev/console` (character device 5:1, the init's first standard streams) and `/init`.
    public static func initramfs(init program: Data) -> Data {
        archive([
            Entry(name: "dev", mode: 0o040755),
            Entry(name: "dev/console", mode: 0o020600, deviceMajor: 5, deviceMinor: 1),
            Entry(name: "init", mode: 0o100755, data: program),
        ])
    }
}
