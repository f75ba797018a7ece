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
    ///   - data: the training examples (raw features), consumed: standardisation rewrites them in place and a
    ///     validation split holds out rows by index, so a caller that passes its only copy (`consume`) keeps
    ///     one copy of the data in memory, not two.
    ///   - validation: a validation set with the same features and classes, or nil to hold out
    ///     `config.valFraction` of `data` (seeded), or to train without validation.
    ///   - initial: a trained model to start from (`--init`): its network and its standardisation (the
    ///     weights expect inputs scaled as they were); `data` must have its features and classes, in its order.
    ///   - resume: a checkpoint of this same run to continue from.
    public static func run(
        data rawData: consuming Dataset, validation rawValidation: consuming Dataset?, config: TrainConfig,
        parallel: Parallel, initial: ModelFile? = nil, resume: Checkpoint? = nil,
        control: TrainingControl = TrainingControl()
    ) throws -> TrainingRun {
        var data = consume rawData
        var validation = consume rawValidation
        // The fingerprint of the data as given (before standardisation), for checkpoints.
        let fingerprint = data.fingerprint + (validation.map { "; validation " + $0.fingerprint } ?? "")
        var trainRows: [Int]?, validationRows: [Int]?
        if validation == nil && config.valFraction > 0 && data.count >= 2 {
            var rng = SplitMix64(seed: config.seed).derived(3)
            let split = data.splitRows(fraction: config.valFraction, rng: &rng)
            (trainRows, validationRows) = (split.train, split.validation)
        }
        var standardizer: Standardizer?
        if let initial {
            standardizer = initial.standardization
        } else if config.standardize {
            standardizer = Standardizer(fitting: data.features, rows: trainRows, parallel: parallel)
        }
        if let standardizer {
            standardizer.apply(to: &data.features, parallel: parallel)
            if validation != nil { standardizer.apply(to: &validation!.features, parallel: parallel) }
        }
        let validationSet: ValidationSet? = validationRows.map { .rows($0) } ?? validation.map { .separate($0) }
        let trainer = Trainer(config: config, data: data, trainRows: trainRows, validation: validationSet,
                              parallel: parallel, initial: initial?.network)
        trainer.fingerprint = fingerprint
        let outcome = try trainer.run(resume: resume, control: control)
        let kept = outcome.history.first { $0.epoch == outcome.keptEpoch }
        let summary = TrainingSummary(
            examples: trainer.trainCount, validationExamples: validationSet?.count ?? 0, epochsRun: outcome.history.count,
            keptEpoch: outcome.keptEpoch, stoppedEarly: outcome.stoppedEarly,
            converged: outcome.converged, finalTrainLoss: kept?.trainLoss,
            validationLoss: kept?.valLoss, validationKL: kept?.valKL, validationAccuracy: kept?.valAccuracy,
            history: outcome.history)
        var model = ModelFile(classes: data.classNames, features: data.featureNames, standardization: standardizer,
                              network: outcome.network, config: config, training: summary)
        model.interrupted = outcome.interruption
        return TrainingRun(model: model, outcome: outcome, trainCount: trainer.trainCount,
                           validationCount: validationSet?.count ?? 0)
    }
}
