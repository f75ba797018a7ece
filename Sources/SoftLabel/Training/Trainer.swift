import Foundation

/// How a training run ended.
public struct TrainingOutcome: Sendable {
    public var network: Network
    public var history: [EpochRecord]
    /// The epoch whose weights `network` holds (the best validation epoch under early stopping).
    public var keptEpoch: Int
    public var stoppedEarly: Bool
    /// Set when the loss became NaN or infinite: what happened, for the user. `network` is then the last
    /// good one (the end of the epoch before), never non-finite weights.
    public var divergence: String?
}

/// Minibatch training of a `Network` on soft targets: epochs of shuffled minibatches (`BatchStep`), the
/// learning-rate schedule, validation, early stopping and the divergence guard.
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
    /// given, gets (examples done, examples per epoch) after every minibatch (for progress bars).
    public func run(onEpoch: (EpochRecord) -> Void = { _ in },
                    onBatch: ((Int, Int) -> Void)? = nil) -> TrainingOutcome {
        let n = train.count, d = train.featureCount, k = train.classCount
        let root = SplitMix64(seed: config.seed)
        var initRNG = root.derived(1)
        var shuffleRNG = root.derived(2)
        let initial = Network.make(inputs: d, hidden: config.hidden, classes: k, rng: &initRNG)
        let params = Parameters(initial)
        let optimizer = makeOptimizer(sizes: params.sizes)
        let schedule = Schedule(kind: config.schedule, baseRate: config.learningRate, epochs: config.epochs,
                                warmup: config.warmup, stepEvery: config.stepEvery, stepGamma: config.stepGamma)
        let targets = PreparedTargets(train.targets, config: config)
        let batch = min(config.batchSize, n)
        let work = Workspace(shapes: params.shapes, batch: batch, tasks: parallel.threads)
        let stepper = BatchStep(loss: config.loss, l2: config.l2, parallel: parallel)
        var order = Array(0..<n)

        var history: [EpochRecord] = []
        var lastGood = initial, lastGoodEpoch = 0
        var best: (loss: Double, network: Network, epoch: Int)?
        var sinceBest = 0
        var divergence: String?
        var stoppedEarly = false

        train.features.values.withUnsafeBufferPointer { xBuf in
            targets.p.values.withUnsafeBufferPointer { pBuf in
                targets.negEntropy.withUnsafeBufferPointer { hBuf in
                    order.withUnsafeMutableBufferPointer { orderBuf in
                        let weights = targets.weight.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0.count) }
                        if let w = targets.weight { _ = weights!.initialize(from: w) }
                        defer { weights?.deallocate() }
                        for epoch in 1...max(config.epochs, 1) {
                            let started = DispatchTime.now().uptimeNanoseconds
                            let lr = schedule.rate(epoch: epoch)
                            shuffleRNG.shuffle(&orderBuf)
                            var total = 0.0
                            var start = 0
                            while start < n {
                                let m = min(batch, n - start)
                                let idx = UnsafePointer(orderBuf.baseAddress! + start)
                                let lossTargets = LossTargets(
                                    p: Rows(base: pBuf.baseAddress!, stride: k, index: idx),
                                    negEntropy: hBuf.baseAddress!, weight: weights.map { UnsafePointer($0.baseAddress!) })
                                let x = Rows(base: xBuf.baseAddress!, stride: d, index: idx)
                                let batchLoss = stepper.run(x: x, targets: lossTargets, m: m, params: params, work: work,
                                                            update: (optimizer, lr))
                                if !batchLoss.isFinite { total = batchLoss; break }
                                total += batchLoss
                                start += m
                                onBatch?(start, n)
                            }
                            let trainLoss = total / Double(n)
                            if !trainLoss.isFinite || !params.allFinite {
                                divergence = "training diverged in epoch \(epoch): the loss became \(trainLoss.isNaN ? "NaN" : "infinite")" +
                                    "; kept the weights of epoch \(lastGoodEpoch); try a lower --lr (now \(config.learningRate))"
                                break
                            }
                            let current = params.network
                            lastGood = current
                            lastGoodEpoch = epoch
                            var record = EpochRecord(epoch: epoch, trainLoss: trainLoss, valLoss: nil, valKL: nil,
                                                     valAccuracy: nil, learningRate: lr, seconds: 0)
                            if let validation {
                                let logits = current.logits(validation.features, parallel: parallel)
                                let stats = Evaluation(logits: logits, targets: validation.targets)
                                record.valLoss = stats.meanLoss(config.loss)
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
                            if config.patience > 0 && validation != nil && sinceBest >= config.patience {
                                stoppedEarly = true
                                break
                            }
                        }
                    }
                }
            }
        }
        if divergence == nil, config.patience > 0, let best {
            return TrainingOutcome(network: best.network, history: history, keptEpoch: best.epoch,
                                   stoppedEarly: stoppedEarly, divergence: nil)
        }
        return TrainingOutcome(network: lastGood, history: history, keptEpoch: lastGoodEpoch,
                               stoppedEarly: stoppedEarly, divergence: divergence)
    }

    private func makeOptimizer(sizes: [Int]) -> Optimizer {
        switch config.optimizer {
        case .sgd:
            return SGD(sizes: sizes, momentum: config.momentum, nesterov: config.nesterov)
        case .adam:
            return Adam(sizes: sizes, beta1: config.beta1, beta2: config.beta2, epsilon: config.epsilon)
        case .adamw:
            return Adam(sizes: sizes, beta1: config.beta1, beta2: config.beta2, epsilon: config.epsilon,
                        weightDecay: config.weightDecay)
        }
    }
}

/// Per-batch buffers, allocated once per run: activations and their gradients for each layer, (batch, width).
final class Workspace {
    let act: [UnsafeMutablePointer<Float>]  // layer l output (batch, outputs_l); the last holds the logits
    let dz: [UnsafeMutablePointer<Float>]   // ∂L/∂Z_l (batch, outputs_l)
    let rowLoss: UnsafeMutablePointer<Float>  // (batch)
    let q: UnsafeMutablePointer<Float>, logq: UnsafeMutablePointer<Float>  // (tasks, k) scratch

    init(shapes: [(inputs: Int, outputs: Int)], batch: Int, tasks: Int) {
        act = shapes.map { UnsafeMutablePointer<Float>.allocate(capacity: batch * $0.outputs) }
        dz = shapes.map { UnsafeMutablePointer<Float>.allocate(capacity: batch * $0.outputs) }
        rowLoss = .allocate(capacity: batch)
        let k = shapes[shapes.count - 1].outputs
        q = .allocate(capacity: tasks * k)
        logq = .allocate(capacity: tasks * k)
    }

    deinit {
        act.forEach { $0.deallocate() }
        dz.forEach { $0.deallocate() }
        rowLoss.deallocate()
        q.deallocate()
        logq.deallocate()
    }
}
