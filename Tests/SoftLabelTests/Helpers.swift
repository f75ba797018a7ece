@testable import SoftLabel

/// Random matrices and distributions from the seeded generator, for tests.
struct TestData {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func matrix(_ rows: Int, _ cols: Int, scale: Double = 1) -> Matrix {
        Matrix(rows: rows, cols: cols, values: (0..<(rows * cols)).map { _ in Float(rng.nextGaussian() * scale) })
    }

    /// Rows that are probability distributions; with `zeros`, some entries are exactly 0.
    mutating func distributions(_ rows: Int, _ k: Int, zeros: Bool = false) -> Matrix {
        var m = Matrix(rows: rows, cols: k)
        for i in 0..<rows {
            var row = (0..<k).map { _ in rng.nextUnit() + 0.05 }
            if zeros { for j in 0..<k where rng.nextUnit() < 0.4 { row[j] = 0 } }
            if row.allSatisfy({ $0 == 0 }) { row[0] = 1 }
            let s = row.reduce(0, +)
            for j in 0..<k { m[i, j] = Float(row[j] / s) }
        }
        return m
    }

    mutating func dataset(n: Int, d: Int, k: Int, zeros: Bool = false) -> Dataset {
        Dataset(ids: (0..<n).map(String.init), featureNames: (0..<d).map { "f\($0)" },
                classNames: (0..<k).map { "c\($0)" }, features: matrix(n, d), targets: distributions(n, k, zeros: zeros))
    }
}

/// |a - b| <= tol · max(1, |b|)
func close(_ a: Double, _ b: Double, _ tol: Double) -> Bool { abs(a - b) <= tol * max(1, abs(b)) }


import Foundation
