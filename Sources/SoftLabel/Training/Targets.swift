import Foundation

/// The training targets after the configured transformations, with the per-example terms the loss needs.
struct PreparedTargets {
    var p: Matrix            // (n, k)
    var padded: Matrix       // (n, kp) the same rows zero-padded to whole vectors, as the loss reads them
    var negEntropy: [Float]  // (n) Σ_j p_j log p_j
    var weight: [Float]?     // (n) class-balancing example weights, nil = all 1
    var distill: Distillation?  // nil: the plain loss
    var hard: [Int32]?       // (n) the hard class of each row when the hard-label weight is > 0

    /// A data set's targets for training under `config`: first, at distillation temperature T, the teacher's
    /// distribution softmax(v / T) of its logits v (for label probabilities p, p^(1/T) renormalised: log p
    /// act as the logits), then the transformations of `init(_:config:)`. With a hard-label weight, each
    /// row's hard class: the data's own (`hardLabels`), else the teacher's argmax (argmax v, or argmax p),
    /// ties to the first class.
    init(_ data: Dataset, config: TrainConfig, rows: [Int]? = nil) {
        let t = config.distillTemperature
        var base = data.targets
        if t != 1 {
            if let v = data.teacherLogits {
                base = Softmax.rows(v, temperature: t)
            } else {
                base = Self.power(data.targets, 1 / Double(t))
            }
        }
        self.init(base, config: config, rows: rows)
        distill = Distillation(config)
        if config.hardWeight > 0 {
            if let given = data.hardLabels {
                hard = given.map { Int32($0) }
            } else {
                let scores = data.teacherLogits ?? data.targets
                hard = (0..<scores.rows).map { i in
                    var best = 0
                    for j in 1..<scores.cols where scores[i, j] > scores[i, best] { best = j }
                    return Int32(best)
                }
            }
        }
    }

    /// Applies, in this order: target temperature p^(1/T) / Σ p^(1/T); label smoothing (1 - ε) p + ε / k;
    /// then class weights from the resulting targets of the training rows `rows` (nil: every row).
    init(_ raw: Matrix, config: TrainConfig, rows: [Int]? = nil) {
        var p = raw
        let n = p.rows, k = p.cols
        if config.targetTemperature != 1 { p = Self.power(raw, 1 / Double(config.targetTemperature)) }
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

    /// Each row p^e / Σ p^e, in Double (0 stays 0).
    static func power(_ raw: Matrix, _ e: Double) -> Matrix {
        var p = raw
        let k = raw.cols
        for i in 0..<raw.rows {
            var row = (0..<k).map { j -> Double in raw[i, j] > 0 ? pow(Double(raw[i, j]), e) : 0 }
            let s = row.reduce(0, +)
            if s > 0 { row = row.map { $0 / s } }
            for j in 0..<k { p[i, j] = Float(row[j]) }
        }
        return p
    }

    /// The targets as the loss reads them (`LossTargets`, rows in storage order), pinned for `body`.
    func withLossTargets<R>(_ body: (LossTargets) throws -> R) rethrows -> R {
        try padded.values.withUnsafeBufferPointer { p in
            try negEntropy.withUnsafeBufferPointer { h in
                func pin(_ w: UnsafePointer<Float>?, _ y: UnsafePointer<Int32>?) throws -> R {
                    try body(LossTargets(p: Rows(base: p.baseAddress!, stride: padded.cols), index: nil,
                                         negEntropy: h.baseAddress!, weight: w, distill: distill, hard: y))
                }
                func pinHard(_ w: UnsafePointer<Float>?) throws -> R {
                    guard let hard else { return try pin(w, nil) }
                    return try hard.withUnsafeBufferPointer { try pin(w, $0.baseAddress!) }
                }
                guard let weight else { return try pinHard(nil) }
                return try weight.withUnsafeBufferPointer { try pinHard($0.baseAddress!) }
            }
        }
    }
}
