import Foundation
import SoftLabel

/// `softlabel compare`: several models' eval metrics on the same data, side by side.
enum CompareCommand: Command {
    static let spec = CommandSpec(
        name: "compare",
        usage: ["compare --model A.json --model B.json [--model C.json ...] DATA.csv [--json]",
                "compare --model A.json --model B.json ... --features X.npy --labels Y.npy [--classes FILE] [--json]"],
        summary: "Evaluate two or more models on the same data and show their metrics side by side.",
        positionals: [("DATA.csv", "data with the models' feature and label columns")],
        options: [
            OptionSpec(name: "--model", value: "FILE", help: "A trained model; give it two or more times.", repeatable: true),
            OptionSpec(name: "--json", value: nil, help: "Print one JSON object: each model's eval --json fields, the differences."),
            OptionSpec(name: "--bootstrap", value: "N", help: "Resamples for the 95% intervals of the differences to the first model; 0 = none. Default 1000."),
            OptionSpec(name: "--seed", value: "S", help: "Seed of the bootstrap resamples. Default 1."),
            OptionSpec(name: "--ordinal", value: nil, help: "The classes are an ordered scale (in the first model's order): add wasserstein."),
            OptionSpec(name: "--plot", value: "FILE", help: "Write the models' reliability diagrams overlaid, as SVG."),
            Common.threads,
        ] + DataInput.options,
        notes: EvalCommand.metricNotes)

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        try Common.checkOutputs(a, ["--plot"])
        let source = try DataInput.source(a, needsLabels: true)
        let dataPath = source.name
        let paths = a.strings("--model")
        guard paths.count >= 2 else {
            throw UsageError("give two or more models to compare (--model A.json --model B.json), got \(paths.count)")
        }
        let parallel = try Common.parallel(a, console)
        let resamples = try a.int("--bootstrap", min: 0, max: 1_000_000) ?? 1000
        let seed: UInt64 = try a.string("--seed").map { s in
            guard let v = UInt64(s) else { throw UsageError("--seed expects a non-negative integer, got '\(s)'") }
            return v
        } ?? 1
        let models = try paths.map { try ModelFile.load(path: $0) }
        // Read the data once, in the first model's class order; reorder the label columns for the others.
        let data = try DataInput.load(source, classes: models[0].classes, parallel: parallel, console: console).dataset
        var reports: [(name: String, report: EvaluationReport)] = []
        for (path, model) in zip(paths, models) {
            guard let own = data.withClassOrder(model.classes) else {
                throw DataError(file: path, "classes \(model.classes) differ from those of \(paths[0]) \(models[0].classes)")
            }
            reports.append((path, try EvalCommand.evaluate(model, named: path, on: own, source: source, parallel: parallel, console: console,
                                                           ordinal: a.flag("--ordinal"), keepExamples: resamples > 0)))
        }
        let names = columnNames(paths)
        if let plot = a.string("--plot") {
            let chart = ReliabilityChart(models: names.enumerated().map { ($1, reports[$0].report.evaluation) })
            try AtomicFile.write(Data(chart.svg.utf8), to: plot)
        }
        // Full paths in JSON, file names in the table.
        let report = ComparisonReport(models: (a.flag("--json") ? paths : names).enumerated().map { ($1, reports[$0].report) },
                                      resamples: resamples, seed: seed, parallel: parallel)
        if a.flag("--json") {
            console.out(report.json(data: dataPath).text + "\n")
        } else {
            console.out("\(data.count) examples of \(dataPath)\n\n" + report.text)
        }
    }

    /// The models' file names as column headers; their full paths when two share a file name.
    static func columnNames(_ paths: [String]) -> [String] {
        let names = paths.map { URL(fileURLWithPath: $0).lastPathComponent }
        return Set(names).count == names.count ? names : paths
    }
}
