import Foundation

/// How a training run ended.
public struct TrainingOutcome: Sendable {
    public var network: Network
    public var history: [EpochRecord]
    /// The epoch whose weights `network` holds (the best validation epoch under early stopping).
    public var keptEpoch: Int
    public var stoppedEarly: Bool
    /// L-BFGS stopped because the objective stopped decreasing (relative change below 2.2e-9).
    public var converged: Bool
    /// Set when the loss became NaN or infinite: what happened, for the user. `network` is then the last
    /// good one (the end of the epoch before), never non-finite weights.
    public var divergence: String?
}

/// Training of a `Network` on soft targets: the epochs (minibatch or full-batch L-BFGS), validation,
/// early stopping and the divergence guard.
public final class Trainer {
    public let config: TrainConfig
    public let train: Dataset
    public let validation: Dataset?
    public let parallel: Parallel

    /// `train` and `validation` features must already be standardised as the model will see them.
    public init(config: TrainConfig, train: Dataset, validation: Dataset?, parallel: Parallel) {
        self.config = config
        self.train = train
        self.validation = validation
        self.parallel = parallel
    }

    /// Trains for the configured epochs. `onEpoch` gets each finished epoch's record; `onBatch`, when
    /// given, gets (examples done, examples per epoch, mean loss of the epoch so far) after every minibatch
    /// (for progress bars).
    public func run(onEpoch: (EpochRecord) -> Void = { _ in },
                    onBatch: ((Int, Int, Double) -> Void)? = nil) -> TrainingOutcome {
        var initRNG = SplitMix64(seed: config.seed).derived(1)
        let initial = Network.make(inputs: train.featureCount, hidden: config.hidden, classes: train.classCount,
                                   activation: config.activation, dropout: config.dropout, rng: &initRNG)
        let params = Parameters(initial)
        let targets = PreparedTargets(train.targets, config: config)
        let validator = validation.map { Validator(data: $0, structure: initial, loss: config.loss, parallel: parallel) }
        return TrainingPointers.with(train.features, targets) { data in
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
            return loop(driver: driver, params: params, initial: initial, validator: validator, onEpoch: onEpoch,
                        onBatch: onBatch)
        }
    }

    /// The epochs: bookkeeping shared by every optimizer.
    private func loop(driver: EpochDriver, params: Parameters, initial: Network, validator: Validator?,
                      onEpoch: (EpochRecord) -> Void, onBatch: ((Int, Int, Double) -> Void)?) -> TrainingOutcome {
        var history: [EpochRecord] = []
        var lastGood = initial, lastGoodEpoch = 0
        var best: (loss: Double, network: Network, epoch: Int)?
        var sinceBest = 0
        var divergence: String?
        var stoppedEarly = false, converged = false
        for epoch in 1...max(config.epochs, 1) {
            let started = DispatchTime.now().uptimeNanoseconds
            let result = driver.runEpoch(epoch, onBatch: onBatch)
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
                let stats = validator.evaluate(current)
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
            onEpoch(record)
            if config.patience > 0 && validator != nil && sinceBest >= config.patience {
                stoppedEarly = true
                break
            }
            if result.converged {
                converged = true
                break
            }
        }
        if divergence == nil, config.patience > 0, let best {
            return TrainingOutcome(network: best.network, history: history, keptEpoch: best.epoch,
                                   stoppedEarly: stoppedEarly, converged: converged, divergence: nil)
        }
        return TrainingOutcome(network: lastGood, history: history, keptEpoch: lastGoodEpoch,
                               stoppedEarly: stoppedEarly, converged: converged, divergence: divergence)
    }
}

/// What one epoch reports: the mean training loss measured during it, the learning rate (or L-BFGS step
/// length) used, and whether the optimizer has converged.
struct EpochResult {
    var loss: Double
    var rate: Float
    var converged = false
}

protocol EpochDriver: AnyObject {
    func runEpoch(_ epoch: Int, onBatch: ((Int, Int, Double) -> Void)?) -> EpochResult
    /// The weights to validate and keep after an epoch.
    var network: Network { get }
}

/// Raw pointers to the training arrays, valid inside `with`.
struct TrainingPointers {
    var x: UnsafePointer<Float>  // (n, d) standardised features
    var targets: LossTargets     // p (n, k) in storage order, with its per-row terms
    var n: Int, d: Int, k: Int

    /// The features and targets pinned for the duration of `body`.
    static func with<R>(_ features: Matrix, _ prepared: PreparedTargets, _ body: (TrainingPointers) -> R) -> R {
        features.values.withUnsafeBufferPointer { x in
            prepared.padded.values.withUnsafeBufferPointer { p in
                prepared.negEntropy.withUnsafeBufferPointer { h in
                    func pin(_ w: UnsafePointer<Float>?) -> R {
                        body(TrainingPointers(
                            x: x.baseAddress!,
                            targets: LossTargets(p: Rows(base: p.baseAddress!, stride: prepared.padded.cols), index: nil,
                                                 negEntropy: h.baseAddress!, weight: w),
                            n: features.rows, d: features.cols, k: prepared.p.cols))
                    }
                    guard let weight = prepared.weight else { return pin(nil) }
                    return weight.withUnsafeBufferPointer { pin($0.baseAddress!) }
                }
            }
        }
    }
}

