import Foundation
import SoftLabel

/// `softlabel train FEATURES.csv --annotations VOTES.csv --model M.json [--crowd-model NAME]`: targets made
/// from a crowd's votes by EM, with the classifier in the loop (`CrowdTraining`). Reached from
/// `TrainCommand.run` when `--annotations` is given; every training option applies to each M-step.
enum AnnotationsTraining {
    static let options: [OptionSpec] = [
        OptionSpec(name: "--annotations", value: "VOTES.csv", help: "Learn the targets from crowd votes (task, worker, label), joined to the rows by id."),
        OptionSpec(name: "--crowd-model", value: "NAME", help: "With --annotations: soft|dawid-skene|one-coin|votes. Default soft."),
        OptionSpec(name: "--ids", value: "FILE", help: "With --annotations and --features X.npy: one row id per line (the votes' task ids)."),
        OptionSpec(name: "--em-rounds", value: "N", help: "With --annotations: EM rounds (each one training run) at most. Default 20."),
        OptionSpec(name: "--vote-prior", value: "A", help: "With --crowd-model votes: A pseudo-votes per class. Default 0."),
        OptionSpec(name: "--workers", value: "FILE", help: "With --annotations: write one row per worker (as aggregate --workers)."),
    ] + CrowdOptions.tableOptions.map { o in
        var o = o
        o.help = "With --annotations: " + o.help.prefix(1).lowercased() + o.help.dropFirst()
        return o
    } + CrowdOptions.softOptions

    /// Flags that only mean something with --annotations.
    static let onlyWithAnnotations = ["--crowd-model", "--ids", "--em-rounds", "--vote-prior", "--workers", "--task-column", "--worker-column",
                                      "--label-column", "--min-worker-votes", "--honest-prior", "--noise-prior"]

