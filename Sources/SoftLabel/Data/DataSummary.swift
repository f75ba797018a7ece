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

        var tally = LabelTally(classes: k)
        // Data without labels has k = 0: no class statistics (and no majority class to count).
        if k > 0 {
            data.targets.values.withUnsafeBufferPointer { t in  // (n, k)
                for i in 0..<n {
                    let row = t.baseAddress! + i * k
                    tally.add(row, k: k)
                }
            }
        }
        let rowsD = Double(max(n, 1))
        classes = (0..<k).map { ClassStats(name: data.classNames[$0], meanProbability: tally.meanP[$0] / rowsD,
                                           majorityRows: tally.majority[$0]) }
        meanEntropy = k > 0 ? tally.entropy / rowsD : 0
        splitShare = k > 0 ? Double(tally.split) / rowsD : 0

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

extension DataSummary {
    init(rows: Int, classes: [ClassStats], meanEntropy: Double, splitShare: Double, features: [FeatureStats]) {
        self.rows = rows
        featureCount = features.count
        classCount = classes.count
        self.classes = classes
        self.meanEntropy = meanEntropy
        self.splitShare = splitShare
        self.features = features
    }

    /// The summary of data too large to hold, from `reader()` (a fresh reader of the same data each time it is
    /// called): one pass that reads and checks every value (`parsed` is told how long it took) and sums the
    /// targets, then one pass for the features' min, max and mean and one for their squared deviations, each
    /// column summed over rows in row order, so the numbers are those `init(_:parallel:)` gives on the same
    /// data in memory. Hard labels (classes first known at the end) are counted per class name.
    public static func streamed(_ reader: () throws -> ChunkedReader, parallel: Parallel,
                                parsed: (Double, [String]) -> Void) throws -> DataSummary {
        // Pass 1 (timed as the parse): every value read and checked, nothing else.
        let started = DispatchTime.now().uptimeNanoseconds
        let first = try reader()
        let n = try first.checkAll()
        parsed(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, first.warnings)
        let featureNames = first.featureNames
        var classNames = first.classNames
        let rowsD = Double(max(n, 1))
        var tally = LabelTally(classes: 0)
        var hardCounts: [String: Int] = [:]
        /// The targets' sums, row by row as `init(_:parallel:)` makes them (during pass 2).
        func addTargets(_ chunk: DataChunk) {
            if let names = chunk.hardNames, chunk.targets == nil {
                for name in names { hardCounts[name, default: 0] += 1 }
                return
            }
            guard let t = chunk.targets else { return }
            let k = t.cols
            if tally.meanP.isEmpty { tally = LabelTally(classes: k) }
            t.values.withUnsafeBufferPointer { t in  // (m, k)
                for i in 0..<chunk.count {
                    let row = t.baseAddress! + i * k
                    tally.add(row, k: k)
                }
            }
        }
        let d = featureNames.count
        var lo = [Float](repeating: .infinity, count: d), hi = [Float](repeating: -.infinity, count: d)
        var sum = [Double](repeating: 0, count: d), sq = [Double](repeating: 0, count: d)
        let ranges = Parallel.split(d, parts: parallel.threads * 4, align: 16)
        func eachChunk(_ reader: ChunkedReader, targets: Bool = false, _ body: (UnsafePointer<Float>, Int, Range<Int>) -> Void) throws {
            while let chunk = try reader.next() {
                if targets { addTargets(chunk) }
                chunk.features.values.withUnsafeBufferPointer { x in
                    parallel.run(tasks: ranges.count) { r in body(x.baseAddress!, chunk.count, ranges[r]) }
                }
            }
        }
        // Each column's accumulators are touched by the one task that owns its range.
        try lo.withUnsafeMutableBufferPointer { lo in
            try hi.withUnsafeMutableBufferPointer { hi in
                try sum.withUnsafeMutableBufferPointer { sum in
                    // Columns in whole blocks of 16 compare strictly, the last few as Swift.min/max do: the
                    // in-memory `columnStats` (they differ only in which zero, -0 or +0, an extreme keeps).
                    let blocked = d / 16 * 16
                    try eachChunk(try reader(), targets: true) { x, m, columns in
                        for i in 0..<m {
                            for c in columns {
                                let v = x[i * d + c]
                                sum[c] += Double(v)
                                if c < blocked {
                                    if v < lo[c] { lo[c] = v }
                                    if v > hi[c] { hi[c] = v }
                                } else {
                                    lo[c] = Swift.min(lo[c], v)
                                    hi[c] = Swift.max(hi[c], v)
                                }
                            }
                        }
                    }
                }
            }
        }
        if !hardCounts.isEmpty {
            classNames = orderedClassNames(Set(hardCounts.keys))
            tally.meanP = classNames.map { Double(hardCounts[$0]!) }
            tally.majority = classNames.map { hardCounts[$0]! }
        }
        let k = tally.meanP.count
        let classes = (0..<k).map {
            ClassStats(name: classNames[$0], meanProbability: tally.meanP[$0] / rowsD, majorityRows: tally.majority[$0])
        }
        let mean = sum.map { $0 / rowsD }
        try sq.withUnsafeMutableBufferPointer { sq in
            try eachChunk(try reader()) { x, m, columns in
                for i in 0..<m {
                    for c in columns {
                        let e = Double(x[i * d + c]) - mean[c]
                        sq[c] += e * e
                    }
                }
            }
        }
        let features = (0..<d).map { j in
            FeatureStats(name: featureNames[j], min: lo[j], mean: mean[j], std: lo[j] == hi[j] ? 0 : (sq[j] / rowsD).squareRoot(),
                         max: hi[j])
        }
        return DataSummary(rows: n, classes: classes, meanEntropy: k > 0 ? tally.entropy / rowsD : 0,
                           splitShare: k > 0 ? Double(tally.split) / rowsD : 0, features: features)
    }
}

/// The label statistics of `DataSummary`, summed row by row: Σ p per class, rows per majority class, Σ entropy,
/// split rows. One definition for the in-memory and the streamed summary, so both give the same numbers.
struct LabelTally {
    var meanP: [Double]
    var majority: [Int]
    var entropy = 0.0
    var split = 0

    init(classes k: Int) {
        meanP = [Double](repeating: 0, count: k)
        majority = [Int](repeating: 0, count: k)
    }

    /// Adds one label row of `k` probabilities.
    @inline(__always)
    mutating func add(_ row: UnsafePointer<Float>, k: Int) {
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
