import Foundation

/// Consecutive rows of a data file, read for a streamed `predict`, `eval` or `convert`.
public struct DataChunk: Sendable {
    /// The 0-based number of the chunk's first row in the file.
    public var firstRow: Int
    public var ids: [String]            // (m)
    public var features: Matrix         // (m, d) in the reader's `featureNames` order
    /// (m, k) targets in the reader's class order (probabilities; softmax(z) of teacher logits), when read.
    public var targets: Matrix?
    /// (m, k) a teacher's logits (CSV `logit:<class>` columns, NPY `--teacher-logits`), when those are the targets.
    public var logits: Matrix?
    /// (m) hard class positions: a CSV `label` column (beside logits), or NPY `(rows,)` class indices (beside
    /// logits), when read.
    public var hard: [Int]?
    /// (m) a CSV `label` column's class names, as written (for `convert`).
    public var hardNames: [String]?

    public var count: Int { features.rows }
}

/// A data file read in chunks of rows, in order, holding one chunk at a time: memory stays the same whatever
/// the file's size. Every check of the whole-file readers is made on every row (the file-level ones, such as
/// the label-sum warning, once the last chunk is read).
public protocol ChunkedReader: AnyObject {
    /// The file, as messages name it.
    var name: String { get }
    var featureNames: [String] { get }
    /// Target classes, in the order the targets come (empty without labels).
    var classNames: [String] { get }
    /// The next chunk, or nil after the last.
    func next() throws -> DataChunk?
    /// Notes for the user once every chunk has been read (label rows that did not sum to 1).
    var warnings: [String] { get }
    /// Reads and checks every row, keeping nothing; returns the number of rows.
    func checkAll() throws -> Int
}

extension ChunkedReader {
    public func checkAll() throws -> Int {
        var n = 0
        while let chunk = try next() { n += chunk.count }
        return n
    }
}

/// CSV read in chunks: the header and its layout once; then, for files without quotes, the line index of
/// `CSVLineIndex` (a few numbers per 4,096 lines) and groups of its chunks parsed on every core, each group
/// into buffers of its own size; files with quotes through the RFC 4180 reader, a group of records at a time.
/// Hard-label class tables live on from group to group, so a class keeps its number.
public final class CSVChunkedReader: ChunkedReader {
    public let name: String
    public var featureNames: [String] { layout.featureNames }
    public var classNames: [String] { layout.readsSoftLabels ? layout.softClasses : (layout.modelClasses ?? []) }
    let input: InputFile
    let layout: CSVLayout
    let threads: Int
    let rowsPerGroup: Int
    private var index: CSVLineIndex?
    private var nextChunk = 0
    private var records: CSVRecordReader?
    private var recordsStart = (offset: 0, line: 0)
    private var tables: [ClassTable]
    private var stats = LabelSumStats()
    private var row = 0
    private var finished = false
    /// Leave label rows as written (see `CSVRowParser.keepRawLabels`): targets then hold counts as counts.
    public var keepRawLabels = false

    /// - Parameters: as `CSVReader.read`; `classes` are the model's (targets come in their order; hard labels
    ///   must name them); `rowsPerGroup`: rows parsed at once (about; whole line-index chunks).
    public convenience init(path: String, classes: [String]?, classesOf: String = "the model", labels mode: LabelMode,
                            threads: Int, delimiter: UInt8? = nil, rowsPerGroup: Int = 65_536) throws {
        try self.init(file: try CSVFile(path: path), classes: classes, classesOf: classesOf, labels: mode, threads: threads,
                      delimiter: delimiter, rowsPerGroup: rowsPerGroup)
    }

