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
    /// Double (two passes). Columns are taken 8 at a time (one vector of Doubles) and split across the threads
    /// of `parallel` in ranges of 8; each column's sums still run over the rows in order, one addition per
    /// row, so the bits are those of one column at a time on one thread (with subnormals kept, as outside a
    /// parallel region: `FloatEnvironment.keepingSubnormals`).
    public init(fitting x: Matrix, rows: [Int]? = nil, parallel: Parallel = Parallel(threads: 1)) {
        let list = rows ?? Array(0..<x.rows)
        let n = list.count, d = x.cols
        // Per column: sum and squared deviations; lowest and highest value (`moments` fills each task's columns).
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: 2 * d), bounds = UnsafeMutablePointer<Float>.allocate(capacity: 2 * d)
        defer {
            sums.deallocate()
            bounds.deallocate()
        }
        let tasks = max(1, min(parallel.threads, (d + 7) / 8))
        x.values.withUnsafeBufferPointer { v in
            list.withUnsafeBufferPointer { list in
                parallel.run(tasks: tasks) { t in
                    FloatEnvironment.keepingSubnormals {
                        Standardizer.moments(v.baseAddress!, d: d, rows: list, n: n,
                                             columns: Parallel.part(t, of: tasks, count: d, align: 8),
                                             sum: sums, sq: sums + d, lo: bounds, hi: bounds + d)
                    }
                }
            }
        }
        self.mean = (0..<d).map { Float(sums[$0] / Double(max(n, 1))) }
        self.std = (0..<d).map { j in
            if bounds[j] == bounds[d + j] || n == 0 { return 0 }
            let s = Float((sums[d + j] / Double(n)).squareRoot())
            return Standardizer.scale(ofStd: s) == 0 ? 0 : s
        }
    }

    /// `init(fitting:)`'s two passes over columns `columns` (whole vectors of 8 but at the end), row by row
    /// (each row's columns read once per pass; the vector sums kept in `sum`/`sq` themselves): sum, min and max
    /// (as `Swift.min`/`max` take them: a < lo, a >= hi), then the squared deviations from the mean
    /// sum / max(n, 1); each column's rows in order.
    private static func moments(_ v: UnsafePointer<Float>, d: Int, rows: UnsafeBufferPointer<Int>, n: Int, columns: Range<Int>,
                                sum: UnsafeMutablePointer<Double>, sq: UnsafeMutablePointer<Double>,
                                lo: UnsafeMutablePointer<Float>, hi: UnsafeMutablePointer<Float>) {
        typealias D8 = SIMD8<Double>
        typealias F8 = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
        @inline(__always) func loadD(_ p: UnsafeMutablePointer<Double>) -> D8 { UnsafeRawPointer(p).loadUnaligned(as: D8.self) }
        @inline(__always) func storeD(_ x: D8, _ p: UnsafeMutablePointer<Double>) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: D8.self) }
        @inline(__always) func loadF(_ p: UnsafeMutablePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
        @inline(__always) func storeF(_ x: F8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: x, as: F8.self) }
        let vectorEnd = columns.lowerBound + (columns.count / 8) * 8
        let count = Double(max(n, 1))
        for j in columns {
            sum[j] = 0
            sq[j] = 0
            lo[j] = .infinity
            hi[j] = -.infinity
        }
        for i in rows {
            let row = v + i * d
            var j = columns.lowerBound
            while j < vectorEnd {
                let a = load(row + j)
                storeD(loadD(sum + j) + D8(a), sum + j)
                var l = loadF(lo + j), h = loadF(hi + j)
                l.replace(with: a, where: a .< l)
                h.replace(with: a, where: a .>= h)
                storeF(l, lo + j)
                storeF(h, hi + j)
                j += 8
            }
            while j < columns.upperBound {
                let a = row[j]
                sum[j] += Double(a)
                lo[j] = min(lo[j], a)
                hi[j] = max(hi[j], a)
                j += 1
            }
        }
        for i in rows {
            let row = v + i * d
            var j = columns.lowerBound
            while j < vectorEnd {
                let e = D8(load(row + j)) - loadD(sum + j) / count
                storeD(loadD(sq + j) + e * e, sq + j)
                j += 8
            }
            while j < columns.upperBound {
                let e = Double(row[j]) - sum[j] / count
                sq[j] += e * e
                j += 1
            }
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
    public func apply(to x: inout Matrix, parallel: Parallel = Parallel(threads: 1)) {
        let d = x.cols
        precondition(d == mean.count)
        let scale = std.map(Standardizer.scale(ofStd:))
        let n = x.rows
        let tasks = max(1, min(parallel.threads, n / 256))
        x.values.withUnsafeMutableBufferPointer { v in
            mean.withUnsafeBufferPointer { mean in
                scale.withUnsafeBufferPointer { scale in
                    parallel.run(tasks: tasks) { t in
                        FloatEnvironment.keepingSubnormals {
                            Standardizer.apply(v.baseAddress!, rows: Parallel.part(t, of: tasks, count: n), d: d,
                                               mean: mean.baseAddress!, scale: scale.baseAddress!)
                        }
                    }
                }
            }
        }
    }

    /// `apply`'s arithmetic on rows `rows`, 16 values at a time; a vector with a non-finite result is done
    /// again value by value (the Double fallback).
    private static func apply(_ v: UnsafeMutablePointer<Float>, rows: Range<Int>, d: Int, mean: UnsafePointer<Float>,
                              scale: UnsafePointer<Float>) {
        @inline(__always) func one(_ p: UnsafeMutablePointer<Float>, _ j: Int) {
            let a = p[j]
            let z = (a - mean[j]) * scale[j]
            p[j] = z.isFinite || !a.isFinite ? z : Float((Double(a) - Double(mean[j])) * Double(scale[j]))
        }
        let exponent = SIMD16<UInt32>(repeating: 0x7F80_0000)
        for i in rows {
            let row = v + i * d
            var j = 0
            while j + 16 <= d {
                let a = loadVec(row + j)
                let z = (a - loadVec(mean + j)) * loadVec(scale + j)
                if !any((unsafeBitCast(z, to: SIMD16<UInt32>.self) & exponent) .== exponent) {
                    storeVec(z, row + j)
                } else {
                    for c in j..<(j + 16) { one(row, c) }
                }
                j += 16
            }
            while j < d {
                one(row, j)
                j += 1
            }
        }
    }
}
