import Foundation
import SoftLabel

/// `softlabel predict`: predicted class distributions for new examples.
enum PredictCommand: Command {
    enum Format: String, CaseIterable { case csv, jsonl }

    static let spec = CommandSpec(
        name: "predict",
        usage: ["predict --model M.json DATA.csv [--format csv|jsonl] [--top K] [--out FILE]",
                "predict --model M.json --features X.npy [--feature-names FILE] [--format csv|jsonl] [--top K] [--out FILE]"],
        summary: "Write each example's predicted distribution (or its K most probable classes), with its id.",
        positionals: [("DATA.csv", "data with the model's feature columns (label columns are checked, not used)")],
        options: [
            OptionSpec(name: "--model", value: "FILE", help: "The trained model. Required."),
            OptionSpec(name: "--format", value: "NAME", help: "csv|jsonl. Default csv."),
            OptionSpec(name: "--top", value: "K", help: "Only the K most probable classes, most probable first."),
            OptionSpec(name: "--logits", value: nil, help: "Write the logits z / T instead of probabilities (a teacher's outputs for distillation)."),
            OptionSpec(name: "--out", value: "FILE", help: "Write here (atomically) instead of stdout."),
            Streaming.ids,
            Common.threads,
            Streaming.memory,
        ] + DataInput.options,
        notes: [
            "Output, one line per example, in the data's order:",
            "  csv                id,p:<class>,... (every class, in the model's order)",
            "  csv --top K        id,class_1,p_1,...,class_K,p_K",
            "  jsonl              {\"id\": ..., \"p\": {\"<class>\": q, ...}}",
            "  jsonl --top K      {\"id\": ..., \"top\": [{\"class\": ..., \"p\": q}, ...]}",
            "  --logits           the same with logit:<class> columns (jsonl: \"logit\"), z / T in place of q",
            "Equal probabilities rank in the model's class order.",
        ])

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        try Common.checkOutputs(a, ["--out"])
        let source = try DataInput.source(a, needsLabels: false)
        guard let modelPath = a.string("--model") else { throw UsageError("--model FILE is required") }
        let format = try a.choice("--format", Format.self) ?? .csv
        let top = try a.int("--top", min: 1)
        let logits = a.flag("--logits")
        if logits && top != nil { throw UsageError("--logits writes every class's logit; it cannot be used with --top") }
        let parallel = try Common.parallel(a, console)
        let model = try ModelFile.load(path: modelPath)
        if let top, top > model.classes.count {
            throw UsageError("--top \(top) is more than the model's \(model.classes.count) classes")
        }
        if a.string(Streaming.ids.name) != nil, case .csv = source {
            throw UsageError("--ids is for NPY input (a CSV file has its own 'id' column)")
        }
        // Label columns are read and checked (a malformed file is an error) but not used.
        let reading = try Streaming.reading(source, a, model: model, labels: .optional, classes: nil, parallel: parallel,
                                            console: console)
        guard case .whole(let opened) = reading else {
            guard case .chunks(let reader) = reading else { return }
            try predictStreamed(reader, model: model, modelPath: modelPath, format: format, top: top, logits: logits,
                                out: a.string("--out"), csv: { if case .csv = source { return true } else { return false } }(),
                                parallel: parallel, console: console)
            return
        }
        var data = try DataInput.load(source, labels: .optional, parallel: parallel, console: console, opened: opened).dataset
        if let spec = a.string(Streaming.ids.name) {
            let list = try IdList(spec: spec)
            if list.count != data.count { throw DataError(file: spec, "has \(list.count) ids, but \(source.name) has \(data.count) rows") }
            data.ids = try list.next(data.count)
        }
        let x = try DataInput.features(of: data, for: model, source: source, console: console)
        let q = try DataInput.predicting(data, source: source, model: modelPath) { () throws(NonFinitePrediction) in
            try logits ? model.logits(x, parallel: parallel) : model.probabilities(x, parallel: parallel)
        }
        let text = render(q, ids: data.ids, classes: model.classes, format: format, top: top, logits: logits)
        if let out = a.string("--out") {
            try AtomicFile.write(Data(text.utf8), to: out)
        } else {
            console.out(text)
        }
    }

    /// Predictions a chunk at a time: memory stays that of one chunk, whatever the size of the data. The
    /// text goes to `--out` through a temporary file renamed at the end, or to stdout once every row is read.
    static func predictStreamed(_ reader: ChunkedReader, model: ModelFile, modelPath: String, format: Format, top: Int?,
                                logits: Bool, out: String?, csv: Bool, parallel: Parallel, console: Console) throws {
        let columns = try Streaming.columns(for: model, reader, console: console)
        let file = try out.map { try AtomicFileWriter(path: $0) }
        let spool = file == nil ? try StdoutSpool() : nil
        var first = true
        while let chunk = try reader.next() {
            let x = Streaming.features(chunk, columns: columns)
            let q = try Streaming.predicting(chunk, reader: reader, model: modelPath, csv: csv) { () throws(NonFinitePrediction) in
                try logits ? model.logits(x, parallel: parallel) : model.probabilities(x, parallel: parallel)
            }
            let text = render(q, ids: chunk.ids, classes: model.classes, format: format, top: top, logits: logits, header: first)
            first = false
            if let file { try file.write(text) } else { try spool!.write(text) }
        }
        for w in reader.warnings { console.err("softlabel: warning: \(w)\n") }
        if let file { try file.commit() } else { try spool!.finish(console) }
    }

    /// q (n, k) as CSV or JSON lines; with `top`, only the `top` most probable classes of each row; with
    /// `logits`, q holds logits (named `logit:<class>` / "logit"); `header`: begin CSV with its header line.
    static func render(_ q: Matrix, ids: [String], classes: [String], format: Format, top: Int?, logits: Bool = false,
                       header: Bool = true) -> String {
        let (prefix, key) = logits ? ("logit:", "logit") : ("p:", "p")
        let k = q.cols
        var text = ""
        if format == .csv && header {
            text = top.map { t in
                "id," + (1...t).map { "class_\($0),p_\($0)" }.joined(separator: ",")
            } ?? "id," + classes.map { csvField(prefix + $0) }.joined(separator: ",")
            text += "\n"
        }
        for i in 0..<q.rows {
            let row = q.row(i)
            let order = top.map { t in Array((0..<k).sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(t)) }
            switch (format, order) {
            case (.csv, nil):
                text += csvField(ids[i]) + row.map { ",\($0)" }.joined()
            case (.csv, let order?):
                text += csvField(ids[i]) + order.map { ",\(csvField(classes[$0])),\(row[$0])" }.joined()
            case (.jsonl, nil):
                text += JSONValue.object([("id", .string(ids[i])),
                                          (key, .object(classes.indices.map { (classes[$0], .float(row[$0])) }))]).text
            case (.jsonl, let order?):
                text += JSONValue.object([("id", .string(ids[i])), ("top", .array(order.map {
                    .object([("class", .string(classes[$0])), ("p", .float(row[$0]))])
                }))]).text
            }
            text += "\n"
        }
        return text
    }
}

/// A CSV cell, quoted (RFC 4180) when it holds a comma, quote or line break.
func csvField(_ s: String) -> String {
    if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
    return s
}
