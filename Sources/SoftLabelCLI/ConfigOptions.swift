import SoftLabel

/// A `train` option that sets a `TrainConfig` setting: its name, value placeholder, help, parser and the
/// default its help shows, declared once in `ConfigOption.all`. The default is read from `TrainConfig` (for
/// settings whose default depends on the model shape, from `TrainConfig.defaults`), never retyped.
struct ConfigOption: Sendable {
    let spec: OptionSpec
    /// Sets the setting from the command line when the option is given.
    let apply: @Sendable (ParsedArguments, inout TrainConfig) throws -> Void

    /// The defaults for a linear model, a network, and an explicitly chosen SGD or Adam linear model: what the
    /// shape-dependent help texts are written from.
    static let linear = TrainConfig.defaults(hidden: [])
    static let network = TrainConfig.defaults(hidden: [1])
    static let sgd = TrainConfig.defaults(hidden: [], optimizer: .sgd)
    static let adam = TrainConfig.defaults(hidden: [], optimizer: .adam)

    /// The settings that `train` reads, in help order.
    static let all: [ConfigOption] = [
        .number("--val-fraction", \.valFraction, "F", 0...0.9,
                "Hold out this fraction of DATA for validation (seeded).",
                shown: "\(text(linear.valFraction)), or \(text(network.valFraction)) with --hidden"),
        .integer("--patience", \.patience, "P", 0...,
                 "Stop after P epochs without a lower validation loss; keep the best epoch.",
                 shown: "\(linear.patience) (off), or \(network.patience) with --hidden"),
        .number("--average", \.averageEpochs, "E", 0...,
                "Validate and keep weights averaged over ~E epochs (EMA); 0 = off.",
                shown: "\(text(linear.averageEpochs)), or \(text(network.averageEpochs)) with --hidden"),
        .integer("--epochs", \.epochs, "N", 1..., "Passes over the data (L-BFGS: iterations), at most.",
                 shown: "\(linear.epochs) for lbfgs, \(network.epochs) otherwise"),
        .integer("--batch-size", \.batchSize, "B", 1..., "Examples per minibatch."),
        .choice("--optimizer", \.optimizer, "",
                shown: "\(linear.optimizer.rawValue) (full batch, exact optimum), or \(network.optimizer.rawValue) with --hidden"),
        .number("--lr", \.learningRate, "X", 0..., exclusiveMin: true, "Learning rate (minibatch optimizers).",
                shown: ": sgd \(sgd.learningRate); adam \(adam.learningRate), or \(network.learningRate) with --hidden"),
        .number("--momentum", \.momentum, "M", 0...0.999999, "SGD momentum."),
        .flag("--nesterov", \.nesterov, true, "SGD: Nesterov momentum."),
        .number("--beta1", \.beta1, "B1", 0...0.999999, "Adam first-moment decay."),
        .number("--beta2", \.beta2, "B2", 0...0.999999999, "Adam second-moment decay."),
        .number("--eps", \.epsilon, "E", 0..., exclusiveMin: true, "Adam epsilon."),
        .number("--weight-decay", \.weightDecay, "W", 0..., "AdamW decoupled weight decay."),
        .number("--l2", \.l2, "L", 0..., "L2 penalty (L/2)·ΣW² on weights, not biases."),
        .choice("--schedule", \.schedule, "learning-rate schedule"),
        .integer("--warmup", \.warmup, "E", 0..., "Epochs of linear learning-rate warm-up."),
        .integer("--step-every", \.stepEvery, "N", 1..., "Step schedule: decay every N epochs."),
        .number("--step-gamma", \.stepGamma, "G", 0...1, exclusiveMin: true, "Step schedule: multiply the rate by G."),
        .widths("--hidden", \.hidden, "Hidden layer widths (Dense + activation), e.g. 128,64."),
        .choice("--activation", \.activation, "after each hidden layer"),
        .number("--dropout", \.dropout, "P", 0...0.95, "Drop probability after each hidden activation (training only)."),
        .choice("--loss", \.loss, ""),
        .number("--label-smoothing", \.labelSmoothing, "E", 0...1, "Mix targets with uniform: (1-E)p + E/k."),
        .number("--target-temperature", \.targetTemperature, "T", 0..., exclusiveMin: true,
                "Targets p^(1/T), renormalised (T<1 sharpens)."),
        .number("--distill-temperature", \.distillTemperature, "T", 0.01...1000,
                "Distil at T: targets softmax(z/T) of teacher logits, student logits / T, loss times T²."),
        .number("--hard-weight", \.hardWeight, "A", 0...1,
                "Loss (1-A)·T²·soft + A·CE to the hard label ('label' column, else the teacher's argmax)."),
        .choice("--class-weight", \.classWeight, ""),
        .seed("--seed", \.seed, "Seed for shuffling, splitting, initialisation and dropout."),
        .flag("--no-standardize", \.standardize, false, "Use raw features (default: z-score with the training data's mean/std)."),
    ]

