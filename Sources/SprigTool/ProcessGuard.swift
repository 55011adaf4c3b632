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
    /// The actions in place before `install()`, by signal number: a crash signal goes on to the
    /// Swift runtime's backtrace once sprig has cleaned up.
    nonisolated(unsafe) static let previous: UnsafeMutablePointer<sigaction> = {
        let p = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
        p.initialize(repeating: sigaction(), count: 65)
        return p
    }()
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
        _ = children; _ = savedTerminal; _ = previous
        for s in endingSignals + crashSignals { setHandler(s, previous: previous + Int(s)) }
        // A parent may have started sprig with these blocked (a thread pool's mask is inherited
        // through exec): they must reach the handler.
        var set = sigset_t()
        sigemptyset(&set)
        for s in endingSignals + crashSignals { sigaddset(&set, s) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        atexit { ProcessGuard.cleanUp() }
    }

    /// Runs in the signal handler: clean up, then the signal's default action.
    static func handle(_ sig: Int32) {
        if sig == SIGINT && interruptGoesToChild {
            // SA_RESETHAND removed this handler; the child has the Ctrl-C, sprig stays.
            setHandler(SIGINT, previous: nil)
            return
        }
        cleanUp()
        if crashSignals.contains(sig) {
            // The faulting instruction runs again and goes to the runtime's handler (its
            // backtrace), or to the default action.
            sigaction(sig, previous + Int(sig), nil)
            if sig == SIGABRT { raise(sig) }
        } else {
            raise(sig)  // the default action, now that the handler is reset: sprig dies of it
        }
    }

    static func setHandler(_ sig: Int32, previous: UnsafeMutablePointer<sigaction>?) {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { s in ProcessGuard.handle(s) }
        sigemptyset(&action.sa_mask)
        action.sa_flags = Int32(bitPattern: UInt32(SA_RESETHAND))
        sigaction(sig, &action, previous)
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
