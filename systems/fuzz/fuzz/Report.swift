/// What the campaign counts, the summary it prints at the end, and how it fails.
///
/// A failure prints one line `fuzz: FAIL call <n> <operation>(<arguments>): <what> (got <x>)`
/// with the seed to replay it, and powers off with status 3. The summary lists, for every
/// service, the calls made (by root and by its children), how many succeeded and every status
/// seen; then yields taken and refused each way, faults delivered by vector, software
/// interrupts by outcome. Tests/BootTests/FuzzPartitionTests.swift reads it.
import SprigABI
import SprigUser

/// The operation in progress, for a failure's message.
enum Current {
    nonisolated(unsafe) static var call: UInt64 = 0
    nonisolated(unsafe) static var name: StaticString = "setup"
    nonisolated(unsafe) static var args: InlineArray<6, UInt64> = [0, 0, 0, 0, 0, 0]
    nonisolated(unsafe) static var argCount = 0

    /// `fuzz.trace=1` on the command line: print every operation before it runs.
    nonisolated(unsafe) static var trace = false

    static func start(_ name: StaticString, _ a: UInt64 = 0, _ b: UInt64 = 0, _ c: UInt64 = 0, _ d: UInt64 = 0,
                      _ e: UInt64 = 0, _ f: UInt64 = 0, count: Int) {
        self.name = name
        args = [a, b, c, d, e, f]
        argCount = count
        if trace {
            var out = Output()
            out.write("fuzz: call ")
            out.decimal(call)
            out.write(" ")
            describe(&out)
            out.byte(10)
        }
    }

    /// `name(arg, …)`.
    static func describe(_ out: inout Output) {
        out.write(name)
        out.write("(")
        var i = 0
        while i < argCount {
            if i > 0 { out.write(", ") }
            out.hex(args[i])
            i += 1
        }
        out.write(")")
    }
}

enum Stats {
    /// Counter rows: a row per service in table order (`Service.ordinal`), then one for any
    /// other number.
    static let rows = Service.count + 1
    nonisolated(unsafe) static var table = UnsafeMutablePointer<UInt64>(bitPattern: 8)!
    static func calls(_ row: Int) -> UnsafeMutablePointer<UInt64> { table + row }
    static func successes(_ row: Int) -> UnsafeMutablePointer<UInt64> { table + rows + row }
    /// Bit s set when status s was seen (every status is below 64).
    static func statuses(_ row: Int) -> UnsafeMutablePointer<UInt64> { table + 2 * rows + row }
    /// Deliveries to root by vector 0…255.
    static func delivered(_ vector: UInt64) -> UnsafeMutablePointer<UInt64> { table + 3 * rows + Int(vector & 255) }

    nonisolated(unsafe) static var rootYieldsTaken: UInt64 = 0
    nonisolated(unsafe) static var rootYieldsRefused: UInt64 = 0
    nonisolated(unsafe) static var childYieldsTaken: UInt64 = 0
    nonisolated(unsafe) static var childYieldsRefused: UInt64 = 0
    nonisolated(unsafe) static var faultCommands: UInt64 = 0
    nonisolated(unsafe) static var faultsNotRaised: UInt64 = 0
    nonisolated(unsafe) static var interruptsDelivered: UInt64 = 0
    nonisolated(unsafe) static var interruptsRefused: UInt64 = 0
    nonisolated(unsafe) static var interruptsAsFaults: UInt64 = 0
    nonisolated(unsafe) static var doubleFaults: UInt64 = 0
    nonisolated(unsafe) static var yieldEntries: UInt64 = 0
    nonisolated(unsafe) static var commandsCompleted: UInt64 = 0
    nonisolated(unsafe) static var childrenBuilt: UInt64 = 0
    nonisolated(unsafe) static var childrenDeleted: UInt64 = 0
    nonisolated(unsafe) static var grandchildrenBuilt: UInt64 = 0
    nonisolated(unsafe) static var contextsWritten: UInt64 = 0
    nonisolated(unsafe) static var probes: UInt64 = 0
    nonisolated(unsafe) static var fullChecks: UInt64 = 0

    static func row(_ number: UInt64) -> Int { Service(rawValue: number)?.ordinal ?? Service.count }

