import Foundation
import SoftLabel

/// `softlabel train`: fit a model to a data file and save it.
enum TrainCommand: Command {
    static let spec = CommandSpec(
        name: "train",
        usage: ["train DATA.csv --model OUT.json [options]",
                "train --features X.npy --labels Y.npy --model OUT.json [options]"],
        summary: "Train a softmax classifier (optionally with hidden layers) on soft labels.",
        positionals: [("DATA.csv", "training data: features and 'label:<class>' (or 'label') columns")],
        options: [
            OptionSpec(name: "--model", value: "FILE", help: "Where to write the trained model (JSON). Required."),
            OptionSpec(name: "--val", value: "FILE", help: "Validation data, reported every epoch."),
            OptionSpec(name: "--val-features", value: "X.npy", help: "Validation features as NPY (with --val-labels), instead of --val."),
            OptionSpec(name: "--val-labels", value: "Y.npy", help: "Validation labels as NPY (with --val-features)."),
        ] + ConfigOption.all.map(\.spec) + [
            Common.threads,
            OptionSpec(name: "--log", value: "FILE", help: "Write the per-epoch table as CSV (empty cells without validation)."),
            OptionSpec(name: "--plot", value: "FILE", help: "Write an SVG chart of the losses (and validation accuracy), the kept epoch marked."),
            OptionSpec(name: "--plot-log", value: nil, help: "Log-scale loss axis in the terminal chart and --plot (--plot picks it itself past a decade)."),
            OptionSpec(name: "--quiet", value: nil, help: "Print only the final summary line (no table, chart or progress)."),
        ] + DataInput.options,
        notes: [
            "Prints one row per epoch, then a chart of the loss curves and a summary line. On a terminal, epochs",
            "that take over a second show a progress bar on stderr.",
        ])

    static func config(from a: ParsedArguments) throws -> TrainConfig {
        // Defaults depend on the model shape and the optimizer; every other flag applies on top.
        var c = TrainConfig.defaults(hidden: try a.intList("--hidden") ?? [],
                                     optimizer: try a.choice("--optimizer", OptimizerKind.self))
        if a.string("--val") != nil || a.string("--val-features") != nil { c.valFraction = 0 }
        for option in ConfigOption.all { try option.apply(a, &c) }
        if (a.string("--val") != nil || a.string("--val-features") != nil) && a.string("--val-fraction") != nil {
            throw UsageError("--val and --val-fraction cannot be used together")
        }
        if c.dropout > 0 && c.hidden.isEmpty {
            throw UsageError("--dropout needs hidden layers (--hidden); a linear model has no hidden units to drop")
        }
        if c.dropout > 0 && c.optimizer == .lbfgs {
            throw UsageError("--dropout needs a minibatch optimizer (sgd, adam or adamw): lbfgs needs a deterministic objective")
        }
        return c
    }

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        let source = try DataInput.source(a, needsLabels: true)
        guard let modelPath = a.string("--model") else { throw UsageError("--model FILE is required (where to save the model)") }
        let config = try config(from: a)
        let parallel = try Common.parallel(a)
        let valSource = try DataInput.validationSource(a)
        if config.patience > 0 && valSource == nil && config.valFraction == 0 {
            throw UsageError("--patience needs validation data (--val FILE or --val-fraction F)")
        }

