import Foundation
import Testing
@testable import SoftLabel

@Suite struct TrainerTests {
    /// Same seed → bit-identical weights, whatever the thread count (hidden layers included).
    @Test(arguments: [[Int](), [9, 5], [64]])  // 64: forward from Wᵀ, refreshed by the update
    func deterministicAcrossThreadCounts(_ hidden: [Int]) {
        var g = TestData(seed: 21)
        let data = g.dataset(n: 203, d: 70, k: 6)
        var config = TrainConfig.defaults(hidden: hidden, optimizer: .adam)
        config.epochs = 3
        config.batchSize = 37
        config.valFraction = 0
        config.patience = 0
        let one = (try! Trainer(config: config, data: data, parallel: Parallel(threads: 1)).run())
        let two = (try! Trainer(config: config, data: data, parallel: Parallel(threads: 2)).run())
        let three = (try! Trainer(config: config, data: data, parallel: Parallel(threads: 3)).run())
        #expect(one.network == two.network && one.network == three.network)
        #expect(one.history.map(\.trainLoss) == two.history.map(\.trainLoss))
        var other = config
        other.seed = 2
        let reseeded = (try! Trainer(config: other, data: data, parallel: Parallel(threads: 1)).run())
        #expect(reseeded.network != one.network)
    }

    /// Two trainers running at once from different threads share the worker pool safely: each gets the
    /// same bits as when run alone.
    @Test func concurrentTrainersGiveTheirOwnResults() {
        var g = TestData(seed: 31)
        let data = g.dataset(n: 300, d: 90, k: 7)
        var config = TrainConfig.defaults(hidden: [12], optimizer: .adam)
        config.epochs = 4
        config.valFraction = 0
        config.patience = 0
        let alone = (try! Trainer(config: config, data: data, parallel: Parallel(threads: 2)).run()).network
        let results = UnsafeMutablePointer<Network?>.allocate(capacity: 4)
        results.initialize(repeating: nil, count: 4)
        defer {
            results.deinitialize(count: 4)  // releases the networks (LeakSanitizer found them leaked without this)
            results.deallocate()
        }
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            results[i] = (try! Trainer(config: config, data: data, parallel: Parallel(threads: 2)).run()).network
        }
        for i in 0..<4 { #expect(results[i] == alone) }
    }

    /// Full-batch gradient descent on the convex linear objective reaches the optimum: the gradient of
    /// mean KL + (l2/2)‖W‖² vanishes there (checked through the Double reference by finite differences).
    @Test func linearModelReachesTheOptimum() {
        var g = TestData(seed: 3)
        let data = g.dataset(n: 60, d: 4, k: 3)
        var config = TrainConfig()
        config.optimizer = .sgd
        config.learningRate = 0.5
        config.momentum = 0.9
        config.schedule = .constant
        config.batchSize = 60
        config.epochs = 600
        config.l2 = 0.05
        let outcome = (try! Trainer(config: config, data: data, parallel: Parallel(threads: 1)).run())
        let maxGrad = largestWeightGradient(outcome.network, data: data, config: config)
        #expect(maxGrad < 1e-4, "gradient norm at the end: \(maxGrad)")
    }

    /// L-BFGS (the default for linear models) reaches the optimum of the full objective: the gradient of
    /// the Double reference vanishes there, and the run reports convergence. It is thread-count independent.
    @Test func lbfgsReachesTheOptimum() {
        var g = TestData(seed: 13)
        let data = g.dataset(n: 150, d: 6, k: 4, zeros: true)
        var config = TrainConfig()
        config.l2 = 0.01
        #expect(config.optimizer == .lbfgs)
        let outcome = (try! Trainer(config: config, data: data, parallel: Parallel(threads: 1)).run())
        #expect(outcome.converged)
        #expect(outcome.history.count < 200)
        let maxGrad = largestWeightGradient(outcome.network, data: data, config: config)
        #expect(maxGrad < 1e-4, "gradient at the end: \(maxGrad)")
        let two = (try! Trainer(config: config, data: data, parallel: Parallel(threads: 2)).run())
        #expect(two.network == outcome.network)
    }

    /// Weight averaging: bias-corrected, so after one step the average is exactly the weights.
    @Test func weightAverageIsBiasCorrected() {
        var rng = SplitMix64(seed: 1)
        let params = Parameters(Network.make(inputs: 3, hidden: [], classes: 2, rng: &rng))
        params.tensors[0][0] = 2
        let average = WeightAverage(params: params, decay: 0.9)
        average.accumulate()
        #expect(average.network == params.network)
        params.tensors[0][0] = 4
        average.accumulate()
        // (0.9 · 0.1 · 2 + 0.1 · 4) / (1 - 0.81) = 0.58 / 0.19
        #expect(abs(average.network[dense: 0].weight[0] - Float(0.58 / 0.19)) < 1e-6)
    }

    /// A learning rate far too high makes the loss blow up: training stops with a message and returns the
    /// last good (finite) weights.
    @Test func divergenceKeepsLastGoodWeights() {
        var g = TestData(seed: 5)
        var data = g.dataset(n: 50, d: 5, k: 3)
        data.features.values = data.features.values.map { $0 * 1e18 }
        var config = TrainConfig()
        config.optimizer = .sgd
        config.learningRate = 1e20
        config.epochs = 20
        config.standardize = false
        let outcome = (try! Trainer(config: config, data: data, parallel: Parallel(threads: 1)).run())
        #expect(outcome.divergence != nil)
        #expect(outcome.divergence?.contains("try a lower --lr") == true)
        #expect(outcome.network.isFinite)
        #expect(outcome.history.count == outcome.keptEpoch)
    }

    /// With patience, training stops once validation loss stops improving and keeps the best epoch's weights.
    @Test func earlyStoppingRestoresTheBestEpoch() throws {
        var g = TestData(seed: 6)
        let train = g.dataset(n: 40, d: 30, k: 3)  // few examples, many features: overfits quickly
        let val = g.dataset(n: 40, d: 30, k: 3)
        var config = TrainConfig.defaults(hidden: [32], optimizer: .adam)
        config.l2 = 0
        config.averageEpochs = 0
        config.learningRate = 0.05
        config.epochs = 300
        config.patience = 5
        config.schedule = .constant
        let outcome = try Trainer(config: config, data: train, validation: .separate(val), parallel: Parallel(threads: 1)).run()
        #expect(outcome.stoppedEarly)
        let best = outcome.history.min { $0.valLoss! < $1.valLoss! }!
        #expect(outcome.keptEpoch == best.epoch)
        #expect(outcome.history.count == best.epoch + 5)
        // The kept network is the one that scored the best validation loss.
        let z = outcome.network.logits(val.features)
        #expect(close(Evaluation(logits: z, targets: val.targets).kl, best.valKL!, 1e-6))  // Float training loss vs Double metric
    }
}

/// max |∂J/∂W| over the first layer's weights, by central differences of the Double reference objective.
private func largestWeightGradient(_ network: Network, data: Dataset, config: TrainConfig) -> Double {
    let reference = ReferenceObjective(data: data, targets: PreparedTargets(data.targets, config: config), config: config,
                                       layers: network.layers, mode: .inference)
    var theta = Parameters(network).flat
    let h = 1e-5
    var largest = 0.0
    for e in 0..<network[dense: 0].weight.count {  // the first layer's weight is tensor 0
        let saved = theta[e]
        theta[e] = saved + h
        let up = reference.value(theta)
        theta[e] = saved - h
        let down = reference.value(theta)
        theta[e] = saved
        largest = max(largest, abs(up - down) / (2 * h))
    }
    return largest
}
