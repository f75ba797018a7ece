/// Streamed minibatches whose first layer reads the rows as stored, unstandardised (where they lie in the
/// mapped files, or gathered as they are), with the standardisation x̃ = (x - μ) ⊙ s folded into that layer:
///
///   forward    W x̃ + b = W' x + b'   with W' = W diag(s), b' = b - W' μ, made by each task at the start of
///              its share of a batch step (`prepare`, o·d multiplications against the chunk's 64·o·d);
///   gradient   ∂L/∂W = Σ_r g_r x̃_rᵀ = (Σ_r g_r x_rᵀ - (Σ_r g_r) μᵀ) diag(s): each chunk's share of dW is summed
///              from the stored rows, then corrected with the chunk's share of db (`correct`).
///
/// Nothing else reads the batch's inputs, so no row is copied or standardised at all: the batch step runs
/// exactly as in memory, with the rows read through an index. (The staging this replaced standardised each
/// row into a buffer inside the forward: streamed w1 0.0164-0.0177 s/epoch against 0.0145-0.0155 in memory;
/// reading the rows as stored, 0.0141-0.0145; alternating runs.)
///
/// The same function and gradient as training on standardised rows, to rounding, not bit for bit: the products
/// sum x_j s_j w_j instead of (x_j - μ_j) s_j w_j, terms larger by at most |μ_j| s_j. So folding is taken only
/// where that stays small, |μ_j| s_j ≤ `limit` for every feature (16: a rounding error at most about 17 times
/// the standardised one, ~1e-6 of the logits); other data is gathered standardised, as before. Every run that
/// folds, folds the same way for any thread count and any storage of the same values (float32 read in place,
/// float16 gathered): the same bytes.
///
/// Taken when the first layer is dense with at most `BatchStep.chunkedGradientOutputs` outputs (its forward
/// runs dot products on the rows, `gemmNT`, and its weight gradient is summed per chunk in the batch step's
/// first phase).
final class InputFolding: @unchecked Sendable {
    // @unchecked Sendable: in a batch step, task t writes only its own weights, bias and `bad[t]`; the driver
    // reads `bad` after the step.
    let d: Int
    let outputs: Int
    private let mean: UnsafeMutablePointer<Float>?  // nil: no standardisation (the layer's own tensors are used)
    private let scale: UnsafeMutablePointer<Float>?
    private let storage: UnsafeMutableRawPointer  // per task: W' (outputs x d), then b' (outputs), cache-line aligned
    private let taskBytes: Int
    private let tables: UnsafeMutablePointer<UnsafeMutablePointer<Float>>  // per task: W', b'
    private let bad: UnsafeMutablePointer<Int>  // per task, padded to a cache line: first bad input (row * d + column)
    private let tasks: Int

    /// The largest |μ_j| s_j folded (see the type's notes).
    static let limit: Float = 16

    /// Whether a network's batch steps can fold the standardisation (`scale`: s, per feature) into its first layer.
    static func applies(to params: Parameters, standardizer: Standardizer?, scale: [Float]) -> Bool {
        fits(params) && (standardizer.map { farthest($0, scale: scale) == nil } ?? true)
    }

    /// Whether the network's first layer is one the standardisation can be folded into.
    static func fits(_ params: Parameters) -> Bool {
        guard case .dense(let first) = params.layers.first else { return false }
        return first.outputs <= BatchStep.chunkedGradientOutputs && !Dense.usesPackedForward(outputs: first.outputs)
    }

    /// The feature whose mean lies farthest from 0 in its own standard deviations, |μ_j| s_j, when that is over
    /// `limit` (what keeps the standardisation from being folded).
    static func farthest(_ standardizer: Standardizer, scale: [Float]) -> (feature: Int, deviations: Float)? {
        var worst: (feature: Int, deviations: Float)?
        for (j, (m, s)) in zip(standardizer.mean, scale).enumerated() {
            let deviations = abs(m) * s
            if !(deviations <= limit) && (worst == nil || deviations > worst!.deviations) { worst = (j, deviations) }
        }
        return worst
    }

