import Foundation

/// How a training run ended.
public struct TrainingOutcome: Sendable {
    public var network: Network
    public var history: [EpochRecord]
    /// The epoch whose weights `network` holds (the best validation epoch under early stopping; the running
    /// epoch when interrupted between its batches).
    public var keptEpoch: Int
    public var stoppedEarly: Bool
    /// L-BFGS stopped because the objective stopped decreasing (relative change below 2.2e-9).
    public var converged: Bool
    /// Set when the loss became NaN or infinite: what happened, for the user. `network` is then the last
    /// good one (the end of the epoch before), never non-finite weights.
    public var divergence: String?
    /// Set when `TrainingControl.shouldStop` ended the run early.
    public var interruption: Interruption?
}

/// Where a run was stopped from outside (Ctrl-C, SIGTERM): the running epoch and how many of its examples
/// had been trained on. Saved in the model file of an interrupted run.
public struct Interruption: Codable, Equatable, Sendable {
    public var epoch: Int
    public var examplesDone: Int
    public var examplesPerEpoch: Int
    /// "SIGINT" or "SIGTERM" (set by the command line).
    public var signal: String?

    public init(epoch: Int, examplesDone: Int, examplesPerEpoch: Int, signal: String? = nil) {
        self.epoch = epoch
        self.examplesDone = examplesDone
        self.examplesPerEpoch = examplesPerEpoch
        self.signal = signal
    }
}

/// Where the validation examples are: rows of the training data held out (by index, no copy), or a
/// separate data set with the same features and classes.
public enum ValidationSet: Sendable {
    case rows([Int])
    case separate(Dataset)

    var count: Int {
        switch self {
        case .rows(let r): return r.count
        case .separate(let d): return d.count
        }
    }
}

/// What the caller sees of a run while it goes, and how it stops it.
public struct TrainingControl {
    /// Each finished epoch's record.
    public var onEpoch: (EpochRecord) -> Void
    /// After every minibatch (every L-BFGS iteration): examples done, examples per epoch, mean loss so far.
    public var onBatch: ((Int, Int, Double) -> Void)?
    /// Polled after every minibatch and before every L-BFGS function evaluation: true ends the run there
    /// (the minibatch in flight is finished; an L-BFGS iteration in flight is abandoned, its start kept).
    public var shouldStop: () -> Bool
    /// The training state at every epoch end and when stopped (for `--checkpoint`).
    public var onCheckpoint: ((Checkpoint) throws -> Void)?

    public init(onEpoch: @escaping (EpochRecord) -> Void = { _ in }, onBatch: ((Int, Int, Double) -> Void)? = nil,
                shouldStop: @escaping () -> Bool = { false }, onCheckpoint: ((Checkpoint) throws -> Void)? = nil) {
        self.onEpoch = onEpoch
        self.onBatch = onBatch
        self.shouldStop = shouldStop
        self.onCheckpoint = onCheckpoint
    }
}

/// A checkpoint that does not belong to this run.
public struct CheckpointMismatch: Error, Sendable {
    public var message: String
}

/// Training of a `Network` on soft targets: the epochs (minibatch or full-batch L-BFGS), validation,
/// early stopping, the divergence guard, interruption and checkpoints.
public final class Trainer {
    public let config: TrainConfig
    /// Every example, features already standardised as the model will see them.
    public let data: Dataset
    /// The rows that train (ascending); nil = all of them.
    public let trainRows: [Int]?
    public let validation: ValidationSet?
    public let parallel: Parallel
    /// The starting point: a trained model's network (`--init`), or nil for a fresh seeded initialisation.
    public let initial: Network?
    /// Identifies the data in checkpoints.
    public var fingerprint = ""

    public init(config: TrainConfig, data: Dataset, trainRows: [Int]? = nil, validation: ValidationSet? = nil,
                parallel: Parallel, initial: Network? = nil) {
        self.config = config
        self.data = data
        self.trainRows = trainRows
        self.validation = validation
        self.parallel = parallel
        self.initial = initial
    }

    public var trainCount: Int { trainRows?.count ?? data.count }

    /// The network training starts from.
    public func initialNetwork() -> Network {
        if let initial { return initial }
        var rng = SplitMix64(seed: config.seed).derived(1)
        return Network.make(inputs: data.featureCount, hidden: config.hidden, classes: data.classCount,
                            activation: config.activation, dropout: config.dropout, rng: &rng)
    }

