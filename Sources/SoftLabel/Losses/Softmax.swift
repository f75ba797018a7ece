import Foundation

/// Softmax and log-softmax of one row of k logits, the first step of every loss and of prediction.
///
/// q_j = exp(z_j) / Σ_l exp(z_l). Computed as exp(z_j - m) / Σ_l exp(z_l - m) with m = max_l z_l: the
/// same value, but every exponent is <= 0, so exp never overflows (logits of 1e4 stay finite) and the
/// largest term is exactly 1, so the sum never underflows to 0. log q_j = z_j - m - log Σ_l exp(z_l - m)
/// is computed from the logits directly, not as log(q_j): it stays finite where q_j underflows to 0.
public enum Softmax {
    /// Writes q (k) and log q (k) for the logits z (k); returns log Σ exp(z) (the log-partition).
    @inline(__always)
    @discardableResult
    public static func forward(
        z: UnsafePointer<Float>, k: Int, q: UnsafeMutablePointer<Float>, logq: UnsafeMutablePointer<Float>
    ) -> Float {
        let kMain = k - k % vecWidth
        // Row max.
        var mv = Vec(repeating: -.infinity)
        var j = 0
        while j < kMain { mv = vmax(mv, loadVec(z + j)); j += vecWidth }
        if j < k { mv = vmax(mv, loadPartialVec(z + j, k - j, fill: -.infinity)) }
        let m = hmax(mv)
        // Σ exp(z - m); exp(z - m) parked in q.
        let mvec = Vec(repeating: m)
        var sv = Vec()
        j = 0
        while j < kMain {
            let e = expVec(loadVec(z + j) - mvec)
            storeVec(e, q + j)
            sv += e
            j += vecWidth
        }
        if j < k {
            let e = expVec(loadPartialVec(z + j, k - j, fill: -.infinity) - mvec)
            storePartialVec(e, q + j, k - j)
            sv += e
        }
        let s = hsum(sv)
        let logS = log(s)
        let shift = Vec(repeating: m + logS)
        let inv = Vec(repeating: 1 / s)
        j = 0
        while j < kMain {
            storeVec(loadVec(z + j) - shift, logq + j)
            storeVec(loadVec(q + j) * inv, q + j)
            j += vecWidth
        }
        while j < k {
            logq[j] = z[j] - (m + logS)
            q[j] = q[j] * (1 / s)
            j += 1
        }
        return m + logS
    }

    /// The training-time variant on a padded row: z, q and logq hold kp = k rounded up to whole vectors,
    /// lanes k..<kp of z are ignored (whatever they hold) and those of q and logq are set to 0, so callers
    /// can run whole-vector loops over kp lanes.
    @inline(__always)
    static func forwardPadded(
        z: UnsafePointer<Float>, k: Int, kp: Int, q: UnsafeMutablePointer<Float>, logq: UnsafeMutablePointer<Float>
    ) {
        let last = kp - vecWidth
        let pad = lanes(from: k - last)  // lanes of the last vector beyond k
        @inline(__always) func logits(_ j: Int) -> Vec {
            let v = loadVec(z + j)
            return j == last ? v.replacing(with: -.infinity, where: pad) : v
        }
        var mv = Vec(repeating: -.infinity)
        var j = 0
        while j < kp { mv = vmax(mv, logits(j)); j += vecWidth }
        let m = Vec(repeating: hmax(mv))
        var sv = Vec()
        j = 0
        while j < kp {
            let e = expVec(logits(j) - m)  // padding: exp(-inf) = 0
            storeVec(e, q + j)
            sv += e
            j += vecWidth
        }
        let s = hsum(sv)
        let shift = m + Vec(repeating: log(s))
        let inv = Vec(repeating: 1 / s)
        j = 0
        while j < kp {
            var lq = logits(j) - shift
            if j == last { lq = lq.replacing(with: 0, where: pad) }
            storeVec(lq, logq + j)
            storeVec(loadVec(q + j) * inv, q + j)
            j += vecWidth
        }
    }

    /// Mask of lanes >= `count` (count in 1...16).
    @inline(__always)
    static func lanes(from count: Int) -> SIMDMask<SIMD16<Int32>> {
        SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) .>= SIMD16<Int32>(repeating: Int32(count))
    }
}
