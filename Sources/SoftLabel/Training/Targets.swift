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
                hard = scores.values.withUnsafeBufferPointer { s in
                    (0..<scores.rows).map { i in TargetRows.argmax(s.baseAddress! + i * scores.cols, k: scores.cols) }
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
            p.values.withUnsafeMutableBufferPointer { v in
                for i in 0..<n { TargetRows.smooth(v.baseAddress! + i * k, k: k, epsilon: config.labelSmoothing) }
            }
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
        self.negEntropy = p.values.withUnsafeBufferPointer { v in
            (0..<n).map { i in TargetRows.negEntropy(v.baseAddress! + i * k, k: k) }
        }
        if config.classWeight == .balanced {
            var mass = [Double](repeating: 0, count: k)
            p.values.withUnsafeBufferPointer { v in
                for i in rows ?? Array(0..<n) { TargetRows.addMass(v.baseAddress! + i * k, k: k, to: &mass) }
            }
            let classWeight = TargetRows.classWeights(mass: mass, trained: rows?.count ?? n)
            self.weight = p.values.withUnsafeBufferPointer { v in
                (0..<n).map { i in TargetRows.weight(v.baseAddress! + i * k, k: k, classWeight: classWeight) }
            }
        } else {
            self.weight = nil
        }
    }

    /// Each row p^e / Σ p^e, in Double (0 stays 0).
    static func power(_ raw: Matrix, _ e: Double) -> Matrix {
        var p = raw
        let k = raw.cols
        var row = [Double](repeating: 0, count: k)
        raw.values.withUnsafeBufferPointer { src in
            p.values.withUnsafeMutableBufferPointer { dst in
                for i in 0..<raw.rows {
                    TargetRows.power(src.baseAddress! + i * k, k: k, e, into: dst.baseAddress! + i * k, scratch: &row)
                }
            }
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

/// The per-row steps of `PreparedTargets`, one function each, so that the streaming path (which prepares its
/// rows a block at a time) computes exactly the same bits as the in-memory one.
enum TargetRows {
    /// dst = src^e / Σ src^e for one row of k, in Double (0 stays 0); `scratch` holds k Doubles.
    @inline(__always)
    static func power(_ src: UnsafePointer<Float>, k: Int, _ e: Double, into dst: UnsafeMutablePointer<Float>,
                      scratch row: inout [Double]) {
        var s = 0.0
        for j in 0..<k {
            row[j] = src[j] > 0 ? pow(Double(src[j]), e) : 0
            s += row[j]
        }
        if s > 0 { for j in 0..<k { row[j] /= s } }
        for j in 0..<k { dst[j] = Float(row[j]) }
    }

    /// p ← (1 - ε) p + ε / k in place.
    @inline(__always)
    static func smooth(_ p: UnsafeMutablePointer<Float>, k: Int, epsilon eps: Float) {
        for j in 0..<k { p[j] = (1 - eps) * p[j] + eps / Float(k) }
    }

    /// Σ_j p_j log p_j over the p_j > 0, in Double, rounded once.
    @inline(__always)
    static func negEntropy(_ p: UnsafePointer<Float>, k: Int) -> Float {
        var s = 0.0
        for j in 0..<k where p[j] > 0 { s += Double(p[j]) * log(Double(p[j])) }
        return Float(s)
    }

    /// mass_j += p_j (a class's total target mass, summed over the training rows in row order).
    @inline(__always)
    static func addMass(_ p: UnsafePointer<Float>, k: Int, to mass: inout [Double]) {
        for j in 0..<k { mass[j] += Double(p[j]) }
    }

    /// w_c = N / (k M_c) from the classes' masses M_c over N training rows (0 for a class with no mass).
    static func classWeights(mass: [Double], trained: Int) -> [Double] {
        mass.map { $0 > 0 ? Double(trained) / (Double(mass.count) * $0) : 0 }
    }

    /// ω = Σ_c w_c p_c, in class order.
    @inline(__always)
    static func weight(_ p: UnsafePointer<Float>, k: Int, classWeight: [Double]) -> Float {
        var s = 0.0
        for c in 0..<k { s = s + classWeight[c] * Double(p[c]) }
        return Float(s)
    }

    /// The first index of the largest of k scores.
    @inline(__always)
    static func argmax(_ s: UnsafePointer<Float>, k: Int) -> Int32 {
        var best = 0
        for j in 1..<max(k, 1) where s[j] > s[best] { best = j }
        return Int32(best)
    }
}
