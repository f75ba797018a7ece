import Foundation
import SoftLabel

/// `softlabel inspect`: what a data file holds, and how long it took to parse.
enum InspectCommand: Command {
    static let spec = CommandSpec(
        name: "inspect",
        usage: ["inspect DATA.csv [--json]", "inspect --features X.npy [--labels Y.npy] [--json]"],
        summary: "Summarise a data file: sizes, class balance, label entropy, feature ranges, parse time.",
        positionals: [("DATA.csv", "data in the CSV format (labels optional)")],
        options: [
            OptionSpec(name: "--json", value: nil, help: "Print one JSON object instead of the text report."),
            Common.threads,
            Streaming.memory,
        ] + DataInput.options,
        notes: ["majority: rows whose largest target probability is that class (ties go to the first class);",
                "split: rows whose label is not one-hot (max p < 1); entropy in nats."])

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        let source = try DataInput.source(a, needsLabels: false)
        let parallel = try Common.parallel(a, console)
        let start = DispatchTime.now().uptimeNanoseconds
        var seconds = 0.0
        let summary: DataSummary
        // NPY is always read in chunks, where it lies (parse time: one pass that reads and checks every value;
        // no copy of the data is made); CSV only when it is larger than the memory budget.
        var chunked: (() throws -> ChunkedReader)?
        var bytes: Int?
        switch source {
        case .npy(let s):
            let streamed = try StreamingSource(s, labels: .optional)
            bytes = streamed.fileBytes
            chunked = { try NPYChunkedReader(streamed, parallel: parallel) }
        case .csv(let path, let delimiter):
            let file = try CSVFile(path: path)
            let budget = try Streaming.budget(a)
            if !budget.fits(file.size) {
                console.err("softlabel: note: streaming \(file.name): its \(MemoryBudget.format(file.size)) of text are more than " +
                            "the memory budget of \(MemoryBudget.format(budget.bytes)) (\(budget.origin)); reading it in chunks, " +
                            "three passes (--memory SIZE sets the budget)\n")
                chunked = { try CSVChunkedReader(file: file, classes: nil, labels: .optional, threads: parallel.threads,
                                                 delimiter: delimiter) }
            } else {
                let data = try DataInput.load(source, labels: .optional, parallel: parallel, console: console, opened: file).dataset
                seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                chunked = nil
                summary = DataSummary(data, parallel: parallel)
                return finish(summary, a: a, source: source, bytes: file.size, seconds: seconds, console: console)
            }
            bytes = file.size
        }
        summary = try DataSummary.streamed(chunked!, parallel: parallel) { parse, warnings in
            _ = parse
            seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9  // from opening the files
            for w in warnings { console.err("softlabel: warning: \(w)\n") }
        }
        finish(summary, a: a, source: source, bytes: bytes ?? 0, seconds: seconds, console: console)
    }

    private static func finish(_ summary: DataSummary, a: ParsedArguments, source: DataInput.Source, bytes: Int, seconds: Double,
                               console: Console) {
        if a.flag("--json") {
            console.out(json(summary, source: source, bytes: bytes, seconds: seconds) + "\n")
        } else {
            console.out(text(summary, source: source, bytes: bytes, seconds: seconds))
        }
    }

    private static func text(_ s: DataSummary, source: DataInput.Source, bytes: Int, seconds: Double) -> String {
        var out = """
        data      \(oneLine(source.name))
        rows      \(s.rows)
        features  \(s.featureCount)
        classes   \(s.classCount)
        parsed    \(String(format: "%.3f", seconds)) s, \(String(format: "%.1f", Double(bytes) / 1e6)) MB \
        (\(String(format: "%.0f", Double(bytes) / 1e6 / max(seconds, 1e-9))) MB/s)

        """
        if s.classCount > 0 {
            // Names are the file's text: control characters escaped, so a CR in a header cannot break the table.
            let w = max(5, s.classes.map { oneLine($0.name).count }.max()!)
            out += "\n" + pad("class", w) + "    mean_p  majority\n"
            for c in s.classes {
                out += pad(oneLine(c.name), w) + String(format: "  %8.6f  %8d\n", c.meanProbability, c.majorityRows)
            }
            out += "\nmean entropy  \(String(format: "%.6f", s.meanEntropy)) nats\n"
            out += "split labels  \(String(format: "%.2f", 100 * s.splitShare))% of rows (max p < 1)\n"
        } else {
            out += "\nno labels\n"
        }
        let w = max(7, s.features.map { oneLine($0.name).count }.max() ?? 0)
        out += "\n" + pad("feature", w) + "           min          mean           std           max\n"
        for f in s.features {
            out += pad(oneLine(f.name), w) + String(format: "  %12.6g  %12.6g  %12.6g  %12.6g", Double(f.min), f.mean, f.std, Double(f.max))
            out += f.isConstant ? "  constant\n" : "\n"
        }
        let constant = s.features.filter(\.isConstant).count
        out += "\nconstant features: \(constant)" + (constant > 0 ? " (they carry no information; standardisation maps them to 0)" : "") + "\n"
        return out
    }

    private static func json(_ s: DataSummary, source: DataInput.Source, bytes: Int, seconds: Double) -> String {
        let classes = s.classes.map {
            JSONValue.object([("name", .string($0.name)), ("mean_p", .number($0.meanProbability)),
                              ("majority_rows", .int($0.majorityRows))])
        }
        let features = s.features.map {
            JSONValue.object([("name", .string($0.name)), ("min", .number(Double($0.min))), ("mean", .number($0.mean)),
                              ("std", .number($0.std)), ("max", .number(Double($0.max))), ("constant", .bool($0.isConstant))])
        }
        var fields: [(String, JSONValue)] = [
            ("data", .string(source.name)), ("rows", .int(s.rows)), ("features", .int(s.featureCount)),
            ("classes", .int(s.classCount)), ("parse_seconds", .number(seconds)), ("bytes", .int(bytes)),
        ]
        if s.classCount > 0 {
            fields += [("class_stats", .array(classes)), ("mean_entropy", .number(s.meanEntropy)),
                       ("split_share", .number(s.splitShare))]
        }
        fields += [("feature_stats", .array(features)), ("constant_features", .int(s.features.filter(\.isConstant).count))]
        return JSONValue.object(fields).text
    }

    private static func pad(_ s: String, _ w: Int) -> String {
        s + String(repeating: " ", count: max(0, w - s.count))
    }
}
