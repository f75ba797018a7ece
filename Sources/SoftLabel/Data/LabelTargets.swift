/// Label rows that look like probabilities (not all integers) but do not sum to 1 within 1e-3: how many,
/// and the one farthest from 1 (the first such row on ties).
struct LabelSumStats: Sendable {
    var offRows = 0
    var worstSum = 1.0
    var worstRow = Int.max

    mutating func merge(_ o: LabelSumStats) {
        offRows += o.offRows
        let a = abs(worstSum - 1), b = abs(o.worstSum - 1)
        if b > a || (b == a && o.worstRow < worstRow) {
            worstSum = o.worstSum
            worstRow = o.worstRow
        }
    }

    /// The one warning for the whole file, if any row was off.
    func warning(file: String) -> String? {
        guard offRows > 0 else { return nil }
        return "\(file): \(offRows) label row(s) are probabilities that do not sum to 1 (worst sum \(worstSum)); normalised"
    }
}

enum LabelRow {
    /// Normalises one label row in place: t_c ← t_c / Σ_c t_c, the sum taken in Double in class order.
    /// Counts (all integers) and rows within 1e-3 of 1 pass silently; other rows are counted in `stats`.
    /// Returns false when the row sums to 0 (nothing to normalise).
    @inline(__always)
    static func normalise(_ t: UnsafeMutablePointer<Float>, k: Int, row: Int, stats: inout LabelSumStats) -> Bool {
        var sum = 0.0
        var integral = true
        for c in 0..<k {
            let v = t[c]
            sum += Double(v)
            if v != v.rounded() { integral = false }
        }
        if sum == 0 { return false }
        if !integral && abs(sum - 1) > 1e-3 {
            stats.offRows += 1
            if abs(sum - 1) > abs(stats.worstSum - 1) {
                stats.worstSum = sum
                stats.worstRow = row
            }
        }
        for c in 0..<k { t[c] = Float(Double(t[c]) / sum) }
        return true
    }
}

/// Class names met in a hard `label` column, numbered in order of first sight (per worker thread).
struct ClassTable {
    /// The most workers whose codes fit in an Int32 (21,474: workers 0...21,473).
    static let maxWorkers = Int(Int32.max) / DataLimits.maxClasses

    /// A row's class as one Int32: worker w's local number c (c < maxClasses) is w · maxClasses + c.
    /// (A bit field `w << 24 | c` overflowed from worker 128 on: --threads 200 crashed.)
    @inline(__always)
    static func code(worker: Int32, local: Int32) -> Int32 { worker * Int32(DataLimits.maxClasses) + local }

    private(set) var names: [String] = []
    private var spelled: [[UInt8]] = []
    private var lookup: [String: Int32] = [:]

    /// The number of the class spelled by `bytes`; nil when they are not valid UTF-8 text.
    mutating func index(of bytes: UnsafeBufferPointer<UInt8>) -> Int32? {
        // Few classes is the common case: compare bytes and make no String.
        if names.count <= 64 {
            for (i, s) in spelled.enumerated() where s.count == bytes.count && s.elementsEqual(bytes) { return Int32(i) }
        }
        guard !bytes.contains(0), let name = String(validating: bytes, as: UTF8.self) else { return nil }
        if let i = lookup[name] { return i }
        let i = Int32(names.count)
        names.append(name)
        spelled.append(Array(bytes))
        lookup[name] = i
        return i
    }
}

/// One-hot targets (n, k) from per-row class numbers, given each worker's numbering and the final class order.
/// `codes[i]` is `ClassTable.code(worker:local:)`.
func oneHotTargets(codes: [Int32], tables: [ClassTable], classes: [String]) -> Matrix {
    let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
    let remap = tables.map { t in t.names.map { position[$0]! } }
    var targets = Matrix(rows: codes.count, cols: classes.count)
    let k = classes.count
    targets.values.withUnsafeMutableBufferPointer { t in
        for (i, code) in codes.enumerated() {
            let (worker, local) = Int(code).quotientAndRemainder(dividingBy: DataLimits.maxClasses)
            t[i * k + remap[worker][local]] = 1
        }
    }
    return targets
}