    public init(file: CSVFile, classes: [String]?, classesOf: String = "the model", labels mode: LabelMode,
                threads: Int, delimiter: UInt8? = nil, rowsPerGroup: Int = 65_536) throws {
        let input = file.input
        self.input = input
        name = input.path
        self.threads = max(1, threads)
        self.rowsPerGroup = max(1, rowsPerGroup)
        let head = try input.prefix(4096)
        if let e = sniffNonCSV(head, whole: head.count == input.size, file: name) { throw e }
        let bom = head.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        let separator = try delimiter ?? CSVDelimiter.detect(input, from: bom)
        let reader = CSVRecordReader(input: input, from: bom, line: 1, blockSize: min(1 << 20, input.size + 1),
                                     delimiter: separator)
        guard try reader.next() else { throw DataError(file: name, "is empty, expected a header row and data rows") }
        var header: [String] = []
        for (c, cell) in reader.cells.enumerated() {
            guard let text = reader.string(cell) else {
                let problem = reader.withBytes(of: cell) { textProblem($0) } ?? "is not valid text"
                throw DataError(file: name, line: reader.recordLine, "header cell \(c + 1) \(problem)")
            }
            header.append(text)
        }
        layout = try CSVLayout(header: header, file: name, classes: classes, classesOf: classesOf, mode: mode, delimiter: separator)
        tables = [ClassTable](repeating: ClassTable(), count: self.threads)
        let dataStart = reader.nextOffset, dataLine = reader.line
        recordsStart = (dataStart, dataLine)
        if reader.endedWithLoneCR {
            records = CSVRecordReader(input: input, from: dataStart, line: dataLine, delimiter: separator)
            return
        }
        let index = try CSVLineIndex.build(input, from: dataStart, firstLine: dataLine, threads: self.threads)
        if let z = index.nulOffset {
            throw DataError(file: name, "contains a NUL byte at offset \(z): binary data, expected UTF-8 CSV text")
        }
        if index.hasQuote {
            records = CSVRecordReader(input: input, from: dataStart, line: dataLine, delimiter: separator)
            return
        }
        if index.rows == 0 { throw DataError(file: name, line: 1, "has a header but no data rows") }
        self.index = index
    }

    public var warnings: [String] { finished ? stats.warning(file: name).map { [$0] } ?? [] : [] }

    /// Data rows of the file: from the line index; a file with quotes is counted by reading its records (one
    /// more pass over it).
    public func rowCount() throws -> Int {
        if let index { return index.rows }
        let counter = CSVRecordReader(input: input, from: recordsStart.offset, line: recordsStart.line, delimiter: layout.delimiter)
        var n = 0
        while try counter.next() { n += 1 }
        return n
    }

    /// The layout's pieces `convert` writes out.
    public var idColumn: Bool { layout.idColumn != nil }
    public var readsLogits: Bool { layout.readsLogits }
    public var hasHardLabels: Bool { layout.hardColumn != nil }
    public var hasSoftLabels: Bool { layout.readsSoftLabels && !layout.readsLogits }

    /// The hard-label class names met so far, and each chunk row's class as an index into them (first seen
    /// first, in row order): `convert` writes these, then renumbers them into the final class order.
    func hardClassNames(of codes: [Int32]) -> [String] {
        codes.map { tables[Int($0 >> 24)].names[Int($0 & 0xFF_FFFF)] }
    }

    /// Bytes of the file (for rates).
    public var size: Int { input.size }

