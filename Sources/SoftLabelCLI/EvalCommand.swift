import Foundation
import SoftLabel

/// `softlabel eval`: how well a model's predictions match held-out soft labels.
enum EvalCommand: Command {
    static let spec = CommandSpec(
        name: "eval",
        usage: ["eval --model M.json DATA.csv [--json]",
                "eval --model M.json --features X.npy --labels Y.npy [--classes FILE] [--feature-names FILE] [--json]"],
        summary: "Evaluate a model on labelled data: KL, cross-entropy, accuracy.",
        positionals: [("DATA.csv", "data with the model's feature and label columns")],
        options: [
            OptionSpec(name: "--model", value: "FILE", help: "The trained model. Required."),
            OptionSpec(name: "--json", value: nil, help: "Print one JSON object instead of the text report."),
            OptionSpec(name: "--threads", value: "N", help: "Worker threads. Default: all cores."),
        ] + DataInput.options,
        notes: ["accuracy: the predicted class (argmax q) equals the label's majority class (argmax p);",
                "ties go to the first class in the model's class order."])

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        let source = try DataInput.source(a, needsLabels: true)
        guard let modelPath = a.string("--model") else { throw UsageError("--model FILE is required") }
        let threads = try a.int("--threads", min: 1, max: 1024) ?? Parallel.allCores
        let model = try ModelFile.load(path: modelPath)
        let data = try DataInput.load(source, classes: model.classes, threads: threads, console: console).dataset
        let x = try DataInput.features(of: data, for: model, source: source, console: console)
        let logits = model.logits(x, parallel: Parallel(threads: threads))
        let e = Evaluation(logits: logits, targets: data.targets)
        if a.flag("--json") {
            console.out(JSONReport([
                ("examples", .int(e.count)), ("kl", .number(e.kl)), ("cross_entropy", .number(e.crossEntropy)),
                ("accuracy", .number(e.accuracy)),
            ]).text + "\n")
        } else {
            console.out("""
            examples       \(e.count)
            kl             \(String(format: "%.6f", e.kl))
            cross_entropy  \(String(format: "%.6f", e.crossEntropy))
            accuracy       \(String(format: "%.6f", e.accuracy))

            """)
        }
    }
}

/// A flat JSON object with keys in the given order and numbers printed exactly (shortest round-trip form).
struct JSONReport {
    enum Value {
        case int(Int)
        case number(Double)
        case string(String)
        case raw(String)  // already JSON
    }

    var fields: [(String, Value)]
    init(_ fields: [(String, Value)]) { self.fields = fields }

    var text: String {
        "{" + fields.map { "\(jsonString($0.0)): \(render($0.1))" }.joined(separator: ", ") + "}"
    }

    private func render(_ v: Value) -> String {
        switch v {
        case .int(let i): return String(i)
        case .number(let d): return d.isFinite ? "\(d)" : "null"
        case .string(let s): return jsonString(s)
        case .raw(let s): return s
        }
    }
}

/// A JSON string literal.
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
