import Foundation

/// What a dataset holds, for `softlabel inspect`: sizes, per-class target statistics, per-feature ranges.
public struct DataSummary: Sendable {
    public struct ClassStats: Sendable, Equatable {
        public var name: String
        /// Mean over rows of the target probability p_c.
        public var meanProbability: Double
        /// Rows whose largest target probability is this class (ties go to the first class).
        public var majorityRows: Int
    }

    public struct FeatureStats: Sendable, Equatable {
        public var name: String
        public var min: Float
        public var mean: Double
        /// Population standard deviation sqrt(Σ (x - mean)² / n), accumulated in Double.
        public var std: Double
        public var max: Float
        /// The same value in every row (min == max).
        public var isConstant: Bool { min == max }
    }

    public var rows: Int
    public var featureCount: Int
    public var classCount: Int
    public var classes: [ClassStats]        // (k)
    /// Mean over rows of the target entropy H(p) = -Σ_c p_c log p_c, in nats (0 · log 0 = 0).
    public var meanEntropy: Double
    /// Share of rows whose label is split: max_c p_c < 1.
    public var splitShare: Double
    public var features: [FeatureStats]     // (d)

    /// Computes every statistic; the features in parallel by column ranges, so results do not depend on
    /// the thread count (each column is summed over rows in row order).
    public init(_ data: Dataset, parallel: Parallel) {
        let n = data.count, d = data.featureCount, k = data.classCount
        rows = n
        featureCount = d
        classCount = k

        var meanP = [Double](repeating: 0, count: k)
        var majority = [Int](repeating: 0, count: k)
        var entropy = 0.0
        var split = 0
        // Data without labels has k = 0: no class statistics (and no majority class to count).
        if k > 0 {
            data.targets.values.withUnsafeBufferPointer { t in  // (n, k)
                for i in 0..<n {
                    let row = t.baseAddress! + i * k
                    var best = 0
                    var h = 0.0
                    for c in 0..<k {
                        let p = Double(row[c])
                        meanP[c] += p
                        if p > 0 { h -= p * log(p) }
                        if row[c] > row[best] { best = c }
                    }
                    majority[best] += 1
                    entropy += h
                    if row[best] < 1 { split += 1 }
                }
            }
        }
        let rowsD = Double(max(n, 1))
        classes = (0..<k).map { ClassStats(name: data.classNames[$0], meanProbability: meanP[$0] / rowsD,
                                           majorityRows: majority[$0]) }
        meanEntropy = k > 0 ? entropy / rowsD : 0
        splitShare = k > 0 ? Double(split) / rowsD : 0

        var lo = [Float](repeating: .infinity, count: d)
        var hi = [Float](repeating: -.infinity, count: d)
        var mean = [Double](repeating: 0, count: d)
        var sq = [Double](repeating: 0, count: d)
        let ranges = Parallel.split(d, parts: parallel.threads * 4, align: 16)
        data.features.values.withUnsafeBufferPointer { x in  // (n, d)
            lo.withUnsafeMutableBufferPointer { lo in
                hi.withUnsafeMutableBufferPointer { hi in
                    mean.withUnsafeMutableBufferPointer { mean in
                        sq.withUnsafeMutableBufferPointer { sq in
                            parallel.run(tasks: ranges.count) { r in
                                DataSummary.columnStats(x.baseAddress!, n: n, d: d, columns: ranges[r],
                                                        lo: lo.baseAddress!, hi: hi.baseAddress!,
                                                        mean: mean.baseAddress!, sq: sq.baseAddress!)
                            }
                        }
                    }
                }
            }
        }
        features = (0..<d).map { j in
            FeatureStats(name: data.featureNames[j], min: lo[j], mean: mean[j],
                         std: lo[j] == hi[j] ? 0 : (sq[j] / rowsD).squareRoot(), max: hi[j])
        }
    }

    /// Min, max, mean and Σ (x - mean)² of columns `columns` of x (n, d): two passes, in Double. Blocks of 16
    /// columns (one cache line per row) run down all rows with their sums in registers; each column is still
    /// summed over rows in row order.
    private static func columnStats(_ x: UnsafePointer<Float>, n: Int, d: Int, columns: Range<Int>,
                                    lo: UnsafeMutablePointer<Float>, hi: UnsafeMutablePointer<Float>,
                                    mean: UnsafeMutablePointer<Double>, sq: UnsafeMutablePointer<Double>) {
        typealias F16 = SIMD16<Float>
        typealias D8 = SIMD8<Double>
        var j = columns.lowerBound
        while j + 16 <= columns.upperBound {
            var s0 = D8(), s1 = D8()
            var l = F16(repeating: .infinity), h = F16(repeating: -.infinity)
            for i in 0..<n {
                let v = UnsafeRawPointer(x + i * d + j).loadUnaligned(as: F16.self)
                s0 += D8(v.lowHalf)
                s1 += D8(v.highHalf)
                l = l.replacing(with: v, where: v .< l)
                h = h.replacing(with: v, where: v .> h)
            }
            let rows = D8(repeating: Double(Swift.max(n, 1)))
            let m0 = s0 / rows, m1 = s1 / rows
            var q0 = D8(), q1 = D8()
            for i in 0..<n {
                let v = UnsafeRawPointer(x + i * d + j).loadUnaligned(as: F16.self)
                let e0 = D8(v.lowHalf) - m0, e1 = D8(v.highHalf) - m1
                q0 += e0 * e0
                q1 += e1 * e1
            }
            for c in 0..<8 {
                mean[j + c] = m0[c]
                mean[j + 8 + c] = m1[c]
                sq[j + c] = q0[c]
                sq[j + 8 + c] = q1[c]
            }
            for c in 0..<16 {
                lo[j + c] = l[c]
                hi[j + c] = h[c]
            }
            j += 16
        }
        for c in j..<columns.upperBound {
            var s = 0.0
            for i in 0..<n {
                let v = x[i * d + c]
                s += Double(v)
                lo[c] = Swift.min(lo[c], v)
                hi[c] = Swift.max(hi[c], v)
            }
            mean[c] = s / Double(Swift.max(n, 1))
            for i in 0..<n {
                let e = Double(x[i * d + c]) - mean[c]
                sq[c] += e * e
            }
        }
    }
}
