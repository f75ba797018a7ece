/// What minibatch epochs have in common, over rows in memory (`MinibatchDriver`) or streamed
/// (`StreamingMinibatchDriver`): the schedule, one `BatchStep` with an optimizer update per batch, the weight
/// average, and the position inside the epoch (examples done and their summed loss), which a checkpoint saves.
/// The drivers only choose which rows make each batch.
final class MinibatchLoop {
    let config: TrainConfig
    let params: Parameters
    let optimizer: Optimizer
    let schedule: Schedule
    let stepper: BatchStep
    let work: Workspace
    /// Rows per batch (the last one of an epoch may be shorter).
    let batch: Int
    let average: WeightAverage?
    /// The threads each batch uses (at most `parallel.threads`), from the batches' own times.
    private(set) var chooser: ThreadChooser
    /// Examples of the epoch trained on, their summed loss: nonzero only between an interrupt and the end of
    /// that epoch.
    private(set) var examplesDone = 0
    private(set) var partialLoss = 0.0

    /// `n`: the training rows of an epoch.
    init(config: TrainConfig, n: Int, params: Parameters, parallel: Parallel, optimizer: Optimizer) {
        self.config = config
        self.params = params
        self.optimizer = optimizer
        schedule = Schedule(kind: config.schedule, baseRate: config.learningRate, epochs: config.epochs,
                            warmup: config.warmup, stepEvery: config.stepEvery, stepGamma: config.stepGamma)
        stepper = BatchStep(loss: config.loss, penalty: L2Penalty(l2: config.l2), parallel: parallel)
        chooser = ThreadChooser(most: parallel.threads)
        batch = min(config.batchSize, n)
        work = Workspace(params: params, batch: batch, tasks: parallel.threads)
        let stepsPerEpoch = (n + batch - 1) / batch
        average = config.averageEpochs > 0
            ? WeightAverage(params: params, decay: 1 - 1 / max(1, config.averageEpochs * Double(stepsPerEpoch)))
            : nil
    }

    var network: Network { average?.network ?? params.network }

    /// Called as an epoch starts (or resumes inside one): a fresh epoch sums its loss from 0.
    func startEpoch() {
        if examplesDone == 0 { partialLoss = 0 }
    }

    /// Trains rows 0..<m of `x`/`targets` as the next batch of an epoch of `n` rows. Returns the epoch's result
    /// when the epoch ends here: the batch's loss is not finite (the epoch's loss is then not finite either, and
    /// the trainer keeps the last good weights), or `control` asks to stop before the epoch's last batch.
    /// With `folded`, the batch's inputs are unstandardised and the standardisation is folded into the first
    /// layer (`InputFolding`): a non-finite standardised input throws `check`'s error (row in the batch, column)
    /// before the batch counts.
    func train(x: Rows, targets: LossTargets, m: Int, of n: Int, epoch: Int, lr: Float,
               control: TrainingControl, folded: InputFolding? = nil,
               check: ((Int, Int) -> Error)? = nil) throws -> EpochResult? {
        // Any thread count gives the same bits: the chooser may change it between batches.
        let batchLoss = chooser.run(stepper, full: m == batch) {
            $0.run(x: x, targets: targets, m: m, params: params, work: work, mode: .training(seed: config.seed, epoch: epoch),
                   update: (optimizer, lr), folded: folded)
        }
        if let folded, let (row, column) = folded.firstBad(), let check { throw check(row, column) }
        partialLoss += batchLoss
        if !batchLoss.isFinite { return finish(n: n, lr: lr) }
        average?.accumulate()
        examplesDone += m
        control.onBatch?(examplesDone, n, partialLoss / Double(examplesDone))
        if examplesDone < n && control.shouldStop() { return EpochResult(loss: .nan, rate: lr, interrupted: true) }
        return nil
    }

    /// The end of an epoch of `n` rows: its mean loss; the position goes back to the epoch's start.
    func finish(n: Int, lr: Float) -> EpochResult {
        let loss = partialLoss / Double(n)
        examplesDone = 0
        partialLoss = 0
        return EpochResult(loss: loss, rate: lr)
    }

    /// The checkpoint state, with the driver's own shuffle state and order.
    func state(shuffleState: UInt64, order: [Int]) -> Checkpoint.MinibatchState {
        Checkpoint.MinibatchState(parameters: params.tensorArrays, optimizer: optimizer.state,
                                  average: average.map { ($0.sums.arrays, $0.steps) }, shuffleState: shuffleState,
                                  order: order, position: examplesDone, partialLoss: partialLoss)
    }

    /// Restores the weights, the optimizer, the average and the position from `m` (whose order and shuffle
    /// state the driver has checked and takes itself); false when they do not fit this run. `n`: the training
    /// rows of an epoch.
    func restore(_ m: Checkpoint.MinibatchState, n: Int) -> Bool {
        guard m.position >= 0, m.position < max(n, 1), (m.average == nil) == (average == nil),
              optimizer.restore(m.optimizer), params.load(tensors: m.parameters) else { return false }
        if let a = m.average, let average {
            guard average.sums.load(a.sums[...]), a.steps >= 0 else { return false }
            average.steps = a.steps
        }
        examplesDone = m.position
        partialLoss = m.partialLoss
        return true
    }
}
