import Foundation
import Testing
@testable import SoftLabel

/// Examples labelled by a linear teacher with known weights: x ~ N(0, 1)^d, its logits v = W x + b with W
/// of scale `scale` (so the teacher is confident on some rows and hesitant on others).
private func linearTeacherData(n: Int, d: Int, k: Int, seed: UInt64, scale: Double = 1.5) -> Dataset {
    var teacher = TestData(seed: 99)  // the same teacher for every seed
    let w = teacher.matrix(k, d, scale: scale), b = teacher.matrix(1, k, scale: 0.5)
    var g = TestData(seed: seed)
    let x = g.matrix(n, d)
    var v = Matrix(rows: n, cols: k)
    for i in 0..<n {
        for c in 0..<k {
            var s = Double(b[0, c])
            for j in 0..<d { s += Double(w[c, j]) * Double(x[i, j]) }
            v[i, c] = Float(s)
        }
    }
    return Dataset(ids: (0..<n).map(String.init), featureNames: (0..<d).map { "f\($0)" },
                   classNames: (0..<k).map { "c\($0)" }, features: x, teacherLogits: v)
}

/// Held-out KL(teacher ‖ student), both at T = 1, of a linear student trained (default L-BFGS, standardised
/// features) on the teacher's logits under `config`.
private func heldOutKL(_ config: TrainConfig, train: Dataset, test: Dataset) -> Double {
    let run = try! TrainModel.run(data: train, validation: nil, config: config, parallel: Parallel(threads: 1))
    let z = try! run.model.logits(test.features, parallel: Parallel(threads: 1))
    return Evaluation(logits: z, targets: test.targets).kl
}

