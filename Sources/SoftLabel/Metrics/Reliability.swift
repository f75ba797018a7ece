/// A reliability table: examples binned by their confidence c = max_j q_j into `binCount` equal-width bins
/// of [0, 1], each comparing mean confidence with accuracy against the majority class (correct when
/// argmax q = argmax p).
///
/// Bin b (0-based) holds confidences in [b/B, (b+1)/B); the last bin also holds c = 1. So b = min(⌊c·B⌋, B-1).
public struct Reliability: Sendable, Equatable {
    /// 15 equal-width bins, the common choice since Guo et al. (2017).
    public static let binCount = 15

    /// Per bin: examples, Σ confidence, Σ correct.   (B) each
    var counts = [Int](repeating: 0, count: Reliability.binCount)
    var confidenceSums = [Double](repeating: 0, count: Reliability.binCount)
    var correctSums = [Int](repeating: 0, count: Reliability.binCount)

    public init() {}

    /// The bin of a confidence in [0, 1]. Total: anything else is clamped (below 0 and NaN to bin 0, above 1
    /// and +inf to the last bin) before it meets Int(), which traps on NaN. A NaN confidence comes only from
    /// a non-finite prediction, which prediction refuses upstream (`NonFinitePrediction`), naming the row.
    public static func bin(of confidence: Double) -> Int {
        let x = confidence * Double(binCount)
        guard x >= 0 else { return 0 }  // also NaN
        return x < Double(binCount - 1) ? Int(x) : binCount - 1
    }

    mutating func add(confidence: Double, correct: Bool) {
        let b = Reliability.bin(of: confidence)
        counts[b] += 1
        confidenceSums[b] += confidence
        if correct { correctSums[b] += 1 }
    }

    public var total: Int { counts.reduce(0, +) }

    /// Expected calibration error ECE = Σ_b (n_b / n) |acc_b - conf_b| over non-empty bins, where acc_b and
    /// conf_b are the bin's accuracy and mean confidence (Naeini et al. 2015; Guo et al. 2017). 0 for no examples.
    public var ece: Double {
        let n = total
        guard n > 0 else { return 0 }
        var sum = 0.0
        for b in 0..<Reliability.binCount where counts[b] > 0 {
            // n_b/n · |Σcorrect/n_b - Σconf/n_b| = |Σcorrect - Σconf| / n
            sum += abs(Double(correctSums[b]) - confidenceSums[b])
        }
        return sum / Double(n)
    }

    /// One row per bin, empty bins included (their mean confidence and accuracy are nil).
    public var bins: [ReliabilityBin] {
        Reliability.rows(counts: counts, confidence: confidenceSums, accuracy: correctSums.map(Double.init))
    }

    /// The bin rows from per-bin counts and sums (means nil for empty bins).
    static func rows(counts: [Int], confidence: [Double], accuracy: [Double]) -> [ReliabilityBin] {
        (0..<binCount).map { b in
            let n = counts[b]
            return ReliabilityBin(
                lower: Double(b) / Double(binCount), upper: Double(b + 1) / Double(binCount),
                count: n, meanConfidence: n > 0 ? confidence[b] / Double(n) : nil,
                accuracy: n > 0 ? accuracy[b] / Double(n) : nil)
        }
    }
}

/// One row of the reliability table.
public struct ReliabilityBin: Sendable, Equatable {
    /// The bin covers confidences in [lower, upper) (the last bin includes 1).
    public var lower: Double
    public var upper: Double
    public var count: Int
    /// Mean of max_j q_j over the bin's examples; nil when empty.
    public var meanConfidence: Double?
    /// Share of the bin's examples with argmax q = argmax p; nil when empty.
    public var accuracy: Double?
}

/// The soft-label reliability table: every class probability q_ij of every example binned into
/// `Reliability.binCount` equal-width bins of [0, 1] (same edges as `Reliability`), comparing the bin's mean
/// predicted probability with the mean label probability p_ij of the same (example, class) pairs. A model
/// calibrated to the annotators has mean p = mean q in every bin.
public struct SoftReliability: Sendable, Equatable {
    /// Per bin: (example, class) pairs, Σ q, Σ p.   (B) each
    var counts = [Int](repeating: 0, count: Reliability.binCount)
    var predictedSums = [Double](repeating: 0, count: Reliability.binCount)
    var targetSums = [Double](repeating: 0, count: Reliability.binCount)

    public init() {}

    mutating func add(predicted q: Double, target p: Double) {
        let b = Reliability.bin(of: q)
        counts[b] += 1
        predictedSums[b] += q
        targetSums[b] += p
    }

    public var total: Int { counts.reduce(0, +) }

    /// Σ_b (n_b / N) |mean p_b - mean q_b| over the N = n·k pairs: the class-wise calibration error against
    /// the soft labels (0 for a model whose q matches the annotators' mean p in every bin).
    public var error: Double {
        let n = total
        guard n > 0 else { return 0 }
        var sum = 0.0
        for b in 0..<Reliability.binCount where counts[b] > 0 { sum += abs(targetSums[b] - predictedSums[b]) }
        return sum / Double(n)
    }

    /// One row per bin, empty bins included: `meanConfidence` is the mean q, `accuracy` the mean p.
    public var bins: [ReliabilityBin] {
        Reliability.rows(counts: counts, confidence: predictedSums, accuracy: targetSums)
    }
}
