import Foundation
import SoftLabel

/// `softlabel train`: fit a model to a data file and save it.
enum TrainCommand: Command {
    static let spec = CommandSpec(
        name: "train",
        usage: ["train DATA.csv --model OUT.json [options]",
                "train --features X.npy --labels Y.npy --model OUT.json [options]",
                "train FEATURES.csv --annotations VOTES.csv --model OUT.json [--crowd-model NAME] [options]"],
        summary: "Train a softmax classifier (optionally with hidden layers) on soft labels.",
        positionals: [("DATA.csv", "training data: features and 'label:<class>', 'label' or 'logit:<class>' columns")],
        options: [
            OptionSpec(name: "--model", value: "FILE", help: "Where to write the trained model (JSON). Required."),
            OptionSpec(name: "--val", value: "FILE", help: "Validation data, reported every epoch."),
            OptionSpec(name: "--val-features", value: "X.npy", help: "Validation features as NPY (with --val-labels), instead of --val."),
            OptionSpec(name: "--val-labels", value: "Y.npy", help: "Validation labels as NPY (with --val-features)."),
            OptionSpec(name: "--val-teacher-logits", value: "Z.npy", help: "Validation teacher logits as NPY (with --val-features)."),
            OptionSpec(name: "--checkpoint", value: "FILE", help: "Save the training state here at every epoch end and on Ctrl-C/SIGTERM."),
            OptionSpec(name: "--resume", value: "FILE", help: "Continue from a --checkpoint file (same data and options); ends as an uninterrupted run would."),
            OptionSpec(name: "--init", value: "MODEL", help: "Start from a trained model's network and standardisation (fine-tuning)."),
        ] + ConfigOption.all.map(\.spec) + [
            Common.threads,
            Streaming.memory,
            OptionSpec(name: "--log", value: "FILE", help: "Write the per-epoch table as CSV (empty cells without validation)."),
            OptionSpec(name: "--plot", value: "FILE", help: "Write an SVG chart of the losses (and validation accuracy), the kept epoch marked."),
            OptionSpec(name: "--plot-log", value: nil, help: "Log-scale loss axis in the terminal chart and --plot (--plot picks it itself past a decade)."),
            OptionSpec(name: "--quiet", value: nil, help: "Print only the final summary line (no table, chart or progress)."),
        ] + DataInput.options + AnnotationsTraining.options,
        notes: [
            "Prints one row per epoch, then a chart of the loss curves and a summary line. On a terminal, epochs",
            "that take over a second show a progress bar on stderr.",
            "With --annotations, each row is one EM round (crowd steps, then a training run); see the README.",
        ])

    /// The configuration from the command line; `initial` (`--init`) fixes the network's shape.
    static func config(from a: ParsedArguments, initial: Network? = nil) throws -> TrainConfig {
        var hidden = try a.intList("--hidden") ?? []
        if let initial {
            let shape = initial.shape
            for (flag, given, theirs) in [("--hidden", a.string("--hidden"), shape.hidden.map(String.init).joined(separator: ",")),
                                          ("--activation", a.string("--activation"), shape.activation.rawValue),
                                          ("--dropout", a.string("--dropout"), "\(shape.dropout)")] {
                if let given, given.lowercased() != theirs.lowercased(), !(flag == "--dropout" && Double(given) == Double(theirs)) {
                    throw UsageError("\(flag) \(given) differs from the --init model's (\(theirs.isEmpty ? "none" : theirs)): " +
                                     "the network comes from that model")
                }
            }
            hidden = shape.hidden
        }
        // Defaults depend on the model shape and the optimizer; every other flag applies on top.
        var c = TrainConfig.defaults(hidden: hidden, optimizer: try a.choice("--optimizer", OptimizerKind.self))
        if a.string("--val") != nil || a.string("--val-features") != nil { c.valFraction = 0 }
        for option in ConfigOption.all { try option.apply(a, &c) }
        if let shape = initial?.shape {
            (c.hidden, c.activation, c.dropout) = (shape.hidden, shape.activation, shape.dropout)
        }
        if (a.string("--val") != nil || a.string("--val-features") != nil) && a.string("--val-fraction") != nil {
            throw UsageError("--val and --val-fraction cannot be used together")
        }
        if c.dropout > 0 && c.hidden.isEmpty {
            throw UsageError("--dropout needs hidden layers (--hidden); a linear model has no hidden units to drop")
        }
        if c.dropout > 0 && c.optimizer == .lbfgs {
            throw UsageError("--dropout needs a minibatch optimizer (sgd, adam or adamw): lbfgs needs a deterministic objective")
        }
        // Before any data is read: the smallest network these hidden layers can make (1 feature, 2 classes).
        try checkNetworkFits(inputs: 1, classes: 2, config: c)
        return c
    }

