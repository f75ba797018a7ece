import Foundation

/// An NPY data set (one file or shards per array) read a block of rows at a time instead of all at once:
/// what `train`, `eval`, `predict` and `inspect` use when the data does not fit the memory budget.
///
/// The rows come out exactly as `NPYReader` would give them (features widened to Float, labels normalised
/// the same way, one-hot class indices, softmax of teacher logits in Double), in the column order asked for
/// and with the classes in the order asked for, and every value is checked on every read: bad input names
/// the shard, its row and the column, and a file that changes while it is read (shorter, rewritten) is an
/// error, never a crash. Reads are positioned (`pread`), so any number of threads may read at once.
public final class StreamingSource: @unchecked Sendable {
    // @unchecked Sendable: every stored property is set in init and never changed; reads are positioned.

    /// What the targets are made of.
    enum Targets: Equatable {
        case none
        /// (n, k) probabilities or counts, each row normalised.
        case probabilities
        /// (n,) class indices: one-hot targets.
        case indices
        /// (n, k) teacher logits: targets softmax(z) (T = 1); with `hardIndices`, (n,) hard classes beside them.
        case logits(hardIndices: Bool)
    }

    let features: NPYShards
    let labels: NPYShards?
    let logits: NPYShards?
    let targets: Targets
    public let featureNames: [String]  // (d) in the order rows come out
    public let classNames: [String]    // (k)
    public let rows: Int
    public var featureCount: Int { featureNames.count }
    public var classCount: Int { classNames.count }
    public var hasTargets: Bool { targets != .none }
    /// Output feature column j is stored column `columns[j]` (nil: as stored).
    let columns: [Int]?
    /// Target (or logit) column c is stored column `classColumns[c]` (nil: as stored).
    let classColumns: [Int]?
    /// Class index i (an NPY `(rows,)` label) → its target column; -1 when the index names no class of ours.
    let indexColumn: [Int]
    /// The class names class indices refer to ("0", "1", ... or `--classes`), for messages.
    let indexNames: [String]
    let namesFile: String?
    let classesOf: String
    /// Stored feature names (for messages about stored columns).
    let storedNames: [String]

    /// The name of the data in messages: the features file or pattern.
    public var name: String { features.path }
    /// Bytes of every file read per pass (features, labels, logits), as stored.
    public var bytesPerPass: Int { features.dataBytes + (labels?.dataBytes ?? 0) + (logits?.dataBytes ?? 0) }
    /// Bytes of every file (headers included), for read rates.
    public var fileBytes: Int { [features, labels, logits].compactMap { $0 }.reduce(0) { $0 + $1.arrays.reduce(0) { $0 + $1.input.size } } }
    /// Whether the features are float16 (or another type narrower or wider than float32).
    public var featureTypes: [String] { Array(Set(features.arrays.map(\.descr))).sorted() }

