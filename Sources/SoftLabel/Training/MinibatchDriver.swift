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
    /// The threads its minibatches use now (`ThreadChooser`), for the validation after an epoch; nil: all.
    var threads: Int? { get }
}

extension EpochDriver {
    var threads: Int? { nil }
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

/// Minibatch epochs over rows in memory: shuffle (seeded), then consecutive batches of that order, each trained
/// by the `MinibatchLoop`.
final class MinibatchDriver: EpochDriver {
    let data: TrainingPointers
    let loop: MinibatchLoop
    /// The stored rows in this epoch's order (the training rows, shuffled in place each epoch).
    var order: [Int]
    var shuffleRNG: SplitMix64

    var threads: Int? { loop.chooser.threads }

    init(config: TrainConfig, data: TrainingPointers, params: Parameters, parallel: Parallel, optimizer: Optimizer) {
        self.data = data
        loop = MinibatchLoop(config: config, n: data.n, params: params, parallel: parallel, optimizer: optimizer)
        order = data.rows.map { Array(UnsafeBufferPointer(start: $0, count: data.n)) } ?? Array(0..<data.n)
        shuffleRNG = SplitMix64(seed: config.seed).derived(2)
    }

    var network: Network { loop.network }
    var examplesDone: Int { loop.examplesDone }

    func runEpoch(_ epoch: Int, control: TrainingControl) throws -> EpochResult {
        let n = data.n
        let lr = loop.schedule.rate(epoch: epoch)
        if loop.examplesDone == 0 { shuffleRNG.shuffle(&order) }
        loop.startEpoch()
        return try order.withUnsafeBufferPointer { orderBuf in
            while loop.examplesDone < n {
                let m = min(loop.batch, n - loop.examplesDone)
                let idx = orderBuf.baseAddress! + loop.examplesDone
                var targets = data.targets
                targets.p = Rows(base: targets.p.base, stride: targets.p.stride, index: idx)
                targets.index = idx
                let x = Rows(base: data.x, stride: data.d, index: idx)
                if let end = try loop.train(x: x, targets: targets, m: m, of: n, epoch: epoch, lr: lr, control: control) {
                    return end
                }
            }
            return loop.finish(n: n, lr: lr)
        }
    }

    func save(into c: inout Checkpoint) {
        c.minibatch = loop.state(shuffleState: shuffleRNG.state, order: order)
    }

    func restore(_ c: Checkpoint) -> Bool {
        // The order must hold exactly the training rows (any permutation of them), or batches would read
        // rows that are not there.
        guard let m = c.minibatch, m.order.count == order.count else { return false }
        var seen = Set<Int>()
        for r in m.order where !seen.insert(r).inserted { return false }
        guard seen == Set(order), loop.restore(m, n: data.n) else { return false }
        order = m.order
        shuffleRNG = SplitMix64(seed: m.shuffleState)  // the seed is the whole state
        return true
    }
}