    /// Trains for the configured epochs, or continues from `resume` (which must come from this same run:
    /// same settings and data).
    public func run(resume: Checkpoint? = nil, control: TrainingControl = TrainingControl()) throws -> TrainingOutcome {
        let initial = initialNetwork()
        let params = Parameters(initial)
        let targets = PreparedTargets(data, config: config, rows: trainRows)
        let validator: Validator? = validation.map { v in
            switch v {
            case .rows(let rows): return Validator(data: data, rows: rows, structure: initial, loss: config.loss, parallel: parallel)
            case .separate(let d): return Validator(data: d, rows: nil, structure: initial, loss: config.loss, parallel: parallel)
            }
        }
        let rows = trainRows ?? []
        return try rows.withUnsafeBufferPointer { rowBuffer in
            try TrainingPointers.with(data.features, targets, rows: trainRows == nil ? nil : rowBuffer.baseAddress,
                                      count: trainCount) { data in
                let sizes = params.sizes
                let driver: EpochDriver
                switch config.optimizer {
                case .lbfgs:
                    driver = FullBatchDriver(config: config, data: data, params: params, parallel: parallel)
                case .sgd:
                    driver = MinibatchDriver(config: config, data: data, params: params, parallel: parallel,
                                             optimizer: SGD(sizes: sizes, momentum: config.momentum, nesterov: config.nesterov))
                case .adam:
                    driver = MinibatchDriver(config: config, data: data, params: params, parallel: parallel,
                                             optimizer: Adam(sizes: sizes, beta1: config.beta1, beta2: config.beta2,
                                                             epsilon: config.epsilon))
                case .adamw:
                    driver = MinibatchDriver(config: config, data: data, params: params, parallel: parallel,
                                             optimizer: Adam(sizes: sizes, beta1: config.beta1, beta2: config.beta2,
                                                             epsilon: config.epsilon, weightDecay: config.weightDecay))
                }
                var loop = EpochLoop(config: config, driver: driver, params: params, initial: initial, validator: validator,
                                     fingerprint: fingerprint, examplesPerEpoch: trainCount)
                if let resume { try loop.restore(resume) }
                return try loop.run(control)
            }
        }
    }
}

/// The epochs: bookkeeping shared by every optimizer (validation, best and last good networks, stopping,
/// checkpoints).
struct EpochLoop {
    let config: TrainConfig
    let driver: EpochDriver
    let params: Parameters
    let validator: Validating?
    let fingerprint: String
    let examplesPerEpoch: Int
    var history: [EpochRecord] = []
    var lastGood: Network
    var lastGoodEpoch = 0
    var best: (loss: Double, network: Network, epoch: Int)?
    var sinceBest = 0
    var stoppedEarly = false, converged = false

    init(config: TrainConfig, driver: EpochDriver, params: Parameters, initial: Network, validator: Validating?,
         fingerprint: String, examplesPerEpoch: Int) {
        self.config = config
        self.driver = driver
        self.params = params
        self.validator = validator
        self.fingerprint = fingerprint
        self.examplesPerEpoch = examplesPerEpoch
        lastGood = initial
    }

    mutating func run(_ control: TrainingControl) throws -> TrainingOutcome {
        var divergence: String?
        var epoch = history.count + 1
        while epoch <= max(config.epochs, 1) && !stoppedEarly && !converged {
            if control.shouldStop() && driver.examplesDone == 0 { return try interrupted(epoch: epoch, control) }
            let started = DispatchTime.now().uptimeNanoseconds
            let result = try driver.runEpoch(epoch, control: control)
            if result.interrupted { return try interrupted(epoch: epoch, control) }
            if !result.loss.isFinite || !params.allFinite {
                divergence = "training diverged in epoch \(epoch): the loss became \(result.loss.isNaN ? "NaN" : "infinite")" +
                    "; kept the weights of epoch \(lastGoodEpoch)" + (config.optimizer == .lbfgs
                        ? " (check the data for extreme feature values, or raise --l2)"
                        : "; try a lower --lr (now \(config.learningRate))")
                break
            }
            let current = driver.network
            lastGood = current
            lastGoodEpoch = epoch
            var record = EpochRecord(epoch: epoch, trainLoss: result.loss, valLoss: nil, valKL: nil, valAccuracy: nil,
                                     learningRate: result.rate, seconds: 0)
            if let validator {
                let stats = try validator.evaluate(current, threads: driver.threads)
                record.valLoss = stats.loss
                record.valKL = stats.kl
                record.valAccuracy = stats.accuracy
                if let v = record.valLoss, best == nil || v < best!.loss {
                    best = (v, current, epoch)
                    sinceBest = 0
                } else {
                    sinceBest += 1
                }
            }
            record.seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            history.append(record)
            stoppedEarly = config.patience > 0 && validator != nil && sinceBest >= config.patience
            converged = result.converged
            try control.onCheckpoint?(checkpoint())
            control.onEpoch(record)
            epoch += 1
        }
        if divergence == nil, config.patience > 0, let best {
            return TrainingOutcome(network: best.network, history: history, keptEpoch: best.epoch,
                                   stoppedEarly: stoppedEarly, converged: converged, divergence: nil)
        }
        return TrainingOutcome(network: lastGood, history: history, keptEpoch: lastGoodEpoch,
                               stoppedEarly: stoppedEarly, converged: converged, divergence: divergence)
    }

