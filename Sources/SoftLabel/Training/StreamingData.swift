import Foundation

/// How streamed data is cut up. Fixed numbers (never derived from the memory budget or the thread count), so
/// a streamed run gives the same bytes on any machine, and a float16 file trains as its float32 twin does.
///
/// - A **block** is `blockRows` consecutive rows of the data (the last one may be shorter). Validation holds
///   out whole blocks, and the standardisation statistics are summed per block.
/// - A **window** is `windowBlocks(features:)` blocks held in memory at once, standardised and with prepared
///   targets: at most 64 blocks and about 128 MiB of Float features (65,536 rows up to 512 features,
///   32,768 rows at 1,024 features).
/// - Each epoch visits the training blocks in a seeded random order, `windowBlocks` at a time, and visits the
///   rows of each window in a seeded random order (block-wise shuffle). Minibatches are consecutive rows of
///   that order, across window boundaries, as an in-memory epoch takes consecutive rows of its shuffled order.
public enum StreamLayout {
    public static let blockRows = 1024
    public static let maxWindowBlocks = 64
    public static let windowBytes = 128 << 20

    /// Blocks per window for rows of `features` Floats.
    public static func windowBlocks(features d: Int) -> Int {
        max(1, min(maxWindowBlocks, windowBytes / (blockRows * max(d, 1) * 4)))
    }

    /// The rows of block `b` of a data set of `n` rows.
    static func rows(ofBlock b: Int, total n: Int) -> Range<Int> {
        (b * blockRows)..<min(n, (b + 1) * blockRows)
    }

    /// Blocks of a data set of `n` rows.
    static func blockCount(_ n: Int) -> Int { (n + blockRows - 1) / blockRows }
}

/// The seeded orders of one streamed epoch: the training blocks' order, and each window's row order. A pure
/// function of (seed, epoch), so a resumed run needs nothing but its position to continue.
struct StreamShuffle {
    let base: SplitMix64

    init(seed: UInt64, epoch: Int) {
        base = SplitMix64(seed: seed).derived(2).derived(UInt64(epoch))
    }

    /// `blocks` in this epoch's order.
    func blockOrder(_ blocks: [Int]) -> [Int] {
        var g = base.derived(0)
        var order = blocks
        g.shuffle(&order)
        return order
    }

    /// Where each of window `w`'s `count` rows goes: row i (counting through the window's blocks in order)
    /// is visited at place `result[i]`.
    func places(window w: Int, count: Int) -> [Int] {
        var g = base.derived(UInt64(w) + 1)
        var p = Array(0..<count)
        g.shuffle(&p)
        return p
    }
}

/// Per-row target preparation for streamed rows: `PreparedTargets`' steps, row by row, through the same
/// functions (`TargetRows`), so streamed and in-memory rows get the same bits.
struct TargetPreparer: Sendable {
    let k: Int
    let kp: Int
    let distillTemperature: Float
    let targetTemperature: Float
    let smoothing: Float
    /// Class weights w_c (`--class-weight balanced`), set from the training rows' masses.
    var classWeight: [Double]?
    let balanced: Bool
    let hardLabels: Bool
    let distill: Distillation?

    /// For training under `config`.
    init(k: Int, config: TrainConfig) {
        self.k = k
        kp = paddedWidth(k)
        distillTemperature = config.distillTemperature
        targetTemperature = config.targetTemperature
        smoothing = config.labelSmoothing
        balanced = config.classWeight == .balanced
        hardLabels = config.hardWeight > 0
        distill = Distillation(config)
    }

    /// For validation: the raw targets (no temperature, smoothing, weights or distillation), as `Validator`.
    static func validation(k: Int) -> TargetPreparer { TargetPreparer(k: k, config: TrainConfig()) }

    /// Steps 1-3 of one row into `p` (k): the distillation temperature's targets (softmax(z / T) of the
    /// teacher's logits, or base^(1/T)), then the target temperature, then label smoothing.
    @inline(__always)
    func transform(base: UnsafePointer<Float>, logits: UnsafePointer<Float>?, into p: UnsafeMutablePointer<Float>,
                   scratch: inout [Double], logq: inout [Double]) {
        if distillTemperature != 1 {
            if let logits {
                Softmax.row(logits, k: k, temperature: distillTemperature, into: p, scratch: &scratch, logq: &logq)
            } else {
                TargetRows.power(base, k: k, 1 / Double(distillTemperature), into: p, scratch: &scratch)
            }
        } else {
            p.update(from: base, count: k)
        }
        if targetTemperature != 1 { TargetRows.power(p, k: k, 1 / Double(targetTemperature), into: p, scratch: &scratch) }
        if smoothing > 0 { TargetRows.smooth(p, k: k, epsilon: smoothing) }
    }

