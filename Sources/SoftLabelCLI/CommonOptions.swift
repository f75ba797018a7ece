import SoftLabel

/// Options several commands share, each declared once: its spec for `--help` and its parser.
enum Common {
    static let threads = OptionSpec(name: "--threads", value: "N",
                                    help: "Worker threads (results do not depend on it). Default: all cores.")

    /// `--threads N` as a `Parallel` (all cores when not given).
    static func parallel(_ a: ParsedArguments) throws -> Parallel {
        Parallel(threads: try a.int(threads.name, min: 1, max: Parallel.maxThreads) ?? Parallel.allCores)
    }
}

extension Common {
    /// Checks every output named by these options before any work is done (a bad path must not cost a run):
    /// see `AtomicFile.checkWritable`.
    static func checkOutputs(_ a: ParsedArguments, _ flags: [String]) throws {
        for flag in flags { if let path = a.string(flag) { try AtomicFile.checkWritable(path) } }
    }
}
