import Foundation
import SoftLabel

/// `softlabel gradcheck`: the hand-written gradients against finite differences, on real data.
enum GradcheckCommand: Command {
    static let spec = CommandSpec(
        name: "gradcheck",
        usage: ["gradcheck DATA.csv [--hidden H1,H2] [--loss NAME] [options]"],
        summary: "Check the analytic gradients against central finite differences in Double.",
        positionals: [("DATA.csv", "data with features and labels (a sample of its rows is used)")],
        options: ConfigOption.named(["--hidden", "--activation", "--dropout", "--loss", "--l2", "--label-smoothing",
                                      "--target-temperature", "--distill-temperature", "--hard-weight",
                                      "--class-weight", "--seed"]).map(\.spec) + [
            OptionSpec(name: "--sample", value: "N", help: "Rows to use (the first N after a seeded shuffle). Default 16."),
            OptionSpec(name: "--max-entries", value: "M", help: "Entries checked per tensor (a seeded sample). Default 300."),
            OptionSpec(name: "--step", value: "H", help: "Finite-difference step. Default 1e-5."),
            OptionSpec(name: "--tolerance", value: "T", help: "Largest accepted relative error. Default 1e-3."),
        ] + DataInput.options,
        notes: ["The gradients come from the training code (Float); the finite differences from an independent",
                "Double implementation of the objective, at random weights (He initialisation for every layer).",
                "Relative error per entry: |analytic - numeric| / max(|numeric|, 1e-3 · largest |numeric| of the tensor).",
                "Exit status 1 when any tensor exceeds the tolerance."])

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        let source = try DataInput.source(a, needsLabels: true)
        var config = TrainConfig.defaults(hidden: try a.intList("--hidden") ?? [])
        for option in spec.options.compactMap({ o in ConfigOption.all.first { $0.spec.name == o.name } }) {
            try option.apply(a, &config)
        }
        let sample = try a.int("--sample", min: 1) ?? 16
        let maxEntries = try a.int("--max-entries", min: 1) ?? 300
        let step = try a.float("--step", min: 0, exclusiveMin: true) ?? 1e-5
        let tolerance = try a.float("--tolerance", min: 0, exclusiveMin: true) ?? 1e-3
        let seed = config.seed

        var data = try DataInput.load(source, parallel: Parallel(threads: Parallel.allCores), console: console).dataset
        var rng = SplitMix64(seed: seed)
        var rows = Array(0..<data.count)
        rng.shuffle(&rows)
        data = data.subset(Array(rows.prefix(sample)))
        Standardizer(fitting: data.features).apply(to: &data.features)
        var initRNG = rng.derived(1)
        var network = Network.make(inputs: data.featureCount, hidden: config.hidden, classes: data.classCount,
                                   activation: config.activation, dropout: config.dropout, rng: &initRNG)
        // A random output layer (a linear model starts at zero), so every path carries gradient.
        if case .dense(let d) = network.layers[network.layers.count - 1] {
            network.layers[network.layers.count - 1] = Layer.dense(Dense.he(inputs: d.inputs, outputs: d.outputs, rng: &initRNG))
        }

        let reports = GradientCheck.run(network: network, data: data, config: config, step: step,
                                        maxEntries: maxEntries, seed: seed)
        var hidden = "none"
        if !config.hidden.isEmpty {
            hidden = config.hidden.map(String.init).joined(separator: ",") + " " + config.activation.rawValue
            if config.dropout > 0 { hidden += ", dropout \(config.dropout)" }
        }
        var out = "gradcheck: \(data.count) rows, loss \(config.loss.rawValue), hidden \(hidden), l2 \(config.l2)"
        if config.distillTemperature != 1 || config.hardWeight != 0 {
            out += ", distill T \(ConfigOption.text(config.distillTemperature)), hard weight \(ConfigOption.text(config.hardWeight))"
        }
        out += ", step \(step)\n"
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
