import Foundation

/// Temperature scaling (Guo et al. 2017): one T > 0 for all examples, predictions softmax(z / T), chosen to
/// minimise the mean KL(p‖softmax(z / T)) on held-out data. T > 1 softens an over-confident model, T < 1
/// sharpens an under-confident one; argmax q, and so accuracy, never changes.
public enum TemperatureScaling {
    /// The search bracket for T: wide enough for any sensible model, narrow enough that exp stays finite.
    public static let range: ClosedRange<Double> = 1e-3...1e3

    public struct Fit: Sendable {
        /// The fitted temperature, within 1e-4 of the minimiser (see `fit`).
        public var temperature: Double
        /// Mean KL(p‖softmax(z / T)) at that temperature.
        public var kl: Double
        /// The minimum lies at an end of `range`: the data want a more extreme T than is searched (e.g. every
        /// label one-hot and every prediction right, where KL keeps falling as T → 0).
        public var atBoundary: Bool
        /// KL at T - 1e-4 and T + 1e-4 is not lower than at T (up to rounding): T is exact to 1e-4.
        public var verified: Bool
    }

    /// Mean KL(p‖softmax(z / T)) = mean_i Σ_j p_ij (log p_ij - log q_ij), in Double.
    /// logits (n, k), targets (n, k) rows summing to 1.
    public static func meanKL(logits: Matrix, targets: Matrix, temperature: Double) -> Double {
        KLObjective(logits: logits, targets: targets).value(temperature)
    }

    /// Finds T minimising mean KL(p‖softmax(z / T)) over `range`.
    ///
    /// With β = 1/T, the mean cross-entropy mean_i [-β Σ_j p_ij z_ij + log Σ_j exp(β z_ij)] is convex in β
    /// (a log-sum-exp plus a linear term), and KL differs from it by a constant; so the objective has one
    /// minimum and is unimodal in u = log T, where it is also smooth. Golden-section search on u shrinks the
    /// bracket by 0.618 per step until it is below 1e-9 in u, i.e. T is known to a relative 1e-9 (< 1e-4
    /// absolute for T < 1e5). The result is then checked: KL at T ± 1e-4 is not lower.
    public static func fit(logits: Matrix, targets: Matrix) -> Fit {
        let f = KLObjective(logits: logits, targets: targets)
        var a = log(range.lowerBound), b = log(range.upperBound)
        let g = (5.0.squareRoot() - 1) / 2  // 0.618..., the golden ratio's inverse
        var c = b - g * (b - a), d = a + g * (b - a)
        var fc = f.value(exp(c)), fd = f.value(exp(d))
        while b - a > 1e-9 {
            if fc <= fd {  // the minimum is in [a, d]
                b = d; d = c; fd = fc
                c = b - g * (b - a); fc = f.value(exp(c))
            } else {       // in [c, b]
                a = c; c = d; fc = fd
                d = a + g * (b - a); fd = f.value(exp(d))
            }
        }
        let t = exp((a + b) / 2)
        let kl = f.value(t)
        let atBoundary = t < range.lowerBound * (1 + 1e-6) || t > range.upperBound * (1 - 1e-6)
        // Unimodality makes this hold by construction; the check guards the implementation, not the data.
        let slack = 1e-12 * max(1, abs(kl))
        let verified = f.value(max(t - 1e-4, t / 2)) >= kl - slack && f.value(t + 1e-4) >= kl - slack
        return Fit(temperature: t, kl: kl, atBoundary: atBoundary, verified: verified)
    }
}

/// The mean KL as a function of T, with the logits converted to Double and Σ p log p precomputed once.
private struct KLObjective {
    let n: Int, k: Int
    let z: [Double]  // (n, k)
    let p: [Double]  // (n, k)
    let negEntropy: Double  // Σ_i Σ_j p_ij log p_ij

    init(logits: Matrix, targets: Matrix) {
        precondition(logits.rows == targets.rows && logits.cols == targets.cols)
        n = logits.rows
        k = logits.cols
        z = logits.values.map(Double.init)
        p = targets.values.map(Double.init)
        negEntropy = p.reduce(0) { $1 > 0 ? $0 + $1 * log($1) : $0 }
    }

    /// mean_i [Σ_j p_ij log p_ij - Σ_j p_ij log q_ij], log q_i from `logSoftmax` at temperature T.
    func value(_ t: Double) -> Double {
        guard n > 0 else { return 0 }
        var cross = 0.0  // Σ_i Σ_j p_ij log q_ij
        var logq = [Double](repeating: 0, count: k)
        z.withUnsafeBufferPointer { z in
            p.withUnsafeBufferPointer { p in
                logq.withUnsafeMutableBufferPointer { lq in
                    for i in 0..<n {
                        let row = i * k
                        logSoftmax(z.baseAddress! + row, count: k, temperature: t, logq: lq.baseAddress!)
                        for j in 0..<k where p[row + j] > 0 { cross += p[row + j] * lq[j] }
                    }
                }
            }
        }
        return (negEntropy - cross) / Double(n)
    }
}
