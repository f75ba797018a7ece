/// What each column of a CSV file feeds, decided from the header row alone.
struct CSVLayout {
    // Column roles: a feature index j >= 0, or one of these, or `softLabelBase - c` for class position c.
    static let skip: Int32 = -1
    static let id: Int32 = -2
    static let hardLabel: Int32 = -3
    static let softLabelBase: Int32 = -4

    var header: [String]
    var roles: [Int32]             // (columns)
    var featureNames: [String]     // (d)
    var softClasses: [String] = [] // (k) soft-label classes in target order (the model's order when given)
    var readsLogits = false        // the soft columns are a teacher's `logit:<class>` columns (any finite number)
    var idColumn: Int?
    var hardColumn: Int?           // set only when hard labels are read
    var hasLabels: Bool            // the file has label columns (read or not)
    var modelClasses: [String]?
    var classesOf: String  // whose classes `modelClasses` are, for messages ("the model")
    var delimiter: UInt8   // the cell separator

    var readsSoftLabels: Bool { !softClasses.isEmpty }

    /// Classifies the header; every problem the header alone shows is an error here.
    init(header: [String], file: String, classes modelClasses: [String]?, classesOf: String = "the model",
         mode: LabelMode, delimiter: UInt8 = UInt8(ascii: ",")) throws {
        self.classesOf = classesOf
        self.delimiter = delimiter
        self.header = header
        self.modelClasses = modelClasses
        var idColumn: Int?
        var hardColumn: Int?
        var softColumns: [(Int, String)] = []
        var logitColumns: [(Int, String)] = []
        var featureColumns: [Int] = []
        var seen = Set<String>()
        for (c, name) in header.enumerated() {
            if name.isEmpty {
                let hint = c == 0 ? " (a pandas index column? write with index=False or name it 'id')" : ""
                throw DataError(file: file, line: 1, "header cell \(c + 1) is empty, expected a column name" + hint)
            }
            if !seen.insert(name).inserted {
                if name.hasPrefix("label:") || name.hasPrefix("logit:") {
                    throw DataError(file: file, line: 1, column: name,
                                    "duplicate class '\(name.dropFirst(6))' in \(name.prefix(5)) columns")
                }
                throw DataError(file: file, line: 1, column: name, "duplicate column name")
            }
            if name == "id" {
                idColumn = c
            } else if name == "label" {
                hardColumn = c
            } else if name.hasPrefix("label:") {
                let cls = String(name.dropFirst(6))
                if cls.isEmpty { throw DataError(file: file, line: 1, column: name, "empty class name after 'label:'") }
                softColumns.append((c, cls))
            } else if name.hasPrefix("logit:") {
                let cls = String(name.dropFirst(6))
                if cls.isEmpty { throw DataError(file: file, line: 1, column: name, "empty class name after 'logit:'") }
                logitColumns.append((c, cls))
            } else {
                featureColumns.append(c)
            }
        }
        if hardColumn != nil && !softColumns.isEmpty {
            throw DataError(file: file, line: 1, column: "label",
                            "both 'label' and 'label:<class>' columns, expected one form of label")
        }
        // A teacher's logits are the targets, read through the soft-label columns' path; a `label` column beside
        // them is the hard class for --hard-weight.
        if let (c, _) = logitColumns.first {
            if !softColumns.isEmpty {
                throw DataError(file: file, line: 1, column: header[c], "both 'label:<class>' and 'logit:<class>' columns, " +
                                "expected one kind of target (probabilities, or a teacher's logits)")
            }
            softColumns = logitColumns
        }
        hasLabels = hardColumn != nil || !softColumns.isEmpty
        if header.count == 1, let other = [UInt8(ascii: ";"), 0x09, UInt8(ascii: "|"), UInt8(ascii: ",")]
            .first(where: { $0 != delimiter && header[0].utf8.contains($0) }) {
            // One column holding the other separator: the file is not separated the way it is being read.
            throw DataError(file: file, line: 1, "the header is one column, '\(header[0].count > 40 ? String(header[0].prefix(40)) + "..." : header[0])': the file looks " +
                            "\(CSVDelimiter.name(other))-separated, not \(CSVDelimiter.name(delimiter))-separated " +
                            "(--delimiter \(CSVDelimiter.flag(other)))")
        }
        if mode == .required && !hasLabels {
            throw DataError(file: file, line: 1, "no label columns, expected 'label', 'label:<class>' or 'logit:<class>' columns")
        }
        if featureColumns.isEmpty { throw DataError(file: file, line: 1, "no feature columns") }

        roles = [Int32](repeating: CSVLayout.skip, count: header.count)
        for (j, c) in featureColumns.enumerated() { roles[c] = Int32(j) }
        featureNames = featureColumns.map { header[$0] }
        if let idColumn { roles[idColumn] = CSVLayout.id }
        self.idColumn = idColumn
        if mode == .ignored { return }

        if let hardColumn {
            roles[hardColumn] = CSVLayout.hardLabel
            self.hardColumn = hardColumn
        }
        if !softColumns.isEmpty {
            readsLogits = !logitColumns.isEmpty
            let kind = readsLogits ? "logit" : "label"
            if readsLogits && modelClasses == nil { self.classesOf = "the teacher" }  // whose classes a hard label must be
            var names = softColumns.map(\.1)
            if Set(names).count != names.count {
                let dup = names.enumerated().first { i, n in names[..<i].contains(n) }!.1
                throw DataError(file: file, line: 1, column: "\(kind):" + dup, "duplicate class '\(dup)' in \(kind) columns")
            }
            if let modelClasses {
                if Set(modelClasses) != Set(names) || modelClasses.count != names.count {
                    let missing = modelClasses.filter { !names.contains($0) }
                    let extra = names.filter { !modelClasses.contains($0) }
                    var parts: [String] = []
                    if !missing.isEmpty { parts.append("missing " + missing.map { "'\($0)'" }.joined(separator: ", ")) }
                    if !extra.isEmpty { parts.append("not in \(classesOf) " + extra.map { "'\($0)'" }.joined(separator: ", ")) }
                    throw DataError(file: file, line: 1,
                                    "\(kind) classes differ from \(classesOf)'s: " + parts.joined(separator: "; "))
                }
                names = modelClasses
            } else if names.count == 1 {
                throw DataError(file: file, line: 1, "only one class ('\(names[0])'), expected at least two")
            } else if names.count > DataLimits.maxClasses {
                throw DataError(file: file, line: 1, "\(names.count) label columns, \(DataLimits.classLimitText)")
            }
            let position = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
            for (c, cls) in softColumns { roles[c] = CSVLayout.softLabelBase - Int32(position[cls]!) }
            softClasses = names
        }
    }
}
