/// How `softlabel eval` shows an `Evaluation`: a text report for people and a JSON object with stable keys.
public struct EvaluationReport {
    public var evaluation: Evaluation
    public var classes: [String]  // (k) in the model's order
    /// The classes are an ordered scale (`--ordinal`): the report adds `wasserstein`.
    public var ordinal: Bool

    public init(_ evaluation: Evaluation, classes: [String], ordinal: Bool = false) {
        precondition(classes.count == evaluation.perClass.count)
        self.evaluation = evaluation
        self.classes = classes
        self.ordinal = ordinal
    }

    /// The scalar metrics in report order, with their JSON keys. `examples` is first and is a count.
    public static let scalarKeys = ["examples", "kl", "cross_entropy", "entropy", "js", "tv", "accuracy",
                                    "top2_accuracy", "brier", "ece", "manhattan", "entropy_correlation"]
    /// The scalars reported only for ordered classes.
    public static let ordinalKeys = ["wasserstein"]

    /// This report's scalar keys, in order.
    public var keys: [String] { Self.scalarKeys + (ordinal ? Self.ordinalKeys : []) }

    /// The value of a scalar metric by its JSON key; nil when it is undefined on this data
    /// (`entropy_correlation` with a constant entropy).
    public static func scalar(_ key: String, of e: Evaluation) -> Double? {
        switch key {
        case "examples": return Double(e.count)
        case "kl": return e.kl
        case "cross_entropy": return e.crossEntropy
        case "entropy": return e.entropy
        case "js": return e.js
        case "tv": return e.tv
        case "accuracy": return e.accuracy
        case "top2_accuracy": return e.top2Accuracy
        case "brier": return e.brier
        case "ece": return e.ece
        case "manhattan": return e.manhattan
        case "entropy_correlation": return e.entropyCorrelation
        case "wasserstein": return e.wasserstein
        default: preconditionFailure("unknown metric key '\(key)'")
        }
    }

    /// The fields of the JSON object: the scalars, then `reliability` (one object per bin), `per_class` (one
    /// object per class) and `confusion` (`classes` and `counts`, rows = majority label, columns = predicted).
    public var jsonFields: [(String, JSONValue)] {
        let e = evaluation
        var fields: [(String, JSONValue)] = keys.map { key in
            key == "examples" ? (key, .int(e.count)) : (key, .number(Self.scalar(key, of: e)))
        }
        fields.append(("reliability", .array(e.reliability.bins.map { b in
            .object([("lower", .number(b.lower)), ("upper", .number(b.upper)), ("count", .int(b.count)),
                     ("confidence", .number(b.meanConfidence)), ("accuracy", .number(b.accuracy))])
        })))
        fields.append(("per_class", .array(zip(classes, e.perClass).map { name, c in
            .object([("class", .string(name)), ("support", .int(c.support)), ("mean_target", .number(c.meanTarget)),
                     ("mean_predicted", .number(c.meanPredicted)), ("precision", .number(c.precision)),
                     ("recall", .number(c.recall))])
        })))
        fields.append(("confusion", .object([
            ("classes", .array(classes.map { .string($0) })),
            ("counts", .array(classes.indices.map { r in .array(e.confusion.row(r).map { .int($0) }) })),
        ])))
        return fields
    }

    public var json: JSONValue { .object(jsonFields) }

    /// Classes up to which the text report prints the whole confusion matrix.
    public static let largestPrintedConfusion = 20

    /// The text report: the scalars, then the reliability table, the per-class table and the confusion matrix.
    public var text: String {
        let e = evaluation
        var out = ""
        for key in keys {
            let value = key == "examples" ? String(e.count) : fixed(Self.scalar(key, of: e), 6, missing: "n/a")
            out += key.padding(toLength: 21, withPad: " ", startingAt: 0) + value + "\n"
        }

        out += "\nreliability (confidence = max q in \(Reliability.binCount) equal bins; correct = argmax q is the majority class)\n"
        var rel = TextTable(headers: ["confidence", "count", "mean_conf", "accuracy", "acc-conf"], indent: "  ")
        for b in e.reliability.bins {
            let gap = b.accuracy.flatMap { a in b.meanConfidence.map { a - $0 } }
            rel.add([fixed(b.lower, 3) + "-" + fixed(b.upper, 3), String(b.count), fixed(b.meanConfidence, 4),
                     fixed(b.accuracy, 4), gap.map { ($0 >= 0 ? "+" : "") + fixed($0, 4) } ?? "-"])
        }
        out += rel.text

        out += "\nper class (support = examples whose majority label is the class)\n"
        var pc = TextTable(headers: ["class", "support", "mean_p", "mean_q", "precision", "recall"], indent: "  ")
        for (name, c) in zip(classes, e.perClass) {
            pc.add([name, String(c.support), fixed(c.meanTarget, 4), fixed(c.meanPredicted, 4), fixed(c.precision, 4),
                    fixed(c.recall, 4)])
        }
        out += pc.text

        if classes.count <= EvaluationReport.largestPrintedConfusion {
            out += "\nconfusion (rows: majority label, columns: predicted class)\n"
            var cm = TextTable(headers: ["label \\ predicted"] + classes, indent: "  ")
            for (r, name) in classes.enumerated() { cm.add([name] + e.confusion.row(r).map(String.init)) }
            out += cm.text
        } else {
            // A k x k table of thousands of classes is hundreds of megabytes of text: the largest confusions
            // instead (the JSON keeps the whole matrix).
            let k = classes.count
            var off: [(label: Int, predicted: Int, count: Int)] = []
            for l in 0..<k { for p in 0..<k where p != l && e.confusion[l, p] > 0 { off.append((l, p, e.confusion[l, p])) } }
            off.sort { $0.count > $1.count || ($0.count == $1.count && ($0.label, $0.predicted) < ($1.label, $1.predicted)) }
            out += "\nconfusion: \(k) x \(k) classes, too many to print (eval --json has the whole matrix); " +
                "the \(min(20, off.count)) most frequent confusions:\n"
            var cm = TextTable(headers: ["majority label", "predicted class", "examples"], indent: "  ")
            for c in off.prefix(20) { cm.add([classes[c.label], classes[c.predicted], String(c.count)]) }
            out += cm.text
        }
        out += "\nmajority and predicted class: argmax p and argmax q, ties to the first class in the model's order.\n"
        return out
    }
}
