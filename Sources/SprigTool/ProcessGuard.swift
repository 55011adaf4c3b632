/// What `sprig` leaves behind when it stops, however it stops: no QEMU (or gdb) still running and
/// a terminal in the mode it found it.
///
/// Every child that must not outlive sprig is registered here while it runs, and the terminal's
/// mode is saved here before sprig changes it. `install()` (called once by the CLI) puts a
/// handler on SIGINT, SIGTERM, SIGHUP and SIGQUIT and on the crash signals that kills every
/// registered child, restores the terminal, and then lets the signal do what it would have done
/// (the exit status says "interrupted"); an `atexit` hook does the same on every ordinary exit,
/// error exits included. The handler uses only async-signal-safe calls (`kill`, `tcsetattr`,
/// `sigaction`, `raise`) on storage allocated before it is installed.
///
/// A child that owns the terminal (gdb in `sprig run-gdb`) gets the terminal's Ctrl-C itself:
/// while `interruptGoesToChild` is set, SIGINT leaves sprig and its other children alone.
import Foundation

public enum ProcessGuard {
    static let slots = 8
    /// Registered children (0: free slot). Allocated once, before any handler can run.
    nonisolated(unsafe) static let children: UnsafeMutablePointer<pid_t> = {
        let p = UnsafeMutablePointer<pid_t>.allocate(capacity: slots)
        p.initialize(repeating: 0, count: slots)
        return p
    }()
    /// The terminal's mode before sprig changed it, and on which descriptor (-1: nothing saved).
    nonisolated(unsafe) static let savedTerminal: UnsafeMutablePointer<termios> = {
        let p = UnsafeMutablePointer<termios>.allocate(capacity: 1)
        p.initialize(to: termios())
        return p
    }()
    nonisolated(unsafe) static var savedTerminalFD: Int32 = -1
    nonisolated(unsafe) public static var interruptGoesToChild = false
    private static let lock = NSLock()
    nonisolated(unsafe) private static var installed = false

    static let endingSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
    static let crashSignals: [Int32] = [SIGSEGV, SIGBUS, SIGILL, SIGTRAP, SIGFPE, SIGABRT]

    /// Installs the signal handlers and the exit hook (once per process).
    public static func install() {
        lock.lock(); defer { lock.unlock() }
        guard !installed else { return }
        installed = true
        _ = children; _ = savedTerminal
        for s in endingSignals + crashSignals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in ProcessGuard.handle(sig) }
            sigemptyset(&action.sa_mask)
            action.sa_flags = Int32(SA_RESETHAND)
            sigaction(s, &action, nil)
        }
        atexit { ProcessGuard.cleanUp() }
    }

    /// Runs in the signal handler: clean up, then the signal's default action.
    static func handle(_ sig: Int32) {
        if sig == SIGINT && interruptGoesToChild {
            // SA_RESETHAND removed this handler; the child has the Ctrl-C, sprig stays.
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { s in ProcessGuard.handle(s) }
            sigemptyset(&action.sa_mask)
            action.sa_flags = Int32(SA_RESETHAND)
            sigaction(SIGINT, &action, nil)
            return
        }
        cleanUp()
        // A crash signal comes back when the faulting instruction runs again, now with the
        // default action; an ending signal is raised again.
        if !crashSignals.contains(sig) || sig == SIGABRT { raise(sig) }
    }

    /// Kills every registered child and restores the terminal.
    static func cleanUp() {
        for i in 0..<slots where children[i] > 0 {
            kill(children[i], SIGKILL)
            children[i] = 0
        }
        restoreTerminal()
    }

    /// `pid` is killed if sprig stops before `release(pid)`.
    public static func register(_ pid: pid_t) {
        lock.lock(); defer { lock.unlock() }
        for i in 0..<slots where children[i] == 0 { children[i] = pid; return }
    }

    public static func release(_ pid: pid_t) {
        lock.lock(); defer { lock.unlock() }
        for i in 0..<slots where children[i] == pid { children[i] = 0 }
    }

    /// Saves `fd`'s terminal mode, restored by `restoreTerminal()` and on every exit.
    static func saveTerminal(_ fd: Int32, _ mode: termios) {
        savedTerminal.pointee = mode
        savedTerminalFD = fd
    }

    static func restoreTerminal() {
        let fd = savedTerminalFD
        guard fd >= 0 else { return }
        savedTerminalFD = -1
        tcsetattr(fd, TCSANOW, savedTerminal)
    }
}
