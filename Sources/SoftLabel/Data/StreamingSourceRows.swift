import Foundation

// Rows of a streaming source where they lie in the mapped files, for training: one row at a time, in any
// order (the streamed gather), with the checks that the files have not changed under the mapping. The
// chunked, in-order reads of predict, eval and inspect are in StreamingSource.swift.
extension StreamingSource {
    /// Maps every file into memory for `featureRow`/`targetRow` (once; not while other threads read).
    func mapFiles() throws {
        for shards in [features, labels, logits].compactMap({ $0 }) { try shards.map() }
    }

    /// The features of global row `row` in `featureNames` order: a pointer into the mapped file itself when
    /// it stores little-endian float32 in C order and every column is used in order (no copy), else the row
    /// converted into `scratch`. Not checked here (the gathered batch is).
    @inline(__always)
    func featureRow(_ row: Int, scratch: Scratch) -> UnsafePointer<Float> {
        let (s, local) = features.locate(row)
        if columns == nil, let p = features.floatRow(s, local) { return p }
        let stored = features.columnCount
        let space = scratch.values
        features.convertRow(s, local, into: space)
        guard let columns else { return UnsafePointer(space) }
        let out = space + stored
        for j in 0..<featureCount { out[j] = space[columns[j]] }
        return UnsafePointer(out)
    }

    /// The address of row 0's features when every row can be read where it lies (every column used, each
    /// shard little-endian float32 in C order): rows are then found by `featureOffsets` from it; else nil.
    /// (The files must be mapped.)
    func featureBase() -> UnsafePointer<Float>? {
        guard columns == nil else { return nil }
        var base: UnsafePointer<Float>?
        for s in features.arrays.indices where features.arrays[s].rowCount > 0 {
            guard let p = features.floatRow(s, 0) else { return nil }
            if base == nil { base = p }
        }
        return base
    }

    /// at[r] = where row ids[r]'s features lie, in Floats from `base` (`featureBase()`; any shard), for r in
    /// `part`: each shard's row 0 placed once, not per row (a shard's array description copied per row took
    /// about 5% of a streamed 512 -> 10 epoch's CPU time).
    func featureOffsets(_ ids: UnsafeBufferPointer<Int>, _ part: Range<Int>, from base: UnsafePointer<Float>,
                        into at: UnsafeMutablePointer<Int>) {
        let d = featureCount
        let zeros = features.arrays.indices.map { s in
            features.arrays[s].rowCount > 0 ? base.distance(to: features.floatRow(s, 0)!) : 0
        }
        for r in part {
            let (s, local) = features.locate(ids[r])
            at[r] = zeros[s] &+ local &* d
        }
    }

    /// Copies the features of global row `row` (as `featureRow` gives them) to `dst`: straight from the mapped
    /// file, or converted into `dst` itself (float16 widened there: no second copy), or through `scratch` when
    /// only some columns are used. Not checked here.
    @inline(__always)
    func copyFeatureRow(_ row: Int, into dst: UnsafeMutablePointer<Float>, scratch: Scratch) {
        let (s, local) = features.locate(row)
        if columns == nil {
            if let p = features.floatRow(s, local) { dst.update(from: p, count: featureCount) } else { features.convertRow(s, local, into: dst) }
            return
        }
        dst.update(from: featureRow(row, scratch: scratch), count: featureCount)
    }

    /// The targets of global row `row` from the mapped files, as `read` makes them (one row of t, z, hard).
    @inline(__always)
    func targetRow(_ row: Int, t: UnsafeMutablePointer<Float>, z: UnsafeMutablePointer<Float>?,
                   hard: UnsafeMutablePointer<Int32>?, scratch: Scratch, stats: inout LabelSumStats) throws {
        switch targets {
        case .none: break
        case .probabilities:
            let (s, local) = labels!.locate(row)
            if let p = labels!.floatRow(s, local) {
                for c in 0..<classCount { scratch.values[c] = p[c] }  // a copy: labelRow normalises in place
            } else {
                labels!.convertRow(s, local, into: scratch.values)
            }
            try labelRow(scratch.values, row: row, into: t, stats: &stats)
        case .indices:
            let (s, local) = labels!.locate(row)
            oneHot(try classColumn(labels!.doubleValue(s, local), row: row), into: t)
        case .logits(let hardIndices):
            let (s, local) = logits!.locate(row)
            logits!.convertRow(s, local, into: scratch.values)
            try logitRow(scratch.values, row: row, z: z ?? t, t: t, scratch: scratch)
            if hardIndices, let hard {
                let (s, local) = labels!.locate(row)
                hard.pointee = Int32(try classColumn(labels!.doubleValue(s, local), row: row))
            }
        }
    }

    /// Loads the first stored target value of each row `ids[r]`, r in `part`, one independent load after
    /// another (their cache misses overlap), so the row-by-row preparation that follows finds them in cache.
    @inline(__always)
    func touchTargets(_ ids: UnsafeBufferPointer<Int>, _ part: Range<Int>) -> Float {
        guard let shards = logits ?? labels, let first = shards.arrays.first, first.isNativeFloat32 else { return 0 }
        var sum: Float = 0
        for r in part {
            let (s, local) = shards.locate(ids[r])
            if let p = shards.floatRow(s, local) { sum += p[0] }
        }
        return sum
    }

    /// Throws when a mapped file was cut short under a read (`MappedFile`), naming it.
    func checkMappings() throws {
        guard MappingGuard.anyFault else { return }
        for shards in [features, labels, logits].compactMap({ $0 }) { try shards.checkMappings() }
    }

    /// Throws when a file holding rows `rows` changed since it was opened.
    func checkFiles(_ rows: Range<Int>) throws {
        for shards in [features, labels, logits].compactMap({ $0 }) { try shards.checkFiles(rows) }
    }

    /// The error for the non-finite standardised feature `column` of global row `row`.
    func featureError(row: Int, column j: Int, scratch: Scratch) -> DataError {
        let v = featureRow(row, scratch: scratch)[j]
        return features.error(row: row, column: featureNames[j], v.isNaN ? "NaN, expected a finite number"
                              : v.isInfinite ? "infinite or too large for Float, expected a finite number"
                              : "\(v) overflows Float once standardised, expected a smaller number")
    }

    /// Rows `rows` are needed soon (`willNeed`: start reading them into the page cache) or no longer
    /// (drop them from this process's page tables; the page cache keeps them as memory allows).
    func advise(_ rows: Range<Int>, willNeed: Bool) {
        for shards in [features, labels, logits].compactMap({ $0 }) { shards.advise(rows, willNeed: willNeed) }
    }

    /// Reads one byte of every page holding rows `rows` (on the read-ahead thread: the disk reads happen there,
    /// not in the trainer); returns a checksum so the reads are not optimised away.
    func touch(_ rows: Range<Int>) -> UInt8 {
        var sum: UInt8 = 0
        for shards in [features, labels, logits].compactMap({ $0 }) { sum &+= shards.touch(rows) }
        return sum
    }
}
