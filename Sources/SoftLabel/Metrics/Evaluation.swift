import Foundation

/// Agreement between soft labels p and predictions q = softmax(z / T), averaged over examples, in Double.
///
/// The majority class of a label is argmax_j p_j; ties go to the first class in the model's class order
/// (the same rule picks the predicted class argmax_j q_j). The softmax is recomputed in Double from the
/// Float logits, so the metrics carry no Float rounding beyond that of the logits themselves.
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
    /// Mean total variation distance ½ Σ_j |p_j - q_j| (in [0, 1]).
    public var tv: Double
    /// Share of examples whose predicted class is the label's majority class.
    public var accuracy: Double
    /// Share of examples whose majority class is among the two most probable predicted classes (ranked by
    /// q descending, ties to the first class).
    public var top2Accuracy: Double
    /// Multi-class Brier score against the soft label: mean over examples of Σ_j (q_j - p_j)², in [0, 2].
    /// (Summed over classes, not divided by k; with one-hot p it is the classic Brier (1950) score.)
    public var brier: Double
    /// Mean Manhattan distance Σ_j |p_j - q_j| (= 2 tv; in [0, 2]), the soft metric of LeWiDi 2025.
    public var manhattan: Double
    /// Pearson correlation across examples of the label entropy H(p) and the predicted entropy H(q)
    /// (LeWiDi 2023, SemEval-2021 Task 12): does the model hesitate where the annotators disagree?
    /// nil when either entropy has zero variance (all labels one-hot, say): the correlation is undefined.
    public var entropyCorrelation: Double?
    /// Mean Wasserstein-1 distance between p and q for classes on an ordered scale in the model's class
    /// order, one class apart = distance 1: Σ_{j<k} |P_j - Q_j| with P, Q the cumulative sums. In [0, k-1].
    /// Meaningful only when the class order is an ordinal scale (`--ordinal`).
    public var wasserstein: Double
    /// Every class probability q_ij binned against the mean label probability p_ij (the soft-label
    /// reliability diagram).
    public var softReliability: SoftReliability
    /// The per-example values behind the means, when asked for (`keepExamples`): what `compare` resamples.
    public var examples: ExampleScores?
    /// Confidence max_j q_j against correctness (argmax q = argmax p) in `Reliability.binCount` equal-width bins.
    public var reliability: Reliability
    /// Per class c: support (examples with majority c), mean p_c, mean q_c, precision and recall. (k)
    public var perClass: [ClassMetrics]
    /// Counts of (majority label, predicted class). (k, k)
    public var confusion: ConfusionMatrix

    /// Expected calibration error (see `Reliability.ece`).
    public var ece: Double { reliability.ece }

    /// - Parameters: logits (n, k), targets (n, k) rows summing to 1, temperature T > 0 dividing the logits;
    ///   `keepExamples`: also keep the per-example values in `examples`.
    public init(logits: Matrix, targets: Matrix, temperature: Float = 1, keepExamples: Bool = false) {
        precondition(logits.rows == targets.rows && logits.cols == targets.cols)
        var sums = EvaluationSums(k: logits.cols, temperature: temperature, keepExamples: keepExamples, capacity: logits.rows)
        sums.add(logits: logits, targets: targets)
        self = sums.evaluation
    }

    init(_ a: EvaluationSums) {
        let n = a.count
        let nn = Double(max(n, 1))
        count = n
        kl = a.sums.kl / nn
        crossEntropy = a.sums.ce / nn
        entropy = a.sums.h / nn
        reverseKL = a.sums.rkl / nn
        js = a.sums.js / nn
        tv = a.sums.tv / nn
        brier = a.sums.brier / nn
        manhattan = 2 * tv
        wasserstein = a.sums.w / nn
        entropyCorrelation = a.entropies.correlation
        softReliability = a.soft
        examples = a.kept
        accuracy = Double(a.sums.hits) / nn
        top2Accuracy = Double(a.sums.top2) / nn
        reliability = a.reliability
        perClass = a.classes.metrics(count: n)
        confusion = a.classes.confusion
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

/// The running sums behind an `Evaluation`, added a chunk of examples at a time (a streamed `eval` keeps
/// only these, never the whole data set): the same arithmetic in the same order as one call over all rows.
public struct EvaluationSums: Sendable {
    var count = 0
    var sums = (kl: 0.0, ce: 0.0, h: 0.0, rkl: 0.0, js: 0.0, tv: 0.0, brier: 0.0, hits: 0, top2: 0, w: 0.0)
    var reliability = Reliability()
    var soft = SoftReliability()
    var entropies = Covariance()
    var kept: ExampleScores?
    var classes: ClassTally
    let k: Int
    let t: Double

    /// For k classes, logits divided by `temperature`; `keepExamples`: keep the per-example values.
    public init(k: Int, temperature: Float = 1, keepExamples: Bool = false, capacity: Int = 0) {
        self.k = k
        t = Double(temperature)
        classes = ClassTally(k: k)
        kept = keepExamples ? ExampleScores(capacity: capacity) : nil
    }

    /// Adds examples: logits (n, k), targets (n, k).
    public mutating func add(logits: Matrix, targets: Matrix) {
        precondition(logits.rows == targets.rows && logits.cols == k && targets.cols == k)
        let n = logits.rows
        count += n
        var z = [Double](repeating: 0, count: k), q = z, logq = z, p = z  // (k) each
        for i in 0..<n {
            for j in 0..<k {
                z[j] = Double(logits[i, j]) / t
                p[j] = Double(targets[i, j])
            }
            logSoftmax(z, q: &q, logq: &logq)
            var ce = 0.0, h = 0.0, hq = 0.0, rkl = 0.0, js = 0.0, tv = 0.0, brier = 0.0, w = 0.0
            var cdfP = 0.0, cdfQ = 0.0
            for j in 0..<k {
                let pj = p[j], qj = q[j], lq = logq[j]
                if pj > 0 {
                    ce -= pj * lq
                    h -= pj * log(pj)
                }
                if qj > 0 {
                    rkl += qj * (lq - log(max(pj, Double(reverseKLFloor))))
                    hq -= qj * lq
                }
                let m = 0.5 * (pj + qj)
                if pj > 0 { js += 0.5 * pj * (log(pj) - log(m)) }
                if qj > 0 { js += 0.5 * qj * (lq - log(m)) }
                tv += abs(pj - qj)
                brier += (qj - pj) * (qj - pj)
                // W1 on the line 0, 1, ..., k-1 is the area between the CDFs; the last term is |1 - 1| = 0.
                if j < k - 1 {
                    cdfP += pj
                    cdfQ += qj
                    w += abs(cdfP - cdfQ)
                }
                soft.add(predicted: qj, target: pj)
            }
            let label = firstArgmax(p), predicted = firstArgmax(logq)
            let hit = label == predicted, top2 = rank(of: label, in: logq) < 2
            sums.ce += ce
            sums.h += h
            sums.kl += ce - h
            sums.rkl += rkl
            sums.js += js
            sums.tv += 0.5 * tv
            sums.brier += brier
            sums.w += w
            if hit { sums.hits += 1 }
            if top2 { sums.top2 += 1 }
            entropies.add(h, hq)
            reliability.add(confidence: q[predicted], correct: hit)
            classes.add(label: label, predicted: predicted, p: p, q: q)
            kept?.append(kl: ce - h, crossEntropy: ce, entropy: h, predictedEntropy: hq, js: js, tv: 0.5 * tv,
                         correct: hit, top2: top2, brier: brier, manhattan: tv, wasserstein: w,
                         confidence: q[predicted])
        }
    }

    /// The metrics of every example added.
    public var evaluation: Evaluation { Evaluation(self) }
}

/// The Double log-softmax every metric, the calibration search and the gradient check's reference use
/// (the training code's Float form is `Softmax.forwardPadded`): for the k logits at z divided by T,
///   log q_j = (z_j/T - m) - log Σ_l exp(z_l/T - m),   m = max_l z_l/T
/// (every exponent <= 0: no overflow, and the sum is at least 1: no log 0). Writes log q (k).
/// The difference z_j/T - m is taken first: m + log Σ would absorb the log Σ when |m| is huge (logits of
/// -6e29, all equal, gave log q_j = 0, so q summed to 3: teacher targets that were not distributions).
func logSoftmax(_ z: UnsafePointer<Double>, count k: Int, temperature t: Double = 1, logq: UnsafeMutablePointer<Double>) {
    var m = -Double.infinity
    for j in 0..<k { m = max(m, z[j] / t) }
    var s = 0.0
    for j in 0..<k { s += exp(z[j] / t - m) }
    let logS = log(s)
    for j in 0..<k { logq[j] = (z[j] / t - m) - logS }
}

/// The same for arrays, with q_j = exp(log q_j) too. z, q, logq: (k).
func logSoftmax(_ z: [Double], q: inout [Double], logq: inout [Double]) {
    z.withUnsafeBufferPointer { zb in
        logq.withUnsafeMutableBufferPointer { logSoftmax(zb.baseAddress!, count: z.count, logq: $0.baseAddress!) }
    }
    for j in z.indices { q[j] = exp(logq[j]) }
}

/// The index of the largest value; ties go to the first (lowest index).
func firstArgmax(_ v: [Double]) -> Int {
    var best = 0
    for j in v.indices where v[j] > v[best] { best = j }
    return best
}

/// How many entries rank above entry c when sorting descending with ties to the lower index:
/// #{j : v_j > v_c or (v_j = v_c and j < c)}. 0 for the argmax.
func rank(of c: Int, in v: [Double]) -> Int {
    var above = 0
    for j in v.indices where v[j] > v[c] || (v[j] == v[c] && j < c) { above += 1 }
    return above
}
