import Foundation

/// What a data file held: the examples, whether it had labels, and notes for the user (stderr).
public struct LoadedData: Sendable {
    public var dataset: Dataset
    public var hasLabels: Bool
    public var warnings: [String]
}

/// Reads the CSV data format:
/// - a header row; columns in any order;
/// - optional `id` column (text); without one, ids are the 1-based data row numbers;
/// - soft labels as `label:<class>` columns (probabilities or counts; each row is normalised to sum 1),
///   or hard labels as one `label` column holding the class name;
/// - every other column is a numeric feature named by its header.
public enum LabelMode: Sendable {
    /// The file must have label columns (train, eval).
    case required
    /// Label columns, if any, are recognised and skipped (predict).
    case ignored
}

public enum CSVReader {
    /// - Parameters:
    ///   - classes: the model's classes when reading for eval/predict: label columns must name exactly these
    ///     (hard labels: a subset), and targets come out in this order.
    ///   - labels: `.required` for train and eval; `.ignored` for predict (label columns are skipped unread).
    public static func read(path: String, classes: [String]? = nil, labels: LabelMode = .required) throws -> LoadedData {
        let bytes = try readFile(path)
        var table = try CSVTable(bytes: bytes, file: path)
        return try table.load(classes: classes, labels: labels)
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw DataError(file: path, "no such file")
        }
        if isDir.boolValue { throw DataError(file: path, "is a directory, expected a data file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, "cannot be read (permission denied?)")
        }
        return [UInt8](data)
    }
}

/// A parsed CSV file: header names and the byte ranges of every field, record by record (RFC 4180).
struct CSVTable {
    let file: String
    let bytes: [UInt8]
    var header: [String] = []
    /// Per data record: its 1-based line number and its fields (decoded text).
    var records: [(line: Int, fields: [Substring])] = []

    init(bytes: [UInt8], file: String) throws {
        self.file = file
        self.bytes = bytes
        try parse()
    }

