/// Per-feature z-scores learned from the training data: x' = (x - mean) / std, with the population std.
/// A feature that is constant in the training data maps to 0 (it carries no information there).
///
/// "Constant" includes a spread too small to divide by: a std below `Float.leastNormalMagnitude`
/// (≈ 1.18e-38; a column of 0 and 1e-40 has std 5e-41, a subnormal). For such a std, 1/std overflows
/// Float or loses most of its bits, so the z-scores would be ±inf or NaN (training then "diverges");
/// the column is stored with std 0 and maps to 0, like a constant one.
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
        self.std = (0..<d).map { j in
            if lo[j] == hi[j] || n == 0 { return 0 }
            let s = Float((sq[j] / Double(n)).squareRoot())
            return Standardizer.scale(ofStd: s) == 0 ? 0 : s
        }
    }

    /// 1 / std, or 0 for a constant feature: std 0, or one too small to divide by (not a normal Float;
    /// see the type's note). Fitting and applying use this one rule, so a model file holding such a std
    /// (written by hand or by an older version) maps the feature to 0 as well.
    @inline(__always)
    static func scale(ofStd s: Float) -> Float {
        s >= Float.leastNormalMagnitude && s.isFinite ? 1 / s : 0
    }

    /// Applies the z-score to every row of `x` in place.
    ///
    /// In Float, x - mean can overflow for finite features near ±Float.greatestFiniteMagnitude (3e38 and -3e38
    /// differ by 6e38); such an element is recomputed in Double, where it cannot. On the training data the
    /// result is then always finite (|z| <= sqrt(n)); on new data it is ±inf only if the z-score itself is
    /// beyond Float's range. Every other element keeps the Float arithmetic's bits.
    public func apply(to x: inout Matrix) {
        let d = x.cols
        precondition(d == mean.count)
        let scale = std.map(Standardizer.scale(ofStd:))
        let n = x.rows
        x.values.withUnsafeMutableBufferPointer { v in
            for i in 0..<n {
                for j in 0..<d {
                    let a = v[i * d + j]
                    let z = (a - mean[j]) * scale[j]
                    v[i * d + j] = z.isFinite || !a.isFinite ? z : Float((Double(a) - Double(mean[j])) * Double(scale[j]))
                }
            }
        }
    }
}
