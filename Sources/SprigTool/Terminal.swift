/// The terminal as the guest's serial line (`sprig run --system echo`).
///
/// QEMU does not get the terminal: QEMU runs in a process group of its own, where a terminal
/// read or mode change stops it (SIGTTIN, SIGTTOU). sprig, in the terminal's foreground group,
/// switches the terminal to the mode QEMU's `-serial stdio` would set (no line editing, no
/// echo, no input translation: each key goes to the guest as typed, Ctrl-D included; Ctrl-C
/// still interrupts sprig, which then stops QEMU) and relays what is typed to QEMU's standard
/// input. The mode is saved in `ProcessGuard` and restored on every way out.
import Foundation

public enum Terminal {
    /// Whether standard input is a terminal whose foreground group is this process's: sprig may
    /// read it and change its mode without being stopped.
    public static var ownsStandardInput: Bool {
        isatty(STDIN_FILENO) != 0 && tcgetpgrp(STDIN_FILENO) == getpgrp()
    }

    /// Switches standard input to raw input (output processing and signals kept), after saving
    /// its mode for `restore()`.
    static func makeRaw() throws {
        var mode = termios()
        guard tcgetattr(STDIN_FILENO, &mode) == 0 else { throw ToolError("cannot read the terminal's mode: \(String(cString: strerror(errno)))") }
        ProcessGuard.saveTerminal(STDIN_FILENO, mode)
        var raw = mode
        raw.c_iflag &= ~tcflag_t(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON)
        raw.c_lflag &= ~tcflag_t(ECHO | ECHONL | ICANON | IEXTEN)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else {
            ProcessGuard.restoreTerminal()
            throw ToolError("cannot set the terminal's mode: \(String(cString: strerror(errno)))")
        }
    }

    static func restore() { ProcessGuard.restoreTerminal() }

    /// Moves what is waiting on standard input (at most `timeout` seconds for the first byte)
    /// to `fd`. Returns false once standard input has ended.
    static func relay(to fd: Int32, timeout: Double) -> Bool {
        var p = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) > 0 else { return true }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = read(STDIN_FILENO, &buffer, buffer.count)
        if n <= 0 { return n < 0 && (errno == EINTR || errno == EAGAIN) }
        var done = 0
        while done < n {
            let w = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + done, n - done) }
            if w <= 0 { return errno == EINTR }
            done += w
        }
        return true
    }
}