    /// The whole preparation of one row into a window slot: p padded to kp lanes, Σ p log p, the example
    /// weight and the hard class (the given one, else the first argmax of the logits or of the base targets).
    @inline(__always)
    func prepare(base: UnsafePointer<Float>, logits: UnsafePointer<Float>?, hardGiven: Int32?, into buffer: WindowBuffer,
                 slot: Int, scratch: inout [Double], logq: inout [Double]) {
        let p = buffer.p + slot * kp
        transform(base: base, logits: logits, into: p, scratch: &scratch, logq: &logq)
        for j in k..<kp { p[j] = 0 }
        buffer.negEntropy[slot] = TargetRows.negEntropy(p, k: k)
        if let classWeight { buffer.weight?[slot] = TargetRows.weight(p, k: k, classWeight: classWeight) }
        if hardLabels { buffer.hard?[slot] = hardGiven ?? TargetRows.argmax(logits ?? base, k: k) }
    }
}

/// Rows held in memory for training: standardised features and prepared targets, in the layout the batch
/// step reads (`LossTargets` without an index).
final class WindowBuffer: @unchecked Sendable {
    // @unchecked Sendable: one filler writes a buffer while nobody reads it (the read-ahead thread fills the
    // buffer the trainer is not using; `RowStream` hands buffers over only after the filler has finished).
    let capacity: Int
    let d: Int
    let kp: Int
    let x: UnsafeMutablePointer<Float>           // (capacity, d)
    let p: UnsafeMutablePointer<Float>           // (capacity, kp)
    let negEntropy: UnsafeMutablePointer<Float>  // (capacity)
    let weight: UnsafeMutablePointer<Float>?     // (capacity) with class weights
    let hard: UnsafeMutablePointer<Int32>?       // (capacity) with hard labels

    init(capacity: Int, d: Int, kp: Int, weights: Bool, hard: Bool) {
        self.capacity = capacity
        self.d = d
        self.kp = kp
        x = .allocate(capacity: capacity * d)
        p = .allocate(capacity: capacity * kp)
        negEntropy = .allocate(capacity: capacity)
        weight = weights ? .allocate(capacity: capacity) : nil
        self.hard = hard ? .allocate(capacity: capacity) : nil
    }

    deinit {
        x.deallocate()
        p.deallocate()
        negEntropy.deallocate()
        weight?.deallocate()
        hard?.deallocate()
    }

    /// Bytes per row.
    static func rowBytes(d: Int, kp: Int) -> Int { (d + kp + 2) * 4 }

    /// Rows from `slot` on as the batch step reads them, prepared by `preparer`; example numbers start at
    /// `position` (dropout keys on them).
    func rows(from slot: Int, position: Int, preparer: TargetPreparer) -> (x: Rows, targets: LossTargets) {
        let t = LossTargets(p: Rows(base: p + slot * kp, stride: kp), index: nil, negEntropy: negEntropy + slot,
                            weight: preparer.classWeight == nil ? nil : weight.map { UnsafePointer($0 + slot) }, offset: position,
                            distill: preparer.distill, hard: preparer.hardLabels ? hard.map { UnsafePointer($0 + slot) } : nil)
        return (Rows(base: x + slot * d, stride: d), t)
    }
}

/// A streamed set of rows: some blocks of a source, with the standardisation and target preparation the
/// training code needs.
struct StreamedSet: @unchecked Sendable {
    // @unchecked Sendable: every member is immutable (the source only does positioned reads).
    let source: StreamingSource
    /// The blocks of `source` in the set, ascending.
    let blocks: [Int]
    let standardizer: Standardizer?
    let preparer: TargetPreparer
    /// 1 / std per feature (0 for a constant one), as `Standardizer.apply` computes it.
    let scale: [Float]
    /// The set's prepared targets, made once (`withTargetCache`), when they are small enough to keep.
    private(set) var cache: TargetCache?

    init(source: StreamingSource, blocks: [Int], standardizer: Standardizer?, preparer: TargetPreparer) {
        self.source = source
        self.blocks = blocks
        self.standardizer = standardizer
        self.preparer = preparer
        scale = standardizer?.std.map { $0 == 0 ? Float(0) : 1 / $0 } ?? []
    }

    /// The set with its prepared targets kept in memory when they take at most `limit` bytes: one pass over
    /// the targets' files now (features are not read), and each epoch then copies a row's prepared targets
    /// instead of reading, checking and preparing them again (the same bits either way).
    func withTargetCache(limit: Int, parallel: Parallel) throws -> StreamedSet {
        guard source.hasTargets else { return self }
        let rows = rowCount
        guard rows * WindowBuffer.rowBytes(d: 0, kp: preparer.kp) <= limit else { return self }
        var out = self
        out.cache = try TargetCache(self, rows: rows, parallel: parallel)
        return out
    }

    var rowCount: Int { blocks.reduce(0) { $0 + StreamLayout.rows(ofBlock: $1, total: source.rows).count } }

    func rows(ofBlock b: Int) -> Range<Int> { StreamLayout.rows(ofBlock: b, total: source.rows) }
}

