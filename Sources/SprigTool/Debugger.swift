/// gdb for `sprig run-gdb`: found on the host, given the kernel's and partitions' symbols, and
/// run in the foreground on this terminal.
///
/// gdb must read the terminal, so it runs in sprig's own process group (the terminal's
/// foreground group), not in a group of its own as Foundation's `Process` would put it, where its
/// first read would stop it (SIGTTIN). It starts with every signal at its default action, and
/// while it runs the terminal's Ctrl-C is its (it interrupts the guest), not sprig's.
import Foundation

public enum Debugger {
    public static func find() -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        return dirs.map { URL(fileURLWithPath: $0).appendingPathComponent("gdb") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// The gdb helpers (`sprig-partitions`, `sprig-vidt`, `sprig-walk`; docs/debugging.md).
    public static func helpers(_ project: Project) -> URL { project.path("tools/gdb/sprig.py") }

    /// gdb's arguments: the kernel's symbols, each partition's at its link address (every
    /// partition of the system: they share the link address, gdb names an address by the first
    /// that has it), the helpers, connected to QEMU's stub on `port`.
    public static func arguments(kernel: URL, partitions: [URL], helpers: URL, port: Int) -> [String] {
        // add-symbol-file asks for a confirmation on a terminal.
        var args = ["-q", kernel.path, "-ex", "set confirm off"]
        for p in partitions { args += ["-ex", "add-symbol-file \(p.path)"] }
        return args + ["-ex", "source \(helpers.path)", "-ex", "set confirm on", "-ex", "target remote 127.0.0.1:\(port)"]
    }

    /// Runs `gdb arguments` in this process's group, on its terminal, and returns its exit
    /// status once it ends (128 + the signal if a signal ended it).
    public static func runInForeground(_ gdb: URL, arguments: [String]) throws -> Int32 {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all); sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv: [UnsafeMutablePointer<CChar>?] = ([gdb.path] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, gdb.path, nil, &attributes, argv, environ)
        guard spawned == 0 else { throw ToolError("cannot start \(gdb.path): \(String(cString: strerror(spawned)))") }
        ProcessGuard.register(pid)
        defer { ProcessGuard.release(pid) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signaled = status & 0x7F
        return signaled == 0 ? (status >> 8) & 0xFF : 128 + signaled
    }
}
