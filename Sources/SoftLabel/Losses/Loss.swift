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
    /// Distillation's temperature and hard-label weight; nil for the plain loss (T = 1, no hard term).
    var distill: Distillation? = nil
    /// The hard class y of each row for the hard-label term (nil when its weight is 0).   (n)
    var hard: UnsafePointer<Int32>? = nil

    @inline(__always) func stored(_ r: Int) -> Int { index?[r] ?? r }

    /// Asks for what the loss reads of rows `rows` (their target rows, the KL term and the weight) into L2.
    /// Shuffled rows read them from anywhere in arrays of a few MB: a step that asks for the next chunk's while
    /// it computes on the current one finds them in cache (copying them had stalled on every row: w1, 512 -> 10,
    /// a tenth of an epoch in the copy and in the loss's read of the KL term).
    @inline(__always)
    func prefetch(rows: Range<Int>) {
        for r in rows {
            let s = stored(r)
            let row = UnsafeRawPointer(p.row(r))
            var b = 0
            while b < 4 * p.stride { prefetchForRead(row + b); b += 64 }
            prefetchForRead(row + 4 * (p.stride - 1))
            prefetchForRead(UnsafeRawPointer(negEntropy + s))
            if let weight { prefetchForRead(UnsafeRawPointer(weight + s)) }
        }
    }

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
            t.hard = hard.map { $0 + r0 }
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
        if let distill = targets.distill {
            for r in rows {
                let s = targets.stored(r)
                let w = targets.weight?[s] ?? 1
                loss[r] = w * distill.rowForwardBackward(
                    self, z: z + r * ldz, p: targets.p.row(r), negEntropy: targets.negEntropy[s],
                    hard: Int(targets.hard?[s] ?? 0), k: k, kp: ldz, scale: w * invN, dz: dz + r * ldz, q: q, logq: logq)
            }
            return
        }
        if self == .kl || self == .ce {
            var r0 = rows.lowerBound
            while r0 < rows.upperBound {
                let block = r0..<min(rows.upperBound, r0 + 16)
                crossEntropyBlock(z: z, ldz: ldz, targets: targets, rows: block, k: k, invN: invN, dz: dz, loss: loss)
                r0 = block.upperBound
            }
            return
        }
        for r in rows {
            let s = targets.stored(r)
            let w = targets.weight?[s] ?? 1
            loss[r] = w * rowForwardBackward(
                z: z + r * ldz, p: targets.p.row(r), negEntropy: targets.negEntropy[s], k: k, kp: ldz,
                scale: w * invN, dz: dz + r * ldz, q: q, logq: logq)
        }
    }

    /// KL or cross-entropy for up to 16 rows at once: the same operations, in the same order, as
    /// `Softmax.forwardPadded` and `rowForwardBackward` row by row (the same bits), but each of the two lane
    /// sums per row (Σ e^{z - m}, Σ p log q) is taken for all 16 rows by one `transposeSum16`. Done row by row,
    /// the two sequential 16-lane sums, one waiting on the other, were most of this function's time. Each
    /// row's dz holds its e^{z - m} between the passes.
    @inline(__always)
    private func crossEntropyBlock(
        z: UnsafePointer<Float>, ldz kp: Int, targets: LossTargets, rows: Range<Int>, k: Int, invN: Float,
        dz: UnsafeMutablePointer<Float>, loss: UnsafeMutablePointer<Float>
    ) {
        if kp == vecWidth {
            crossEntropyBlock16(z: z, targets: targets, rows: rows, k: k, invN: invN, dz: dz, loss: loss)
            return
        }
        withVecScratch(vectors: 32, floats: 64) { sums, rowValues in
            let scratch = sums + 16
            // [i]: row i of the block. Weights and entropies are whole vectors: lanes past the block's rows are 0.
            let maxima = rowValues, weights = maxima + 16, entropies = maxima + 48
            storeVec(Vec(), weights)
            storeVec(Vec(), entropies)
            for (i, r) in rows.enumerated() {
                (maxima[i], sums[i]) = Softmax.exponentials(z: z + r * kp, k: k, kp: kp, into: dz + r * kp)
                weights[i] = targets.weight?[targets.stored(r)] ?? 1
                entropies[i] = self == .kl ? targets.negEntropy[targets.stored(r)] : 0
            }
            let s = transposeSum16(sums, count: rows.count, scratch: scratch)
            // The rows' logarithms first, in a loop of their own: inside the row loop each waited on its call
            // (the library's logf) before the row's vector work could start.
            let logs = maxima + 32  // [i]: log s_i
            for i in 0..<rows.count { logs[i] = log(s[i]) }
            let invs = 1 / s  // lane i: 1 / s_i, as each row's own division gives it
            for (i, r) in rows.enumerated() {
                let zr = z + r * kp, er = dz + r * kp, pr = targets.p.row(r)
                let shift = Vec(repeating: maxima[i]) + Vec(repeating: logs[i])
                let inv = Vec(repeating: invs[i]), sv = Vec(repeating: weights[i] * invN)
                var cross = Vec()  // Σ p log q, lane-wise
                var j = 0
                while j < kp {
                    let pv = loadVec(pr + j)
                    // 0 · log q = 0: log q is finite even where q underflows
                    fma(&cross, pv, Softmax.logProbabilities(z: zr, at: j, k: k, kp: kp, shift: shift))
                    storeVec((loadVec(er + j) * inv - pv) * sv, er + j)
                    j += vecWidth
                }
                sums[i] = cross
            }
            // ℓ = ω (-Σ p log q (+ Σ p log p for KL)) for the 16 rows as one vector. Taken row by row from lanes
            // of the sum, the optimizer had moved transposeSum16's 15 vector additions into the row loop as 15
            // dependent scalar ones per row: a quarter of this function's time.
            let c = transposeSum16(sums, count: rows.count, scratch: scratch)
            let ce = self == .kl ? -c + loadVec(entropies) : -c
            let values = loadVec(weights) * ce
            if rows.count == vecWidth {
                storeVec(values, loss + rows.lowerBound)
            } else {
                storePartialVec(values, loss + rows.lowerBound, rows.count)
            }
        }
    }

    /// `crossEntropyBlock` for rows of one vector (k ≤ 16 classes): the 16 rows' logits and targets transposed
    /// in registers, so each vector holds one class of every row, and every step runs on 16 rows at once; the
    /// gradient transposed back. Row by row, the max of a row's lanes (a tree of shuffles), the exponential's
    /// constants and a call per row cost about 110 cycles a row (`Scripts/kernelbench`). The same operations
    /// on each value, and the two sums over classes in `transposeSum16`'s order, padding classes included:
    /// the same bits. The row maximum is a max over the same values in another order: the same number (a
    /// NaN logit, skipped by both, makes the row's loss NaN either way).
    @inline(__always)
    private func crossEntropyBlock16(
        z: UnsafePointer<Float>, targets: LossTargets, rows: Range<Int>, k: Int, invN: Float,
        dz: UnsafeMutablePointer<Float>, loss: UnsafeMutablePointer<Float>
    ) {
        let count = rows.count, r0 = rows.lowerBound, kp = vecWidth
        // Class-major blocks: [c] holds class c of the block's 16 rows (rows past `count` are zeros).
        withVecScratch(vectors: 48, floats: 48) { zt, values in
            let pt = zt + 16, et = zt + 32
            let weights = values, entropies = values + 16, logs = values + 32  // [i]: row r0 + i
            var zb = Block16(rows: count) { i in loadVec(z + (r0 + i) * kp) }
            zb.transpose()
            zb.forEach { c, v in zt[c] = v }
            var pb = Block16(rows: count) { i in loadVec(targets.p.row(r0 + i)) }
            pb.transpose()
            pb.forEach { c, v in pt[c] = v }
            storeVec(Vec(), weights)
            storeVec(Vec(), entropies)
            for i in 0..<count {
                let s = targets.stored(r0 + i)
                weights[i] = targets.weight?[s] ?? 1
                if self == .kl { entropies[i] = targets.negEntropy[s] }
            }
            // m = max over the classes, e_c = exp(z_c - m) (0 for padding classes), s = Σ_c e_c in class order.
            var m = Vec(repeating: -.infinity)
            for c in 0..<k { m = vmax(m, zt[c]) }
            for c in 0..<kp { et[c] = c < k ? expVec(zt[c] - m) : Vec() }
            var sum = et[0] + et[1]
            for c in 2..<kp { sum += et[c] }
            storeVec(Vec(), logs)
            for i in 0..<count { logs[i] = log(sum[i]) }
            let shift = m + loadVec(logs), inv = 1 / sum, scale = loadVec(weights) * Vec(repeating: invN)
            // Σ_c p_c log q_c in class order (log q = 0 in padding classes, as `logProbabilities` gives it), and
            // dz_c = (e_c · (1/s) - p_c) · (ω/n) (the row code's operations), written over e_c.
            var cross = Vec()
            for c in 0..<kp {
                var t = Vec()
                fma(&t, pt[c], c < k ? zt[c] - shift : Vec())
                cross = c == 0 ? t : cross + t
                et[c] = (et[c] * inv - pt[c]) * scale
            }
            var db = Block16(rows: kp) { c in et[c] }
            db.transpose()
            db.forEach { i, v in if i < count { storeVec(v, dz + (r0 + i) * kp) } }
            let ce = self == .kl ? -cross + loadVec(entropies) : -cross
            let lossValues = loadVec(weights) * ce
            if count == vecWidth {
                storeVec(lossValues, loss + r0)
            } else {
                storePartialVec(lossValues, loss + r0, count)
            }
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

/// Knowledge distillation (Hinton, Vinyals & Dean 2015, "Distilling the Knowledge in a Neural Network"): the
/// loss against the teacher's distribution at temperature T, with the student's logits divided by T too,
/// mixed with cross-entropy to a hard class y at T = 1:
///
///   ℓ = (1 - A) · T² · ℓ_soft(p_T, softmax(z / T)) + A · (-log softmax(z)_y),   p_T = softmax(v / T)
///
/// (v the teacher's logits; ℓ_soft any `LossKind`). A weighted average, as in the paper, with the soft term
/// multiplied by T² so its gradient keeps its size as T grows (below): A is the share of the objective
/// that is the hard term, A = 0 is pure distillation, A = 1 pure hard-label training, and the whole keeps the
/// scale of one cross-entropy for any A and T, so the same learning rate and L2 penalty serve every setting.
/// T = 1 with A = 0 is the plain loss, and runs the plain code (`LossTargets.distill` is nil).
struct Distillation: Sendable, Equatable {
    var temperature: Float  // T > 0
    var hardWeight: Float   // A in [0, 1]

    init(temperature: Float, hardWeight: Float) {
        self.temperature = temperature
        self.hardWeight = hardWeight
    }

    /// The configured distillation; nil when T = 1 and A = 0 (the plain loss).
    init?(_ config: TrainConfig) {
        guard config.distillTemperature != 1 || config.hardWeight != 0 else { return nil }
        self.init(temperature: config.distillTemperature, hardWeight: config.hardWeight)
    }

    /// One example: returns ℓ above and writes dz = scale · ∂ℓ/∂z; p is p_T (prepared), y the hard class
    /// (unused when A = 0), the row layout that of `LossKind.rowForwardBackward`.
    @inline(__always)
    func rowForwardBackward(
        _ kind: LossKind, z: UnsafePointer<Float>, p: UnsafePointer<Float>, negEntropy: Float, hard y: Int, k: Int,
        kp: Int, scale: Float, dz: UnsafeMutablePointer<Float>, q: UnsafeMutablePointer<Float>,
        logq: UnsafeMutablePointer<Float>
    ) -> Float {
        let t = temperature, a = hardWeight
        // Soft term on u = z / T. ∂u_j/∂z_i = δ_ij / T, so ∂ℓ_soft/∂z = (1/T) ∂ℓ_soft/∂u, and the term's gradient
        // is (1 - A) T² (1/T) ∂ℓ_soft/∂u = (1 - A) T ∂ℓ_soft/∂u: the plain row on u with its scale times
        // (1 - A) T. For KL and CE that is (1 - A) T (q_T - p_T).
        // Why T²: for large T, q_T - p_T ≈ (z - v) / (k T) (logits of zero mean), so (1/T)(q_T - p_T) shrinks
        // like 1/T²; times T² it does not, and neither does its balance against the L2 penalty and the hard term.
        let soft: Float
        if t == 1 {
            soft = kind.rowForwardBackward(z: z, p: p, negEntropy: negEntropy, k: k, kp: kp, scale: scale * (1 - a),
                                           dz: dz, q: q, logq: logq)
        } else {
            // u parked in dz: the plain row reads its logits only in its softmax, before it writes dz.
            let invT = Vec(repeating: 1 / t)
            var j = 0
            while j < kp { storeVec(loadVec(z + j) * invT, dz + j); j += vecWidth }
            soft = kind.rowForwardBackward(z: dz, p: p, negEntropy: negEntropy, k: k, kp: kp,
                                           scale: scale * (1 - a) * t, dz: dz, q: q, logq: logq)
        }
        var value = (1 - a) * t * t * soft
        guard a > 0 else { return value }
        // Hard term A · (-log q_y), q = softmax(z) at T = 1: the KL/CE derivation with p = e_y gives
        //   ∂/∂z_i = A (q_i - δ_iy).
        // At T = 1 the soft row has just left softmax(z) in q and logq.
        if t != 1 { Softmax.forwardPadded(z: z, k: k, kp: kp, q: q, logq: logq) }
        let sv = Vec(repeating: scale * a)
        var j = 0
        while j < kp {  // padding lanes: q = 0, so dz stays 0 there
            storeVec(loadVec(dz + j) + sv * loadVec(q + j), dz + j)
            j += vecWidth
        }
        dz[y] -= scale * a
        value -= a * logq[y]  // log q_y is finite even where q_y underflows
        return value
    }
}
