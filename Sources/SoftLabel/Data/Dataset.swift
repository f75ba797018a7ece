/// Examples in memory: ids, a feature matrix and a target matrix whose rows are probability distributions.
public struct Dataset: Sendable {
    public var ids: [String]            // (n)
    public var featureNames: [String]   // (d)
    public var classNames: [String]     // (k)
    public var features: Matrix         // (n, d)
    public var targets: Matrix          // (n, k), each row sums to 1
    /// The teacher's logits z when the targets came from them (`logit:<class>` columns, `--teacher-logits`):
    /// `targets` is then softmax(z) (T = 1, what eval and validation compare with), and training at
    /// `--distill-temperature T` fits softmax(z / T). nil for label data.   (n, k)
    public var teacherLogits: Matrix?
    /// A hard class per example (its position in `classNames`) given beside teacher logits (a `label` column,
    /// `--labels` class indices), for `--hard-weight`; nil when none was given.   (n)
    public var hardLabels: [Int]?

    public init(ids: [String], featureNames: [String], classNames: [String], features: Matrix, targets: Matrix,
                teacherLogits: Matrix? = nil, hardLabels: [Int]? = nil) {
        precondition(features.rows == targets.rows && ids.count == features.rows)
        precondition(features.cols == featureNames.count && targets.cols == classNames.count)
        precondition(teacherLogits.map { $0.rows == targets.rows && $0.cols == targets.cols } ?? true)
        precondition(hardLabels.map { $0.count == targets.rows } ?? true)
        self.ids = ids
        self.featureNames = featureNames
        self.classNames = classNames
        self.features = features
        self.targets = targets
        self.teacherLogits = teacherLogits
        self.hardLabels = hardLabels
    }

    /// Examples whose targets are a teacher's logits z: targets softmax(z) (in Double, T = 1).
    public init(ids: [String], featureNames: [String], classNames: [String], features: Matrix, teacherLogits: Matrix,
                hardLabels: [Int]? = nil) {
        self.init(ids: ids, featureNames: featureNames, classNames: classNames, features: features,
                  targets: Softmax.rows(teacherLogits, temperature: 1), teacherLogits: teacherLogits, hardLabels: hardLabels)
    }

    public var count: Int { features.rows }
    public var featureCount: Int { features.cols }
    public var classCount: Int { targets.cols }

    /// The examples listed in `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        Dataset(ids: indices.map { ids[$0] }, featureNames: featureNames, classNames: classNames,
                features: features.gatherRows(indices), targets: targets.gatherRows(indices),
                teacherLogits: teacherLogits?.gatherRows(indices), hardLabels: hardLabels.map { h in indices.map { h[$0] } })
    }

    /// A seeded random split of the row numbers: `fraction` of the rows (at least one, leaving at least one)
    /// go to the second part; both parts ascending. (Training then reads its rows by index: no copy.)
    public func splitRows(fraction: Double, rng: inout SplitMix64) -> (train: [Int], validation: [Int]) {
        var order = Array(0..<count)
        rng.shuffle(&order)
        let m = min(max(Int((fraction * Double(count)).rounded()), 1), count - 1)
        return (Array(order[m...]).sorted(), Array(order[..<m]).sorted())
    }

    /// The same split as data sets (copies of the rows).
    public func split(fraction: Double, rng: inout SplitMix64) -> (train: Dataset, validation: Dataset) {
        let (train, validation) = splitRows(fraction: fraction, rng: &rng)
        return (subset(train), subset(validation))
    }

    /// A short fingerprint of the examples (sizes, names, and a hash of every feature and target value's
    /// bits), which a checkpoint keeps to recognise the data it was trained on.
    public var fingerprint: String {
        var h = Fingerprint()
        for names in [featureNames, classNames] { for name in names { h.add(name) } }
        features.values.withUnsafeBytes { h.add($0) }
        targets.values.withUnsafeBytes { h.add($0) }
        return "\(count)x\(featureCount), \(classCount) classes, hash \(h.hex)"
    }

    /// Reorders the target columns to `order` (class names); nil when the sets differ.
    public func withClassOrder(_ order: [String]) -> Dataset? {
        guard Set(order) == Set(classNames), order.count == classNames.count else { return nil }
        let position = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
        let cols = order.map { position[$0]! }
        func reordered(_ m: Matrix) -> Matrix {
            var t = Matrix(rows: count, cols: cols.count)
            for i in 0..<count { for (c, src) in cols.enumerated() { t[i, c] = m[i, src] } }
            return t
        }
        let newPosition = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        var out = self
        out.classNames = order
        out.targets = reordered(targets)
        out.teacherLogits = teacherLogits.map(reordered)
        out.hardLabels = hardLabels?.map { newPosition[classNames[$0]]! }
        return out
    }

    /// The feature matrix with its columns in `names` order, matched by name. Extra columns are dropped (their
    /// names are returned so the caller can say so); missing ones are an error naming them.
    /// `namesOf` says whose feature names they are in the error ("the model", "the training data").
    public func features(orderedAs names: [String], of namesOf: String = "the model", file: String) throws
        -> (features: Matrix, ignored: [String]) {
        if featureNames == names { return (features, []) }
        let position = Dictionary(featureNames.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let missing = names.filter { position[$0] == nil }
        if !missing.isEmpty {
            let shown = missing.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
            throw DataError(file: file, line: 1, "missing \(missing.count) feature column(s) of \(namesOf): \(shown)" +
                            (missing.count > 10 ? ", ..." : ""))
        }
        let used = Set(names)
        let ignored = featureNames.filter { !used.contains($0) }
        let cols = names.map { position[$0]! }
        var x = Matrix(rows: count, cols: cols.count)
        for i in 0..<count { for (j, c) in cols.enumerated() { x[i, j] = features[i, c] } }
        return (x, ignored)
    }
}

/// A 64-bit hash of bytes (four interleaved multiply-xorshift lanes, so 200 MB take a few tenths of a second):
/// good at telling data sets apart, not a cryptographic digest.
struct Fingerprint {
    private var lanes: (UInt64, UInt64, UInt64, UInt64) = (0x243F_6A88_85A3_08D3, 0x1319_8A2E_0370_7344,
                                                           0xA409_3822_299F_31D0, 0x082E_FA98_EC4E_6C89)

    mutating func add(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.append(0)
        bytes.withUnsafeBytes { add($0) }
    }

    mutating func add(_ raw: UnsafeRawBufferPointer) {
        @inline(__always) func mix(_ h: UInt64, _ w: UInt64) -> UInt64 {
            var x = (h ^ w) &* 0x9E37_79B9_7F4A_7C15
            x ^= x >> 29
            return x
        }
        let words = raw.count / 8
        var i = 0
        var (a, b, c, d) = lanes
        while i + 4 <= words {
            a = mix(a, raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
            b = mix(b, raw.loadUnaligned(fromByteOffset: 8 * i + 8, as: UInt64.self))
            c = mix(c, raw.loadUnaligned(fromByteOffset: 8 * i + 16, as: UInt64.self))
            d = mix(d, raw.loadUnaligned(fromByteOffset: 8 * i + 24, as: UInt64.self))
            i += 4
        }
        var tail: UInt64 = UInt64(raw.count)
        for j in (8 * i)..<raw.count { tail = mix(tail, UInt64(raw[j])) }
        lanes = (mix(a, tail), b, c, d)
    }

    var hex: String {
        let (a, b, c, d) = lanes
        var x = a ^ (b &* 3) ^ (c &* 5) ^ (d &* 7)
        x = (x ^ (x >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        return String(x, radix: 16)
    }
}
