import Foundation
import SoftLabel

/// `softlabel train`: fit a model to a data file and save it.
enum TrainCommand: Command {
    private static let D = TrainConfig()  // defaults shown in the help come from the config itself

    static let spec = CommandSpec(
        name: "train",
        usage: ["train DATA.csv --model OUT.json [options]",
                "train --features X.npy --labels Y.npy --model OUT.json [options]",
                "train FEATURES.csv --annotations VOTES.csv --model OUT.json [--crowd-model NAME] [options]"],
        summary: "Train a softmax classifier (optionally with hidden layers) on soft labels.",
        positionals: [("DATA.csv", "training data: features and 'label:<class>' (or 'label') columns")],
        options: [
            OptionSpec(name: "--model", value: "FILE", help: "Where to write the trained model (JSON). Required."),
            OptionSpec(name: "--val", value: "FILE", help: "Validation data, reported every epoch."),
            OptionSpec(name: "--val-features", value: "X.npy", help: "Validation features as NPY (with --val-labels), instead of --val."),
            OptionSpec(name: "--val-labels", value: "Y.npy", help: "Validation labels as NPY (with --val-features)."),
            OptionSpec(name: "--val-fraction", value: "F", help: "Hold out this fraction of DATA for validation (seeded). Default 0, or 0.1 with --hidden."),
            OptionSpec(name: "--patience", value: "P", help: "Stop after P epochs without a lower validation loss; keep the best epoch. Default 0 (off), or 10 with --hidden."),
            OptionSpec(name: "--average", value: "E", help: "Validate and keep weights averaged over ~E epochs (EMA); 0 = off. Default 0, or 1 with --hidden."),
            OptionSpec(name: "--epochs", value: "N", help: "Passes over the data (L-BFGS: iterations), at most. Default 1000 for lbfgs, 200 otherwise."),
            OptionSpec(name: "--batch-size", value: "B", help: "Examples per minibatch. Default \(D.batchSize)."),
            OptionSpec(name: "--optimizer", value: "NAME", help: "sgd|adam|adamw|lbfgs. Default lbfgs (full batch, exact optimum), or adam with --hidden."),
            OptionSpec(name: "--lr", value: "X", help: "Learning rate (minibatch optimizers). Default: sgd 0.1; adam 0.01, or 0.002 with --hidden."),
            OptionSpec(name: "--momentum", value: "M", help: "SGD momentum. Default \(D.momentum)."),
            OptionSpec(name: "--nesterov", value: nil, help: "SGD: Nesterov momentum."),
            OptionSpec(name: "--beta1", value: "B1", help: "Adam first-moment decay. Default \(D.beta1)."),
            OptionSpec(name: "--beta2", value: "B2", help: "Adam second-moment decay. Default \(D.beta2)."),
            OptionSpec(name: "--eps", value: "E", help: "Adam epsilon. Default \(D.epsilon)."),
            OptionSpec(name: "--weight-decay", value: "W", help: "AdamW decoupled weight decay. Default \(D.weightDecay)."),
            OptionSpec(name: "--l2", value: "L", help: "L2 penalty (L/2)·ΣW² on weights, not biases. Default \(D.l2)."),
            OptionSpec(name: "--schedule", value: "NAME", help: "constant|step|cosine learning-rate schedule. Default \(D.schedule.rawValue)."),
            OptionSpec(name: "--warmup", value: "E", help: "Epochs of linear learning-rate warm-up. Default \(D.warmup)."),
            OptionSpec(name: "--step-every", value: "N", help: "Step schedule: decay every N epochs. Default \(D.stepEvery)."),
            OptionSpec(name: "--step-gamma", value: "G", help: "Step schedule: multiply the rate by G. Default \(D.stepGamma)."),
            OptionSpec(name: "--hidden", value: "H1,H2", help: "Hidden layer widths (Dense+ReLU), e.g. 128,64. Default none."),
            OptionSpec(name: "--loss", value: "NAME", help: "kl|ce|reverse-kl|js. Default \(D.loss.rawValue)."),
            OptionSpec(name: "--label-smoothing", value: "E", help: "Mix targets with uniform: (1-E)p + E/k. Default \(D.labelSmoothing)."),
            OptionSpec(name: "--target-temperature", value: "T", help: "Targets p^(1/T), renormalised (T<1 sharpens). Default \(D.targetTemperature)."),
            OptionSpec(name: "--class-weight", value: "NAME", help: "none|balanced. Default \(D.classWeight.rawValue)."),
            OptionSpec(name: "--seed", value: "S", help: "Seed for shuffling, splitting and initialisation. Default \(D.seed)."),
            OptionSpec(name: "--no-standardize", value: nil, help: "Use raw features (default: z-score with the training data's mean/std)."),
            OptionSpec(name: "--threads", value: "N", help: "Worker threads (results do not depend on it). Default: all cores."),
            OptionSpec(name: "--log", value: "FILE", help: "Write the per-epoch table as CSV (empty cells without validation)."),
            OptionSpec(name: "--plot", value: "FILE", help: "Write an SVG chart of train and validation loss by epoch."),
            OptionSpec(name: "--plot-log", value: nil, help: "Log-scale loss axis in the terminal chart and --plot."),
            OptionSpec(name: "--quiet", value: nil, help: "Print only the final summary line (no table, chart or progress)."),
        ] + DataInput.options + AnnotationsTraining.options,
        notes: [
            "Prints one row per epoch, then a chart of the loss curves and a summary line. On a terminal, epochs",
            "that take over a second show a progress bar on stderr.",
            "With --annotations, each row is one EM round (crowd steps, then a training run); see the README.",
        ])

