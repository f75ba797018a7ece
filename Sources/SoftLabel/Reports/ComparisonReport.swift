/// Several models' evaluations on the same data, side by side (`softlabel compare`).
public struct ComparisonReport {
    public var models: [(name: String, report: EvaluationReport)]

    public init(models: [(name: String, report: EvaluationReport)]) {
        precondition(models.count >= 1)
        self.models = models
    }

    /// Metrics where a higher value is better; entropy depends only on the labels; the rest are lower-better.
    static let higherIsBetter: Set<String> = ["accuracy", "top2_accuracy"]
    static let labelOnly: Set<String> = ["entropy"]

    /// One row per metric, one column per model (headed by `name`), the best value marked `*`; with two
    /// models, a `change` column (second minus first).
    public var text: String {
        let keys = EvaluationReport.scalarKeys.filter { $0 != "examples" }
        let two = models.count == 2
        var table = TextTable(headers: ["metric"] + models.map(\.name) + (two ? ["change"] : []))
        for key in keys {
            let values = models.map { EvaluationReport.scalar(key, of: $0.report.evaluation) }
            var best: Double?
            if !Self.labelOnly.contains(key), Set(values).count > 1 {
                best = Self.higherIsBetter.contains(key) ? values.max() : values.min()
            }
            var row = [key] + values.map { fixed($0, 6) + ($0 == best ? "*" : " ") }
            if two {
                let d = values[1] - values[0]
                row.append((d > 0 ? "+" : d < 0 ? "" : " ") + fixed(d, 6))
            }
            table.add(row)
        }
        return table.text + "\n* best on that metric (lower is better, except accuracy and top2_accuracy; " +
            "entropy depends only on the labels)\n"
    }

    /// `{"data": ..., "examples": n, "models": [{"model": name, <the eval --json fields>}, ...]}`.
    public func json(data: String) -> JSONValue {
        .object([
            ("data", .string(data)),
            ("examples", .int(models[0].report.evaluation.count)),
            ("models", .array(models.map { .object([("model", .string($0.name))] + $0.report.jsonFields) })),
        ])
    }
}
