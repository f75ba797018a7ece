import Foundation

/// The divergence between a soft label p and the prediction q = softmax(z), per example; the training
/// objective is its (weighted) mean over the batch. Each case's value and gradient w.r.t. the logits z sit
/// together in `rowForwardBackward` below, with the derivation beside the code.
public enum LossKind: String, Codable, CaseIterable, Sendable {
    /// KL(p‖q) = Σ_j p_j log(p_j / q_j).
    case kl
    /// H(p, q) = -Σ_j p_j log q_j  (= H(p) + KL(p‖q): same gradient as KL, shifted by the label entropy).
    case ce
    /// KL(q‖p) = Σ_j q_j log(q_j / p_j), with p_j floored at `reverseKLFloor` (it is infinite where
    /// p_j = 0 < q_j). Mode-seeking: q concentrates on the classes p favours.
    case reverseKL = "reverse-kl"
    /// Jensen-Shannon: ½ KL(p‖m) + ½ KL(q‖m), m = (p + q) / 2. Symmetric, bounded by log 2.
    case js
}

/// Target probabilities below this count as this in reverse KL (log 1e-8 = -18.4 caps the penalty).
public let reverseKLFloor: Float = 1e-8

/// Per-example targets and the precomputed terms the losses need, all indexed by stored row.
struct LossTargets {
    var p: Rows  // (n, kp) rows summing to 1, zero-padded to whole vectors (kp = paddedWidth(k))
    /// Batch row r is stored row index[r] of the arrays below (nil: the same row).
    var index: UnsafePointer<Int>?
    /// Σ_j p_j log p_j per row (= -H(p)), for KL's value.   (n)
    var negEntropy: UnsafePointer<Float>
    /// Example weights (class weighting), nil for all ones.   (n)
    var weight: UnsafePointer<Float>?
    /// The stored row of batch row 0 when there is no index (a full-batch pass goes through the data in pieces).
    var offset = 0

    @inline(__always) func stored(_ r: Int) -> Int { index?[r] ?? r }

    /// The same targets from batch row `r0` on (row r of the result is row r0 + r of these).
    @inline(__always)
    func dropping(_ r0: Int) -> LossTargets {
        var t = self
        t.p = p.dropping(r0)
        if let index {
            t.index = index + r0
        } else {
            t.negEntropy = negEntropy + r0
            t.weight = weight.map { $0 + r0 }
            t.offset = offset + r0
        }
        return t
    }
}

extension LossKind {
    /// For rows r in `rows` of a batch of `n`: writes dZ[r] = (ω_r / n) ∂ℓ_r/∂z_r and loss[r] = ω_r ℓ_r.
    /// Z (batch, ldz) logits, k of each row used, ldz = paddedWidth(k); dZ the same shape (its padding
    /// lanes get 0); `q`/`logq` scratch (ldz) each.
    func forwardBackward(
        z: UnsafePointer<Float>, ldz: Int, targets: LossTargets, rows: Range<Int>, k: Int, n: Int,
        dz: UnsafeMutablePointer<Float>, loss: UnsafeMutablePointer<Float>,
        q: UnsafeMutablePointer<Float>, logq: UnsafeMutablePointer<Float>
    ) {
        let invN = 1 / Float(n)
        for r in rows {
            let s = targets.stored(r)
            let w = targets.weight?[s] ?? 1
            loss[r] = w * rowForwardBackward(
                z: z + r * ldz, p: targets.p.row(r), negEntropy: targets.negEntropy[s], k: k, kp: ldz,
                scale: w * invN, dz: dz + r * ldz, q: q, logq: logq)
        }
    }

    /// One example: returns ℓ(p, softmax(z)) and writes dz = scale · ∂ℓ/∂z. Every row pointer holds
    /// kp = paddedWidth(k) floats: p zero beyond k, z anything beyond k; dz gets 0 beyond k.
    @inline(__always)
    func rowForwardBackward(
        z: UnsafePointer<Float>, p: UnsafePointer<Float>, negEntropy: Float, k: Int, kp: Int, scale: Float,
        dz: UnsafeMutablePointer<Float>, q: UnsafeMutablePointer<Float>, logq: UnsafeMutablePointer<Float>
    ) -> Float {
        Softmax.forwardPadded(z: z, k: k, kp: kp, q: q, logq: logq)
        switch self {
        case .kl, .ce:
            // ℓ = -Σ_j p_j log q_j (+ Σ_j p_j log p_j for KL, a constant in z), log q_j = z_j - log Σ_l e^{z_l}:
            //   ∂ℓ/∂z_i = -p_i + Σ_j p_j q_i = q_i - p_i            (Σ_j p_j = 1)
            // so the batch-mean gradient is (q - p) / n, soft targets or not.
            var cross = Vec()  // Σ p log q, lane-wise
            let sv = Vec(repeating: scale)
            var j = 0
            while j < kp {  // padding lanes: p = q = log q = 0
                let pv = loadVec(p + j)
                fma(&cross, pv, loadVec(logq + j))  // 0 · log q = 0: log q is finite even where q underflows
                storeVec((loadVec(q + j) - pv) * sv, dz + j)
                j += vecWidth
            }
            let ce = -hsum(cross)
            return self == .kl ? ce + negEntropy : ce
        case .reverseKL:
            // ℓ = Σ_j q_j (log q_j - log p_j) =: Σ_j q_j a_j.  ∂ℓ/∂q_j = a_j + 1 and ∂q_j/∂z_i = q_j (δ_ij - q_i):
            //   ∂ℓ/∂z_i = Σ_j (a_j + 1) q_j (δ_ij - q_i) = q_i (a_i - Σ_j q_j a_j) = q_i (a_i - ℓ).
            var loss: Float = 0
            for j in 0..<k {
                let a = logq[j] - log(max(p[j], reverseKLFloor))
                dz[j] = a  // park a_j
                loss += q[j] * a  // 0 · a = 0 where q underflows
            }
            for j in 0..<k { dz[j] = scale * q[j] * (dz[j] - loss) }
            for j in k..<kp { dz[j] = 0 }
            return loss
        case .js:
            // ℓ = ½ Σ_j p_j log(p_j / m_j) + ½ Σ_j q_j log(q_j / m_j), m = (p + q) / 2.
            //   ∂ℓ/∂q_j = -½ p_j / (2 m_j) + ½ [log(q_j / m_j) + 1 - q_j / (2 m_j)] = ½ log(q_j / m_j) =: a_j
            // (the fractions sum to ½ (p_j + q_j) / (2 m_j) = ½), and through the softmax as for reverse KL:
            //   ∂ℓ/∂z_i = q_i (a_i - Σ_j q_j a_j).
            var loss: Float = 0
            var mean: Float = 0  // Σ_j q_j a_j
            for j in 0..<k {
                let pj = p[j], qj = q[j]
                let m = 0.5 * (pj + qj)
                var a: Float = 0
                if qj > 0 {
                    a = 0.5 * (logq[j] - log(m))
                    loss += qj * a
                    mean += qj * a
                }
                if pj > 0 { loss += 0.5 * pj * (log(pj) - log(m)) }
                dz[j] = a
            }
            for j in 0..<k { dz[j] = scale * q[j] * (dz[j] - mean) }
            for j in k..<kp { dz[j] = 0 }
            return loss
        }
    }
}
