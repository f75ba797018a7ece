/// Several models' evaluations on the same data, side by side (`softlabel compare`), with each model's
/// paired differences to the first and their bootstrap intervals.
public struct ComparisonReport {
    public var models: [(name: String, report: EvaluationReport)]
    /// The bootstrap behind `differences`: resamples (0 = none), seed and confidence level.
    public var bootstrap: (resamples: Int, seed: UInt64, level: Double)
    /// For models 1..., every metric key's difference to model 0 (m - 1, keys).
    public var differences: [[String: PairedDifference]] = []

    /// - Parameters:
    ///   - resamples: bootstrap resamples for the intervals; 0 for differences without intervals. The
    ///     reports must have been evaluated with `keepExamples` for the intervals.
    public init(models: [(name: String, report: EvaluationReport)], resamples: Int = 0, seed: UInt64 = 1,
                level: Double = 0.95, parallel: Parallel = Parallel(threads: 1)) {
        precondition(models.count >= 1)
        self.models = models
        bootstrap = (resamples, seed, level)
        let keys = metricKeys
        guard let base = models[0].report.evaluation.examples,
              models.allSatisfy({ $0.report.evaluation.examples != nil }) else {
            // No per-example values: the plain differences only.
            differences = models.dropFirst().map { m in
                Dictionary(uniqueKeysWithValues: keys.map { key in
                    let a = EvaluationReport.scalar(key, of: models[0].report.evaluation)
                    let b = EvaluationReport.scalar(key, of: m.report.evaluation)
                    return (key, PairedDifference(difference: a.flatMap { a in b.map { $0 - a } }, lower: nil, upper: nil))
                })
            }
            return
        }
        let table = PairedBootstrap.differences(
            baseline: keys.map { base.statistic($0) },
            models: models.dropFirst().map { m in keys.map { m.report.evaluation.examples!.statistic($0) } },
            resamples: resamples, seed: seed, level: level, parallel: parallel)
        differences = table.map { Dictionary(uniqueKeysWithValues: zip(keys, $0).map { ($0, $1) }) }
    }

    /// Metrics where a higher value is better; entropy depends only on the labels; the rest are lower-better.
    static let higherIsBetter: Set<String> = ["accuracy", "top2_accuracy", "entropy_correlation"]
    static let labelOnly: Set<String> = ["entropy"]

    /// The metric keys compared: the first model's scalars without `examples`.
    public var metricKeys: [String] { models[0].report.keys.filter { $0 != "examples" } }

    /// One row per metric, one column per model (headed by `name`), the best value marked `*`; with two
    /// models, a `change` column (second minus first). Then the paired differences to the first model.
    public var text: String {
        let keys = metricKeys
        let two = models.count == 2
        var table = TextTable(headers: ["metric"] + models.map(\.name) + (two ? ["change"] : []))
        for key in keys {
            let values = models.map { EvaluationReport.scalar(key, of: $0.report.evaluation) }
            let defined = values.compactMap { $0 }
            var best: Double?
            if !Self.labelOnly.contains(key), Set(defined).count > 1 {
                best = Self.higherIsBetter.contains(key) ? defined.max() : defined.min()
            }
            var row = [key] + values.map { v in fixed(v, 6, missing: "n/a") + (v != nil && v == best ? "*" : " ") }
            if two { row.append(signed(differences[0][key]?.difference)) }
            table.add(row)
        }
        var out = table.text + "\n* best on that metric (lower is better, except accuracy, top2_accuracy and " +
            "entropy_correlation; entropy depends only on the labels)\n"
        if bootstrap.resamples > 0 { out += "\n" + intervalsText }
        return out
    }

    /// The paired differences to the first model with their intervals, and a verdict per row.
    var intervalsText: String {
        let base = models[0].name
        let percent = bootstrap.level * 100
        let level = percent == percent.rounded() ? String(Int(percent)) : String(percent)
        var out = "difference to \(base), with its \(level)% paired bootstrap interval " +
            "(\(bootstrap.resamples) resamples of the \(models[0].report.evaluation.count) examples, seed \(bootstrap.seed))\n"
        var table = TextTable(headers: ["metric", "model", "difference", "lower", "upper", "verdict"],
                              alignments: [.left, .left, .right, .right, .right, .left], indent: "  ")
        var significant = 0
        for key in metricKeys {
            for (m, model) in models.dropFirst().enumerated() {
                let d = differences[m][key]!
                var verdict: String
                if Self.labelOnly.contains(key) {
                    verdict = "labels only"
                } else if d.difference == nil {
                    verdict = "undefined"
                } else if d.lower == nil {
                    verdict = "no interval (undefined on some resamples)"
                } else if d.significant {
                    let better = (d.difference! > 0) == Self.higherIsBetter.contains(key)
                    verdict = better ? "better, significant" : "worse, significant"
                    significant += 1
                } else {
                    verdict = "not significant"
                }
                table.add([key, model.name, signed(d.difference), signed(d.lower), signed(d.upper), verdict])
            }
        }
        out += table.text
        out += "\nsignificant: the interval excludes 0 (\(significant) of the differences above). Each interval stands " +
            "alone: among many\nmetrics, about 1 in 20 excludes 0 by chance at 95%.\n"
        return out
    }

    private func signed(_ v: Double?) -> String {
        guard let v, v.isFinite else { return "n/a" }
        return (v > 0 ? "+" : v < 0 ? "" : " ") + fixed(v, 6)
    }

    /// `{"data": ..., "examples": n, "models": [{"model": name, <the eval --json fields>}, ...],
    /// "bootstrap": {...}, "differences": [{"model": name, "metrics": {key: {...}}}, ...]}`.
    public func json(data: String) -> JSONValue {
        let keys = metricKeys
        return .object([
            ("data", .string(data)),
            ("examples", .int(models[0].report.evaluation.count)),
            ("models", .array(models.map { .object([("model", .string($0.name))] + $0.report.jsonFields) })),
            ("bootstrap", .object([("baseline", .string(models[0].name)), ("resamples", .int(bootstrap.resamples)),
                                   ("seed", .uint(bootstrap.seed)), ("level", .number(bootstrap.level)),
                                   ("method", .string("paired percentile, numpy 'linear' interpolation"))])),
            ("differences", .array(models.dropFirst().enumerated().map { m, model in
                .object([("model", .string(model.name)), ("metrics", .object(keys.map { key in
                    let d = differences[m][key]!
                    return (key, .object([("difference", .number(d.difference)), ("lower", .number(d.lower)),
                                          ("upper", .number(d.upper)), ("significant", .bool(d.significant))]))
                }))])
            })),
        ])
    }
}
