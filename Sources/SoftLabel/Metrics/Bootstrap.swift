import Foundation

/// A statistic of a set of examples that can be recomputed on a resample of them, from per-example values
/// computed once (no model is run again).
public enum ExampleStatistic: Sendable {
    /// The mean of a per-example value.   (n)
    case mean([Double])
    /// ECE (`Reliability.ece`): each example's confidence bin, confidence and correctness (0 or 1).   (n) each
    case calibrationError(bin: [Int], confidence: [Double], correct: [Double])
    /// Pearson correlation of per-example pairs; undefined where either has zero variance.   (n) each
    case correlation([Double], [Double])

    /// ECE of per-example confidences and correctness, with the bins of `Reliability`.
    public static func calibrationError(confidence: [Double], correct: [Double]) -> ExampleStatistic {
        .calibrationError(bin: confidence.map(Reliability.bin(of:)), confidence: confidence, correct: correct)
    }

    public var count: Int {
        switch self {
        case .mean(let x): return x.count
        case .calibrationError(let b, _, _): return b.count
        case .correlation(let x, _): return x.count
        }
    }

    /// The statistic with example i counted `weights[i]` times (a bootstrap resample: the weights sum to n);
    /// every example once when `weights` is nil. nil when undefined.
    public func value(weights: UnsafeBufferPointer<Int32>?) -> Double? {
        let n = count
        guard n > 0 else { return nil }
        func w(_ i: Int) -> Double { weights.map { Double($0[i]) } ?? 1 }
        switch self {
        case .mean(let x):
            var s = 0.0
            for i in 0..<n { s += w(i) * x[i] }
            return s / Double(n)
        case .calibrationError(let bin, let confidence, let correct):
            // Σ_b |Σ correct - Σ confidence| / n over the bins (see `Reliability.ece`).
            var gap = [Double](repeating: 0, count: Reliability.binCount)
            for i in 0..<n { gap[bin[i]] += w(i) * (correct[i] - confidence[i]) }
            return gap.reduce(0) { $0 + abs($1) } / Double(n)
        case .correlation(let x, let y):
            var c = Covariance()
            for i in 0..<n { c.add(x[i], y[i], weight: w(i)) }
            return c.correlation
        }
    }
}

extension ExampleScores {
    /// The resampleable form of the metric with this `eval --json` key.
    public func statistic(_ key: String) -> ExampleStatistic {
        switch key {
        case "kl": return .mean(kl)
        case "cross_entropy": return .mean(crossEntropy)
        case "entropy": return .mean(entropy)
        case "js": return .mean(js)
        case "tv": return .mean(tv)
        case "accuracy": return .mean(correct)
        case "top2_accuracy": return .mean(top2)
        case "brier": return .mean(brier)
        case "ece": return .calibrationError(confidence: confidence, correct: correct)
        case "manhattan": return .mean(manhattan)
        case "entropy_correlation": return .correlation(entropy, predictedEntropy)
        case "wasserstein": return .mean(wasserstein)
        default: preconditionFailure("unknown metric key '\(key)'")
        }
    }
}

/// A paired difference between two models on the same examples, with its bootstrap confidence interval.
public struct PairedDifference: Sendable, Equatable {
    /// statistic(model) - statistic(baseline) on all examples; nil when either is undefined.
    public var difference: Double?
    /// The interval's bounds; nil when the difference is undefined on some resample.
    public var lower: Double?
    public var upper: Double?

    /// The interval excludes 0.
    public var significant: Bool {
        guard let lower, let upper else { return false }
        return lower > 0 || upper < 0
    }
}

/// The paired percentile bootstrap (Efron & Tibshirani 1993, ch. 13) of differences between models
/// evaluated on the same examples: each resample draws n example indices with replacement (the same
/// indices for every model, which is what makes it paired), recomputes every statistic of every model on
/// them and takes the differences to the baseline. The interval is the (1-level)/2 and (1+level)/2
/// percentiles of the resampled differences, interpolated linearly between order statistics exactly as
/// numpy's default `np.percentile(..., method="linear")`.
///
/// Resample b draws from `SplitMix64(seed: seed).derived(b)`, so the result is the same for any `threads`.
public enum PairedBootstrap {
    /// - Parameters:
    ///   - baseline: the first model's statistics (s).
    ///   - models: the other models' statistics, each in the baseline's order (m, s).
    /// - Returns: (m, s) differences with their intervals.
    public static func differences(baseline: [ExampleStatistic], models: [[ExampleStatistic]], resamples: Int,
                                   seed: UInt64, level: Double = 0.95,
                                   parallel: Parallel = Parallel(threads: 1)) -> [[PairedDifference]] {
        let s = baseline.count, m = models.count
        let n = baseline.first?.count ?? 0
        precondition(models.allSatisfy { $0.count == s } && (baseline + models.flatMap { $0 }).allSatisfy { $0.count == n })
        let point: [[Double?]] = models.map { stats in
            (0..<s).map { j in
                guard let a = baseline[j].value(weights: nil), let b = stats[j].value(weights: nil) else { return nil }
                return b - a
            }
        }
        guard resamples > 0, n > 0 else {
            return point.map { $0.map { PairedDifference(difference: $0, lower: nil, upper: nil) } }
        }

        // draws[(j * m + model) * B + b]: the difference on resample b; NaN where undefined.   (s, m, B)
        let B = resamples
        var draws = [Double](repeating: .nan, count: s * m * B)
        draws.withUnsafeMutableBufferPointer { out in
            let tasks = min(parallel.threads * 4, B)
            parallel.run(tasks: tasks) { t in
                var weights = [Int32](repeating: 0, count: n)  // (n) times each example is drawn
                for b in Parallel.part(t, of: tasks, count: B) {
                    var rng = SplitMix64(seed: seed).derived(UInt64(b))
                    for i in 0..<n { weights[i] = 0 }
                    for _ in 0..<n { weights[rng.nextInt(below: n)] += 1 }
                    weights.withUnsafeBufferPointer { w in
                        for j in 0..<s {
                            guard let a = baseline[j].value(weights: w) else { continue }
                            for k in 0..<m {
                                if let v = models[k][j].value(weights: w) { out[(j * m + k) * B + b] = v - a }
                            }
                        }
                    }
                }
            }
        }
        let lowQ = (1 - level) / 2, highQ = (1 + level) / 2
        return (0..<m).map { k in
            (0..<s).map { j in
                let d = Array(draws[((j * m + k) * B)..<((j * m + k + 1) * B)])
                guard let diff = point[k][j], !d.contains(where: \.isNaN) else {
                    return PairedDifference(difference: point[k][j], lower: nil, upper: nil)
                }
                let sorted = d.sorted()
                return PairedDifference(difference: diff, lower: percentile(sorted, lowQ), upper: percentile(sorted, highQ))
            }
        }
    }

    /// The q-quantile (q in [0, 1]) of sorted values, numpy's "linear" method: position h = (N - 1) q,
    /// a[⌊h⌋] + (h - ⌊h⌋)(a[⌊h⌋ + 1] - a[⌊h⌋]).
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        precondition(!sorted.isEmpty)
        let h = Double(sorted.count - 1) * q
        let lo = Int(h.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (h - Double(lo)) * (sorted[hi] - sorted[lo])
    }
}
