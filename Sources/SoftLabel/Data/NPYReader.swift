import Foundation

/// The NPY form of a dataset: a features array, optionally a labels array, and text files of names.
public struct NPYSource: Sendable, Equatable {
    public var features: String          // (n, d) array
    public var labels: String?           // (n, k) probabilities or counts, or (n) integer class indices
    public var classesFile: String?      // one class name per line; default "0", "1", ...
    public var featureNamesFile: String? // one feature name per line; default "f0", "f1", ...
    /// (n, k) a teacher's logits as the targets (`labels` may then give (n) hard class indices)
    public var teacherLogits: String?

    public init(features: String, labels: String? = nil, classesFile: String? = nil, featureNamesFile: String? = nil,
                teacherLogits: String? = nil) {
        self.features = features
        self.labels = labels
        self.classesFile = classesFile
        self.featureNamesFile = featureNamesFile
        self.teacherLogits = teacherLogits
    }
}

/// Reads datasets stored as NPY arrays (numpy's `np.save`): formats 1.0-3.0; float32/float64, integer and
/// bool dtypes in either byte order; C or Fortran order. Little-endian float32 in C order (what
/// `np.save(X.astype(np.float32))` writes) is read straight into the final buffer; other types are
/// converted chunk by chunk, never as a second full copy. Ids are the 1-based row numbers, as for a CSV
/// file without an id column, so the same data in both forms gives the same `Dataset`.
public enum NPYReader {
    /// `classes`/`classesOf`: the classes the labels must have, and whose they are (see `CSVReader.read`).
    public static func read(_ source: NPYSource, classes modelClasses: [String]? = nil, classesOf: String = "the model",
                            labels mode: LabelMode = .required) throws -> LoadedData {
        let classNames = try source.classesFile.map {
            try NameList.read($0, what: "class", atMost: DataLimits.maxClasses, why: ", the most softlabel supports")
        }
        let x = try NPYShards(spec: source.features, flag: "--features")
        guard x.shape.count == 2 else {
            throw DataError(file: x.path, "has shape \(x.shapeText), expected 2-D features (rows, features)")
        }
        let n = x.shape[0], d = x.shape[1]
        if n == 0 { throw DataError(file: x.path, "has shape \(x.shapeText): no rows") }
        if d == 0 { throw DataError(file: x.path, "has shape \(x.shapeText): no feature columns") }
        let featureNames = try source.featureNamesFile.map {
            try NameList.read($0, what: "feature", atMost: d, why: ", but \(x.path) has \(d) columns")
        }
        if let featureNames, featureNames.count != d {
            throw DataError(file: source.featureNamesFile!,
                            "names \(featureNames.count) features, but \(x.path) has \(d) columns")
        }
        let names = featureNames ?? (0..<d).map { "f\($0)" }

        var labelArray: NPYShards?
        if mode != .ignored, let path = source.labels {
            let y = try NPYShards(spec: path, flag: "--labels")
            if y.shape.isEmpty || y.shape.count > 2 {
                throw DataError(file: y.path, "has shape \(y.shapeText), expected (rows, classes) or (rows,) class indices")
            }
            try checkRows(y, against: x)
            labelArray = y
        } else if mode == .required && source.teacherLogits == nil {
            throw DataError(file: source.features, "has no labels file, expected one (rows, classes) or (rows,) array")
        }

        var firstBad: (index: Int, value: Float)?
        let features = try [Float](unsafeUninitializedCapacity: n * d) { buf, count in
            count = n * d
            adviseHugePages(buf)
            try x.readFloats(into: buf.baseAddress!)
            if let i = NPYArray.firstNonFinite(UnsafeBufferPointer(buf), parallel: Parallel(threads: Parallel.allCores)) {
                firstBad = (i, buf[i])
            }
        }
        if let (i, v) = firstBad {
            throw x.error(row: i / d, column: names[i % d],
                          v.isNaN ? "NaN, expected a finite number" : "infinite or too large for Float, expected a finite number")
        }

        if mode != .ignored, let path = source.teacherLogits {
            let ds = try distillationData(source, logits: path, hard: labelArray, ids: (0..<n).map { String($0) },
                                          featureNames: names, features: Matrix(rows: n, cols: d, values: features),
                                          classNames: classNames, model: modelClasses, modelName: classesOf)
            return LoadedData(dataset: ds, warnings: [])
        }
        var targets = Matrix(rows: n, cols: 0)
        var classes: [String] = []
        var warnings: [String] = []
        if let y = labelArray {
            if y.shape.count == 2 {
                (targets, classes, warnings) = try probabilities(y, names: classNames, namesFile: source.classesFile,
                                                                 model: modelClasses, modelName: classesOf)
            } else {
                (targets, classes) = try indices(y, names: classNames, namesFile: source.classesFile, model: modelClasses,
                                                modelName: classesOf)
            }
        }
        // Ids are the 0-based row numbers, the numbering NPY errors use (and numpy's own X[i]).
        let ds = Dataset(ids: (0..<n).map { String($0) }, featureNames: names, classNames: classes,
                         features: Matrix(rows: n, cols: d, values: features), targets: targets)
        return LoadedData(dataset: ds, warnings: warnings)
    }

