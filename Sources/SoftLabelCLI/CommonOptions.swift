import SoftLabel

/// Options several commands share, each declared once: its spec for `--help` and its parser.
enum Common {
    static let threads = OptionSpec(name: "--threads", value: "N",
                                    help: "Worker threads (results do not depend on it). Default: all cores.")

    /// `--threads N` as a `Parallel` (all cores when not given). More threads than cores get a warning: the
    /// threads of a parallel step meet at its end, so each step waits for the ones the system has put aside
    /// (the 100,000 x 512 linear workload on 2 cores, before minibatches chose their own thread count
    /// (`ThreadChooser`): 0.03 s per epoch with 2 threads, 0.05 with 3, 0.09 with 8, 0.14 with 16).
    static func parallel(_ a: ParsedArguments, _ console: Console) throws -> Parallel {
        let cores = Parallel.allCores
        guard let n = try a.int(threads.name, min: 1, max: Parallel.maxThreads) else { return Parallel(threads: cores) }
        if n > cores {
            console.err("softlabel: warning: --threads \(n) is more than the \(cores) core\(cores == 1 ? "" : "s") this process can use: " +
                        "parallel steps wait for the threads without a core (training's minibatches measure this and " +
                        "use fewer); the results are the same\n")
        }
        return Parallel(threads: n)
    }
}

extension Common {
    /// Checks every output named by these options before any work is done (a bad path must not cost a run):
    /// see `AtomicFile.checkWritable`.
    static func checkOutputs(_ a: ParsedArguments, _ flags: [String]) throws {
        for flag in flags { if let path = a.string(flag) { try AtomicFile.checkWritable(path) } }
    }
}