    /// A usage error when training the network of `config.hidden` between `inputs` features and `classes`
    /// classes needs more memory than this process can have (the machine's, or its memory cgroup's limit).
    static func checkNetworkFits(inputs: Int, classes: Int, config: TrainConfig,
                                 available: Int = MemoryBudget.available) throws {
        if config.hidden.isEmpty { return }
        let need = TrainingMemory.bytes(inputs: inputs, hidden: config.hidden, classes: classes, config: config)
        if let need, need <= available { return }
        let needText = need.map { "at least " + MemoryBudget.format($0) } ?? "more memory than can be counted"
        let shape = inputs == 1 && classes == 2 ? "even with 1 feature and 2 classes" : "with \(inputs) features and \(classes) classes"
        throw UsageError("--hidden \(config.hidden.map(String.init).joined(separator: ",")): training this network \(shape) " +
                         "needs \(needText), more than the \(MemoryBudget.format(available)) this process can use; " +
                         "choose smaller hidden layers")
    }

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        if let votes = a.string("--annotations") { return try AnnotationsTraining.run(a, votesPath: votes, console) }
        if let flag = AnnotationsTraining.onlyWithAnnotations.first(where: { a.string($0) != nil }) {
            throw UsageError("\(flag) needs --annotations VOTES.csv")
        }
        let source = try DataInput.source(a, needsLabels: true)
        guard let modelPath = a.string("--model") else { throw UsageError("--model FILE is required (where to save the model)") }
        // Every output is checked before any data is read: a bad path must not cost a training run.
        for flag in ["--model", "--log", "--plot", "--checkpoint"] {
            if let path = a.string(flag) { try AtomicFile.checkWritable(path) }
        }
        let initial = try a.string("--init").map { try ModelFile.load(path: $0) }
        if initial?.interrupted != nil {
            console.err("softlabel: note: the --init model was written by an interrupted run\n")
        }
        let config = try config(from: a, initial: initial?.network)
        let parallel = try Common.parallel(a, console)
        let valSource = try DataInput.validationSource(a)
        if config.patience > 0 && valSource == nil && config.valFraction == 0 {
            throw UsageError("--patience needs validation data (--val FILE or --val-fraction F)")
        }
        let resume = try a.string("--resume").map { try Checkpoint.load(path: $0) }

        if config.optimizer == .lbfgs {
            let unused = ["--lr", "--batch-size", "--momentum", "--nesterov", "--beta1", "--beta2", "--eps",
                          "--weight-decay", "--schedule", "--warmup", "--step-every", "--step-gamma"]
                .filter { a.string($0) != nil || a.flag($0) }
            if !unused.isEmpty {
                console.err("softlabel: note: lbfgs is full-batch with a line search; ignoring " +
                            unused.joined(separator: ", ") + "\n")
            }
        }
        // NPY data larger than the memory budget (widened to Float) is streamed from its files.
        var streamed: (train: StreamingSource, validation: StreamingSource?)?
        let budget = try Streaming.budget(a)
        if case .npy(let s) = source {
            var others: [NPYSource] = []
            if case .npy(let v)? = valSource { others.append(v) }
            if try Streaming.shouldStream(s, others: others, budget: budget, console: console) {
                let train = try StreamingSource(s, classes: initial?.classes, classesOf: "the --init model",
                                                featureOrder: initial?.features, featuresOf: "the --init model")
                var validation: StreamingSource?
                switch valSource {
                case .npy(let v)?:
                    validation = try StreamingSource(v, classes: train.classNames, classesOf: "the training data",
                                                     featureOrder: train.featureNames, featuresOf: "the training data")
                case .csv?:
                    throw UsageError("--val FILE.csv cannot be used while the training data is streamed: give " +
                                     "--val-features/--val-labels as NPY ('softlabel convert' writes them)")
                case nil:
                    break
                }
                streamed = (train, validation)
            }
        } else if case .csv(let path, _) = source, Streaming.csvTooLarge(path, budget: budget) {
            console.err("softlabel: note: \(path) is larger than the memory budget; training reads it into memory " +
                        "(to stream it, convert it to NPY first: softlabel convert \(path) --out DIR)\n")
        }
        var train: Dataset?
        var validation: Dataset?
        if let streamed {
            try checkNetworkFits(inputs: streamed.train.featureNames.count, classes: streamed.train.classNames.count, config: config)
        } else {
            let data = try trainingData(source, initial: initial, parallel: parallel, console: console)
            try checkNetworkFits(inputs: data.featureCount, classes: data.classCount, config: config)
            validation = try valSource.map { valSource in
                let raw = try DataInput.load(valSource, classes: data.classNames, classesOf: "the training data",
                                             parallel: parallel, console: console).dataset
                return try aligned(raw, to: data, file: valSource.name)
            }
            train = data
        }