    public func next() throws -> DataChunk? {
        guard !finished else { return nil }
        if let records { return try nextRecords(records) }
        let index = self.index!
        guard nextChunk < index.chunks.count else {
            finished = true
            return nil
        }
        var last = nextChunk, rows = 0
        while last < index.chunks.count && (rows == 0 || rows + index.chunks[last].rows <= rowsPerGroup) {
            rows += index.chunks[last].rows
            last += 1
        }
        let group = Array(index.chunks[nextChunk..<last])
        let first = group[0].firstRow
        nextChunk = last
        var parsed = CSVParsed(rows: rows, layout: layout)
        let workers = min(threads, group.count)
        var parsers = [CSVRowParser?](repeating: nil, count: workers)
        var failures = [(Int, Error)?](repeating: nil, count: workers)
        let tables = self.tables, keepRaw = keepRawLabels
        try parsed.withBuffers(layout: layout, file: name) { makeParser in
            parsers.withUnsafeMutableBufferPointer { slots in
                failures.withUnsafeMutableBufferPointer { failed in
                    Parallel(threads: workers).run(tasks: workers) { w in
                        var parser = makeParser(Int32(w))
                        parser.classes = tables[w]
                        parser.keepRawLabels = keepRaw
                        var buffer = ByteBuffer(capacity: 1 << 20)
                        defer { buffer.free() }
                        for ci in Parallel.part(w, of: workers, count: group.count) {
                            var chunk = group[ci]
                            chunk.firstRow -= first
                            do {
                                try CSVReader.parseChunk(chunk, input: input, buffer: &buffer, parser: &parser)
                            } catch {
                                failed[w] = (ci, error)
                                break
                            }
                        }
                        slots[w] = parser
                    }
                }
            }
        }
        if let (_, e) = failures.compactMap({ $0 }).min(by: { $0.0 < $1.0 }) { throw e }
        for (w, p) in parsers.enumerated() {
            self.tables[w] = p!.classes
            stats.merge(p!.stats)
        }
        row += rows
        return chunk(&parsed, first: first)
    }

    /// A group of records of a file with quotes, read one after another.
    private func nextRecords(_ reader: CSVRecordReader) throws -> DataChunk? {
        // Records are counted as they come: a group's buffers are sized for `rowsPerGroup` and cut to fit.
        var parsed = CSVParsed(rows: rowsPerGroup, layout: layout)
        var count = 0
        var parser: CSVRowParser?
        let table = tables[0]
        try parsed.withBuffers(layout: layout, file: name) { makeParser in
            var p = makeParser(0)
            p.classes = table
            p.keepRawLabels = keepRawLabels
            while count < rowsPerGroup, try reader.next() {
                try p.store(reader, row: count, line: reader.recordLine)
                count += 1
            }
            parser = p
        }
        tables[0] = parser!.classes
        stats.merge(parser!.stats)
        if count == 0 {
            finished = true
            if row == 0 { throw DataError(file: name, line: 1, "has a header but no data rows") }
            return nil
        }
        let first = row
        row += count
        var out = chunk(&parsed, first: first)
        if count < rowsPerGroup { out = out.prefix(count) }
        return out
    }

    private func chunk(_ parsed: inout CSVParsed, first: Int) -> DataChunk {
        let part = parsed.take()
        let m = parsed.rows, d = layout.featureNames.count
        let ids = layout.idColumn != nil ? part.ids : (first..<(first + m)).map { String($0 + 1) }
        var out = DataChunk(firstRow: first, ids: ids, features: Matrix(rows: m, cols: d, values: part.features))
        let k = layout.softClasses.count
        if layout.readsLogits {
            let z = Matrix(rows: m, cols: k, values: part.targets)
            out.logits = z
            out.targets = Softmax.rows(z, temperature: 1)
        } else if layout.readsSoftLabels {
            out.targets = Matrix(rows: m, cols: k, values: part.targets)
        }
        if layout.hardColumn != nil { out.hardNames = hardClassNames(of: part.codes) }
        if layout.hardColumn != nil, let classes = layout.readsLogits ? Optional(layout.softClasses) : layout.modelClasses {
            let oneHot = oneHotTargets(codes: part.codes, tables: tables, classes: classes)
            if layout.readsLogits {
                out.hard = (0..<m).map { i in (0..<oneHot.cols).first { oneHot[i, $0] == 1 }! }
            } else {
                out.targets = oneHot
            }
        }
        return out
    }
}

extension DataChunk {
    /// The first `m` rows.
    func prefix(_ m: Int) -> DataChunk {
        let rows = Array(0..<m)
        var out = DataChunk(firstRow: firstRow, ids: Array(ids.prefix(m)), features: features.gatherRows(rows))
        out.targets = targets?.gatherRows(rows)
        out.logits = logits?.gatherRows(rows)
        out.hard = hard.map { Array($0.prefix(m)) }
        out.hardNames = hardNames.map { Array($0.prefix(m)) }
        return out
    }
}