    private mutating func parse() throws {
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) {
            throw DataError(file: file, line: 1, "is UTF-16 text, expected UTF-8 CSV")
        }
        if bytes.contains(0) { throw DataError(file: file, "contains NUL bytes: binary data, expected UTF-8 CSV text") }
        guard let text = String(validating: bytes[start...], as: UTF8.self) else {
            throw DataError(file: file, "is not valid UTF-8 text")
        }
        var rows: [(Int, [Substring])] = []
        var fields: [Substring] = []
        var field = ""
        var quoted = false, inQuotes = false, fieldStarted = false
        var line = 1, recordLine = 1
        var i = text.startIndex
        func endField() {
            fields.append(Substring(field))
            field = ""
            quoted = false
            fieldStarted = false
        }
        while i < text.endIndex {
            let c = text[i]
            if inQuotes {
                if c == "\"" {
                    let next = text.index(after: i)
                    if next < text.endIndex && text[next] == "\"" {
                        field.append("\"")
                        i = text.index(after: next)
                        continue
                    }
                    inQuotes = false
                } else {
                    if c == "\n" || c == "\r\n" { line += 1 }
                    field.append(c)
                }
                i = text.index(after: i)
                continue
            }
            switch c {
            case ",":
                endField()
                fieldStarted = true
            case "\n", "\r\n", "\r":
                if !fields.isEmpty || fieldStarted || !field.isEmpty || quoted {
                    endField()
                    rows.append((recordLine, fields))
                }
                fields = []
                line += 1
                recordLine = line
            case "\"":
                if field.isEmpty && !quoted {
                    inQuotes = true
                    quoted = true
                } else {
                    throw DataError(file: file, line: line, "stray quote inside an unquoted field")
                }
            default:
                if quoted {
                    throw DataError(file: file, line: line, "text after a closing quote, expected ',' or end of line")
                }
                field.append(c)
            }
            i = text.index(after: i)
        }
        if inQuotes { throw DataError(file: file, line: recordLine, "unterminated quoted field (no closing '\"')") }
        if !fields.isEmpty || fieldStarted || !field.isEmpty || quoted {
            endField()
            rows.append((recordLine, fields))
        }
        guard let first = rows.first else { throw DataError(file: file, "is empty, expected a header row and data rows") }
        header = first.1.map(String.init)
        records = rows.dropFirst().map { (line: $0.0, fields: $0.1) }
    }

    mutating func load(classes modelClasses: [String]?, labels mode: LabelMode) throws -> LoadedData {
        // Classify the header.
        var idColumn: Int?
        var hardColumn: Int?
        var softColumns: [(Int, String)] = []
        var featureColumns: [Int] = []
        var seen = Set<String>()
        for (c, name) in header.enumerated() {
            if name.isEmpty { throw DataError(file: file, line: 1, "header cell \(c + 1) is empty, expected a column name") }
            if !seen.insert(name).inserted { throw DataError(file: file, line: 1, column: name, "duplicate column name") }
            if name == "id" {
                idColumn = c
            } else if name == "label" {
                hardColumn = c
            } else if name.hasPrefix("label:") {
                let cls = String(name.dropFirst(6))
                if cls.isEmpty { throw DataError(file: file, line: 1, column: name, "empty class name after 'label:'") }
                softColumns.append((c, cls))
            } else {
                featureColumns.append(c)
            }
        }
        if hardColumn != nil && !softColumns.isEmpty {
            throw DataError(file: file, line: 1, column: "label",
                            "both 'label' and 'label:<class>' columns, expected one form of label")
        }
        let hasLabels = hardColumn != nil || !softColumns.isEmpty
        if mode == .ignored {
            hardColumn = nil
            softColumns = []
        } else if !hasLabels {
            throw DataError(file: file, line: 1, "no label columns, expected 'label' or 'label:<class>' columns")
        }
        if featureColumns.isEmpty { throw DataError(file: file, line: 1, "no feature columns") }
        if records.isEmpty { throw DataError(file: file, line: 1, "has a header but no data rows") }
        if softColumns.count == 1 && modelClasses == nil {
            throw DataError(file: file, line: 1, "only one class ('\(softColumns[0].1)'), expected at least two")
        }

        let n = records.count, d = featureColumns.count
        var features = Matrix(rows: n, cols: d)
        var ids: [String] = []
        ids.reserveCapacity(n)
        for (r, record) in records.enumerated() {
            if record.fields.count != header.count {
                throw DataError(file: file, line: record.line,
                                "has \(record.fields.count) cells, expected \(header.count) (as in the header)")
            }
            ids.append(idColumn.map { String(record.fields[$0]) } ?? String(r + 1))
            for (j, c) in featureColumns.enumerated() {
                features[r, j] = try parseFeature(record.fields[c], line: record.line, column: header[c])
            }
        }

        // Targets.
        var classNames: [String] = []
        var targets = Matrix(rows: n, cols: 0)
        var warnings: [String] = []
        if let hc = hardColumn {
            let labels = records.map { String($0.fields[hc]) }
            for (r, l) in labels.enumerated() where l.isEmpty {
                throw DataError(file: file, line: records[r].line, column: "label", "empty class name")
            }
            if let modelClasses {
                let known = Set(modelClasses)
                for (r, l) in labels.enumerated() where !known.contains(l) {
                    throw DataError(file: file, line: records[r].line, column: "label",
                                    "class '\(l)' is not one of the model's classes")
                }
                classNames = modelClasses
            } else {
                classNames = orderedClassNames(Set(labels))
                if classNames.count < 2 {
                    throw DataError(file: file, column: "label",
                                    "only one class ('\(classNames.first ?? "")'), expected at least two")
                }
            }
            let position = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
            targets = Matrix(rows: n, cols: classNames.count)
            for (r, l) in labels.enumerated() { targets[r, position[l]!] = 1 }
        } else if !softColumns.isEmpty {
            var names = softColumns.map(\.1)
            if Set(names).count != names.count {
                throw DataError(file: file, line: 1, "duplicate class in label columns")
            }
            var cols = softColumns.map(\.0)
            if let modelClasses {
                if Set(modelClasses) != Set(names) || modelClasses.count != names.count {
                    let missing = modelClasses.filter { !names.contains($0) }
                    let extra = names.filter { !modelClasses.contains($0) }
                    var parts: [String] = []
                    if !missing.isEmpty { parts.append("missing " + missing.map { "'\($0)'" }.joined(separator: ", ")) }
                    if !extra.isEmpty { parts.append("not in the model " + extra.map { "'\($0)'" }.joined(separator: ", ")) }
                    throw DataError(file: file, line: 1,
                                    "label classes differ from the model's: " + parts.joined(separator: "; "))
                }
                let byName = Dictionary(uniqueKeysWithValues: softColumns.map { ($1, $0) })
                cols = modelClasses.map { byName[$0]! }
                names = modelClasses
            }
            classNames = names
            let k = names.count
            targets = Matrix(rows: n, cols: k)
            var offSum = 0
            var worst = 1.0
            for (r, record) in records.enumerated() {
                var sum = 0.0
                var integral = true
                for (c, col) in cols.enumerated() {
                    let v = try parseLabel(record.fields[col], line: record.line, column: header[col])
                    targets[r, c] = v
                    sum += Double(v)
                    if v != v.rounded() { integral = false }
                }
                if sum == 0 {
                    throw DataError(file: file, line: record.line, "label cells sum to 0, expected a distribution or counts")
                }
                if !integral && abs(sum - 1) > 1e-3 {
                    offSum += 1
                    if abs(sum - 1) > abs(worst - 1) { worst = sum }
                }
                for c in 0..<k { targets[r, c] = Float(Double(targets[r, c]) / sum) }
            }
            if offSum > 0 {
                warnings.append("\(file): \(offSum) label row(s) are probabilities that do not sum to 1 " +
                                "(worst sum \(worst)); normalised")
            }
        }
        let ds = Dataset(ids: ids, featureNames: featureColumns.map { header[$0] }, classNames: classNames,
                         features: features, targets: targets)
        return LoadedData(dataset: ds, hasLabels: hasLabels, warnings: warnings)
    }

    private func parseFeature(_ s: Substring, line: Int, column: String) throws -> Float {
        if s.isEmpty { throw DataError(file: file, line: line, column: column, "empty cell, expected a number") }
        guard let v = Float(s) else {
            throw DataError(file: file, line: line, column: column, "'\(s.prefix(40))' is not a number")
        }
        if v.isNaN { throw DataError(file: file, line: line, column: column, "NaN, expected a finite number") }
        if v.isInfinite {
            throw DataError(file: file, line: line, column: column, "'\(s.prefix(40))' is infinite or overflows Float")
        }
        return v
    }

    private func parseLabel(_ s: Substring, line: Int, column: String) throws -> Float {
        let v = try parseFeature(s, line: line, column: column)
        if v < 0 { throw DataError(file: file, line: line, column: column, "negative label value \(s)") }
        return v
    }
}

/// Class names in a stable order that does not depend on row order: numeric order when every name is an
/// integer ("2" before "10"), otherwise Unicode order.
public func orderedClassNames(_ names: Set<String>) -> [String] {
    if names.allSatisfy({ Int($0) != nil }) { return names.sorted { Int($0)! < Int($1)! } }
    return names.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
}