        if config.optimizer == .lbfgs {
            let unused = ["--lr", "--batch-size", "--momentum", "--nesterov", "--beta1", "--beta2", "--eps",
                          "--weight-decay", "--schedule", "--warmup", "--step-every", "--step-gamma"]
                .filter { a.string($0) != nil || a.flag($0) }
            if !unused.isEmpty {
                console.err("softlabel: note: lbfgs is full-batch with a line search; ignoring " +
                            unused.joined(separator: ", ") + "\n")
            }
        }
        // A missing output folder should stop the run before training, not after it.
        for path in [modelPath, a.string("--log"), a.string("--plot")].compactMap({ $0 }) {
            let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw DataError(file: path, "cannot write: folder '\(dir)' does not exist")
            }
        }
        let train = try DataInput.load(source, parallel: parallel, console: console).dataset
        var validation: Dataset?
        if let valSource {
            let raw = try DataInput.load(valSource, classes: train.classNames, classesOf: "the training data",
                                         parallel: parallel, console: console).dataset
            validation = try aligned(raw, to: train, file: valSource.name)
        }

        let quiet = a.flag("--quiet")
        let table = EpochTable()
        if !quiet { console.out(table.header) }
        var progress = Progress(console: console, enabled: !quiet && console.errIsTerminal, epochs: config.epochs)
        // `consume`: the run standardises the features in place, with no second copy of the data.
        let run = TrainModel.run(train: consume train, validation: consume validation, config: config,
                                 parallel: parallel,
                                 onEpoch: { record in
                                     progress.finishEpoch()
                                     if !quiet { console.out(table.row(record)) }
                                 },
                                 onBatch: progress.enabled ? { progress.update(done: $0, total: $1, loss: $2) } : nil)
        let history = run.outcome.history
        if !quiet && !history.isEmpty {
            var chart = TerminalChart.losses(history, logScale: a.flag("--plot-log"),
                                             kept: KeptEpoch(outcome: run.outcome, config: config),
                                             iterations: config.optimizer == .lbfgs)
            if let lines = TerminalSize.lines() { chart.plotHeight = TerminalChart.rows(forTerminalHeight: lines) }
            console.out("\n" + chart.text + "\n")
        }
        if let path = a.string("--log") {
            try AtomicFile.write(Data(EpochLog.csv(history).utf8), to: path)
        }
        if let path = a.string("--plot") {
            let title = "Loss by epoch: " + URL(fileURLWithPath: modelPath).lastPathComponent
            let chart = SVGChart.losses(history, title: title, logY: a.flag("--plot-log"), loss: config.loss,
                                        iterations: config.optimizer == .lbfgs,
                                        kept: KeptEpoch(outcome: run.outcome, config: config))
            try AtomicFile.write(Data(chart.svg.utf8), to: path)
        }
        if let message = run.outcome.divergence {
            if run.outcome.keptEpoch > 0 {
                try run.model.write(to: modelPath)
                throw RuntimeFailure(message: message + "; wrote that model to \(modelPath)")
            }
            throw RuntimeFailure(message: message + "; no model written")
        }
        try run.model.write(to: modelPath)
        let o = run.outcome
        var summary = "kept epoch \(o.keptEpoch) of \(o.history.count)"
        if o.stoppedEarly { summary += " (stopped early: no better validation loss for \(config.patience) epochs)" }
        if o.converged { summary += " (converged)" }
        if KeptEpoch(outcome: o, config: config).reason == .notConverged {
            summary += " (not converged: reached --epochs \(config.epochs))"
        }
        summary += "; \(run.trainCount) training examples"
        if run.validationCount > 0 { summary += ", \(run.validationCount) validation" }
        summary += "; \(run.model.network.parameterCount) parameters; model written to \(modelPath)\n"
        console.out(summary)
    }

    /// A validation set with the training set's feature columns in the training order.
    static func aligned(_ data: Dataset, to train: Dataset, file: String) throws -> Dataset {
        var out = data
        out.features = try data.features(orderedAs: train.featureNames, of: "the training data", file: file).features
        out.featureNames = train.featureNames
        return out
    }
}

/// The progress bar of `train`: drawn on stderr once an epoch has run for a second (short epochs never show
/// one), redrawn at most ten times a second, erased before the epoch's row is printed.
struct Progress {
    let console: Console
    let enabled: Bool
    let epochs: Int
    private var epoch = 1
    private var started: UInt64 = DispatchTime.now().uptimeNanoseconds
    private var lastDrawn: UInt64 = 0
    private var shown = false

    init(console: Console, enabled: Bool, epochs: Int) {
        self.console = console
        self.enabled = enabled
        self.epochs = epochs
    }

    mutating func update(done: Int, total: Int, loss: Double) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - started >= 1_000_000_000, now - lastDrawn >= 100_000_000 else { return }
        console.err(ProgressBar.line(epoch: epoch, of: epochs, done: done, total: total,
                                     seconds: Double(now - started) / 1e9, loss: loss))
        lastDrawn = now
        shown = true
    }

    mutating func finishEpoch() {
        if shown { console.err(ProgressBar.clear) }
        shown = false
        epoch += 1
        started = DispatchTime.now().uptimeNanoseconds
    }
}
