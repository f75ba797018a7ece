import Foundation
import SoftLabel

/// `softlabel predict`: predicted class distributions for new examples.
enum PredictCommand: Command {
    static let spec = CommandSpec(
        name: "predict",
        usage: ["predict --model M.json DATA.csv [--out FILE]",
                "predict --model M.json --features X.npy [--feature-names FILE] [--out FILE]"],
        summary: "Write each example's predicted distribution as CSV: id, then p:<class> per class.",
        positionals: [("DATA.csv", "data with the model's feature columns (label columns are checked, not used)")],
        options: [
            OptionSpec(name: "--model", value: "FILE", help: "The trained model. Required."),
            OptionSpec(name: "--out", value: "FILE", help: "Write here (atomically) instead of stdout."),
            OptionSpec(name: "--threads", value: "N", help: "Worker threads. Default: all cores."),
        ] + DataInput.options)

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        let source = try DataInput.source(a, needsLabels: false)
        guard let modelPath = a.string("--model") else { throw UsageError("--model FILE is required") }
        let threads = try a.int("--threads", min: 1, max: 1024) ?? Parallel.allCores
        let model = try ModelFile.load(path: modelPath)
        // Label columns are read and checked (a malformed file is an error) but not used.
        let data = try DataInput.load(source, labels: .optional, threads: threads, console: console).dataset
        let x = try DataInput.features(of: data, for: model, source: source, console: console)
        let q = model.probabilities(x, parallel: Parallel(threads: threads))
        var text = "id," + model.classes.map { csvField("p:" + $0) }.joined(separator: ",") + "\n"
        for i in 0..<q.rows {
            text += csvField(data.ids[i])
            for j in 0..<q.cols { text += ",\(q[i, j])" }
            text += "\n"
        }
        if let out = a.string("--out") {
            try AtomicFile.write(Data(text.utf8), to: out)
        } else {
            console.out(text)
        }
    }
}

/// A CSV cell, quoted (RFC 4180) when it holds a comma, quote or line break.
func csvField(_ s: String) -> String {
    if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
    return s
}
