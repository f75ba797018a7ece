import Foundation
import SoftLabel

/// `softlabel eval`: how well a model's predictions match held-out soft labels.
enum EvalCommand: Command {
    static let spec = CommandSpec(
        name: "eval",
        usage: ["eval --model M.json DATA.csv [--json]",
                "eval --model M.json --features X.npy --labels Y.npy [--classes FILE] [--feature-names FILE] [--json]"],
        summary: "Evaluate a model on labelled data: divergences, accuracy, calibration, per-class table.",
        positionals: [("DATA.csv", "data with the model's feature and label columns")],
        options: [
            OptionSpec(name: "--model", value: "FILE", help: "The trained model. Required."),
            OptionSpec(name: "--json", value: nil, help: "Print one JSON object instead of the text report."),
            OptionSpec(name: "--ordinal", value: nil, help: "The classes are an ordered scale (in the model's order): add wasserstein."),
            OptionSpec(name: "--plot", value: "FILE", help: "Write reliability diagrams (top class and soft labels) as SVG."),
            Common.threads,
            Streaming.memory,
        ] + DataInput.options,
        notes: metricNotes)

    /// What the metrics mean; shared with `compare`.
    static let metricNotes = [
        "Metrics (means over examples; p the label, q = softmax(z / T) the prediction, natural log):",
        "  kl             KL(p‖q)",
        "  cross_entropy  H(p, q) = entropy + kl",
        "  entropy        H(p), of the labels alone",
        "  js             Jensen-Shannon divergence (at most log 2)",
        "  tv             total variation ½ Σ_j |p_j - q_j|",
        "  accuracy       the predicted class (argmax q) is the label's majority class (argmax p)",
        "  top2_accuracy  the majority class is one of the two most probable predicted classes",
        "  brier          Σ_j (q_j - p_j)², summed over classes (not divided by k)",
        "  ece            expected calibration error of max q against accuracy, 15 equal-width bins",
        "  manhattan      Σ_j |p_j - q_j| (= 2 tv)",
        "  entropy_correlation  Pearson correlation of H(p) and H(q) across examples (n/a if either is constant)",
        "  wasserstein    with --ordinal: Σ_j |P_j - Q_j|, P and Q cumulative over the classes in the model's order",
        "Ties in argmax p or argmax q go to the first class in the model's order.",
    ]

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        try Common.checkOutputs(a, ["--plot"])
        let source = try DataInput.source(a, needsLabels: true)
        guard let modelPath = a.string("--model") else { throw UsageError("--model FILE is required") }
        let parallel = try Common.parallel(a, console)
        let model = try ModelFile.load(path: modelPath)
        let report: EvaluationReport
        switch try Streaming.reading(source, a, model: model, labels: .required, classes: model.classes, parallel: parallel,
                                     console: console) {
        case .chunks(let reader):
            report = try evaluateStreamed(reader, model: model, named: modelPath, csv: { if case .csv = source { return true } else { return false } }(),
                                          parallel: parallel, console: console, ordinal: a.flag("--ordinal"))
        case .whole(let opened):
            let data = try DataInput.load(source, classes: model.classes, parallel: parallel, console: console, opened: opened).dataset
            report = try evaluate(model, named: modelPath, on: data, source: source, parallel: parallel, console: console,
                                  ordinal: a.flag("--ordinal"))
        }
        if let path = a.string("--plot") {
            let title = URL(fileURLWithPath: modelPath).lastPathComponent + " on " + URL(fileURLWithPath: source.name).lastPathComponent
            try AtomicFile.write(Data(ReliabilityChart(models: [(title, report.evaluation)]).svg.utf8), to: path)
        }
        console.out(a.flag("--json") ? report.json.text + "\n" : report.text)
    }

    /// `evaluate` a chunk at a time: the metrics' sums are all that is kept (`EvaluationSums`).
    static func evaluateStreamed(_ reader: ChunkedReader, model: ModelFile, named modelName: String, csv: Bool,
                                 parallel: Parallel, console: Console, ordinal: Bool) throws -> EvaluationReport {
        let columns = try Streaming.columns(for: model, reader, console: console)
        var sums = EvaluationSums(k: model.classes.count)
        while let chunk = try reader.next() {
            let x = Streaming.features(chunk, columns: columns)
            let z = try Streaming.predicting(chunk, reader: reader, model: modelName, csv: csv) { () throws(NonFinitePrediction) in
                try model.logits(x, parallel: parallel)
            }
            sums.add(logits: z, targets: chunk.targets!)
        }
        for w in reader.warnings { console.err("softlabel: warning: \(w)\n") }
        return EvaluationReport(sums.evaluation, classes: model.classes, ordinal: ordinal)
    }

    /// The model's predictions (with its temperature) on `data`, whose classes are in the model's order.
    static func evaluate(_ model: ModelFile, named modelName: String, on data: Dataset, source: DataInput.Source,
                         parallel: Parallel, console: Console, ordinal: Bool = false,
                         keepExamples: Bool = false) throws -> EvaluationReport {
        let x = try DataInput.features(of: data, for: model, source: source, console: console)
        let logits = try DataInput.predicting(data, source: source, model: modelName) { () throws(NonFinitePrediction) in
            try model.logits(x, parallel: parallel)
        }
        return EvaluationReport(Evaluation(logits: logits, targets: data.targets, keepExamples: keepExamples),
                                classes: model.classes, ordinal: ordinal)
    }
}
