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
                let stats = try validator.evaluate(current)
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

/// What one epoch reports: the mean training loss measured during it, the learning rate (or L-BFGS step
/// length) used, whether the optimizer has converged, and whether it was stopped from outside.
struct EpochResult {
    var loss: Double
    var rate: Float
    var converged = false
    var interrupted = false
}

protocol EpochDriver: AnyObject {
    /// Throws only when the data cannot be read (a streamed file that changed, an I/O error).
    func runEpoch(_ epoch: Int, control: TrainingControl) throws -> EpochResult
    /// The weights to validate and keep after an epoch.
    var network: Network { get }
    /// Examples of the current epoch already trained on (0 at an epoch boundary).
    var examplesDone: Int { get }
    func save(into checkpoint: inout Checkpoint)
    func restore(_ checkpoint: Checkpoint) -> Bool
}

/// Raw pointers to the training arrays, valid inside `with`.
struct TrainingPointers {
    var x: UnsafePointer<Float>  // (N, d) standardised features, every stored row
    var targets: LossTargets     // p (N, k) in storage order, with its per-row terms
    /// The training rows (n of them, ascending), nil when every stored row trains.
    var rows: UnsafePointer<Int>?
    var n: Int, d: Int, k: Int

    /// Training rows `start...` as a batch: row r of the result is training row start + r.
    func batch(from start: Int) -> (x: Rows, targets: LossTargets) {
        guard let rows else { return (Rows(base: x, stride: d).dropping(start), targets.dropping(start)) }
        var t = targets
        t.p = Rows(base: t.p.base, stride: t.p.stride, index: rows + start)
        t.index = rows + start
        return (Rows(base: x, stride: d, index: rows + start), t)
    }

