import Foundation

extension StreamedSet {
    /// Gathers rows `ids` (global row numbers, in batch order) into slots 0..<ids.count of `buffer`: features
    /// standardised from where they lie in the mapped files, targets prepared. Tasks of `parallel` take
    /// consecutive rows (or, given the `batch` size, the rows of each batch the batch step's task of the same
    /// number takes), each with its own scratch, so the result does not depend on the thread count; the
    /// error of the first bad row (in batch order) is the one thrown. Every value is checked: a non-finite
    /// feature or a bad label stops the run, naming the shard and its row.
    ///
    /// With `raw`, the features are copied as stored (widened to Float), unstandardised, for a batch step that
    /// folds the standardisation into its first layer (`InputFolding`, which checks the standardised values);
    /// with `offsets` too, they are not copied at all: offsets.into[r] is set to where row ids[r] lies, in Floats
    /// from `offsets.base` (`StreamingSource.featureBase`).
    func gather(_ ids: UnsafeBufferPointer<Int>, into buffer: WindowBuffer, scratch: [FillScratch], parallel: Parallel,
                batch: Int? = nil, raw: Bool = false,
                offsets: (base: UnsafePointer<Float>, into: UnsafeMutablePointer<Int>)? = nil) throws {
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
                        // Copies, standardises and checks the features of rows `part`; returns the first bad row (its
                        // error recorded).
                        func copyFeatures(_ part: Range<Int>) -> Int? {
                            // Each row copied whole first (the C library's copy keeps many of a random row's cache lines
                            // in flight), then all of them standardised and checked in one pass, in this core's cache.
                            // (Measured against standardising four rows at a time straight from the mapping and
                            // checking the whole batch afterwards on one thread: 0.048 against 0.070 s per epoch at
                            // 100,000 x 512.)
                            let x = buffer.x + part.lowerBound * d
                            for r in part { source.copyFeatureRow(ids[r], into: buffer.x + r * d, scratch: s.source) }
                            let finite = standardizer == nil || raw
                                ? NPYArray.firstNonFinite(UnsafeBufferPointer(start: x, count: part.count * d)) == nil
                                : standardizeRows(Rows(base: x, stride: d), 0..<part.count, d: d, mean: mean.baseAddress!,
                                                  scale: scale.baseAddress!, into: x, ld: d)
                            guard !finite, let i = NPYArray.firstNonFinite(UnsafeBufferPointer(start: x, count: part.count * d))
                            else { return nil }
                            let bad = part.lowerBound + i / d
                            failed[task] = (bad, source.featureError(row: ids[bad], column: i % d, scratch: s.source))
                            return bad
                        }
                        // Fills rows `part`; false when one of them is bad (its error recorded).
                        func fill(_ part: Range<Int>) -> Bool {
                            var end = part.upperBound
                            if let (base, at) = offsets {
                                source.featureOffsets(ids, part, from: base, into: at)
                            } else if let bad = copyFeatures(part) {
                                end = bad
                            }
                            guard source.hasTargets else { return end == part.upperBound }
                            if let cache {
                                for r in part.lowerBound..<end { cache.copy(row: ids[r], into: buffer, slot: r) }
                                return end == part.upperBound
                            }
                            // The rows' first target values loaded together first: their cache misses overlap.
                            s.sink = source.touchTargets(ids, part)
                            // Rows after a bad feature row are not needed: that row's error is the part's first.
                            for r in part.lowerBound..<end {
                                let row = ids[r]
                                do {
                                    try source.targetRow(row, t: s.t, z: logits ? s.z : nil, hard: hardGiven ? s.hard : nil,
                                                         scratch: s.source, stats: &stats)
                                } catch {
                                    failed[task] = (r, error)
                                    return false
                                }
                                preparer.prepare(base: s.t, logits: logits ? s.z : nil, hardGiven: hardGiven ? s.hard[0] : nil,
                                                 into: buffer, slot: r, scratch: &s.double, logq: &s.logq)
                            }
                            return end == part.upperBound
                        }
                        // The rows of each batch that the batch step's task of the same number will read first, so they
                        // are already in that core's cache (`BatchStep.rows(task:of:batch:)`); or consecutive rows.
                        if let batch, tasks == parallel.threads {
                            var b0 = 0
                            while b0 < m {
                                let rows = BatchStep.rows(task: task, of: tasks, batch: min(batch, m - b0))
                                if !fill((b0 + rows.lowerBound)..<(b0 + rows.upperBound)) { return }
                                b0 += batch
                            }
                        } else {
                            _ = fill(Parallel.part(task, of: tasks, count: m))
                        }
                    }
                }
            }
        }
        try source.checkMappings()
        if let (_, e) = failures.compactMap({ $0 }).min(by: { $0.0 < $1.0 }) { throw e }
    }
}