        let quiet = a.flag("--quiet")
        let table = EpochTable()
        if !quiet { console.out(table.header) }
        if let resume, let path = a.string("--resume") {
            let at = resume.resumesAt
            console.err("softlabel: resuming from \(path): epoch \(at.epoch)" +
                        (at.examplesDone > 0 ? ", after \(at.examplesDone) of its examples" : "") + "\n")
            if !quiet { for record in resume.completedHistory { console.out(table.row(record)) } }
        }
        let monitor = streamed == nil ? nil : StreamingMonitor()
        var progress = Progress(console: console, enabled: !quiet && console.errIsTerminal, epochs: config.epochs,
                                monitor: monitor)
        let checkpointPath = a.string("--checkpoint")
        let control = TrainingControl(
            onEpoch: { record in
                progress.finishEpoch()
                if !quiet { console.out(table.row(record)) }
            },
            onBatch: progress.enabled ? { progress.update(done: $0, total: $1, loss: $2) } : nil,
            shouldStop: { Signals.stopRequested != nil },
            onCheckpoint: checkpointPath.map { path in { try $0.write(to: path) } })
        // `consume`: the run standardises the features in place, with no second copy of the data.
        var run: TrainingRun
        Signals.beginTraining()
        do {
            // (Not inside a closure: `consume` of a captured variable is not safe.)
            if let streamed {
                let started = DispatchTime.now().uptimeNanoseconds
                run = try TrainModel.runStreaming(source: streamed.train, validation: streamed.validation, config: config,
                                                  parallel: parallel, initial: initial, resume: resume, control: control,
                                                  monitor: monitor, readAhead: Streaming.readAhead,
                                                  targetCacheBytes: budget.bytes / 4,
                                                  note: { console.err("softlabel: note: \($0)\n") })
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                let bytes = monitor!.bytesRead
                console.err("softlabel: note: read \(MemoryBudget.format(bytes)) of data files in \(String(format: "%.1f", seconds)) s " +
                            "(\(TrainModel.rate(bytes, seconds)), scan and epochs together)\n")
            } else {
                run = try TrainModel.run(data: train.take()!, validation: validation.take(), config: config, parallel: parallel,
                                         initial: initial, resume: resume, control: control)
            }
            Signals.endTraining()
        } catch let e as CheckpointMismatch {
            Signals.endTraining()
            throw DataError(file: a.string("--resume") ?? "", e.message)
        } catch let e as StreamingUnsupported {
            Signals.endTraining()
            throw UsageError(e.message)
        } catch {
            Signals.endTraining()
            throw error
        }
        progress.finishEpoch()
        let signal = Signals.stopRequested
        if let signal { run.model.interrupted?.signal = Signals.name(signal) }
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
        if let path = a.string("--plot"), !history.isEmpty {
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
        var summary: String
        if let stop = o.interruption {
            let by = signal.map(Signals.name) ?? "a stop request"
            if config.optimizer == .lbfgs {
                summary = "interrupted by \(by) in iteration \(stop.epoch); kept iteration \(o.keptEpoch)"
            } else {
                summary = "interrupted by \(by) in epoch \(stop.epoch) after \(stop.examplesDone) of " +
                    "\(stop.examplesPerEpoch) examples; kept epoch \(o.keptEpoch)" + (o.keptEpoch == stop.epoch ? " (partial)" : "")
            }
            if let path = checkpointPath { summary += "; checkpoint \(path) (continue with --resume \(path))" }
        } else {
            summary = "kept epoch \(o.keptEpoch) of \(o.history.count)"
            if o.stoppedEarly { summary += " (stopped early: no better validation loss for \(config.patience) epochs)" }
            if o.converged { summary += " (converged)" }
            if KeptEpoch(outcome: o, config: config).reason == .notConverged {
                summary += " (not converged: reached --epochs \(config.epochs))"
            }
        }
        summary += "; \(run.trainCount) training examples"
        if run.validationCount > 0 { summary += ", \(run.validationCount) validation" }
        summary += "; \(run.model.network.parameterCount) parameters; model written to \(modelPath)\n"
        console.out(summary)
        if let signal { throw ExitStatus(code: 128 + signal) }
    }

    /// The training data, with an --init model's features and classes in that model's order.
    static func trainingData(_ source: DataInput.Source, initial: ModelFile?, parallel: Parallel,
                             console: Console) throws -> Dataset {
        var train = try DataInput.load(source, classes: initial?.classes, classesOf: "the --init model",
                                       parallel: parallel, console: console).dataset
        if let initial {
            train.features = try train.features(orderedAs: initial.features, of: "the --init model", file: source.name).features
            train.featureNames = initial.features
        }
        return train
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

    /// Counts the bytes read when the data is streamed: the bar then shows the read rate.
    let monitor: StreamingMonitor?
    private var bytesAtStart = 0

    init(console: Console, enabled: Bool, epochs: Int, monitor: StreamingMonitor? = nil) {
        self.console = console
        self.enabled = enabled
        self.epochs = epochs
        self.monitor = monitor
    }

    mutating func update(done: Int, total: Int, loss: Double) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - started >= 1_000_000_000, now - lastDrawn >= 100_000_000 else { return }
        let seconds = Double(now - started) / 1e9
        console.err(ProgressBar.line(epoch: epoch, of: epochs, done: done, total: total, seconds: seconds, loss: loss,
                                     readRate: monitor.map { Double($0.bytesRead - bytesAtStart) / seconds }))
        lastDrawn = now
        shown = true
    }

    mutating func finishEpoch() {
        if shown { console.err(ProgressBar.clear) }
        shown = false
        epoch += 1
        started = DispatchTime.now().uptimeNanoseconds
        bytesAtStart = monitor?.bytesRead ?? 0
    }
}