    /// The options named, in the order given (for commands that read only some settings).
    static func named(_ names: [String]) -> [ConfigOption] {
        names.map { name in all.first { $0.spec.name == name }! }
    }

    // MARK: Kinds of setting

    /// A Float or Double setting in `range` (exclusive at the bottom with `exclusiveMin`).
    static func number<T: BinaryFloatingPoint & LosslessStringConvertible & SendableMetatype>(
        _ name: String, _ path: WritableKeyPath<TrainConfig, T> & Sendable, _ placeholder: String, _ range: PartialRangeFrom<Double>,
        exclusiveMin: Bool = false, _ help: String, shown: String? = nil
    ) -> ConfigOption {
        number(name, path, placeholder, range.lowerBound...Double.infinity, exclusiveMin: exclusiveMin, help, shown: shown)
    }

    static func number<T: BinaryFloatingPoint & LosslessStringConvertible & SendableMetatype>(
        _ name: String, _ path: WritableKeyPath<TrainConfig, T> & Sendable, _ placeholder: String, _ range: ClosedRange<Double>,
        exclusiveMin: Bool = false, _ help: String, shown: String? = nil
    ) -> ConfigOption {
        ConfigOption(spec: OptionSpec(name: name, value: placeholder,
                                      help: help + defaultText(shown ?? text(TrainConfig()[keyPath: path]))),
                     apply: { a, c in
                         if let v = try a.float(name, min: range.lowerBound, max: range.upperBound, exclusiveMin: exclusiveMin) {
                             c[keyPath: path] = T(v)
                         }
                     })
    }

    static func integer(_ name: String, _ path: WritableKeyPath<TrainConfig, Int> & Sendable, _ placeholder: String,
                        _ range: PartialRangeFrom<Int>, _ help: String, shown: String? = nil) -> ConfigOption {
        ConfigOption(spec: OptionSpec(name: name, value: placeholder,
                                      help: help + defaultText(shown ?? String(TrainConfig()[keyPath: path]))),
                     apply: { a, c in if let v = try a.int(name, min: range.lowerBound) { c[keyPath: path] = v } })
    }

    /// One of an enumeration's cases; the help lists them all ("sgd|adam|adamw|lbfgs").
    static func choice<T: RawRepresentable & CaseIterable & SendableMetatype>(
        _ name: String, _ path: WritableKeyPath<TrainConfig, T> & Sendable, _ what: String, shown: String? = nil
    ) -> ConfigOption where T.RawValue == String {
        let cases = T.allCases.map(\.rawValue).joined(separator: "|")
        return ConfigOption(spec: OptionSpec(name: name, value: "NAME",
                                             help: cases + (what.isEmpty ? "" : " " + what) + "."
                                                 + defaultText(shown ?? TrainConfig()[keyPath: path].rawValue)),
                            apply: { a, c in if let v = try a.choice(name, T.self) { c[keyPath: path] = v } })
    }

    /// A flag that sets a Bool setting to `value`.
    static func flag(_ name: String, _ path: WritableKeyPath<TrainConfig, Bool> & Sendable, _ value: Bool, _ help: String) -> ConfigOption {
        ConfigOption(spec: OptionSpec(name: name, value: nil, help: help),
                     apply: { a, c in if a.flag(name) { c[keyPath: path] = value } })
    }

    static func widths(_ name: String, _ path: WritableKeyPath<TrainConfig, [Int]> & Sendable, _ help: String) -> ConfigOption {
        ConfigOption(spec: OptionSpec(name: name, value: "H1,H2", help: help + " Default none."),
                     apply: { a, c in if let v = try a.intList(name) { c[keyPath: path] = v } })
    }

    static func seed(_ name: String, _ path: WritableKeyPath<TrainConfig, UInt64> & Sendable, _ help: String) -> ConfigOption {
        ConfigOption(spec: OptionSpec(name: name, value: "S", help: help + defaultText(String(TrainConfig()[keyPath: path]))),
                     apply: { a, c in
                         guard let s = a.string(name) else { return }
                         guard let v = UInt64(s) else { throw UsageError("\(name) expects a non-negative integer, got '\(s)'") }
                         c[keyPath: path] = v
                     })
    }

    private static func defaultText(_ shown: String) -> String {
        shown.hasPrefix(":") ? " Default\(shown)." : " Default \(shown)."
    }

    /// A default as help shows it: Swift's shortest form ("0.001", "1e-08"), integers without ".0" where the
    /// setting is fractional ("0", "1").
    static func text<T: BinaryFloatingPoint & LosslessStringConvertible>(_ v: T) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
    }
}