    /// (n, k) probabilities or counts, each row normalised to sum 1 (as CSV `label:<class>` columns).
    private static func probabilities(_ y: NPYShards, names: [String]?, namesFile: String?,
                                      model: [String]?, modelName: String) throws -> (Matrix, [String], [String]) {
        let n = y.shape[0], k = y.shape[1]
        if let names, names.count != k {
            throw DataError(file: namesFile!, "names \(names.count) classes, but \(y.path) has \(k) label columns")
        }
        if k > DataLimits.maxClasses {
            throw DataError(file: y.path, "has shape \(y.shapeText): \(k) label columns, \(DataLimits.classLimitText)")
        }
        var classes = names ?? (0..<k).map(String.init)
        if model == nil && k < 2 {
            throw DataError(file: y.path, "has shape \(y.shapeText): \(k) class(es), expected at least two")
        }
        var t = Matrix(rows: n, cols: k)
        var stats = LabelSumStats()
        try t.values.withUnsafeMutableBufferPointer { buf in
            let p = buf.baseAddress!
            try y.readFloats(into: p)
            for i in 0..<n {
                for c in 0..<k {
                    let v = p[i * k + c]
                    if v.isNaN { throw y.error(row: i, column: classes[c], "NaN, expected a probability or count") }
                    if v.isInfinite { throw y.error(row: i, column: classes[c], "\(v), expected a finite number") }
                    if v < 0 { throw y.error(row: i, column: classes[c], "negative label value \(v)") }
                    p[i * k + c] = v + 0  // + 0 turns -0.0 into 0, as the CSV reader does
                }
                if !LabelRow.normalise(p + i * k, k: k, row: i, stats: &stats) {
                    throw y.error(row: i, "label values sum to 0, expected a distribution or counts")
                }
            }
        }
        var data = Dataset(ids: Array(repeating: "", count: n), featureNames: [], classNames: classes,
                           features: Matrix(rows: n, cols: 0), targets: t)
        if let model {
            guard let reordered = data.withClassOrder(model) else {
                throw DataError(file: y.path, "label classes \(list(classes)) differ from \(modelName)'s \(list(model))" +
                                (namesFile == nil ? " (name them with --classes FILE)" : ""))
            }
            data = reordered
            classes = model
        }
        return (data.targets, classes, stats.warning(file: y.path).map { [$0] } ?? [])
    }

    /// (n) integer class indices into the class names (given, or "0"..."max"), as one-hot targets.
    private static func indices(_ y: NPYShards, names: [String]?, namesFile: String?,
                                model: [String]?, modelName: String) throws -> (Matrix, [String]) {
        let n = y.shape[0]
        var index = [Int](repeating: 0, count: n)
        try y.forEachChunk { first, values in
            for (o, v) in values.enumerated() {
                let i = first + o
                if let problem = ClassIndex.problem(v, names: names, namesFile: namesFile) { throw y.error(row: i, problem) }
                index[i] = Int(v)
            }
        }
        let names = names ?? (0...(index.max() ?? 0)).map(String.init)
        var classes = names
        try DataLimits.checkOneHot(rows: n, classes: model?.count ?? names.count, file: y.path)
        if let model {
            let known = Set(model)
            for (i, c) in index.enumerated() where !known.contains(names[c]) {
                throw y.error(row: i, "class '\(names[c])' (index \(c)) is not one of \(modelName)'s classes" +
                                (namesFile == nil ? " (name them with --classes FILE)" : ""))
            }
            classes = model
        } else if names.count < 2 {
            throw DataError(file: y.path, "only one class ('\(names[0])'), expected at least two")
        }
        let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var t = Matrix(rows: n, cols: classes.count)
        for (i, c) in index.enumerated() { t[i, position[names[c]]!] = 1 }
        return (t, classes)
    }