    /// Stopped from outside during `epoch`: the state is checkpointed where it stands, and the model kept is
    /// the best validated one under early stopping, else the weights as they are now (averaged, if averaging).
    private func interrupted(epoch: Int, _ control: TrainingControl) throws -> TrainingOutcome {
        try control.onCheckpoint?(checkpoint())
        let stop = Interruption(epoch: epoch, examplesDone: driver.examplesDone, examplesPerEpoch: examplesPerEpoch)
        if config.patience > 0, let best {
            return TrainingOutcome(network: best.network, history: history, keptEpoch: best.epoch, stoppedEarly: false,
                                   converged: false, interruption: stop)
        }
        let partial = driver.examplesDone > 0
        return TrainingOutcome(network: partial ? driver.network : lastGood, history: history,
                               keptEpoch: partial ? epoch : lastGoodEpoch, stoppedEarly: false, converged: false,
                               interruption: stop)
    }

    /// The state as it stands (at an epoch end, or mid-epoch after an interrupt).
    func checkpoint() -> Checkpoint {
        var c = Checkpoint(config: config, fingerprint: fingerprint, epochsDone: history.count, stoppedEarly: stoppedEarly,
                           converged: converged, history: history, lastGoodEpoch: lastGoodEpoch,
                           lastGood: Parameters(lastGood).tensorArrays,
                           best: best.map { ($0.loss, $0.epoch, Parameters($0.network).tensorArrays) }, sinceBest: sinceBest)
        driver.save(into: &c)
        return c
    }

    /// Continues from a checkpoint of this same run.
    mutating func restore(_ c: Checkpoint) throws {
        if c.config != config {
            throw CheckpointMismatch(message: "was written with other training options (\(differences(c.config, config)))")
        }
        if c.fingerprint != fingerprint {
            throw CheckpointMismatch(message: "was written for other data (\(c.fingerprint); this run: \(fingerprint))")
        }
        let shapes = params.shapes.map(\.count)
        func fits(_ tensors: [[Float]]) -> Bool { tensors.map(\.count) == shapes }
        guard fits(c.lastGood), c.best.map({ fits($0.tensors) }) ?? true, c.epochsDone == c.history.count,
              c.lastGoodEpoch >= 0, c.lastGoodEpoch <= c.epochsDone, c.sinceBest >= 0 else {
            throw CheckpointMismatch(message: "does not fit this network (its tensors or epochs disagree)")
        }
        guard driver.restore(c) else {
            throw CheckpointMismatch(message: "holds optimizer state that does not fit this run")
        }
        history = c.history
        lastGood = params.network(from: c.lastGood)
        lastGoodEpoch = c.lastGoodEpoch
        best = c.best.map { ($0.loss, params.network(from: $0.tensors), $0.epoch) }
        sinceBest = c.sinceBest
        stoppedEarly = c.stoppedEarly
        converged = c.converged
    }

    /// The settings that differ, for the message.
    private func differences(_ a: TrainConfig, _ b: TrainConfig) -> String {
        let ma = Mirror(reflecting: a).children, mb = Mirror(reflecting: b).children
        let names = zip(ma, mb).filter { "\($0.value)" != "\($1.value)" }.map { "\($0.label ?? "?") \($0.value) there, \($1.value) here" }
        return names.isEmpty ? "?" : names.joined(separator: "; ")
    }
}

