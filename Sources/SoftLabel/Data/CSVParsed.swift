/// The parsed rows of a CSV file in their final buffers, before they become a `Dataset`.
struct CSVParsed {
    let rows: Int
    private var features: [Float] = []   // (n, d)
    private var targets: [Float] = []    // (n, k) soft labels
    private var codes: [Int32] = []      // (n) hard labels: `ClassTable.code(worker:local:)`
    private var ids: [String] = []       // (n) when the file has an id column
    private var tables: [ClassTable] = []
    private var stats = LabelSumStats()

    init(rows: Int, layout: CSVLayout) {
        self.rows = rows
        if layout.hardColumn != nil { codes = [Int32](repeating: 0, count: rows) }
        if layout.idColumn != nil { ids = [String](repeating: "", count: rows) }
    }

    /// Allocates the feature and target buffers uninitialised (every element is written by exactly one row
    /// parser) and calls `body` with a maker of row parsers that write into them.
    mutating func withBuffers(layout: CSVLayout, file: String,
                              _ body: (_ makeParser: (Int32) -> CSVRowParser) throws -> Void) throws {
        let n = rows, d = layout.featureNames.count, k = layout.softClasses.count
        var codes = self.codes, ids = self.ids
        var targets: [Float] = []
        let known = layout.hardColumn == nil ? nil
            : layout.readsLogits ? Set(layout.softClasses) : layout.modelClasses.map(Set.init)
        let features = try [Float](unsafeUninitializedCapacity: n * d) { f, fCount in
            fCount = n * d
            adviseHugePages(f)
            targets = try [Float](unsafeUninitializedCapacity: n * k) { t, tCount in
                tCount = n * k
                try codes.withUnsafeMutableBufferPointer { c in
                    try ids.withUnsafeMutableBufferPointer { i in
                        try layout.roles.withUnsafeBufferPointer { roles in
                            try body { w in
                                CSVRowParser(file: file, layout: layout, roles: roles.baseAddress!, columns: roles.count,
                                             features: f.baseAddress!, d: d, targets: k > 0 ? t.baseAddress : nil, k: k,
                                             hardCodes: c.baseAddress, ids: i.baseAddress, worker: w, knownClasses: known)
                            }
                        }
                    }
                }
            }
        }
        self.features = features
        self.targets = targets
        self.codes = codes
        self.ids = ids
    }

    /// The parsed buffers, moved out (for a chunk of a streamed read; `loaded` is the whole-file form).
    mutating func take() -> (features: [Float], targets: [Float], codes: [Int32], ids: [String]) {
        defer { features = []; targets = []; codes = []; ids = [] }
        return (features, targets, codes, ids)
    }

    /// Collects what the row parsers learned: hard-label class tables and the label-sum statistics.
    mutating func finish(_ parsers: [CSVRowParser]) {
        tables = parsers.map(\.classes)
        for p in parsers { stats.merge(p.stats) }
    }

    /// The dataset, with the file-level label checks (class count) and the one normalisation warning.
    /// Moves the buffers out (no copy of the data).
    mutating func loaded(layout: CSVLayout, file: String) throws -> LoadedData {
        let n = rows
        var warnings: [String] = []
        var values: [Float] = []
        swap(&values, &features)
        var classNames: [String] = []
        var targets = Matrix(rows: n, cols: 0)
        var teacher: (logits: Matrix, hard: [Int]?)?
        if layout.readsLogits {
            classNames = layout.softClasses
            var t: [Float] = []
            swap(&t, &self.targets)
            // A `label` column beside the logits: each row's hard class, as its position among the classes.
            let hard = layout.hardColumn == nil ? nil : oneHotTargets(codes: codes, tables: tables, classes: classNames)
            teacher = (Matrix(rows: n, cols: classNames.count, values: t),
                       hard.map { h in (0..<n).map { i in (0..<h.cols).first { h[i, $0] == 1 }! } })
        } else if layout.hardColumn != nil {
            if let modelClasses = layout.modelClasses {
                classNames = modelClasses  // eval: rows of any of the model's classes, even all of one class
            } else {
                classNames = orderedClassNames(Set(tables.flatMap(\.names)))
                if let w = probabilityLikeLabels(classNames, file: file) { warnings.append(w) }
                if classNames.count < 2 {
                    throw DataError(file: file, column: "label",
                                    "only one class ('\(classNames.first ?? "")'), expected at least two")
                }
                if classNames.count > DataLimits.maxClasses {
                    throw DataError(file: file, column: "label",
                                    "\(classNames.count) distinct classes in \(n) rows, \(DataLimits.classLimitText) " +
                                    "(is it really a label column?)")
                }
            }
            try DataLimits.checkOneHot(rows: n, classes: classNames.count, file: file, column: "label")
            targets = oneHotTargets(codes: codes, tables: tables, classes: classNames)
        } else if layout.readsSoftLabels {
            classNames = layout.softClasses
            var t: [Float] = []
            swap(&t, &self.targets)
            targets = Matrix(rows: n, cols: classNames.count, values: t)
        }
        let rowIDs = layout.idColumn != nil ? ids : (0..<n).map { String($0 + 1) }
        let x = Matrix(rows: n, cols: layout.featureNames.count, values: values)
        let ds = teacher.map { Dataset(ids: rowIDs, featureNames: layout.featureNames, classNames: classNames, features: x,
                                       teacherLogits: $0.logits, hardLabels: $0.hard) }
            ?? Dataset(ids: rowIDs, featureNames: layout.featureNames, classNames: classNames, features: x, targets: targets)
        return LoadedData(dataset: ds, warnings: warnings + (stats.warning(file: file).map { [$0] } ?? []))
    }
}

/// The warning for a hard-label column whose class names look like probabilities: every one a number in
/// [0, 1], at least three distinct and some fractional (a soft label squeezed into one column); nil otherwise.
func probabilityLikeLabels(_ names: [String], file: String) -> String? {
    let values = names.compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
    guard values.count == names.count, names.count >= 3, values.allSatisfy({ $0 >= 0 && $0 <= 1 }),
          values.contains(where: { $0 != $0.rounded() }) else { return nil }
    let shown = names.prefix(4).joined(separator: ", ") + (names.count > 4 ? ", ..." : "")
    return "\(file): column 'label' holds \(names.count) distinct numbers in [0, 1] (\(shown)); they are read as " +
        "\(names.count) class names (hard labels). For probabilities, give one 'label:<class>' column per class"
}

/// Class names in a stable order that does not depend on row order: numeric order when every name is an
/// integer ("2" before "10"), otherwise Unicode order.
public func orderedClassNames(_ names: Set<String>) -> [String] {
    if names.allSatisfy({ Int($0) != nil }) { return names.sorted { Int($0)! < Int($1)! } }
    return names.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
}