    static func run(_ a: ParsedArguments, votesPath: String, _ console: Console) throws {
        if a.string("--labels") != nil { throw UsageError("--labels and --annotations cannot be used together (the votes make the targets)") }
        if let flag = ["--checkpoint", "--resume", "--init"].first(where: { a.string($0) != nil }) {
            throw UsageError("\(flag) is not available with --annotations (each EM round is a training run of its own)")
        }
        guard let modelPath = a.string("--model") else { throw UsageError("--model FILE is required (where to save the model)") }
        let method = try a.choice("--crowd-model", CrowdMethod.self) ?? .soft
        if a.string("--vote-prior") != nil && method != .votes {
            throw UsageError("--vote-prior is for --crowd-model votes")
        }
        let votePrior = try a.float("--vote-prior", min: 0) ?? 0
        let rounds = try a.int("--em-rounds", min: 1) ?? 20
        let settings = try CrowdOptions.softSettings(a, method: method)
        let config = try TrainCommand.config(from: a)
        let parallel = try Common.parallel(a, console)
        let source = try DataInput.source(a, needsLabels: false, positional: "FEATURES.csv")
        if case .csv = source, a.string("--ids") != nil { throw UsageError("--ids is for NPY features (a CSV has an 'id' column)") }
        let valSource = try DataInput.validationSource(a)
        if config.patience > 0 && valSource == nil && config.valFraction == 0 {
            throw UsageError("--patience needs validation data (--val FILE or --val-fraction F)")
        }
        try Common.checkOutputs(a, ["--model", "--log", "--workers"])
        if a.string("--plot") != nil { throw UsageError("--plot is not available with --annotations (use --log for the rounds)") }

        let votes = try CrowdOptions.readVotes(votesPath, a, method: method, console: console)
        let loaded = try DataInput.load(source, labels: .optional, parallel: parallel, console: console)
        var features = loaded.dataset
        if features.classCount > 0 {
            console.err("softlabel: note: \(source.name): ignoring its label columns (the targets come from --annotations)\n")
        }
        if case .npy = source {
            guard let idsFile = a.string("--ids") else {
                throw UsageError("--ids FILE is required with --features X.npy and --annotations (one task id per row)")
            }
            let ids = try NameList.read(idsFile, what: "id")
            if ids.count != features.count {
                throw DataError(file: idsFile, "has \(ids.count) ids, but \(source.name) has \(features.count) rows")
            }
            features.ids = ids
        }
        let joined = try JoinedAnnotations(features: features, featuresFile: source.name, votes: votes)
        if joined.rowsWithoutVotes > 0 {
            console.err("softlabel: note: \(joined.rowsWithoutVotes) of \(features.count) feature rows have no votes and are not used " +
                        "(first: \(joined.firstRowsWithoutVotes.map { "'\($0)'" }.joined(separator: ", ")))\n")
        }
        if joined.votesWithoutFeatures > 0 {
            console.err("softlabel: note: \(joined.votesWithoutFeatures) votes on \(joined.tasksWithoutFeatures) task(s) with no feature row " +
                        "are not used (first: \(joined.firstTasksWithoutFeatures.map { "'\($0)'" }.joined(separator: ", ")))\n")
        }
        if joined.votes.workerCount == 1 && method != .votes {
            throw DataError(file: votesPath, "the votes on rows with features are all by one worker: a worker model needs several " +
                            "(use --crowd-model votes)")
        }
        try TrainCommand.checkNetworkFits(inputs: features.featureCount, classes: votes.classes.count, config: config)
        var validation: Dataset?
        if let valSource {
            let raw = try DataInput.load(valSource, classes: votes.classes, classesOf: "the vote table", parallel: parallel,
                                         console: console).dataset
            validation = try TrainCommand.aligned(raw, to: joined.data, file: valSource.name)
        }

        let quiet = a.flag("--quiet")
        if !quiet { console.out(roundHeader) }
        let options = CrowdTraining.Options(method: method, settings: settings, votePrior: votePrior, maxRounds: rounds)
        let result = try CrowdTraining.run(joined, validation: validation, config: config, options: options,
                                       parallel: parallel,
                                       onRound: { if !quiet { console.out(roundRow($0)) } })
        if let path = a.string("--log") {
            try AtomicFile.write(Data(roundLog(result.rounds).utf8), to: path)
        }
        if let path = a.string("--workers") {
            try AtomicFile.write(Data(CrowdReport.workersCSV(result.em).utf8), to: path)
        }
        var model = result.run.model
        let unreliable = CrowdReport.unreliableCount(result.em)
        model.targets = TargetProvenance(
            file: votesPath, crowdModel: method.rawValue, settings: method == .soft ? settings : nil,
            votePrior: method == .votes ? votePrior : nil, votes: joined.votes.voteCount, tasks: joined.votes.taskCount,
            workers: joined.votes.workerCount, featureRowsWithoutVotes: joined.rowsWithoutVotes,
            votesWithoutFeatures: joined.votesWithoutFeatures, duplicatePairs: votes.duplicatePairs,
            rounds: result.rounds.count, converged: result.converged, objective: result.rounds.map(\.objective),
            unreliableWorkers: unreliable)
        if let message = result.run.outcome.divergence {
            if result.run.outcome.keptEpoch > 0 {
                try model.write(to: modelPath)
                throw RuntimeFailure(message: message + "; wrote that model to \(modelPath)")
            }
            throw RuntimeFailure(message: message + "; no model written")
        }
        try model.write(to: modelPath)
        var summary = "\(result.rounds.count) EM round(s) of \(method.rawValue)"
        if method != .votes { summary += result.converged ? " (converged)" : " (round limit)" }
        summary += "; \(joined.votes.voteCount) votes by \(joined.votes.workerCount) workers on \(result.run.trainCount) training examples"
        if result.run.validationCount > 0 { summary += ", \(result.run.validationCount) validation" }
        if let unreliable { summary += "; \(unreliable) worker(s) judged unreliable" }
        summary += "; \(model.network.parameterCount) parameters; model written to \(modelPath)\n"
        if !quiet { console.out("\n") }
        console.out(summary)
    }

    static let roundHeader = "round     objective      change  train_loss      val_kl  val_acc  unreliable   seconds\n"

    static func roundRow(_ r: CrowdRound) -> String {
        func num(_ v: Double?, _ width: Int, _ f: String) -> String {
            let s = v.map { String(format: f, $0) } ?? "-"
            return String(repeating: " ", count: max(0, width - s.count)) + s
        }
        return num(Double(r.round), 5, "%.0f") + num(r.objective, 14, "%.6f") + num(r.change, 12, "%+.2e")
            + num(r.trainLoss, 12, "%.6f") + num(r.valKL, 12, "%.6f") + num(r.valAccuracy, 9, "%.4f")
            + num(r.unreliable.map(Double.init), 12, "%.0f") + num(r.seconds, 10, "%.3f") + "\n"
    }

    static func roundLog(_ rounds: [CrowdRound]) -> String {
        func cell(_ v: Double?) -> String { v.map { "\($0)" } ?? "" }
        var out = "round,objective,train_loss,val_loss,val_kl,val_accuracy,unreliable_workers,seconds\n"
        for r in rounds {
            out += "\(r.round),\(r.objective),\(r.trainLoss),\(cell(r.valLoss)),\(cell(r.valKL)),\(cell(r.valAccuracy))," +
                "\(r.unreliable.map(String.init) ?? ""),\(r.seconds)\n"
        }
        return out
    }
}
