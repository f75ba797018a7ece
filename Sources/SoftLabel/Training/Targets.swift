import Foundation

/// The training targets after the configured transformations, with the per-example terms the loss needs.
struct PreparedTargets {
    var p: Matrix            // (n, k)
    var padded: Matrix       // (n, kp) the same rows zero-padded to whole vectors, as the loss reads them
    var negEntropy: [Float]  // (n) Σ_j p_j log p_j
    var weight: [Float]?     // (n) class-balancing example weights, nil = all 1

    /// Applies, in this order: target temperature p^(1/T) / Σ p^(1/T); label smoothing (1 - ε) p + ε / k;
    /// then class weights from the resulting targets of the training rows `rows` (nil: every row).
    init(_ raw: Matrix, config: TrainConfig, rows: [Int]? = nil) {
        var p = raw
        let n = p.rows, k = p.cols
        if config.targetTemperature != 1 {
            let e = 1 / Double(config.targetTemperature)
            for i in 0..<n {
                var row = (0..<k).map { j -> Double in raw[i, j] > 0 ? pow(Double(raw[i, j]), e) : 0 }
                let s = row.reduce(0, +)
                if s > 0 { row = row.map { $0 / s } }
                for j in 0..<k { p[i, j] = Float(row[j]) }
            }
        }
        if config.labelSmoothing > 0 {
            let eps = config.labelSmoothing
            for i in 0..<n { for j in 0..<k { p[i, j] = (1 - eps) * p[i, j] + eps / Float(k) } }
        }
        self.p = p
        let kp = paddedWidth(k)
        var padded = Matrix(rows: n, cols: kp)
        p.values.withUnsafeBufferPointer { src in
            padded.values.withUnsafeMutableBufferPointer { dst in
                for i in 0..<n { for j in 0..<k { dst[i * kp + j] = src[i * k + j] } }
            }
        }
        self.padded = padded
        self.negEntropy = (0..<n).map { i in
            var s = 0.0
            for j in 0..<k where p[i, j] > 0 { s += Double(p[i, j]) * log(Double(p[i, j])) }
            return Float(s)
        }
        if config.classWeight == .balanced {
            var mass = [Double](repeating: 0, count: k)
            for i in rows ?? Array(0..<n) { for j in 0..<k { mass[j] += Double(p[i, j]) } }
            let trained = Double(rows?.count ?? n)
            let classWeight = mass.map { $0 > 0 ? trained / (Double(k) * $0) : 0 }
            self.weight = (0..<n).map { i in
                Float((0..<k).reduce(0.0) { $0 + classWeight[$1] * Double(p[i, $1]) })
            }
        } else {
            self.weight = nil
        }
    }
}