/// A streamed set's prepared targets, one slot per row of the set (its blocks in order).
final class TargetCache: @unchecked Sendable {
    // @unchecked Sendable: written once in init (each slot by one task), then only read.
    let rows: WindowBuffer
    /// The first slot of each block of the source; -1 for a block not in the set.
    let blockSlot: [Int]

    init(_ set: StreamedSet, rows count: Int, parallel: Parallel) throws {
        let p = set.preparer
        rows = WindowBuffer(capacity: count, d: 0, kp: p.kp, weights: p.classWeight != nil, hard: p.hardLabels)
        var slots = [Int](repeating: -1, count: StreamLayout.blockCount(set.source.rows))
        var next = 0
        for b in set.blocks {
            slots[b] = next
            next += set.rows(ofBlock: b).count
        }
        blockSlot = slots
        let source = set.source, buffer = rows, k = p.k
        let logits = { if case .logits = source.targets { return true } else { return false } }()
        let hardGiven = source.targets == .logits(hardIndices: true)
        // Pieces of `FillScratch.rowsPerRead` rows (never across blocks), split across the tasks.
        var pieces: [(row: Int, count: Int, slot: Int)] = []
        for b in set.blocks {
            let r = set.rows(ofBlock: b)
            var lo = r.lowerBound
            while lo < r.upperBound {
                let m = min(FillScratch.rowsPerRead, r.upperBound - lo)
                pieces.append((lo, m, slots[b] + lo - r.lowerBound))
                lo += m
            }
        }
        let tasks = min(parallel.threads, max(pieces.count, 1))
        let scratch = (0..<tasks).map { _ in FillScratch(source: source) }
        var failures = [(Int, Error)?](repeating: nil, count: tasks)
        failures.withUnsafeMutableBufferPointer { failed in
            parallel.run(tasks: tasks) { task in
                let s = scratch[task]
                var stats = LabelSumStats()
                for i in Parallel.part(task, of: tasks, count: pieces.count) {
                    let (row, m, slot) = pieces[i]
                    do {
                        try source.read(row..<(row + m), x: nil, t: s.t, z: logits ? s.z : nil, hard: hardGiven ? s.hard : nil,
                                        scratch: s.source, stats: &stats)
                    } catch {
                        failed[task] = (i, error)
                        return
                    }
                    for r in 0..<m {
                        p.prepare(base: s.t + r * k, logits: logits ? s.z + r * k : nil, hardGiven: hardGiven ? s.hard[r] : nil,
                                  into: buffer, slot: slot + r, scratch: &s.double, logq: &s.logq)
                    }
                }
            }
        }
        if let (_, e) = failures.compactMap({ $0 }).min(by: { $0.0 < $1.0 }) { throw e }
    }

    /// The slot of `rows` holding the prepared targets of global row `row`.
    @inline(__always)
    func slot(of row: Int) -> Int {
        let b = row / StreamLayout.blockRows
        return blockSlot[b] + row - b * StreamLayout.blockRows
    }

    /// Copies the prepared targets of global row `row` into `slot` of `buffer`.
    @inline(__always)
    func copy(row: Int, into buffer: WindowBuffer, slot: Int) {
        let from = self.slot(of: row)
        let kp = rows.kp, src = rows.p + from * kp, dst = buffer.p + slot * kp
        // Whole vectors (kp is a multiple of 16): the C library's copy, called per row, cost more than the copy.
        var j = 0
        while j < kp {
            storeVec(loadVec(src + j), dst + j)
            j += vecWidth
        }
        buffer.negEntropy[slot] = rows.negEntropy[from]
        if let w = rows.weight { buffer.weight?[slot] = w[from] }
        if let h = rows.hard { buffer.hard?[slot] = h[from] }
    }
}

/// Per-filler space: the source's read scratch and the staging rows of one read.
final class FillScratch: @unchecked Sendable {
    // @unchecked Sendable: each instance is used by one filler at a time (one per task, one for read-ahead).
    static let rowsPerRead = 128
    let source: StreamingSource.Scratch
    let x: UnsafeMutablePointer<Float>   // (rowsPerRead, d)
    let t: UnsafeMutablePointer<Float>   // (rowsPerRead, k)
    let z: UnsafeMutablePointer<Float>   // (rowsPerRead, k)
    let hard: UnsafeMutablePointer<Int32>
    var double: [Double]
    var logq: [Double]
    /// Where loads made only to warm the cache leave their result.
    var sink: Float = 0

    init(source s: StreamingSource) {
        let m = Self.rowsPerRead, k = max(s.classCount, 1)
        source = StreamingSource.Scratch(source: s, rows: m)
        x = .allocate(capacity: m * s.featureCount)
        t = .allocate(capacity: m * k)
        z = .allocate(capacity: m * k)
        hard = .allocate(capacity: m)
        double = [Double](repeating: 0, count: k)
        logq = double
    }

    deinit {
        x.deallocate()
        t.deallocate()
        z.deallocate()
        hard.deallocate()
    }
}
