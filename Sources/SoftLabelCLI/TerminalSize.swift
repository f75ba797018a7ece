import Foundation

/// The size of the terminal that stdout writes to.
enum TerminalSize {
    /// Lines of the terminal on stdout; nil when stdout is not a terminal (a pipe or a file: output must not
    /// depend on anything but the command then) or the size is unknown.
    static func lines() -> Int? {
        guard isatty(1) == 1 else { return nil }
        var size = winsize()
        guard ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0 else { return nil }
        return Int(size.ws_row)
    }
}
