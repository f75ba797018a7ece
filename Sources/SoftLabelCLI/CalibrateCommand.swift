import Foundation
import SoftLabel

/// `softlabel calibrate`: fit the model's temperature on held-out data and save the calibrated model.
enum CalibrateCommand: Command {
    static let spec = CommandSpec(
        name: "calibrate",
        usage: ["calibrate --model M.json VAL_DATA.csv --out M2.json",
                "calibrate --model M.json --features X.npy --labels Y.npy [--classes FILE] [--feature-names FILE] --out M2.json"],
        summary: "Fit one temperature T on held-out data (minimising KL) and save it in a copy of the model.",
        positionals: [("VAL_DATA.csv", "held-out data with the model's feature and label columns")],
        options: [
            OptionSpec(name: "--model", value: "FILE", help: "The trained model. Required."),
            OptionSpec(name: "--out", value: "FILE", help: "Where to write the calibrated model (may be the same file). Required."),
            Common.threads,
        ] + DataInput.options,
        notes: [
            "Predictions become softmax(z / T) for the logits z; T is the minimiser of the mean KL(p‖softmax(z / T))",
            "over \(fmtRange) (golden-section search on log T, exact to 1e-4), fitted from the model's raw",
            "logits (any earlier temperature is replaced). eval and predict apply it; argmax, and so accuracy,",
            "does not change. Fit it on data not used for training, then evaluate on other data.",
            "ece is against the majority class: with soft labels the KL-optimal T matches the annotators'",
            "agreement, which can leave ece higher than before for a model that was only mildly over-confident.",
        ])

    private static let fmtRange = "\(TemperatureScaling.range.lowerBound)...\(Int(TemperatureScaling.range.upperBound))"

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        try Common.checkOutputs(a, ["--out"])
        let source = try DataInput.source(a, needsLabels: true, positional: "VAL_DATA.csv")
        guard let modelPath = a.string("--model") else { throw UsageError("--model FILE is required") }
        guard let outPath = a.string("--out") else { throw UsageError("--out FILE is required (where to save the calibrated model)") }
        let parallel = try Common.parallel(a, console)
        let model = try ModelFile.load(path: modelPath)
        let data = try DataInput.load(source, classes: model.classes, parallel: parallel, console: console).dataset
        let x = try DataInput.features(of: data, for: model, source: source, console: console)

        var raw = model
        raw.temperature = 1
        let predict = { (m: ModelFile) in try DataInput.predicting(data, source: source, model: modelPath) { () throws(NonFinitePrediction) in
            try m.logits(x, parallel: parallel)
        } }
        let fit = TemperatureScaling.fit(logits: try predict(raw), targets: data.targets)
        if !fit.verified {
            throw RuntimeFailure(message: "the temperature search did not converge (T \(fit.temperature)); model not written")
        }
        if fit.atBoundary {
            console.err("softlabel: warning: the best temperature is at the end of the search range (\(fmtRange)): " +
                        "T = \(String(format: "%.6g", fit.temperature))\n")
        }
        var calibrated = model
        calibrated.temperature = Float(fit.temperature)
        let before = Evaluation(logits: try predict(model), targets: data.targets)
        let after = Evaluation(logits: try predict(calibrated), targets: data.targets)
        try calibrated.write(to: outPath)

        let t0 = String(format: "%.6g", Double(model.temperature)), t1 = String(format: "%.6g", Double(calibrated.temperature))
        var out = "temperature \(t0) -> \(t1), fitted on \(data.count) examples of \(source.name)\n\n"
        var table = TextTable(headers: ["metric", "before", "after"])
        for key in ["kl", "ece", "cross_entropy", "brier", "accuracy"] {
            table.add([key, fixed(EvaluationReport.scalar(key, of: before), 6), fixed(EvaluationReport.scalar(key, of: after), 6)])
        }
        out += table.text + "\ncalibrated model written to \(outPath)\n"
        console.out(out)
    }
}