    /// The data set of `--teacher-logits Z.npy` (n, k): finite logits, classes named by `names` (or 0, 1, ...),
    /// with `--labels` as (n) hard class indices into them when given; reordered to `model`'s classes.
    private static func distillationData(_ source: NPYSource, logits spec: String, hard y: NPYShards?, ids: [String],
                                         featureNames: [String], features: Matrix, classNames names: [String]?,
                                         model: [String]?, modelName: String) throws -> Dataset {
        let n = features.rows
        let z = try NPYShards(spec: spec, flag: "--teacher-logits")
        let path = z.path
        guard z.shape.count == 2 else {
            throw DataError(file: path, "has shape \(z.shapeText), expected 2-D teacher logits (rows, classes)")
        }
        if z.rowCount != n { throw DataError(file: path, "has \(z.rowCount) rows, but the features file \(source.features) has \(n)") }
        let k = z.shape[1]
        if let names, names.count != k {
            throw DataError(file: source.classesFile!, "names \(names.count) classes, but \(path) has \(k) logit columns")
        }
        if model == nil && k < 2 { throw DataError(file: path, "has shape \(z.shapeText): \(k) class(es), expected at least two") }
        let classes = names ?? (0..<k).map(String.init)
        var v = Matrix(rows: n, cols: k)
        var firstBad: Int?
        try v.values.withUnsafeMutableBufferPointer { buf in
            try z.readFloats(into: buf.baseAddress!)
            firstBad = NPYArray.firstNonFinite(UnsafeBufferPointer(buf), parallel: Parallel(threads: Parallel.allCores))
        }
        if let i = firstBad {
            throw z.error(row: i / k, column: classes[i % k], v.values[i].isNaN
                            ? "NaN, expected a finite logit" : "infinite or too large for Float, expected a finite logit")
        }
        var hard: [Int]?
        if let y {
            guard y.shape.count == 1 else {
                throw DataError(file: y.path, "has shape \(y.shapeText); with --teacher-logits the labels are (rows,) " +
                                "hard class indices (for --hard-weight), not a second set of soft targets")
            }
            let (oneHot, _) = try indices(y, names: classes, namesFile: source.classesFile ?? path, model: classes,
                                          modelName: "the teacher")
            hard = (0..<n).map { i in (0..<k).first { oneHot[i, $0] == 1 }! }
        }
        let data = Dataset(ids: ids, featureNames: featureNames, classNames: classes, features: features,
                           teacherLogits: v, hardLabels: hard)
        guard let model else { return data }
        guard let reordered = data.withClassOrder(model) else {
            throw DataError(file: path, "teacher classes \(list(classes)) differ from \(modelName)'s \(list(model))" +
                            (source.classesFile == nil ? " (name them with --classes FILE)" : ""))
        }
        return reordered
    }

    /// Labels (or logits) must have a row per feature row; when both are sharded, shard by shard.
    static func checkRows(_ y: NPYShards, against x: NPYShards) throws {
        if y.isSharded && x.isSharded && y.arrays.count == x.arrays.count {
            for (a, b) in zip(y.arrays, x.arrays) where a.rowCount != b.rowCount {
                throw DataError(file: a.path, "has \(a.rowCount) rows, but its features shard \(b.path) has \(b.rowCount)")
            }
        }
        if y.rowCount != x.rowCount {
            throw DataError(file: y.path, "has \(y.rowCount) rows, but the features file \(x.path) has \(x.rowCount)")
        }
    }

    private static func list(_ names: [String]) -> String {
        "[" + names.prefix(6).map { "'\($0)'" }.joined(separator: ", ") + (names.count > 6 ? ", ..." : "") + "]"
    }
}

