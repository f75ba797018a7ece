import Foundation

/// Checks the hand-written gradients: the analytic gradient of the training objective (the same code that
/// trains) against central finite differences of an independent Double-precision implementation of the
/// objective, J(θ) = (1/n) Σ_i ω_i ℓ(p_i, softmax(f(x_i; θ))) + (l2/2) Σ_l ‖W_l‖² (under distillation, ℓ is
/// `Distillation`'s (1 - A) T² ℓ_soft(p_i, softmax(f / T)) + A (-log softmax(f)_{y_i})).
public enum GradientCheck {
    public struct TensorReport: Sendable {
        public var name: String  // "layer1.weight"
        public var count: Int
        /// Entries compared (all, or a seeded sample of `maxEntries`).
        public var checked: Int
        /// max_e |analytic_e - numeric_e| / max(|numeric_e|, 1e-3 · max_e' |numeric_e'|, 1e-12)
        public var maxRelativeError: Double
        public var maxAbsoluteError: Double
    }

    /// - Parameters: `data` rows as the network sees them (standardised), `network` the point to check at;
    ///   `maxEntries` caps how many entries of each tensor get a finite difference (a seeded sample of them).
    ///   Dropout layers are active with the mask of epoch 1 under `config.seed` (fixed, so the objective is a
    ///   deterministic function of θ and the reference applies the same mask).
    public static func run(network: Network, data: Dataset, config: TrainConfig, step h: Double = 1e-5,
                           maxEntries: Int = .max, seed: UInt64 = 1) -> [TensorReport] {
        let n = data.count, d = data.featureCount
        let targets = PreparedTargets(data, config: config)
        let mode = PassMode.training(seed: config.seed, epoch: 1)
        // Analytic, through the training code (one batch of all n rows, no update).
        let params = Parameters(network)
        let work = Workspace(params: params, batch: n, tasks: 1)
        let stepper = BatchStep(loss: config.loss, penalty: L2Penalty(l2: config.l2), parallel: Parallel(threads: 1))
        TrainingPointers.with(data.features, targets) { ptrs in
            _ = stepper.run(x: Rows(base: ptrs.x, stride: d), targets: ptrs.targets, m: n, params: params, work: work,
                            mode: mode, update: nil)
        }
        var analyticAll = (0..<params.shapes.count).flatMap { t in
            (0..<params.shapes[t].count).map { Double(params.grads[t][$0]) }
        }
        let thetaAll = params.flat
        _ = stepper.penalty.add(to: &analyticAll, theta: thetaAll, shapes: params.shapes)
        // Numeric, in Double.
        let reference = ReferenceObjective(data: data, targets: targets, config: config, layers: network.layers, mode: mode)
        var theta = thetaAll
        var reports: [TensorReport] = []
        var offset = 0
        var denseNumber = 0
        for (l, layer) in network.layers.enumerated() {
            if case .dense = layer { denseNumber += 1 }
            for t in 0..<layer.parameterShapes.count {
                let tensor = params.first[l] + t, count = params.shapes[tensor].count
                var entries = Array(0..<count)
                if count > maxEntries {
                    var rng = SplitMix64(seed: seed).derived(UInt64(tensor))
                    rng.shuffle(&entries)
                    entries = Array(entries[..<maxEntries]).sorted()
                }
                var analytic: [Double] = [], numeric: [Double] = []
                for e in entries {
                    let i = offset + e
                    analytic.append(analyticAll[i])
                    let saved = theta[i]
                    theta[i] = saved + h
                    let up = reference.value(theta)
                    theta[i] = saved - h
                    let down = reference.value(theta)
                    theta[i] = saved
                    numeric.append((up - down) / (2 * h))
                }
                let (rel, abs_) = compare(analytic: analytic, numeric: numeric)
                let name = layer.parameterShapes.count == 2 ? (t == 0 ? "weight" : "bias") : "tensor\(t + 1)"
                reports.append(TensorReport(name: "layer\(denseNumber).\(name)", count: count, checked: entries.count,
                                            maxRelativeError: rel, maxAbsoluteError: abs_))
                offset += count
            }
        }
        return reports
    }

