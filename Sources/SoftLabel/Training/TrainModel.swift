/// The whole training pipeline behind `softlabel train`: validation split, standardisation, training, and
/// the model file describing the result.
public struct TrainingRun {
    public var model: ModelFile
    public var outcome: TrainingOutcome
    public var trainCount: Int
    public var validationCount: Int
}

public enum TrainModel {
    /// - Parameters:
    ///   - train: the training examples (raw features), consumed: standardisation rewrites them in place, so a
    ///     caller that passes its only copy (`consume`) keeps one copy of the data in memory, not two.
    ///   - validation: a validation set with the same features and classes, or nil to split
    ///     `config.valFraction` of `train` off (seeded), or to train without validation.
    public static func run(
        train rawTrain: consuming Dataset, validation rawValidation: consuming Dataset?, config: TrainConfig,
        parallel: Parallel,
        onEpoch: (EpochRecord) -> Void = { _ in }, onBatch: ((Int, Int, Double) -> Void)? = nil
    ) -> TrainingRun {
        var train = consume rawTrain
        var validation = consume rawValidation
        if validation == nil && config.valFraction > 0 && train.count >= 2 {
            var rng = SplitMix64(seed: config.seed).derived(3)
            (train, validation) = train.split(fraction: config.valFraction, rng: &rng)
        }
        var standardizer: Standardizer?
        if config.standardize {
            let s = Standardizer(fitting: train.features)
            s.apply(to: &train.features)
            if validation != nil { s.apply(to: &validation!.features) }
            standardizer = s
        }
        let outcome = Trainer(config: config, train: train, validation: validation, parallel: parallel).run(onEpoch: onEpoch, onBatch: onBatch)
        let kept = outcome.history.first { $0.epoch == outcome.keptEpoch }
        let summary = TrainingSummary(
            examples: train.count, validationExamples: validation?.count ?? 0, epochsRun: outcome.history.count,
            keptEpoch: outcome.keptEpoch, stoppedEarly: outcome.stoppedEarly,
            converged: outcome.converged, finalTrainLoss: kept?.trainLoss,
            validationLoss: kept?.valLoss, validationKL: kept?.valKL, validationAccuracy: kept?.valAccuracy,
            history: outcome.history)
        let model = ModelFile(classes: train.classNames, features: train.featureNames, standardization: standardizer,
                              network: outcome.network, config: config, training: summary)
        return TrainingRun(model: model, outcome: outcome, trainCount: train.count, validationCount: validation?.count ?? 0)
    }
}