/// A text file of names, one per line (class names for `--classes`, feature names for `--feature-names`).
public enum NameList {
    /// The names in file order. Lines end at LF, CRLF or a lone CR (as in the CSV reader); a final line
    /// break and a UTF-8 BOM are fine; blank lines at the end are ignored. An empty name elsewhere, a
    /// duplicate, a name with a control character (a tab: a TSV file with several columns?) or non-UTF-8
    /// text is an error naming the line.
    ///
    /// - Parameters:
    ///   - limit: the most names wanted; reading stops with an error ("names more than `limit` ..., `why`")
    ///     at the first name beyond it, so a file of millions of names (or of line breaks) costs no memory.
    public static func read(_ path: String, what: String, atMost limit: Int = .max, why: String = "") throws -> [String] {
        let input = try InputFile(path: path)
        if input.size > 256 << 20 { throw DataError(file: path, "is \(input.size) bytes, too large for a list of names") }
        var bytes = try input.prefix(input.size)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        if bytes.contains(0) { throw DataError(file: path, "contains NUL bytes: binary data, expected one \(what) name per line") }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw DataError(file: path, "is not valid UTF-8 text, expected one \(what) name per line")
        }
        var names: [String] = []
        var seen: [String: Int] = [:]
        var line = 0
        var blank: Int?  // the first blank line since the last name: an error if another name follows
        func take(_ bytes: ArraySlice<UInt8>) throws {
            line += 1
            if bytes.isEmpty {
                blank = blank ?? line
                return
            }
            if let blank { throw DataError(file: path, line: blank, "empty \(what) name") }
            let name = String(decoding: bytes, as: UTF8.self)
            if let c = name.unicodeScalars.first(where: { $0.properties.generalCategory == .control }) {
                let hint = c == "\t" ? " (a tab: is this a table with several columns?)" : ""
                throw DataError(file: path, line: line, "\(what) name '\(shown(name))' contains a control character" +
                                "\(hint), expected one name per line")
            }
            if let first = seen[name] {
                throw DataError(file: path, line: line, "duplicate \(what) name '\(shown(name))' (also on line \(first))")
            }
            if names.count == limit {
                throw DataError(file: path, "names more than \(limit) \(what.hasSuffix("s") ? what + "es" : what + "s")" + why)
            }
            seen[name] = line
            names.append(name)
        }
        // Split bytes, not Characters: Swift treats "\r\n" as one Character.
        var start = 0, i = 0
        while i < bytes.count {
            if bytes[i] == 0x0A || bytes[i] == 0x0D {
                try take(bytes[start..<i])
                if bytes[i] == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A { i += 1 }
                start = i + 1
            }
            i += 1
        }
        try take(bytes[start...])
        if names.isEmpty { throw DataError(file: path, "is empty, expected one \(what) name per line") }
        return names
    }
}

/// Checks of one NPY class index (a `(rows,)` labels array).
enum ClassIndex {
    /// What is wrong with `v` as a class index, or nil when it is one (an integer in 0..<DataLimits.maxClasses,
    /// below the number of `names` when they are given). Compared as Doubles: an index beyond Int's range (1e19
    /// in a uint64 file) must never reach Int(v).
    static func problem(_ v: Double, names: [String]?, namesFile: String?) -> String? {
        if v.isNaN { return "NaN, expected an integer class index" }
        if v != v.rounded() || !v.isFinite { return "class index \(v) is not an integer" }
        if v < 0 { return "negative class index \(integerText(v))" }
        if let names, v >= Double(names.count) {
            return "class index \(integerText(v)), but \(namesFile ?? "the class list") names only \(names.count) classes " +
                "(0...\(names.count - 1))"
        }
        if v >= Double(DataLimits.maxClasses) {
            return "class index \(integerText(v)) means \(DataLimits.classLimitText) (is this really a label column?)"
        }
        return nil
    }

    /// An integral Double as its digits while they are exact (below 2^53), otherwise in exponent form.
    static func integerText(_ v: Double) -> String {
        abs(v) < 0x1p53 ? String(Int(v)) : "\(v)"
    }
}