@Suite struct DistillationTests {
    /// Teacher logits at T: targets softmax(v / T), computed in Double; at T = 1 the data's own targets.
    @Test func targetsAreTheTeachersSoftmaxAtT() {
        let v = Matrix(rows: 2, cols: 3, values: [2, -1, 0.5, 40, 0, -40])
        let data = Dataset(ids: ["a", "b"], featureNames: ["f"], classNames: ["x", "y", "z"],
                           features: Matrix(rows: 2, cols: 1), teacherLogits: v)
        var config = TrainConfig()
        #expect(PreparedTargets(data, config: config).p == data.targets)
        for t: Float in [0.5, 4] {
            config.distillTemperature = t
            let p = PreparedTargets(data, config: config).p
            for i in 0..<2 {
                let e = (0..<3).map { exp(Double(v[i, $0]) / Double(t)) }
                let s = e.reduce(0, +)
                for j in 0..<3 { #expect(abs(Double(p[i, j]) - e[j] / s) < 1e-7, "T=\(t) [\(i), \(j)]") }
            }
        }
        #expect(abs(Double(data.targets[1, 0]) - 1) < 1e-7)  // exp(80) overflows nothing: max subtracted
    }

    /// Label probabilities at T: log p act as the logits, so the targets are p^(1/T) renormalised (0 stays 0).
    @Test func probabilityLabelsUseLogP() {
        let p = Matrix(rows: 1, cols: 3, values: [0.64, 0.36, 0])
        let data = Dataset(ids: ["a"], featureNames: ["f"], classNames: ["x", "y", "z"],
                           features: Matrix(rows: 1, cols: 1), targets: p)
        var config = TrainConfig()
        config.distillTemperature = 2
        let prepared = PreparedTargets(data, config: config).p
        #expect(abs(prepared[0, 0] - 0.8 / 1.4) < 1e-7 && abs(prepared[0, 1] - 0.6 / 1.4) < 1e-7 && prepared[0, 2] == 0)
    }

    /// The hard class: the data's own when given, else the teacher's argmax (ties to the first class); none
    /// without a hard-label weight.
    @Test func hardClasses() {
        let v = Matrix(rows: 3, cols: 3, values: [0, 2, 1, 5, 5, 0, -1, -2, -0.5])
        var data = Dataset(ids: ["a", "b", "c"], featureNames: ["f"], classNames: ["x", "y", "z"],
                           features: Matrix(rows: 3, cols: 1), teacherLogits: v)
        var config = TrainConfig()
        #expect(PreparedTargets(data, config: config).hard == nil)
        config.hardWeight = 0.2
        #expect(PreparedTargets(data, config: config).hard == [1, 0, 2])
        data.hardLabels = [2, 2, 0]
        #expect(PreparedTargets(data, config: config).hard == [2, 2, 0])
        // Subsets and class reorders carry the logits and hard classes along.
        let sub = data.subset([2, 0])
        #expect(sub.teacherLogits?.values == [-1, -2, -0.5, 0, 2, 1] && sub.hardLabels == [0, 2])
        let reordered = data.withClassOrder(["z", "x", "y"])!
        #expect(reordered.teacherLogits?.row(0) == [1, 0, 2] && reordered.hardLabels == [0, 0, 1])
        #expect(reordered.targets.row(0) == [data.targets[0, 2], data.targets[0, 0], data.targets[0, 1]])
    }

    /// The training code's gradient of the distillation objective against finite differences of the Double
    /// reference: every loss, linear and one hidden layer, teacher logits with given hard classes and class
    /// weights.
    @Test(arguments: LossKind.allCases, [[Int](), [6]])
    func networkGradientsMatchFiniteDifferences(_ kind: LossKind, _ hidden: [Int]) {
        var data = linearTeacherData(n: 10, d: 5, k: 4, seed: 4)
        data.hardLabels = (0..<10).map { $0 % 4 }
        var rng = SplitMix64(seed: 3)
        var network = Network.make(inputs: 5, hidden: hidden, classes: 4, rng: &rng)
        let last = network.denseCount - 1
        for e in network[dense: last].weight.indices { network[dense: last].weight[e] = Float(rng.nextGaussian() * 0.5) }
        var config = TrainConfig()
        config.loss = kind
        config.l2 = 0.01
        config.distillTemperature = 3
        config.hardWeight = 0.25
        config.classWeight = .balanced
        for r in GradientCheck.run(network: network, data: data, config: config) {
            #expect(r.maxRelativeError < 1e-3, "\(kind) hidden \(hidden) \(r.name): \(r.maxRelativeError)")
        }
    }

    /// A full-batch pass in chunks reads each chunk's own hard classes (the offset moves them along).
    @Test func chunkedFullBatchWithHardClasses() {
        var data = linearTeacherData(n: 45, d: 7, k: 3, seed: 5)
        data.hardLabels = (0..<45).map { ($0 * 7) % 3 }
        var rng = SplitMix64(seed: 2)
        let network = Network.make(inputs: 7, hidden: [5], classes: 3, rng: &rng)
        var config = TrainConfig()
        config.distillTemperature = 2
        config.hardWeight = 0.5
        let targets = PreparedTargets(data, config: config)
        let params = Parameters(network)
        let (whole, chunked) = TrainingPointers.with(data.features, targets) { ptrs in
            (FullBatchObjective(config: config, data: ptrs, params: params, parallel: Parallel(threads: 1), chunk: 45).evaluate(),
             FullBatchObjective(config: config, data: ptrs, params: params, parallel: Parallel(threads: 2), chunk: 8).evaluate())
        }
        #expect(abs(whole.objective - chunked.objective) < 1e-12)
        for i in whole.gradient.indices { #expect(abs(whole.gradient[i] - chunked.gradient[i]) < 1e-6) }
        let reference = ReferenceObjective(data: data, targets: targets, config: config, layers: network.layers, mode: .inference)
        #expect(close(whole.objective, reference.value(params.flat), 1e-6))
    }

    /// A shuffled minibatch (rows through an index, as the minibatch optimizers read them) has the full
    /// batch's gradient: each row meets its own hard class and weight.
    @Test func indexedBatchReadsEachRowsHardClass() {
        var data = linearTeacherData(n: 70, d: 4, k: 3, seed: 6)
        data.hardLabels = (0..<70).map { ($0 * 5) % 3 }
        var rng = SplitMix64(seed: 4)
        let network = Network.make(inputs: 4, hidden: [5], classes: 3, rng: &rng)
        var config = TrainConfig()
        config.distillTemperature = 2.5
        config.hardWeight = 0.4
        config.classWeight = .balanced
        let targets = PreparedTargets(data, config: config)
        let params = Parameters(network)
        let order = Array((0..<70).reversed())
        let (full, shuffled) = TrainingPointers.with(data.features, targets) { ptrs -> ([Double], [Double]) in
            let full = FullBatchObjective(config: config, data: ptrs, params: params, parallel: Parallel(threads: 1)).evaluate().gradient
            let stepper = BatchStep(loss: config.loss, penalty: L2Penalty(l2: 0), parallel: Parallel(threads: 2))
            let work = Workspace(params: params, batch: 70, tasks: 2)
            let shuffled = order.withUnsafeBufferPointer { idx in
                var t = ptrs.targets
                t.p = Rows(base: t.p.base, stride: t.p.stride, index: idx.baseAddress!)
                t.index = idx.baseAddress!
                _ = stepper.run(x: Rows(base: ptrs.x, stride: ptrs.d, index: idx.baseAddress!), targets: t, m: 70,
                                params: params, work: work, update: nil)
                var g = (0..<params.shapes.count).flatMap { i in (0..<params.sizes[i]).map { Double(params.grads[i][$0]) } }
                _ = L2Penalty(l2: config.l2).add(to: &g, theta: params.flat, shapes: params.shapes)
                return g
            }
            return (full, shuffled)
        }
        for i in full.indices { #expect(abs(full[i] - shuffled[i]) < 1e-6, "entry \(i): \(full[i]) vs \(shuffled[i])") }
    }

    /// Minibatch training under distillation gives the same bits for any thread count.
    @Test func sameModelForAnyThreadCount() {
        var data = linearTeacherData(n: 300, d: 6, k: 4, seed: 8)
        data.hardLabels = (0..<300).map { $0 % 4 }
        var config = TrainConfig.defaults(hidden: [7])
        config.epochs = 4
        config.distillTemperature = 3
        config.hardWeight = 0.2
        let one = try! Trainer(config: config, data: data, parallel: Parallel(threads: 1)).run()
        let three = try! Trainer(config: config, data: data, parallel: Parallel(threads: 3)).run()
        #expect(one.network == three.network && one.history.map(\.trainLoss) == three.history.map(\.trainLoss))
        #expect(one.history.last!.trainLoss < one.history.first!.trainLoss)
    }

    /// The property on a small set: a linear student distilled at T = 4 from a linear teacher on the
    /// same features matches it on held-out rows, KL(teacher ‖ student) < 0.001 at T = 1. Dropping the T²
    /// factor is the same as multiplying the L2 penalty by T² = 16 (the objective divided by T²): the penalty
    /// then pulls the student's weights well away from the teacher's.
    @Test func linearStudentMatchesLinearTeacherAtT4() {
        let train = linearTeacherData(n: 400, d: 6, k: 4, seed: 1), test = linearTeacherData(n: 400, d: 6, k: 4, seed: 2)
        var config = TrainConfig()  // L-BFGS, l2 0.001
        config.distillTemperature = 4
        let kl = heldOutKL(config, train: train, test: test)
        config.l2 *= 16
        let withoutTSquared = heldOutKL(config, train: train, test: test)
        #expect(kl < 1e-3, "held-out KL \(kl)")
        #expect(withoutTSquared > 10 * kl, "T² scaled \(kl), unscaled \(withoutTSquared)")
    }
}