    init(d: Int, outputs: Int, tasks: Int, standardizer: Standardizer?, scale: [Float]) {
        self.d = d
        self.outputs = outputs
        self.tasks = tasks
        if let standardizer {
            mean = .allocate(capacity: d)
            mean!.initialize(from: standardizer.mean, count: d)
            self.scale = .allocate(capacity: d)
            self.scale!.initialize(from: scale, count: d)
        } else {
            mean = nil
            self.scale = nil
        }
        taskBytes = (4 * (outputs * d + outputs) + 63) / 64 * 64
        storage = .allocate(byteCount: max(taskBytes * tasks, 64), alignment: 64)
        tables = .allocate(capacity: 2 * tasks)
        for t in 0..<tasks {
            let w = (storage + t * taskBytes).bindMemory(to: Float.self, capacity: outputs * d + outputs)
            w.initialize(repeating: 0, count: outputs * d + outputs)
            tables[2 * t] = w
            tables[2 * t + 1] = w + outputs * d
        }
        bad = .allocate(capacity: 8 * tasks)
        bad.initialize(repeating: .max, count: 8 * tasks)
    }

    deinit {
        mean?.deallocate()
        scale?.deallocate()
        storage.deallocate()
        tables.deallocate()
        bad.deallocate()
    }

    /// Before a batch step.
    func reset() {
        for t in 0..<tasks { bad[8 * t] = .max }
    }

    /// Task `t`'s first-layer tensors for this batch step: W' and b' from the layer's `weight` (outputs x d) and
    /// `bias`. Returns the table to run the forward with (nil: the layer's own, when nothing is standardised).
    @inline(__always)
    func prepare(task t: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>)
        -> UnsafePointer<UnsafeMutablePointer<Float>>? {
        guard let mean, let scale else { return nil }
        let wt = tables[2 * t], bt = tables[2 * t + 1]
        let end = d - d % vecWidth
        for o in 0..<outputs {
            let from = weight + o * d, to = wt + o * d
            var acc = Vec()
            var j = 0
            while j < end {
                let v = loadVec(from + j) * loadVec(scale + j)
                storeVec(v, to + j)
                fma(&acc, v, loadVec(mean + j))
                j += vecWidth
            }
            if j < d {
                let v = loadPartialVec(from + j, d - j) * loadPartialVec(scale + j, d - j)
                storePartialVec(v, to + j, d - j)
                fma(&acc, v, loadPartialVec(mean + j, d - j))
            }
            bt[o] = bias[o] - hsum(acc)
        }
        return UnsafePointer(tables + 2 * t)
    }

    /// After task `t`'s forward of rows `chunk` (the first layer's outputs `z`, row stride `ldz`; the inputs `x`
    /// as stored): when an output is not finite, notes the first input of the chunk whose standardised value
    /// is not (the gather's test) unless the task noted one before (its chunks run in order, so the first noted
    /// is the task's first). A non-finite input makes every output of its row non-finite, even against a zero
    /// weight (0 · ∞ and 0 · NaN are NaN), so no bad input goes unnoticed.
    @inline(__always)
    func check(z: UnsafePointer<Float>, ldz: Int, rows chunk: Range<Int>, x: Rows, task t: Int) {
        guard bad[8 * t] == .max else { return }
        var any = SIMD16<UInt32>()
        for r in chunk { any |= nonFiniteMarks(unsafeBitCast(loadPartialVec(z + r * ldz, outputs), to: SIMD16<UInt32>.self)) }
        guard anyNonFinite(any) else { return }
        // Each row standardised as the gather standardises it (`standardizeRows`), until one is not finite.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: d) { row in
            for r in chunk where !standardizeRows(x.dropping(r), 0..<1, d: d, mean: mean.map { UnsafePointer($0) },
                                                  scale: scale.map { UnsafePointer($0) }, into: row.baseAddress!, ld: d) {
                bad[8 * t] = r * d + NPYArray.firstNonFinite(UnsafeBufferPointer(row))!
                return
            }
        }
    }

    /// A chunk's share of the first layer's weight gradient, `dw` (outputs x d, summed from the stored rows), made
    /// the standardised rows' from the chunk's share of the bias gradient `db`.
    @inline(__always)
    func correct(dw: UnsafeMutablePointer<Float>, db: UnsafePointer<Float>) {
        guard let mean, let scale else { return }
        let end = d - d % vecWidth
        for o in 0..<outputs {
            let row = dw + o * d, g = Vec(repeating: db[o])
            var j = 0
            while j < end {
                storeVec((loadVec(row + j) - loadVec(mean + j) * g) * loadVec(scale + j), row + j)
                j += vecWidth
            }
            while j < d {
                row[j] = (row[j] - mean[j] * db[o]) * scale[j]
                j += 1
            }
        }
    }

    /// The first input of the last batch step whose standardised value is not finite (row in the batch, column).
    func firstBad() -> (row: Int, column: Int)? {
        let i = (0..<tasks).map { bad[8 * $0] }.min()!
        return i == .max ? nil : (i / d, i % d)
    }
}