    /// The features and targets pinned for the duration of `body`.
    static func with<R>(_ features: Matrix, _ prepared: PreparedTargets, rows: UnsafePointer<Int>? = nil, count: Int? = nil,
                        _ body: (TrainingPointers) throws -> R) rethrows -> R {
        try features.values.withUnsafeBufferPointer { x in
            try prepared.withLossTargets { targets in
                try body(TrainingPointers(x: x.baseAddress!, targets: targets, rows: rows, n: count ?? features.rows,
                                          d: features.cols, k: prepared.p.cols))
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
    /// The stored rows in this epoch's order (the training rows, shuffled in place each epoch).
    var order: [Int]
    var shuffleRNG: SplitMix64
    let average: WeightAverage?
    /// Position inside the current epoch (examples done, their summed loss): nonzero only between an
    /// interrupt and the end of that epoch.
    private(set) var examplesDone = 0
    private var partialLoss = 0.0

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
        order = data.rows.map { Array(UnsafeBufferPointer(start: $0, count: data.n)) } ?? Array(0..<data.n)
        shuffleRNG = SplitMix64(seed: config.seed).derived(2)
        let stepsPerEpoch = (data.n + batch - 1) / batch
        average = config.averageEpochs > 0
            ? WeightAverage(params: params, decay: 1 - 1 / max(1, config.averageEpochs * Double(stepsPerEpoch)))
            : nil
    }

    var network: Network { average?.network ?? params.network }

    func runEpoch(_ epoch: Int, control: TrainingControl) -> EpochResult {
        let n = data.n
        let lr = schedule.rate(epoch: epoch)
        if examplesDone == 0 {
            shuffleRNG.shuffle(&order)
            partialLoss = 0
        }
        var interrupted = false
        order.withUnsafeBufferPointer { orderBuf in
            while examplesDone < n {
                let m = min(batch, n - examplesDone)
                let idx = orderBuf.baseAddress! + examplesDone
                var targets = data.targets
                targets.p = Rows(base: targets.p.base, stride: targets.p.stride, index: idx)
                targets.index = idx
                let x = Rows(base: data.x, stride: data.d, index: idx)
                let batchLoss = stepper.run(x: x, targets: targets, m: m, params: params, work: work,
                                            mode: .training(seed: config.seed, epoch: epoch), update: (optimizer, lr))
                partialLoss += batchLoss
                if !batchLoss.isFinite { return }
                average?.accumulate()
                examplesDone += m
                control.onBatch?(examplesDone, n, partialLoss / Double(examplesDone))
                if examplesDone < n && control.shouldStop() {
                    interrupted = true
                    return
                }
            }
        }
        if interrupted { return EpochResult(loss: .nan, rate: lr, interrupted: true) }
        let loss = partialLoss / Double(n)
        examplesDone = 0
        partialLoss = 0
        return EpochResult(loss: loss, rate: lr)
    }

    func save(into c: inout Checkpoint) {
        c.minibatch = Checkpoint.MinibatchState(
            parameters: params.tensorArrays, optimizer: optimizer.state,
            average: average.map { ($0.sums.arrays, $0.steps) }, shuffleState: shuffleRNG.state, order: order,
            position: examplesDone, partialLoss: partialLoss)
    }

    func restore(_ c: Checkpoint) -> Bool {
        guard let m = c.minibatch, m.order.count == order.count, m.position >= 0, m.position < max(data.n, 1),
              (m.average == nil) == (average == nil), optimizer.restore(m.optimizer), params.load(tensors: m.parameters)
        else { return false }
        // The order must hold exactly the training rows (any permutation of them), or batches would read
        // rows that are not there.
        var seen = Set<Int>()
        for r in m.order where !seen.insert(r).inserted { return false }
        guard seen == Set(order) else { return false }
        if let a = m.average, let average {
            guard average.sums.load(a.sums[...]), a.steps >= 0 else { return false }
            average.steps = a.steps
        }
        order = m.order
        shuffleRNG = SplitMix64(seed: m.shuffleState)  // the seed is the whole state
        examplesDone = m.position
        partialLoss = m.partialLoss
        return true
    }
}

/// Exponential moving average of the parameters (Polyak averaging), zero-started and bias-corrected:
///   a ← β a + (1 - β) θ after every step;   θ̄ = a / (1 - β^t).
final class WeightAverage {
    let params: Parameters
    let decay: Float
    let sums: StateBuffers
    var steps = 0

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
            for e in 0..<n { a[e] = flushSubnormal(b * a[e] + c * theta[e]) }  // see flushSubnormals
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

/// What the epoch loop validates with: the data in memory (`Validator`) or streamed (`StreamingValidator`).
protocol Validating: AnyObject {
    /// Mean training loss, mean KL(p‖q) and the share of rows whose predicted class is the majority class.
    func evaluate(_ network: Network) throws -> (loss: Double, kl: Double, accuracy: Double)
}

/// Per-epoch validation through the training code: the one forward pass (inference mode) and the training
/// loss, in chunks of rows; KL and accuracy against the majority class beside it. Targets are the raw
/// validation labels (no smoothing, temperature or class weights).
final class Validator: Validating {
    let data: Dataset
    let rows: [Int]?
    let targets: PreparedTargets
    let params: Parameters
    let work: Workspace
    let stepper: BatchStep
    let chunk: Int

    /// `rows`: the validation rows of `data` (nil: all of them).
    init(data: Dataset, rows: [Int]?, structure: Network, loss: LossKind, parallel: Parallel, chunk: Int = 2048) {
        self.data = data
        self.rows = rows
        targets = PreparedTargets(data.targets, config: TrainConfig(), rows: rows)
        params = Parameters(structure)
        let n = rows?.count ?? data.count
        self.chunk = min(chunk, max(n, 1))
        work = Workspace(params: params, batch: self.chunk, tasks: parallel.threads)
        stepper = BatchStep(loss: loss, penalty: L2Penalty(l2: 0), parallel: parallel)
    }

    /// Mean training loss, mean KL(p‖q) and the share of rows whose predicted class is the majority class.
    func evaluate(_ network: Network) -> (loss: Double, kl: Double, accuracy: Double) {
        params.load(network)
        let n = rows?.count ?? data.count
        var sums = (loss: 0.0, kl: 0.0, hits: 0)
        let rowList = rows ?? []
        rowList.withUnsafeBufferPointer { rowBuffer in
            TrainingPointers.with(data.features, targets, rows: rows == nil ? nil : rowBuffer.baseAddress, count: n) { ptrs in
                var start = 0
                while start < n {
                    let m = min(chunk, n - start)
                    let (x, t) = ptrs.batch(from: start)
                    let part = stepper.evaluate(x: x, targets: t, m: m, params: params, work: work)
                    sums.loss += part.loss
                    sums.kl += part.kl
                    sums.hits += part.hits
                    start += m
                }
            }
        }
        let nn = Double(max(n, 1))
        return (sums.loss / nn, sums.kl / nn, Double(sums.hits) / nn)
    }
}
