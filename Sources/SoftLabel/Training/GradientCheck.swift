import Foundation

/// Checks the hand-written gradients: the analytic gradient of the training objective (the same code that
/// trains) against central finite differences of an independent Double-precision implementation of the
/// objective, J(θ) = (1/n) Σ_i ω_i ℓ(p_i, softmax(f(x_i; θ))) + (l2/2) Σ_l ‖W_l‖².
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
    public static func run(network: Network, data: Dataset, config: TrainConfig, step h: Double = 1e-5,
                           maxEntries: Int = .max, seed: UInt64 = 1) -> [TensorReport] {
        let n = data.count, d = data.featureCount, k = data.classCount
        let targets = PreparedTargets(data.targets, config: config)
        // Analytic, through the training code (one batch of all n rows, no update).
        let params = Parameters(network)
        let work = Workspace(shapes: params.shapes, batch: n, tasks: 1)
        let stepper = BatchStep(loss: config.loss, l2: config.l2, parallel: Parallel(threads: 1))
        TrainingPointers.with(data.features, targets) { ptrs in
            _ = stepper.run(x: Rows(base: ptrs.x, stride: d), targets: ptrs.targets, m: n, params: params, work: work,
                            update: nil)
        }
        // Numeric, in Double.
        let reference = ReferenceObjective(data: data, targets: targets, config: config)
        var theta = network.layers.map { (w: $0.weight.map(Double.init), b: $0.bias.map(Double.init)) }
        var reports: [TensorReport] = []
        for l in 0..<theta.count {
            for isBias in [false, true] {
                let count = isBias ? theta[l].b.count : theta[l].w.count
                var entries = Array(0..<count)
                if count > maxEntries {
                    var rng = SplitMix64(seed: seed).derived(UInt64(2 * l + (isBias ? 1 : 0)))
                    rng.shuffle(&entries)
                    entries = Array(entries[..<maxEntries]).sorted()
                }
                var analytic: [Double] = [], numeric: [Double] = []
                let grad = isBias ? params.dBias(l) : params.dWeight(l)
                for e in entries {
                    analytic.append(Double(grad[e]) + (isBias ? 0 : Double(config.l2) * theta[l].w[e]))
                    let saved = isBias ? theta[l].b[e] : theta[l].w[e]
                    func set(_ v: Double) { if isBias { theta[l].b[e] = v } else { theta[l].w[e] = v } }
                    set(saved + h)
                    let up = reference.value(theta)
                    set(saved - h)
                    let down = reference.value(theta)
                    set(saved)
                    numeric.append((up - down) / (2 * h))
                }
                let (rel, abs_) = compare(analytic: analytic, numeric: numeric)
                reports.append(TensorReport(name: "layer\(l + 1).\(isBias ? "bias" : "weight")", count: count,
                                            checked: entries.count,
                                            maxRelativeError: rel, maxAbsoluteError: abs_))
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

/// The training objective written plainly in Double, sharing no arithmetic with the training code.
struct ReferenceObjective {
    let x: [[Double]]
    let p: [[Double]]
    let weight: [Double]
    let kind: LossKind
    let l2: Double

    init(data: Dataset, targets: PreparedTargets, config: TrainConfig) {
        let n = data.count
        x = (0..<n).map { data.features.row($0).map(Double.init) }
        p = (0..<n).map { targets.p.row($0).map(Double.init) }
        weight = targets.weight.map { $0.map(Double.init) } ?? [Double](repeating: 1, count: n)
        kind = config.loss
        l2 = Double(config.l2)
    }

    func value(_ theta: [(w: [Double], b: [Double])]) -> Double {
        var total = 0.0
        for i in 0..<x.count {
            var a = x[i]
            for (l, layer) in theta.enumerated() {
                let inputs = a.count, outputs = layer.b.count
                var z = layer.b
                for o in 0..<outputs { for j in 0..<inputs { z[o] += layer.w[o * inputs + j] * a[j] } }
                a = l < theta.count - 1 ? z.map { max($0, 0) } : z
            }
            total += weight[i] * Self.loss(kind, p: p[i], z: a)
        }
        var penalty = 0.0
        for layer in theta { for w in layer.w { penalty += w * w } }
        return total / Double(x.count) + 0.5 * l2 * penalty
    }

    static func loss(_ kind: LossKind, p: [Double], z: [Double]) -> Double {
        let m = z.max()!
        let logSum = m + log(z.reduce(0) { $0 + exp($1 - m) })
        let logq = z.map { $0 - logSum }
        let q = logq.map(exp)
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
