import Foundation

extension StreamedSet {
    /// Gathers rows `ids` (global row numbers, in batch order) into slots 0..<ids.count of `buffer`: features
    /// standardised from where they lie in the mapped files, targets prepared. Tasks of `parallel` take
    /// consecutive rows, each with its own scratch, so the result does not depend on the thread count; the
    /// error of the first bad row (in batch order) is the one thrown. Every value is checked: a non-finite
    /// feature or a bad label stops the run, naming the shard and its row.
    func gather(_ ids: UnsafeBufferPointer<Int>, into buffer: WindowBuffer, scratch: [FillScratch], parallel: Parallel) throws {
        let m = ids.count, d = source.featureCount
        let tasks = min(scratch.count, parallel.threads, max(1, m / 32))
        var failures = [(Int, Error)?](repeating: nil, count: tasks)
        let logits = { if case .logits = source.targets { return true } else { return false } }()
        let hardGiven = source.targets == .logits(hardIndices: true)
        let mean = standardizer?.mean ?? []
        mean.withUnsafeBufferPointer { mean in
            scale.withUnsafeBufferPointer { scale in
                failures.withUnsafeMutableBufferPointer { failed in
                    parallel.run(tasks: tasks) { task in
                        let s = scratch[task]
                        var stats = LabelSumStats()
                        let part = Parallel.part(task, of: tasks, count: m)
                        // Four rows at a time: four independent streams of loads keep more of the (random) rows'
                        // cache misses in flight than one row after another.
                        var r = part.lowerBound
                        while r < part.upperBound {
                            let lanes = min(4, part.upperBound - r)
                            // A group of fewer than four repeats its first row (written twice, the same bits).
                            @inline(__always) func lane(_ l: Int) -> Int { l < lanes ? l : 0 }
                            let s0 = source.featureRow(ids[r], scratch: s.source, lane: 0)
                            let s1 = lanes > 1 ? source.featureRow(ids[r + 1], scratch: s.source, lane: 1) : s0
                            let s2 = lanes > 2 ? source.featureRow(ids[r + 2], scratch: s.source, lane: 2) : s0
                            let s3 = lanes > 3 ? source.featureRow(ids[r + 3], scratch: s.source, lane: 3) : s0
                            let x = buffer.x
                            if standardizer != nil {
                                standardize4(s0, s1, s2, s3, x + r * d, x + (r + lane(1)) * d, x + (r + lane(2)) * d,
                                             x + (r + lane(3)) * d, d: d, mean: mean.baseAddress!, scale: scale.baseAddress!)
                            } else {
                                for (l, src) in [s0, s1, s2, s3].prefix(lanes).enumerated() { (x + (r + l) * d).update(from: src, count: d) }
                            }
                            r += lanes
                        }
                        guard source.hasTargets else { return }
                        if let cache {
                            for r in part { cache.copy(row: ids[r], into: buffer, slot: r) }
                            return
                        }
                        // The rows' first target values loaded together first: their cache misses overlap.
                        s.sink = source.touchTargets(ids, part)
                        for r in part {
                            let row = ids[r]
                            do {
                                try source.targetRow(row, t: s.t, z: logits ? s.z : nil, hard: hardGiven ? s.hard : nil,
                                                     scratch: s.source, stats: &stats)
                            } catch {
                                failed[task] = (r, error)
                                return
                            }
                            preparer.prepare(base: s.t, logits: logits ? s.z : nil, hardGiven: hardGiven ? s.hard[0] : nil,
                                             into: buffer, slot: r, scratch: &s.double, logq: &s.logq)
                        }
                    }
                }
            }
        }
        try source.checkMappings()
        if let (_, e) = failures.compactMap({ $0 }).min(by: { $0.0 < $1.0 }) { throw e }
        if let i = NPYArray.firstNonFinite(UnsafeBufferPointer(start: buffer.x, count: m * d)) {
            throw source.featureError(row: ids[i / d], column: i % d, scratch: scratch[0].source)
        }
    }
}

/// dst_l[j] = (src_l[j] - mean[j]) · scale[j] for four rows l at once (`Standardizer.apply`'s arithmetic),
/// 16 features per step. Rows may repeat (a group of fewer than four rows repeats its first; the same value is
/// then written twice).
@inline(__always)
private func standardize4(_ src0: UnsafePointer<Float>, _ src1: UnsafePointer<Float>, _ src2: UnsafePointer<Float>,
                          _ src3: UnsafePointer<Float>, _ dst0: UnsafeMutablePointer<Float>, _ dst1: UnsafeMutablePointer<Float>,
                          _ dst2: UnsafeMutablePointer<Float>, _ dst3: UnsafeMutablePointer<Float>, d: Int,
                          mean: UnsafePointer<Float>, scale: UnsafePointer<Float>) {
    let (s0, s1, s2, s3) = (UnsafeRawPointer(src0), UnsafeRawPointer(src1), UnsafeRawPointer(src2), UnsafeRawPointer(src3))
    let (d0, d1, d2, d3) = (UnsafeMutableRawPointer(dst0), UnsafeMutableRawPointer(dst1), UnsafeMutableRawPointer(dst2),
                            UnsafeMutableRawPointer(dst3))
    var j = 0
    while j + 16 <= d {
        let o = 4 * j
        let m = UnsafeRawPointer(mean).loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
        let c = UnsafeRawPointer(scale).loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
        let a0 = s0.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
        let a1 = s1.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
        let a2 = s2.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
        let a3 = s3.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self)
        d0.storeBytes(of: (a0 - m) * c, toByteOffset: o, as: SIMD16<Float>.self)
        d1.storeBytes(of: (a1 - m) * c, toByteOffset: o, as: SIMD16<Float>.self)
        d2.storeBytes(of: (a2 - m) * c, toByteOffset: o, as: SIMD16<Float>.self)
        d3.storeBytes(of: (a3 - m) * c, toByteOffset: o, as: SIMD16<Float>.self)
        j += 16
    }
    while j < d {
        let (m, c) = (mean[j], scale[j])
        (dst0[j], dst1[j], dst2[j], dst3[j]) = ((src0[j] - m) * c, (src1[j] - m) * c, (src2[j] - m) * c, (src3[j] - m) * c)
        j += 1
    }
}