    /// (max relative error, max absolute error) of `analytic` against `numeric`. Entries far below the
    /// tensor's largest are compared against 1e-3 of that largest, so round-off on near-zero entries does
    /// not count as a wrong gradient.
    public static func compare(analytic: [Double], numeric: [Double]) -> (relative: Double, absolute: Double) {
        let scale = (numeric.map(abs).max() ?? 0) * 1e-3
        var rel = 0.0, absolute = 0.0
        for e in analytic.indices {
            let err = abs(analytic[e] - numeric[e])
            absolute = max(absolute, err)
            rel = max(rel, err / max(abs(numeric[e]), scale, 1e-12))
        }
        return (rel, absolute)
    }
}

/// The training objective written plainly in Double, sharing no arithmetic with the training code: each
/// layer by its textbook formula (activations from the C library), the loss from `Evaluation`'s Double
/// log-softmax. θ is every tensor concatenated in tensor order.
struct ReferenceObjective {
    let x: [[Double]]
    let p: [[Double]]
    let weight: [Double]
    let kind: LossKind
    let temperature: Double
    let hardWeight: Double
    let hard: [Int]?
    let l2: Double
    let layers: [Layer]
    let mode: PassMode

    init(data: Dataset, targets: PreparedTargets, config: TrainConfig, layers: [Layer], mode: PassMode) {
        let n = data.count
        x = (0..<n).map { data.features.row($0).map(Double.init) }
        p = (0..<n).map { targets.p.row($0).map(Double.init) }
        weight = targets.weight.map { $0.map(Double.init) } ?? [Double](repeating: 1, count: n)
        kind = config.loss
        temperature = Double(config.distillTemperature)
        hardWeight = Double(config.hardWeight)
        hard = targets.hard.map { $0.map(Int.init) }
        l2 = Double(config.l2)
        self.layers = layers
        self.mode = mode
    }

    func value(_ theta: [Double]) -> Double {
        var total = 0.0
        for i in 0..<x.count {
            var a = x[i]
            var offset = 0
            for (l, layer) in layers.enumerated() {
                switch layer {
                case .dense(let d):
                    let w = offset, b = offset + d.inputs * d.outputs
                    a = (0..<d.outputs).map { o in
                        var z = theta[b + o]
                        for j in 0..<d.inputs { z += theta[w + o * d.inputs + j] * a[j] }
                        return z
                    }
                    offset = b + d.outputs
                case .activation(let f):
                    a = a.map(f.reference)
                case .dropout(let rate):
                    guard case .training(let seed, let epoch) = mode else { continue }
                    a = a.indices.map { j in
                        Dropout.keeps(seed: seed, epoch: epoch, layer: l, example: i, unit: j, rate: rate) ? a[j] / (1 - Double(rate)) : 0
                    }
                }
            }
            total += weight[i] * Self.loss(kind, p: p[i], z: a, temperature: temperature, hardWeight: hardWeight,
                                           hard: hard?[i] ?? 0)
        }
        var penalty = 0.0
        var offset = 0
        for layer in layers {
            for s in layer.parameterShapes {
                if s.penalised { for e in offset..<(offset + s.count) { penalty += theta[e] * theta[e] } }
                offset += s.count
            }
        }
        return total / Double(x.count) + 0.5 * l2 * penalty
    }

    /// (1 - A) T² ℓ(p, softmax(z / T)) + A (-log softmax(z)_y), written out.
    static func loss(_ kind: LossKind, p: [Double], z: [Double], temperature t: Double, hardWeight a: Double,
                     hard y: Int) -> Double {
        var value = (1 - a) * t * t * loss(kind, p: p, z: z.map { $0 / t })
        if a > 0 {
            var q = z, logq = z
            logSoftmax(z, q: &q, logq: &logq)
            value -= a * logq[y]
        }
        return value
    }

    static func loss(_ kind: LossKind, p: [Double], z: [Double]) -> Double {
        var q = z, logq = z
        logSoftmax(z, q: &q, logq: &logq)
        var s = 0.0
        switch kind {
        case .kl:
            for j in p.indices where p[j] > 0 { s += p[j] * (log(p[j]) - logq[j]) }
        case .ce:
            for j in p.indices where p[j] > 0 { s -= p[j] * logq[j] }
        case .reverseKL:
            for j in p.indices where q[j] > 0 { s += q[j] * (logq[j] - log(max(p[j], Double(reverseKLFloor)))) }
        case .js:
            for j in p.indices {
                let mj = 0.5 * (p[j] + q[j])
                if p[j] > 0 { s += 0.5 * p[j] * log(p[j] / mj) }
                if q[j] > 0 { s += 0.5 * q[j] * (logq[j] - log(mj)) }
            }
        }
        return s
    }
}
