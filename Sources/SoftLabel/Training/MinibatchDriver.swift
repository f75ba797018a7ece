import Foundation

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

