import Foundation
import SoftLabel

/// `softlabel gradcheck`: the hand-written gradients against finite differences, on real data.
enum GradcheckCommand: Command {
    static let spec = CommandSpec(
        name: "gradcheck",
        usage: ["gradcheck DATA.csv [--hidden H1,H2] [--loss NAME] [options]"],
        summary: "Check the analytic gradients against central finite differences in Double.",
        positionals: [("DATA.csv", "data with features and labels (a sample of its rows is used)")],
        options: [
            OptionSpec(name: "--hidden", value: "H1,H2", help: "Hidden layer widths. Default none."),
            OptionSpec(name: "--loss", value: "NAME", help: "kl|ce|reverse-kl|js. Default kl."),
            OptionSpec(name: "--l2", value: "L", help: "L2 penalty included in the objective. Default 0.001."),
            OptionSpec(name: "--label-smoothing", value: "E", help: "Target smoothing, as in train. Default 0."),
            OptionSpec(name: "--target-temperature", value: "T", help: "Target temperature, as in train. Default 1."),
            OptionSpec(name: "--class-weight", value: "NAME", help: "none|balanced, as in train. Default none."),
            OptionSpec(name: "--sample", value: "N", help: "Rows to use (the first N after a seeded shuffle). Default 16."),
            OptionSpec(name: "--max-entries", value: "M", help: "Entries checked per tensor (a seeded sample). Default 300."),
            OptionSpec(name: "--step", value: "H", help: "Finite-difference step. Default 1e-5."),
            OptionSpec(name: "--tolerance", value: "T", help: "Largest accepted relative error. Default 1e-3."),
            OptionSpec(name: "--seed", value: "S", help: "Seed for the sample and the random weights. Default 1."),
        ] + DataInput.options,
        notes: ["The gradients come from the training code (Float); the finite differences from an independent",
                "Double implementation of the objective, at random weights (He initialisation for every layer).",
                "Relative error per entry: |analytic - numeric| / max(|numeric|, 1e-3 · largest |numeric| of the tensor).",
                "Exit status 1 when any tensor exceeds the tolerance."])

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        let source = try DataInput.source(a, needsLabels: true)
        var config = TrainConfig.defaults(hidden: try a.intList("--hidden") ?? [])
        if let v = try a.choice("--loss", LossKind.self) { config.loss = v }
        if let v = try a.float("--l2", min: 0) { config.l2 = Float(v) }
        if let v = try a.float("--label-smoothing", min: 0, max: 1) { config.labelSmoothing = Float(v) }
        if let v = try a.float("--target-temperature", min: 0, exclusiveMin: true) { config.targetTemperature = Float(v) }
        if let v = try a.choice("--class-weight", ClassWeighting.self) { config.classWeight = v }
        let sample = try a.int("--sample", min: 1) ?? 16
        let maxEntries = try a.int("--max-entries", min: 1) ?? 300
        let step = try a.float("--step", min: 0, exclusiveMin: true) ?? 1e-5
        let tolerance = try a.float("--tolerance", min: 0, exclusiveMin: true) ?? 1e-3
        var seed: UInt64 = 1
        if let s = a.string("--seed") {
            guard let v = UInt64(s) else { throw UsageError("--seed expects a non-negative integer, got '\(s)'") }
            seed = v
        }

        var data = try DataInput.load(source, console: console).dataset
        var rng = SplitMix64(seed: seed)
        var rows = Array(0..<data.count)
        rng.shuffle(&rows)
        data = data.subset(Array(rows.prefix(sample)))
        Standardizer(fitting: data.features).apply(to: &data.features)
        var initRNG = rng.derived(1)
        var network = Network.make(inputs: data.featureCount, hidden: config.hidden, classes: data.classCount, rng: &initRNG)
        let last = network.layers.count - 1
        network.layers[last] = .he(inputs: network.layers[last].inputs, outputs: network.layers[last].outputs, rng: &initRNG)

        let reports = GradientCheck.run(network: network, data: data, config: config, step: step,
                                        maxEntries: maxEntries, seed: seed)
        let hidden = config.hidden.isEmpty ? "none" : config.hidden.map(String.init).joined(separator: ",")
        var out = "gradcheck: \(data.count) rows, loss \(config.loss.rawValue), hidden \(hidden), l2 \(config.l2), step \(step)\n"
        out += "tensor               checked  max_rel_error  max_abs_error\n"
        for r in reports {
            let checked = "\(r.checked)/\(r.count)"
            out += r.name.padding(toLength: 14, withPad: " ", startingAt: 0)
                + String(repeating: " ", count: max(1, 14 - checked.count)) + checked
                + String(format: "%15.3e%15.3e", r.maxRelativeError, r.maxAbsoluteError) + "\n"
        }
        let failed = reports.filter { !($0.maxRelativeError <= tolerance) }
        if failed.isEmpty {
            out += "passed: every tensor within relative error \(tolerance)\n"
            console.out(out)
        } else {
            console.out(out)
            throw RuntimeFailure(message: "gradient check failed: " +
                                 failed.map { "\($0.name) \(String(format: "%.3e", $0.maxRelativeError))" }.joined(separator: ", ") +
                                 " above tolerance \(tolerance)")
        }
    }
}