    static func name(_ row: Int) -> StaticString { Service(ordinal: row)?.name ?? "unknown-number" }

    /// Counts a call of service `number` that answered `raw`; fails on a status SprigABI does
    /// not define.
    static func record(_ number: UInt64, _ raw: UInt64) {
        guard Status(rawValue: raw) != nil else { Report.fail("the kernel answered a status SprigABI does not define", raw) }
        let r = row(number)
        calls(r).pointee += 1
        if raw == Status.success.rawValue { successes(r).pointee += 1 }
        statuses(r).pointee |= 1 << raw
    }
}

enum Report {
    static func fail(_ what: StaticString, _ got: UInt64) -> Never {
        var out = Output()
        out.write("fuzz: FAIL call ")
        out.decimal(Current.call)
        out.write(" ")
        Current.describe(&out)
        out.write(": ")
        out.write(what)
        out.write(" (got ")
        out.hex(got)
        out.write(")")
        out.byte(10)
        out.write("fuzz: replay with: sprig run --system fuzz --seed ")
        out.decimal(Model.seed)
        out.write(" --calls ")
        out.decimal(Current.call)
        out.byte(10)
        Sprig.powerOff(3)
    }

    static func require(_ ok: Bool, _ what: StaticString, _ got: UInt64) {
        if !ok { fail(what, got) }
    }

    static func summary() {
        var out = Output()
        var r = 0
        while r < Stats.rows {
            out.write("fuzz: service ")
            out.write(Stats.name(r))
            out.write(": ")
            out.decimal(Stats.calls(r).pointee)
            out.write(" calls, ")
            out.decimal(Stats.successes(r).pointee)
            out.write(" succeeded, ")
            out.decimal(Stats.calls(r).pointee - Stats.successes(r).pointee)
            out.write(" refused; statuses:")
            let mask = Stats.statuses(r).pointee
            var s: UInt64 = 0
            while s < 64 {
                if mask & (1 << s) != 0 {
                    out.write(" ")
                    out.write(statusName(s))
                }
                s += 1
            }
            out.byte(10)
            r += 1
        }
        out.write("fuzz: yields root->child: ")
        out.decimal(Stats.rootYieldsTaken)
        out.write(" taken, ")
        out.decimal(Stats.rootYieldsRefused)
        out.write(" refused; child->parent: ")
        out.decimal(Stats.childYieldsTaken)
        out.write(" taken, ")
        out.decimal(Stats.childYieldsRefused)
        out.write(" refused; handlers entered by a yield: ")
        out.decimal(Stats.yieldEntries)
        out.byte(10)
        out.write("fuzz: deliveries to root by vector:")
        var v: UInt64 = 0
        var total: UInt64 = 0
        while v < 256 {
            let n = Stats.delivered(v).pointee
            if n > 0 {
                out.write(" ")
                out.decimal(v)
                out.write("=")
                out.decimal(n)
                total += n
            }
            v += 1
        }
        out.byte(10)
        out.write("fuzz: faults: ")
        out.decimal(total)
        out.write(" delivered, ")
        out.decimal(Stats.faultCommands)
        out.write(" fault commands, ")
        out.decimal(Stats.faultsNotRaised)
        out.write(" not raised on this machine, ")
        out.decimal(Stats.doubleFaults)
        out.line(" double faults")
        out.write("fuzz: int n: ")
        out.decimal(Stats.interruptsDelivered)
        out.write(" delivered, ")
        out.decimal(Stats.interruptsRefused)
        out.write(" refused, ")
        out.decimal(Stats.interruptsAsFaults)
        out.line(" raised a fault")
        out.write("fuzz: children built ")
        out.decimal(Stats.childrenBuilt)
        out.write(", deleted ")
        out.decimal(Stats.childrenDeleted)
        out.write(", grandchildren built ")
        out.decimal(Stats.grandchildrenBuilt)
        out.write(", commands completed ")
        out.decimal(Stats.commandsCompleted)
        out.write(", contexts written ")
        out.decimal(Stats.contextsWritten)
        out.write(", ownership probes ")
        out.decimal(Stats.probes)
        out.write(", full checks ")
        out.decimal(Stats.fullChecks)
        out.byte(10)
    }
}