    static func config(from a: ParsedArguments) throws -> TrainConfig {
        // Defaults depend on the model shape and the optimizer; every other flag applies on top.
        var c = TrainConfig.defaults(hidden: try a.intList("--hidden") ?? [],
                                     optimizer: try a.choice("--optimizer", OptimizerKind.self))
        if a.string("--val") != nil || a.string("--val-features") != nil { c.valFraction = 0 }
        if let v = try a.int("--epochs", min: 1) { c.epochs = v }
        if let v = try a.int("--batch-size", min: 1) { c.batchSize = v }
        if let v = try a.float("--lr", min: 0, exclusiveMin: true) { c.learningRate = Float(v) }
        if let v = try a.float("--momentum", min: 0, max: 0.999999) { c.momentum = Float(v) }
        if a.flag("--nesterov") { c.nesterov = true }
        if let v = try a.float("--beta1", min: 0, max: 0.999999) { c.beta1 = Float(v) }
        if let v = try a.float("--beta2", min: 0, max: 0.999999999) { c.beta2 = Float(v) }
        if let v = try a.float("--eps", min: 0, exclusiveMin: true) { c.epsilon = Float(v) }
        if let v = try a.float("--weight-decay", min: 0) { c.weightDecay = Float(v) }
        if let v = try a.float("--l2", min: 0) { c.l2 = Float(v) }
        if let v = try a.choice("--schedule", ScheduleKind.self) { c.schedule = v }
        if let v = try a.int("--warmup", min: 0) { c.warmup = v }
        if let v = try a.int("--step-every", min: 1) { c.stepEvery = v }
        if let v = try a.float("--step-gamma", min: 0, max: 1, exclusiveMin: true) { c.stepGamma = Float(v) }
        if let v = try a.choice("--loss", LossKind.self) { c.loss = v }
        if let v = try a.float("--label-smoothing", min: 0, max: 1) { c.labelSmoothing = Float(v) }
        if let v = try a.float("--target-temperature", min: 0, exclusiveMin: true) { c.targetTemperature = Float(v) }
        if let v = try a.choice("--class-weight", ClassWeighting.self) { c.classWeight = v }
        if let v = try a.float("--val-fraction", min: 0, max: 0.9) { c.valFraction = v }
        if let v = try a.int("--patience", min: 0) { c.patience = v }
        if let v = try a.float("--average", min: 0) { c.averageEpochs = v }
        if let s = a.string("--seed") {
            guard let v = UInt64(s) else { throw UsageError("--seed expects a non-negative integer, got '\(s)'") }
            c.seed = v
        }
        if a.flag("--no-standardize") { c.standardize = false }
        if (a.string("--val") != nil || a.string("--val-features") != nil) && a.string("--val-fraction") != nil {
            throw UsageError("--val and --val-fraction cannot be used together")
        }
        return c
    }

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        if let votes = a.string("--annotations") { return try AnnotationsTraining.run(a, votesPath: votes, console) }
        if let flag = AnnotationsTraining.onlyWithAnnotations.first(where: { a.string($0) != nil }) {
            throw UsageError("\(flag) needs --annotations VOTES.csv")
        }
        let source = try DataInput.source(a, needsLabels: true)
        guard let modelPath = a.string("--model") else { throw UsageError("--model FILE is required (where to save the model)") }
        let config = try config(from: a)
        let threads = try a.int("--threads", min: 1, max: 1024) ?? Parallel.allCores
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
        let train = try DataInput.load(source, threads: threads, console: console).dataset
        var validation: Dataset?
        if let valSource {
            let raw = try DataInput.load(valSource, classes: train.classNames, classesOf: "the training data",
                                         threads: threads, console: console).dataset
            validation = try aligned(raw, to: train, file: valSource.name)
        }

        let quiet = a.flag("--quiet")
        let table = EpochTable()
        if !quiet { console.out(table.header) }
        var progress = Progress(console: console, enabled: !quiet && console.errIsTerminal)
        // `consume`: the run standardises the features in place, with no second copy of the data.
        let run = TrainModel.run(train: consume train, validation: consume validation, config: config,
                                 parallel: Parallel(threads: threads),
                                 onEpoch: { record in
                                     progress.finishEpoch()
                                     if !quiet { console.out(table.row(record)) }
                                 },
                                 onBatch: progress.enabled ? { progress.update(done: $0, total: $1) } : nil)
        let history = run.outcome.history
        if !quiet && !history.isEmpty {
            console.out("\n" + TerminalChart.losses(history, logScale: a.flag("--plot-log")).text + "\n")
        }
        if let path = a.string("--log") {
            try AtomicFile.write(Data(EpochLog.csv(history).utf8), to: path)
        }
        if let path = a.string("--plot") {
            let title = "Loss by epoch: " + URL(fileURLWithPath: modelPath).lastPathComponent
            try AtomicFile.write(Data(SVGChart.losses(history, title: title, logY: a.flag("--plot-log")).svg.utf8), to: path)
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
    private var epoch = 1
    private var started: UInt64 = DispatchTime.now().uptimeNanoseconds
    private var lastDrawn: UInt64 = 0
    private var shown = false

    init(console: Console, enabled: Bool) {
        self.console = console
        self.enabled = enabled
    }

    mutating func update(done: Int, total: Int) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - started >= 1_000_000_000, now - lastDrawn >= 100_000_000 else { return }
        console.err(ProgressBar.line(epoch: epoch, done: done, total: total))
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
