import Foundation

/// Mean, sum of squared deviations, min and max of each column over some rows, in Double; two sets merge
/// exactly as if their rows had been summed together (Chan, Golub & LeVeque 1979):
///   n = n_a + n_b,  δ = mean_b - mean_a,  mean = mean_a + δ n_b / n,  M2 = M2_a + M2_b + δ² n_a n_b / n.
/// Each piece of rows is summed in two passes (its mean first), so no sum of squares of large values is
/// ever formed; the merge order is fixed (row order), so the result does not depend on the thread count.
struct ColumnMoments {
    var n = 0
    var mean: [Double]
    var m2: [Double]
    var lo: [Float]
    var hi: [Float]

    init(d: Int) {
        mean = [Double](repeating: 0, count: d)
        m2 = mean
        lo = [Float](repeating: .infinity, count: d)
        hi = [Float](repeating: -.infinity, count: d)
    }

    /// The moments of `m` rows of `x` (m, d).
    init(rows x: UnsafePointer<Float>, m: Int, d: Int) {
        self.init(d: d)
        n = m
        guard m > 0 else { return }
        for r in 0..<m {
            let row = x + r * d
            for j in 0..<d {
                mean[j] += Double(row[j])
                lo[j] = min(lo[j], row[j])
                hi[j] = max(hi[j], row[j])
            }
        }
        for j in 0..<d { mean[j] /= Double(m) }
        for r in 0..<m {
            let row = x + r * d
            for j in 0..<d {
                let e = Double(row[j]) - mean[j]
                m2[j] += e * e
            }
        }
    }

    mutating func merge(_ o: ColumnMoments) {
        if o.n == 0 { return }
        if n == 0 {
            self = o
            return
        }
        let na = Double(n), nb = Double(o.n), total = na + nb
        for j in mean.indices {
            let delta = o.mean[j] - mean[j]
            mean[j] += delta * nb / total
            m2[j] += o.m2[j] + delta * delta * na * nb / total
            lo[j] = min(lo[j], o.lo[j])
            hi[j] = max(hi[j], o.hi[j])
        }
        n += o.n
    }

    /// Population standard deviation per column; 0 for a constant column (min = max).
    var standardizer: Standardizer {
        Standardizer(mean: mean.map { Float($0) },
                     std: (0..<mean.count).map { j in lo[j] == hi[j] || n == 0 ? 0 : Float((m2[j] / Double(n)).squareRoot()) })
    }
}

/// The one pass over streamed data before training: every value read and checked (a bad value anywhere
/// stops the run before its first epoch), the standardisation statistics and class masses of the training
/// blocks, the label-sum warning, and a fingerprint of the values (widened to Float, so float16 and float32
/// files of the same values have the same one).
struct StreamingScan {
    var moments: ColumnMoments?
    /// Σ over the training rows of their transformed targets, per class (for `--class-weight balanced`).
    var mass: [Double]?
    var labelStats = LabelSumStats()
    var fingerprint = ""

    /// - Parameters:
    ///   - training: which blocks are training blocks (statistics and masses are theirs alone).
    ///   - moments: whether to compute the standardisation statistics.
    ///   - preparer: transforms the targets for the class masses (when `mass` is wanted).
    ///   - progress: bytes read so far, after every group of blocks.
    static func run(_ source: StreamingSource, training: (Int) -> Bool, moments wantMoments: Bool, mass wantMass: Bool,
                    preparer: TargetPreparer, parallel: Parallel, progress: (Int) -> Void) throws -> StreamingScan {
        let d = source.featureCount, k = max(source.classCount, 1)
        let blocks = StreamLayout.blockCount(source.rows)
        let group = StreamLayout.windowBlocks(features: d)
        let tasks = min(parallel.threads, group)
        let scratch = (0..<tasks).map { _ in FillScratch(source: source) }
        var scan = StreamingScan()
        if wantMoments { scan.moments = ColumnMoments(d: d) }
        if wantMass { scan.mass = [Double](repeating: 0, count: k) }
        var hash = Fingerprint()
        for name in source.featureNames + source.classNames { hash.add(name) }
        let bytesPerRow = Double(source.bytesPerPass) / Double(source.rows)

        var first = 0
        while first < blocks {
            let list = Array(first..<min(blocks, first + group))
            var results = [BlockResult](repeating: BlockResult(), count: list.count)
            results.withUnsafeMutableBufferPointer { out in
                parallel.run(tasks: tasks) { t in
                    for i in Parallel.part(t, of: tasks, count: list.count) {
                        out[i] = scanBlock(list[i], source: source, training: training(list[i]), moments: wantMoments,
                                           mass: wantMass, preparer: preparer, scratch: scratch[t], k: k)
                        if out[i].error != nil { return }
                    }
                }
            }
            for r in results {
                if let e = r.error { throw e }
                if let m = r.moments { scan.moments!.merge(m) }
                if let m = r.mass { for j in 0..<k { scan.mass![j] += m[j] } }
                scan.labelStats.merge(r.stats)
                hash.add(r.hash)
            }
            first += list.count
            progress(Int(Double(min(source.rows, first * StreamLayout.blockRows)) * bytesPerRow))
        }
        scan.fingerprint = "\(source.rows)x\(d), \(source.classCount) classes, hash \(hash.hex)"
        return scan
    }

    /// One block: its checks, its moments and masses (a training block), its hash.
    private static func scanBlock(_ b: Int, source: StreamingSource, training: Bool, moments: Bool, mass: Bool,
                                  preparer: TargetPreparer, scratch s: FillScratch, k: Int) -> BlockResult {
        var result = BlockResult()
        let range = StreamLayout.rows(ofBlock: b, total: source.rows), d = source.featureCount
        let logits = { if case .logits = source.targets { return true } else { return false } }()
        let hardGiven = source.targets == .logits(hardIndices: true)
        if moments && training { result.moments = ColumnMoments(d: d) }
        if mass && training { result.mass = [Double](repeating: 0, count: k) }
        var hash = Fingerprint()
        let p = UnsafeMutablePointer<Float>.allocate(capacity: k)
        defer { p.deallocate() }
        var r0 = range.lowerBound
        do {
            while r0 < range.upperBound {
                let m = min(FillScratch.rowsPerRead, range.upperBound - r0)
                try source.read(r0..<(r0 + m), x: s.x, t: source.hasTargets ? s.t : nil, z: logits ? s.z : nil,
                                hard: hardGiven ? s.hard : nil, scratch: s.source, stats: &result.stats)
                hash.add(UnsafeRawBufferPointer(start: s.x, count: m * d * 4))
                if source.hasTargets { hash.add(UnsafeRawBufferPointer(start: s.t, count: m * k * 4)) }
                if logits { hash.add(UnsafeRawBufferPointer(start: s.z, count: m * k * 4)) }
                if hardGiven { hash.add(UnsafeRawBufferPointer(start: s.hard, count: m * 4)) }
                if result.moments != nil { result.moments!.merge(ColumnMoments(rows: s.x, m: m, d: d)) }
                if result.mass != nil {
                    for r in 0..<m {
                        preparer.transform(base: s.t + r * k, logits: logits ? s.z + r * k : nil, into: p,
                                           scratch: &s.double, logq: &s.logq)
                        TargetRows.addMass(p, k: k, to: &result.mass!)
                    }
                }
                r0 += m
            }
        } catch {
            result.error = error
        }
        result.hash = hash.hex
        return result
    }
}

private struct BlockResult {
    var moments: ColumnMoments?
    var mass: [Double]?
    var stats = LabelSumStats()
    var hash = ""
    var error: Error?
}
