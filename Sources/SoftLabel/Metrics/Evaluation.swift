import Foundation

/// Agreement between soft labels p and predictions q = softmax(z / T), averaged over examples, in Double.
///
/// The majority class of a label is argmax_j p_j; ties go to the first class in the model's class order
/// (the same rule picks the predicted class from q).
public struct Evaluation: Sendable {
    public var count: Int
    /// Mean KL(p‖q) = Σ_j p_j log(p_j / q_j), with 0 log 0 = 0.
    public var kl: Double
    /// Mean H(p, q) = -Σ_j p_j log q_j  (= entropy + kl).
    public var crossEntropy: Double
    /// Mean label entropy H(p) = -Σ_j p_j log p_j.
    public var entropy: Double
    /// Mean KL(q‖p), p floored at `reverseKLFloor` as in training.
    public var reverseKL: Double
    /// Mean Jensen-Shannon divergence ½ KL(p‖m) + ½ KL(q‖m), m = (p + q) / 2 (natural log, at most log 2).
    public var js: Double
    /// Share of examples whose predicted class is the label's majority class.
    public var accuracy: Double

    /// - Parameters: logits (n, k), targets (n, k) rows summing to 1, temperature T > 0 dividing the logits.
    public init(logits: Matrix, targets: Matrix, temperature: Float = 1) {
        precondition(logits.rows == targets.rows && logits.cols == targets.cols)
        let n = logits.rows, k = logits.cols
        var sums = (kl: 0.0, ce: 0.0, h: 0.0, rkl: 0.0, js: 0.0, hits: 0)
        var z = [Float](repeating: 0, count: k), q = z, logq = z
        for i in 0..<n {
            for j in 0..<k { z[j] = logits[i, j] / temperature }
            _ = z.withUnsafeBufferPointer { zb in
                q.withUnsafeMutableBufferPointer { qb in
                    logq.withUnsafeMutableBufferPointer { lb in
                        Softmax.forward(z: zb.baseAddress!, k: k, q: qb.baseAddress!, logq: lb.baseAddress!)
                    }
                }
            }
            var ce = 0.0, h = 0.0, rkl = 0.0, js = 0.0
            var pMax = 0, qMax = 0
            for j in 0..<k {
                let p = Double(targets[i, j]), qj = Double(q[j]), lq = Double(logq[j])
                if p > 0 {
                    ce -= p * lq
                    h -= p * log(p)
                }
                if qj > 0 {
                    rkl += qj * (lq - log(max(p, Double(reverseKLFloor))))
                }
                let m = 0.5 * (p + qj)
                if p > 0 { js += 0.5 * p * (log(p) - log(m)) }
                if qj > 0 { js += 0.5 * qj * (lq - log(m)) }
                if targets[i, j] > targets[i, pMax] { pMax = j }
                if q[j] > q[qMax] { qMax = j }
            }
            sums.ce += ce
            sums.h += h
            sums.kl += ce - h
            sums.rkl += rkl
            sums.js += js
            if pMax == qMax { sums.hits += 1 }
        }
        let nn = Double(max(n, 1))
        count = n
        kl = sums.kl / nn
        crossEntropy = sums.ce / nn
        entropy = sums.h / nn
        reverseKL = sums.rkl / nn
        js = sums.js / nn
        accuracy = Double(sums.hits) / nn
    }

    /// The mean of a training loss on these examples.
    public func meanLoss(_ kind: LossKind) -> Double {
        switch kind {
        case .kl: return kl
        case .ce: return crossEntropy
        case .reverseKL: return reverseKL
        case .js: return js
        }
    }
}
