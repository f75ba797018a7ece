import Foundation

/// Softmax and log-softmax of one row of k logits, the first step of every loss and of prediction (in Float,
/// 16 lanes at a time).
///
/// q_j = exp(z_j) / Σ_l exp(z_l). Computed as exp(z_j - m) / Σ_l exp(z_l - m) with m = max_l z_l: the
/// same value, but every exponent is <= 0, so exp never overflows (logits of 1e4 stay finite) and the
/// largest term is exactly 1, so the sum never underflows to 0. log q_j = z_j - m - log Σ_l exp(z_l - m)
/// is computed from the logits directly, not as log(q_j): it stays finite where q_j underflows to 0.
public enum Softmax {
    /// Writes q and log q for one padded row of logits: z, q and logq hold kp = k rounded up to whole vectors,
    /// lanes k..<kp of z are ignored (whatever they hold) and those of q and logq are set to 0, so callers
    /// can run whole-vector loops over kp lanes. (The Double form, for metrics and references, is
    /// `logSoftmax` in Evaluation.swift.)
    @inline(__always)
    static func forwardPadded(
        z: UnsafePointer<Float>, k: Int, kp: Int, q: UnsafeMutablePointer<Float>, logq: UnsafeMutablePointer<Float>
    ) {
        let (m, sums) = exponentials(z: z, k: k, kp: kp, into: q)
        let s = hsum(sums)
        let shift = Vec(repeating: m) + Vec(repeating: log(s))
        let inv = Vec(repeating: 1 / s)
        var j = 0
        while j < kp {
            storeVec(logProbabilities(z: z, at: j, k: k, kp: kp, shift: shift), logq + j)
            storeVec(loadVec(q + j) * inv, q + j)
            j += vecWidth
        }
    }

    /// The first pass over a padded row of logits (the layout of `forwardPadded`): returns m = max_j z_j over
    /// the k classes and the lane-wise sums of e_j = exp(z_j - m), and writes the e_j to `e` (0 in the
    /// padding lanes). Σ_j e_j is `hsum` of the sums (or, for 16 rows at once, `transposeSum16`).
    @inline(__always)
    static func exponentials(z: UnsafePointer<Float>, k: Int, kp: Int, into e: UnsafeMutablePointer<Float>)
        -> (max: Float, sums: Vec) {
        let last = kp - vecWidth
        let pad = lanes(from: k - last)  // lanes of the last vector beyond k
        @inline(__always) func logits(_ j: Int) -> Vec {
            let v = loadVec(z + j)
            return j == last ? v.replacing(with: -.infinity, where: pad) : v
        }
        var mv = Vec(repeating: -.infinity)
        var j = 0
        while j < kp { mv = vmax(mv, logits(j)); j += vecWidth }
        let m = hmax(mv), mvec = Vec(repeating: m)
        var sv = Vec()
        j = 0
        while j < kp {
            let ej = expVec(logits(j) - mvec)  // padding: exp(-inf) = 0
            storeVec(ej, e + j)
            sv += ej
            j += vecWidth
        }
        return (m, sv)
    }

    /// log q for the vector of classes at j of a padded row: z - shift, where shift = m + log Σ e^{z - m}
    /// (0 in the padding lanes).
    @inline(__always)
    static func logProbabilities(z: UnsafePointer<Float>, at j: Int, k: Int, kp: Int, shift: Vec) -> Vec {
        let lq = loadVec(z + j) - shift
        return j == kp - vecWidth ? lq.replacing(with: 0, where: lanes(from: k - j)) : lq
    }

    /// softmax(z / T) of every row of z (n, k), in Double and rounded to Float once (the log-sum-exp of
    /// `logSoftmax`, max subtracted first): a teacher's distribution at temperature T from its logits.
    public static func rows(_ z: Matrix, temperature: Float) -> Matrix {
        let k = z.cols
        var p = Matrix(rows: z.rows, cols: k)
        var scratch = [Double](repeating: 0, count: k), logq = scratch  // (k) each
        z.values.withUnsafeBufferPointer { zb in
            p.values.withUnsafeMutableBufferPointer { pb in
                for i in 0..<z.rows {
                    row(zb.baseAddress! + i * k, k: k, temperature: temperature, into: pb.baseAddress! + i * k,
                        scratch: &scratch, logq: &logq)
                }
            }
        }
        return p
    }

    /// One row of `rows`: p = softmax(z / T) of k logits at `z`, through the Double scratch rows `scratch`
    /// and `logq` (k each).
    @inline(__always)
    static func row(_ z: UnsafePointer<Float>, k: Int, temperature: Float, into p: UnsafeMutablePointer<Float>,
                    scratch: inout [Double], logq: inout [Double]) {
        for j in 0..<k { scratch[j] = Double(z[j]) }
        logSoftmax(scratch, count: k, temperature: Double(temperature), logq: &logq)
        for j in 0..<k { p[j] = Float(exp(logq[j])) }
    }

    /// Mask of lanes >= `count` (count in 1...16).
    @inline(__always)
    static func lanes(from count: Int) -> SIMDMask<SIMD16<Int32>> {
        SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .>= SIMD16<Int32>(repeating: Int32(count))
    }
}
