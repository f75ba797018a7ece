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
            OptionSpec(name: "--threads", value: "N", help: "Worker threads. Default: all cores."),
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
        "Ties in argmax p or argmax q go to the first class in the model's order.",
    ]

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        let source = try DataInput.source(a, needsLabels: true)
        guard let modelPath = a.string("--model") else { throw UsageError("--model FILE is required") }
        let threads = try a.int("--threads", min: 1, max: 1024) ?? Parallel.allCores
        let model = try ModelFile.load(path: modelPath)
        let data = try DataInput.load(source, classes: model.classes, threads: threads, console: console).dataset
        let report = try evaluate(model, on: data, source: source, parallel: Parallel(threads: threads), console: console)
        console.out(a.flag("--json") ? report.json.text + "\n" : report.text)
    }

    /// The model's predictions (with its temperature) on `data`, whose classes are in the model's order.
    static func evaluate(_ model: ModelFile, on data: Dataset, source: DataInput.Source, parallel: Parallel,
                         console: Console) throws -> EvaluationReport {
        let x = try DataInput.features(of: data, for: model, source: source, console: console)
        let logits = model.logits(x, parallel: parallel)
        let evaluation = Evaluation(logits: logits, targets: data.targets)
        try requireFinite(evaluation, data: data, source: source)
        return EvaluationReport(evaluation, classes: model.classes)
    }

    /// A prediction that is not finite makes every metric meaningless: an error naming the example, never a
    /// NaN in the report. (A backstop: prediction itself should already refuse such rows.)
    static func requireFinite(_ evaluation: Evaluation, data: Dataset, source: DataInput.Source) throws {
        if let i = evaluation.firstNonFiniteRow {
            throw DataError(file: source.name, "example \(i + 1) (id '\(shownID(data.ids[i]))'): the model's prediction " +
                            "is not finite (NaN or infinite logits: a feature far outside the training data's range, or a broken model?)")
        }
    }

    private static func shownID(_ id: String) -> String { id.count > 40 ? String(id.prefix(40)) + "..." : id }
}
