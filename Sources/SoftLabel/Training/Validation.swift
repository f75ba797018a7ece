import Foundation

/// What the epoch loop validates with: the data in memory (`Validator`) or streamed (`StreamingValidator`).
protocol Validating: AnyObject {
    /// Mean training loss, mean KL(p‖q) and the share of rows whose predicted class is the majority class.
    /// `threads`: at most this many threads (the training's choice, `ThreadChooser`; nil: all).
    func evaluate(_ network: Network, threads: Int?) throws -> (loss: Double, kl: Double, accuracy: Double)
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
    func evaluate(_ network: Network, threads: Int? = nil) -> (loss: Double, kl: Double, accuracy: Double) {
        params.load(network)
        let stepper = self.stepper.limited(to: threads)
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