/// Minibatch epochs: shuffle (seeded), then one `BatchStep` with an optimizer update per batch.
final class MinibatchDriver: EpochDriver {
    let config: TrainConfig
    let data: TrainingPointers
    let params: Parameters
    let optimizer: Optimizer
    let schedule: Schedule
    let stepper: BatchStep
    let work: Workspace
    let batch: Int
    var order: [Int]
    var shuffleRNG: SplitMix64
    let average: WeightAverage?

    init(config: TrainConfig, data: TrainingPointers, params: Parameters, parallel: Parallel, optimizer: Optimizer) {
        self.config = config
        self.data = data
        self.params = params
        self.optimizer = optimizer
        schedule = Schedule(kind: config.schedule, baseRate: config.learningRate, epochs: config.epochs,
                            warmup: config.warmup, stepEvery: config.stepEvery, stepGamma: config.stepGamma)
        stepper = BatchStep(loss: config.loss, penalty: L2Penalty(l2: config.l2), parallel: parallel)
        batch = min(config.batchSize, data.n)
        work = Workspace(params: params, batch: batch, tasks: parallel.threads)
        order = Array(0..<data.n)
        shuffleRNG = SplitMix64(seed: config.seed).derived(2)
        let stepsPerEpoch = (data.n + batch - 1) / batch
        average = config.averageEpochs > 0
            ? WeightAverage(params: params, decay: 1 - 1 / max(1, config.averageEpochs * Double(stepsPerEpoch)))
            : nil
    }

    var network: Network { average?.network ?? params.network }

    func runEpoch(_ epoch: Int, onBatch: ((Int, Int, Double) -> Void)?) -> EpochResult {
        let n = data.n
        let lr = schedule.rate(epoch: epoch)
        shuffleRNG.shuffle(&order)
        var total = 0.0
        order.withUnsafeBufferPointer { orderBuf in
            var start = 0
            while start < n {
                let m = min(batch, n - start)
                let idx = orderBuf.baseAddress! + start
                var targets = data.targets
                targets.p = Rows(base: targets.p.base, stride: targets.p.stride, index: idx)
                targets.index = idx
                let x = Rows(base: data.x, stride: data.d, index: idx)
                let batchLoss = stepper.run(x: x, targets: targets, m: m, params: params, work: work,
                                            mode: .training(seed: config.seed, epoch: epoch), update: (optimizer, lr))
                total += batchLoss
                if !batchLoss.isFinite { return }
                average?.accumulate()
                start += m
                onBatch?(start, n, total / Double(start))
            }
        }
        return EpochResult(loss: total / Double(n), rate: lr)
    }
}

/// Exponential moving average of the parameters (Polyak averaging), zero-started and bias-corrected:
///   a ← β a + (1 - β) θ after every step;   θ̄ = a / (1 - β^t).
final class WeightAverage {
    let params: Parameters
    let decay: Float
    private let sums: StateBuffers
    private var steps = 0

    init(params: Parameters, decay: Double) {
        self.params = params
        self.decay = Float(decay)
        sums = StateBuffers(sizes: params.sizes)
    }

    func accumulate() {
        steps += 1
        let b = decay, c = 1 - decay
        for (t, n) in params.sizes.enumerated() {
            let a = sums[t], theta = params.tensors[t]
            for e in 0..<n { a[e] = b * a[e] + c * theta[e] }
        }
    }

    var network: Network {
        guard steps > 0 else { return params.network }
        let correction = Float(1 - pow(Double(decay), Double(steps)))
        let corrected = params.sizes.enumerated().map { t, n in
            let out = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            for e in 0..<n { out[e] = sums[t][e] / correction }
            return out
        }
        defer { corrected.forEach { $0.deallocate() } }
        return params.network(from: corrected.map { UnsafePointer($0) })
    }
}

/// Per-epoch validation through the training code: the one forward pass (inference mode) and the training
/// loss, in chunks of rows; KL and accuracy against the majority class beside it. Targets are the raw
/// validation labels (no smoothing, temperature or class weights).
final class Validator {
    let data: Dataset
    let targets: PreparedTargets
    let params: Parameters
    let work: Workspace
    let stepper: BatchStep
    let chunk: Int

    init(data: Dataset, structure: Network, loss: LossKind, parallel: Parallel, chunk: Int = 2048) {
        self.data = data
        targets = PreparedTargets(data.targets, config: TrainConfig())
        params = Parameters(structure)
        self.chunk = min(chunk, max(data.count, 1))
        work = Workspace(params: params, batch: self.chunk, tasks: parallel.threads)
        stepper = BatchStep(loss: loss, penalty: L2Penalty(l2: 0), parallel: parallel)
    }

    /// Mean training loss, mean KL(p‖q) and the share of rows whose predicted class is the majority class.
    func evaluate(_ network: Network) -> (loss: Double, kl: Double, accuracy: Double) {
        params.load(network)
        let n = data.count
        var sums = (loss: 0.0, kl: 0.0, hits: 0)
        TrainingPointers.with(data.features, targets) { ptrs in
            var start = 0
            while start < n {
                let m = min(chunk, n - start)
                let part = stepper.evaluate(x: Rows(base: ptrs.x, stride: ptrs.d).dropping(start),
                                            targets: ptrs.targets.dropping(start), m: m, params: params, work: work)
                sums.loss += part.loss
                sums.kl += part.kl
                sums.hits += part.hits
                start += m
            }
        }
        let nn = Double(max(n, 1))
        return (sums.loss / nn, sums.kl / nn, Double(sums.hits) / nn)
    }
}
