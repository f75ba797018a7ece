import Foundation

/// Where a command writes: results to `out` (stdout), progress and warnings to `err` (stderr).
public struct Console {
    public var out: (String) -> Void
    public var err: (String) -> Void
    /// Whether stderr is an interactive terminal (progress bars are drawn only then).
    public var errIsTerminal: Bool

    public init(out: @escaping (String) -> Void, err: @escaping (String) -> Void, errIsTerminal: Bool = false) {
        self.out = out
        self.err = err
        self.errIsTerminal = errIsTerminal
    }

    /// The process's stdout and stderr, unbuffered by line.
    public static var standard: Console {
        Console(out: { FileHandle.standardOutput.write(Data($0.utf8)) },
                err: { FileHandle.standardError.write(Data($0.utf8)) },
                errIsTerminal: isatty(2) == 1)
    }
}

/// A failure while running (not the user's input): exit status 1.
struct RuntimeFailure: Error {
    var message: String
}
