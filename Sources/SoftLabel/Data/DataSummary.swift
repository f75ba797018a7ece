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

    /// Min, max, mean and Σ (x - mean)² of columns `columns` of x (n, d): two passes, in Double, 8 columns at a
    /// time (each column is still summed over rows in row order).
    private static func columnStats(_ x: UnsafePointer<Float>, n: Int, d: Int, columns: Range<Int>,
                                    lo: UnsafeMutablePointer<Float>, hi: UnsafeMutablePointer<Float>,
                                    mean: UnsafeMutablePointer<Double>, sq: UnsafeMutablePointer<Double>) {
        typealias F8 = SIMD8<Float>
        typealias D8 = SIMD8<Double>
        let j0 = columns.lowerBound, w = columns.count, w8 = w / 8 * 8
        for i in 0..<n {
            let row = x + i * d + j0
            var j = 0
            while j < w8 {
                let v = UnsafeRawPointer(row + j).loadUnaligned(as: F8.self)
                let s = UnsafeMutableRawPointer(mean + j0 + j), l = UnsafeMutableRawPointer(lo + j0 + j)
                let h = UnsafeMutableRawPointer(hi + j0 + j)
                s.storeBytes(of: s.loadUnaligned(as: D8.self) + D8(v), as: D8.self)
                let lv = l.loadUnaligned(as: F8.self), hv = h.loadUnaligned(as: F8.self)
                l.storeBytes(of: lv.replacing(with: v, where: v .< lv), as: F8.self)
                h.storeBytes(of: hv.replacing(with: v, where: v .> hv), as: F8.self)
                j += 8
            }
            for j in w8..<w {
                let v = row[j]
                mean[j0 + j] += Double(v)
                lo[j0 + j] = Swift.min(lo[j0 + j], v)
                hi[j0 + j] = Swift.max(hi[j0 + j], v)
            }
        }
        for j in columns { mean[j] /= Double(Swift.max(n, 1)) }
        for i in 0..<n {
            let row = x + i * d + j0
            var j = 0
            while j < w8 {
                let e = D8(UnsafeRawPointer(row + j).loadUnaligned(as: F8.self))
                    - UnsafeRawPointer(mean + j0 + j).loadUnaligned(as: D8.self)
                let q = UnsafeMutableRawPointer(sq + j0 + j)
                q.storeBytes(of: q.loadUnaligned(as: D8.self) + e * e, as: D8.self)
                j += 8
            }
            for j in w8..<w {
                let e = Double(row[j]) - mean[j0 + j]
                sq[j0 + j] += e * e
            }
        }
    }
}