    /// Opens and checks the files of `source` (shapes, names, classes) without reading their data (but for
    /// `(rows,)` class indices without `--classes`, whose largest value names the classes).
    /// - Parameters:
    ///   - classes, classesOf, labels: as for `NPYReader.read`.
    ///   - featureOrder: the feature names the rows must come out in (a model's, or an --init model's):
    ///     matched by name, extra stored columns skipped; nil: as stored.
    ///   - featuresOf: whose feature names `featureOrder` are, for the error naming missing ones.
    public init(_ source: NPYSource, classes modelClasses: [String]? = nil, classesOf: String = "the model",
                labels mode: LabelMode = .required, featureOrder: [String]? = nil,
                featuresOf: String = "the model") throws {
        let storedNames = try source.featureNamesFile.map { try NameList.read($0, what: "feature") }
        let classNames = try source.classesFile.map { try NameList.read($0, what: "class", atMost: DataLimits.maxClasses, why: ", the most softlabel supports") }
        let x = try NPYShards(spec: source.features, flag: "--features")
        guard x.shape.count == 2 else {
            throw DataError(file: x.path, "has shape \(x.shapeText), expected 2-D features (rows, features)")
        }
        let n = x.rowCount, d = x.columnCount
        if n == 0 { throw DataError(file: x.path, "has shape \(x.shapeText): no rows") }
        if d == 0 { throw DataError(file: x.path, "has shape \(x.shapeText): no feature columns") }
        if let storedNames, storedNames.count != d {
            throw DataError(file: source.featureNamesFile!, "names \(storedNames.count) features, but \(x.path) has \(d) columns")
        }
        let stored = storedNames ?? (0..<d).map { "f\($0)" }
        self.features = x
        self.rows = n
        self.storedNames = stored
        self.namesFile = source.classesFile
        self.classesOf = classesOf
        if let featureOrder, featureOrder != stored {
            let position = Dictionary(stored.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            let missing = featureOrder.filter { position[$0] == nil }
            if !missing.isEmpty {
                let shown = missing.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
                throw DataError(file: x.path, "missing \(missing.count) feature column(s) of \(featuresOf): \(shown)" +
                                (missing.count > 10 ? ", ..." : "") +
                                (source.featureNamesFile == nil ? " (NPY features are named f0, f1, ... unless --feature-names FILE is given)" : ""))
            }
            columns = featureOrder.map { position[$0]! }
            featureNames = featureOrder
        } else {
            columns = nil
            featureNames = stored
        }

        var y: NPYShards?
        if mode != .ignored, let path = source.labels {
            let shards = try NPYShards(spec: path, flag: "--labels")
            if shards.shape.isEmpty || shards.shape.count > 2 {
                throw DataError(file: shards.path, "has shape \(shards.shapeText), expected (rows, classes) or (rows,) class indices")
            }
            try NPYReader.checkRows(shards, against: x)
            y = shards
        } else if mode == .required && source.teacherLogits == nil {
            throw DataError(file: source.features, "has no labels file, expected one (rows, classes) or (rows,) array")
        }

        func reorder(_ names: [String], file: String, what: String) throws -> ([String], [Int]?) {
            guard let modelClasses else { return (names, nil) }
            guard Set(modelClasses) == Set(names), modelClasses.count == names.count else {
                throw DataError(file: file, "\(what) classes \(Self.list(names)) differ from \(classesOf)'s \(Self.list(modelClasses))" +
                                (source.classesFile == nil ? " (name them with --classes FILE)" : ""))
            }
            let position = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            return (modelClasses, modelClasses.map { position[$0]! })
        }

        if mode != .ignored, let spec = source.teacherLogits {
            let z = try NPYShards(spec: spec, flag: "--teacher-logits")
            guard z.shape.count == 2 else {
                throw DataError(file: z.path, "has shape \(z.shapeText), expected 2-D teacher logits (rows, classes)")
            }
            if z.rowCount != n { throw DataError(file: z.path, "has \(z.rowCount) rows, but the features file \(source.features) has \(n)") }
            let k = z.columnCount
            if let classNames, classNames.count != k {
                throw DataError(file: source.classesFile!, "names \(classNames.count) classes, but \(z.path) has \(k) logit columns")
            }
            if modelClasses == nil && k < 2 { throw DataError(file: z.path, "has shape \(z.shapeText): \(k) class(es), expected at least two") }
            if let y, y.shape.count != 1 {
                throw DataError(file: y.path, "has shape \(y.shapeText); with --teacher-logits the labels are (rows,) " +
                                "hard class indices (for --hard-weight), not a second set of soft targets")
            }
            let teacher = classNames ?? (0..<k).map(String.init)
            (self.classNames, classColumns) = try reorder(teacher, file: z.path, what: "teacher")
            logits = z
            labels = y
            targets = .logits(hardIndices: y != nil)
            indexNames = teacher
            let position = Dictionary(uniqueKeysWithValues: self.classNames.enumerated().map { ($1, $0) })
            indexColumn = teacher.map { position[$0]! }
            return
        }
        logits = nil
        labels = y
        guard let y else {
            targets = .none
            self.classNames = []
            classColumns = nil
            indexColumn = []
            indexNames = []
            return
        }
        if y.shape.count == 2 {
            let k = y.columnCount
            if let classNames, classNames.count != k {
                throw DataError(file: source.classesFile!, "names \(classNames.count) classes, but \(y.path) has \(k) label columns")
            }
            if modelClasses == nil && k < 2 {
                throw DataError(file: y.path, "has shape \(y.shapeText): \(k) class(es), expected at least two")
            }
            (self.classNames, classColumns) = try reorder(classNames ?? (0..<k).map(String.init), file: y.path, what: "label")
            targets = .probabilities
            indexColumn = []
            indexNames = []
            return
        }
        // Class indices: named by --classes, else "0" ... the largest index (one pass over the labels alone).
        var names = classNames
        if names == nil {
            var largest = 0
            try y.forEachChunk { first, values in
                for (o, v) in values.enumerated() {
                    if let problem = ClassIndex.problem(v, names: nil, namesFile: nil) { throw y.error(row: first + o, problem) }
                    largest = max(largest, Int(v))
                }
            }
            names = (0...largest).map(String.init)
        }
        let indexNames = names!
        var classes = indexNames
        if let modelClasses {
            classes = modelClasses
        } else if indexNames.count < 2 {
            throw DataError(file: y.path, "only one class ('\(indexNames[0])'), expected at least two")
        }
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        self.classNames = classes
        self.indexNames = indexNames
        indexColumn = indexNames.map { position[$0] ?? -1 }
        classColumns = nil
        targets = .indices
    }

    /// Rows, features and classes of `source` from the NPY headers alone, what the memory decision needs
    /// (`MemoryBudget.need`). The classes of `(rows,)` class indices are the --classes file's lines, else 2.
    public static func dimensions(_ source: NPYSource) throws -> (rows: Int, features: Int, classes: Int) {
        let x = try NPYShards(spec: source.features, flag: "--features")
        var k = 0
        if let spec = source.teacherLogits ?? source.labels {
            let y = try NPYShards(spec: spec, flag: source.teacherLogits != nil ? "--teacher-logits" : "--labels")
            k = y.shape.count == 2 ? y.columnCount : try source.classesFile.map { try NameList.read($0, what: "class", atMost: DataLimits.maxClasses, why: ", the most softlabel supports").count } ?? 2
        }
        return (x.rowCount, x.shape.count == 2 ? x.columnCount : 1, k)
    }

    /// Per-thread space for `read`.
    final class Scratch: @unchecked Sendable {
        // @unchecked Sendable: used by one thread at a time.
        let raw: UnsafeMutableRawPointer      // stored bytes of one read
        let values: UnsafeMutablePointer<Float>  // (rows, max(d, k)) values before reordering
        let indices: UnsafeMutablePointer<Double>  // (rows) class indices
        var double: [Double]
        var logq: [Double]
        let capacity: Int

        init(source: StreamingSource, rows: Int) {
            capacity = rows
            let arrays = [source.features] + [source.labels, source.logits].compactMap { $0 }
            raw = .allocate(byteCount: max(arrays.map { $0.scratchBytes(rows: rows) }.max()!, 16), alignment: 64)
            let width = max(source.features.columnCount, source.labels?.columnCount ?? 0, source.logits?.columnCount ?? 0)
            values = .allocate(capacity: rows * width)
            indices = .allocate(capacity: rows)
            double = [Double](repeating: 0, count: max(source.classCount, 1))
            logq = double
        }

        deinit {
            raw.deallocate()
            values.deallocate()
            indices.deallocate()
        }
    }

    /// Reads rows `rows` (at most the scratch's capacity):
    /// - `x` (m, d): the features in `featureNames` order, every one finite;
    /// - `t` (m, k): the targets at T = 1 in `classNames` order (normalised labels, one-hot, or softmax(z));
    /// - `z` (m, k): the teacher's logits, when the targets are logits (and `z` is given);
    /// - `hard` (m): the hard class given beside teacher logits (when given), else untouched.
    /// Label rows that do not sum to 1 are counted in `stats`. Errors name the shard, its row and the column.
    func read(_ rows: Range<Int>, x: UnsafeMutablePointer<Float>?, t: UnsafeMutablePointer<Float>?,
              z: UnsafeMutablePointer<Float>? = nil, hard: UnsafeMutablePointer<Int32>? = nil,
              scratch: Scratch, stats: inout LabelSumStats) throws {
        let m = rows.count
        precondition(m <= scratch.capacity)
        if let x { try readFeatures(rows, into: x, scratch: scratch) }
        guard let t, targets != .none else { return }
        let k = classCount
        switch targets {
        case .none: break
        case .probabilities:
            let y = labels!, stored = y.columnCount
            try y.readRows(rows, into: scratch.values, scratch: scratch.raw)
            for r in 0..<m {
                try labelRow(scratch.values + r * stored, row: rows.lowerBound + r, into: t + r * k, stats: &stats)
            }
        case .indices:
            try labels!.readDoubles(rows, into: scratch.indices, scratch: scratch.raw)
            for r in 0..<m { oneHot(try classColumn(scratch.indices[r], row: rows.lowerBound + r), into: t + r * k) }
        case .logits(let hardIndices):
            try logits!.readRows(rows, into: scratch.values, scratch: scratch.raw)
            for r in 0..<m {
                try logitRow(scratch.values + r * logits!.columnCount, row: rows.lowerBound + r, z: (z ?? t) + r * k,
                             t: t + r * k, scratch: scratch)
            }
            if hardIndices, let hard {
                try labels!.readDoubles(rows, into: scratch.indices, scratch: scratch.raw)
                for r in 0..<m { hard[r] = Int32(try classColumn(scratch.indices[r], row: rows.lowerBound + r)) }
            }
        }
    }

    /// Soft labels of global row `row` from its stored values `src` (stored class order; overwritten): checked,
    /// -0 made 0, normalised in the stored order as `NPYReader` does, then put in `classNames` order into `t`.
    @inline(__always)
    func labelRow(_ src: UnsafeMutablePointer<Float>, row: Int, into t: UnsafeMutablePointer<Float>,
                          stats: inout LabelSumStats) throws {
        let k = classCount
        for c in 0..<k {
            let s = classColumns?[c] ?? c, v = src[s]
            if v.isNaN { throw labels!.error(row: row, column: classNames[c], "NaN, expected a probability or count") }
            if v.isInfinite { throw labels!.error(row: row, column: classNames[c], "\(v), expected a finite number") }
            if v < 0 { throw labels!.error(row: row, column: classNames[c], "negative label value \(v)") }
            src[s] = v + 0  // + 0 turns -0.0 into 0, as the CSV reader does
        }
        if !LabelRow.normalise(src, k: k, row: row, stats: &stats) {
            throw labels!.error(row: row, "label values sum to 0, expected a distribution or counts")
        }
        for c in 0..<k { t[c] = src[classColumns?[c] ?? c] }
    }

    /// A teacher's logits of global row `row` from its stored values: checked finite, in `classNames` order
    /// into `z`, and their softmax (T = 1, in Double) into `t` (`z` and `t` may be the same row).
    @inline(__always)
    func logitRow(_ src: UnsafePointer<Float>, row: Int, z: UnsafeMutablePointer<Float>, t: UnsafeMutablePointer<Float>,
                          scratch: Scratch) throws {
        let k = classCount
        for c in 0..<k {
            let v = src[classColumns?[c] ?? c]
            if !v.isFinite {
                throw logits!.error(row: row, column: classNames[c], v.isNaN
                                    ? "NaN, expected a finite logit" : "infinite or too large for Float, expected a finite logit")
            }
            z[c] = v
        }
        Softmax.row(z, k: k, temperature: 1, into: t, scratch: &scratch.double, logq: &scratch.logq)
    }

    @inline(__always)
    func oneHot(_ column: Int, into t: UnsafeMutablePointer<Float>) {
        for c in 0..<classCount { t[c] = 0 }
        t[column] = 1
    }

    /// The target column of class index `v` of global row `row`, every index checked.
    @inline(__always)
    func classColumn(_ v: Double, row: Int) throws -> Int {
        let y = labels!
        if let problem = ClassIndex.problem(v, names: namesFile == nil ? nil : indexNames, namesFile: namesFile) {
            throw y.error(row: row, problem)
        }
        let i = Int(v)
        guard i < indexColumn.count, indexColumn[i] >= 0 else {
            if i >= indexNames.count {
                throw y.error(row: row, "class index \(i), but the classes are 0...\(indexNames.count - 1) (name them with --classes FILE)")
            }
            throw y.error(row: row, "class '\(indexNames[i])' (index \(i)) is not one of \(classesOf)'s classes" +
                          (namesFile == nil ? " (name them with --classes FILE)" : ""))
        }
        return indexColumn[i]
    }

    /// The features of `rows` in output order, checked finite.
    private func readFeatures(_ rows: Range<Int>, into x: UnsafeMutablePointer<Float>, scratch: Scratch) throws {
        let m = rows.count, d = featureCount
        if let columns {
            let stored = features.columnCount
            try features.readRows(rows, into: scratch.values, scratch: scratch.raw)
            for r in 0..<m {
                let src = scratch.values + r * stored, dst = x + r * d
                for j in 0..<d { dst[j] = src[columns[j]] }
            }
        } else {
            try features.readRows(rows, into: x, scratch: scratch.raw)
        }
        if let i = NPYArray.firstNonFinite(UnsafeBufferPointer(start: x, count: m * d)) {
            throw features.error(row: rows.lowerBound + i / d, column: featureNames[i % d], x[i].isNaN
                                 ? "NaN, expected a finite number" : "infinite or too large for Float, expected a finite number")
        }
    }

    private static func list(_ names: [String]) -> String {
        "[" + names.prefix(6).map { "'\($0)'" }.joined(separator: ", ") + (names.count > 6 ? ", ..." : "") + "]"
    }
}
