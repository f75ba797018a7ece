/// The per-example values whose means (or, for ECE and the entropy correlation, whose pooled statistics)
/// are an `Evaluation`'s metrics, kept so that `compare` can resample examples without re-running the model.
/// Every array has one entry per example, in the data's order.   (n) each
public struct ExampleScores: Sendable {
    public var kl: [Double] = []
    public var crossEntropy: [Double] = []
    public var entropy: [Double] = []
    /// H(q), the predicted distribution's entropy (for the entropy correlation).
    public var predictedEntropy: [Double] = []
    public var js: [Double] = []
    public var tv: [Double] = []
    /// 1 when argmax q = argmax p, else 0.
    public var correct: [Double] = []
    /// 1 when argmax p is among the two most probable predicted classes, else 0.
    public var top2: [Double] = []
    public var brier: [Double] = []
    public var manhattan: [Double] = []
    public var wasserstein: [Double] = []
    /// max_j q_j (for ECE).
    public var confidence: [Double] = []

    public var count: Int { kl.count }

    init(capacity n: Int) {
        for kp in [\ExampleScores.kl, \.crossEntropy, \.entropy, \.predictedEntropy, \.js, \.tv, \.correct, \.top2,
                   \.brier, \.manhattan, \.wasserstein, \.confidence] as [WritableKeyPath<ExampleScores, [Double]>] {
            self[keyPath: kp].reserveCapacity(n)
        }
    }

    mutating func append(kl: Double, crossEntropy: Double, entropy: Double, predictedEntropy: Double, js: Double,
                         tv: Double, correct: Bool, top2: Bool, brier: Double, manhattan: Double, wasserstein: Double,
                         confidence: Double) {
        self.kl.append(kl)
        self.crossEntropy.append(crossEntropy)
        self.entropy.append(entropy)
        self.predictedEntropy.append(predictedEntropy)
        self.js.append(js)
        self.tv.append(tv)
        self.correct.append(correct ? 1 : 0)
        self.top2.append(top2 ? 1 : 0)
        self.brier.append(brier)
        self.manhattan.append(manhattan)
        self.wasserstein.append(wasserstein)
        self.confidence.append(confidence)
    }
}

/// Pearson correlation of pairs (x, y) accumulated in one pass (Welford's updates of the means and the
/// co-moments, which stay accurate where Σx² - n x̄² would cancel).
struct Covariance {
    var n = 0.0
    var meanX = 0.0, meanY = 0.0
    var sxx = 0.0, syy = 0.0, sxy = 0.0  // Σ (x - x̄)², Σ (y - ȳ)², Σ (x - x̄)(y - ȳ)

    mutating func add(_ x: Double, _ y: Double, weight w: Double = 1) {
        guard w > 0 else { return }
        n += w
        let dx = x - meanX
        meanX += w * dx / n
        let dy = y - meanY
        meanY += w * dy / n
        // (x - new x̄) · (old deviation): the weighted form of Welford's update.
        sxx += w * dx * (x - meanX)
        syy += w * dy * (y - meanY)
        sxy += w * dx * (y - meanY)
    }

    /// r = sxy / sqrt(sxx · syy) in [-1, 1]; nil when x or y has zero variance (or there are fewer than two pairs).
    var correlation: Double? {
        guard n >= 2, sxx > 0, syy > 0 else { return nil }
        let r = sxy / (sxx.squareRoot() * syy.squareRoot())
        guard r.isFinite else { return nil }
        return min(max(r, -1), 1)
    }
}
