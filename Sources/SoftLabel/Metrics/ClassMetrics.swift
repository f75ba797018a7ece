/// What one class looks like in an evaluation, against the majority class of each label.
public struct ClassMetrics: Sendable, Equatable {
    /// Examples whose majority class (argmax p, ties to the first class) is this class.
    public var support: Int
    /// Mean over all examples of p_c, the label's probability of this class.
    public var meanTarget: Double
    /// Mean over all examples of q_c, the predicted probability of this class.
    public var meanPredicted: Double
    /// Of the examples predicted as this class (argmax q = c), the share whose majority class is c;
    /// nil when no example is predicted as c.
    public var precision: Double?
    /// Of the examples whose majority class is c, the share predicted as c; nil when the support is 0.
    public var recall: Double?
}

/// Counts of (majority label, predicted class) pairs: row = argmax p, column = argmax q.
public struct ConfusionMatrix: Sendable, Equatable {
    public var k: Int
    public var counts: [Int]  // (k, k) row-major: counts[label * k + predicted]

    public init(k: Int) {
        self.k = k
        counts = [Int](repeating: 0, count: k * k)
    }

    public subscript(label: Int, predicted: Int) -> Int {
        get { counts[label * k + predicted] }
        set { counts[label * k + predicted] = newValue }
    }

    /// Row `label` (k).
    public func row(_ label: Int) -> [Int] { Array(counts[(label * k)..<((label + 1) * k)]) }
}

/// Running sums behind `ClassMetrics` and the confusion matrix.
struct ClassTally {
    var confusion: ConfusionMatrix
    var targetSums: [Double]     // (k) Σ_i p_ic
    var predictedSums: [Double]  // (k) Σ_i q_ic

    init(k: Int) {
        confusion = ConfusionMatrix(k: k)
        targetSums = [Double](repeating: 0, count: k)
        predictedSums = [Double](repeating: 0, count: k)
    }

    /// One example: its majority label, predicted class, and p, q (k).
    mutating func add(label: Int, predicted: Int, p: [Double], q: [Double]) {
        confusion[label, predicted] += 1
        for c in p.indices {
            targetSums[c] += p[c]
            predictedSums[c] += q[c]
        }
    }

    func metrics(count n: Int) -> [ClassMetrics] {
        let k = confusion.k
        let nn = Double(max(n, 1))
        return (0..<k).map { c in
            let support = (0..<k).reduce(0) { $0 + confusion[c, $1] }
            let predicted = (0..<k).reduce(0) { $0 + confusion[$1, c] }
            let hits = Double(confusion[c, c])
            return ClassMetrics(support: support, meanTarget: targetSums[c] / nn, meanPredicted: predictedSums[c] / nn,
                                precision: predicted > 0 ? hits / Double(predicted) : nil,
                                recall: support > 0 ? hits / Double(support) : nil)
        }
    }
}
