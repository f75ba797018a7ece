/// Per-feature z-scores learned from the training data: x' = (x - mean) / std, with the population std.
/// A feature that is constant in the training data maps to 0 (it carries no information there).
public struct Standardizer: Codable, Equatable, Sendable {
    public var mean: [Float]  // (d)
    public var std: [Float]   // (d), 0 marks a constant feature

    public init(mean: [Float], std: [Float]) {
        self.mean = mean
        self.std = std
    }

    /// Mean and standard deviation of each column over the rows `rows` (ascending; nil: all), accumulated in
    /// Double (two passes).
    public init(fitting x: Matrix, rows: [Int]? = nil) {
        let list = rows ?? Array(0..<x.rows)
        let n = list.count, d = x.cols
        var sum = [Double](repeating: 0, count: d)
        var lo = [Float](repeating: .infinity, count: d)
        var hi = [Float](repeating: -.infinity, count: d)
        x.values.withUnsafeBufferPointer { v in
            for i in list {
                for j in 0..<d {
                    let a = v[i * d + j]
                    sum[j] += Double(a)
                    lo[j] = min(lo[j], a)
                    hi[j] = max(hi[j], a)
                }
            }
        }
        let mean = sum.map { $0 / Double(max(n, 1)) }
        var sq = [Double](repeating: 0, count: d)
        x.values.withUnsafeBufferPointer { v in
            for i in list {
                for j in 0..<d {
                    let e = Double(v[i * d + j]) - mean[j]
                    sq[j] += e * e
                }
            }
        }
        self.mean = mean.map { Float($0) }
        self.std = (0..<d).map { j in lo[j] == hi[j] || n == 0 ? 0 : Float((sq[j] / Double(n)).squareRoot()) }
    }

    /// Applies the z-score to every row of `x` in place.
    public func apply(to x: inout Matrix) {
        let d = x.cols
        precondition(d == mean.count)
        let scale = std.map { $0 == 0 ? Float(0) : 1 / $0 }
        let n = x.rows
        x.values.withUnsafeMutableBufferPointer { v in
            for i in 0..<n {
                for j in 0..<d { v[i * d + j] = (v[i * d + j] - mean[j]) * scale[j] }
            }
        }
    }
}
