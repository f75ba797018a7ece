import Foundation

/// A CSV file opened once (standard input is spooled to a temporary file on opening): its size decides
/// whether it is read whole or in chunks.
public final class CSVFile: Sendable {
    let input: InputFile
    public var size: Int { input.size }
    public var name: String { input.path }

    /// `path`, or "-" for standard input.
    public init(path: String) throws {
        input = path == "-" ? try InputFile.standardInput() : try InputFile(path: path)
    }
}

/// What a data file held: the examples, and notes for the user (stderr).
public struct LoadedData: Sendable {
    public var dataset: Dataset
    public var warnings: [String]

    public init(dataset: Dataset, warnings: [String]) {
        self.dataset = dataset
        self.warnings = warnings
    }
}

public enum LabelMode: Sendable {
    /// The file must have label columns (train, eval).
    case required
    /// Label columns, if any, are read and checked; a file without them is fine (predict, inspect).
    case optional
    /// Label columns, if any, are recognised and skipped unread.
    case ignored
}

/// Reads the CSV data format:
/// - a header row; columns in any order; RFC 4180 quoting; LF or CRLF line ends; an optional UTF-8 BOM;
/// - optional `id` column (text); without one, ids are the 1-based data row numbers;
/// - soft labels as `label:<class>` columns (probabilities or counts; each row is normalised to sum 1),
///   or hard labels as one `label` column holding the class name;
/// - every other column is a numeric feature named by its header.
///
/// Files without quotes in their data rows are read in two streaming passes: one finds the lines, the
/// other parses chunks of lines on all cores straight into the final `(n, d)` buffer. Files with quotes are
/// read by the sequential RFC 4180 reader, also streaming. Neither holds the file in memory.
public enum CSVReader {
    /// - Parameters:
    ///   - classes: the classes the data must have when reading for eval/predict (the model's) or a validation
    ///     file (the training data's): label columns must name exactly these (hard labels: a subset), and
    ///     targets come out in this order.
    ///   - classesOf: whose classes they are, as errors name them ("the model", "the training data").
    ///   - labels: `.required` for train and eval; `.optional` or `.ignored` for predict.
    ///   - threads: parsing threads (the result does not depend on it).
    ///   - path: the file, or "-" for standard input (named "<stdin>" in messages).
    ///   - delimiter: the cell separator; nil to detect it from the header line (`CSVDelimiter.detect`).
    public static func read(path: String, classes: [String]? = nil, classesOf: String = "the model",
                            labels: LabelMode = .required, threads: Int = Parallel.allCores,
                            delimiter: UInt8? = nil) throws -> LoadedData {
        try read(path: path, classes: classes, classesOf: classesOf, labels: labels, threads: threads,
                 chunkBytes: 1 << 19, chunkRows: 4096, delimiter: delimiter)
    }

    /// `chunkBytes`, `chunkRows`: the size of the parallel work units (small ones exercise the seams in tests).
    static func read(path: String, classes: [String]?, classesOf: String = "the model", labels: LabelMode,
                     threads: Int, chunkBytes: Int, chunkRows: Int, delimiter: UInt8? = nil) throws -> LoadedData {
        let input = path == "-" ? try InputFile.standardInput() : try InputFile(path: path)
        return try read(input: input, classes: classes, classesOf: classesOf, labels: labels, threads: threads,
                        chunkBytes: chunkBytes, chunkRows: chunkRows, delimiter: delimiter)
    }

    /// `read` of a file already open (standard input, once spooled, cannot be opened again).
    public static func read(file: CSVFile, classes: [String]? = nil, classesOf: String = "the model",
                            labels: LabelMode = .required, threads: Int = Parallel.allCores,
                            delimiter: UInt8? = nil) throws -> LoadedData {
        try read(input: file.input, classes: classes, classesOf: classesOf, labels: labels, threads: threads,
                 chunkBytes: 1 << 19, chunkRows: 4096, delimiter: delimiter)
    }

    static func read(input: InputFile, classes: [String]?, classesOf: String, labels: LabelMode,
                     threads: Int, chunkBytes: Int, chunkRows: Int, delimiter: UInt8?) throws -> LoadedData {
        let path = input.path
        let head = try input.prefix(4096)
        if let e = sniffNonCSV(head, whole: head.count == input.size, file: path) { throw e }
        let bom = head.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        let separator = try delimiter ?? CSVDelimiter.detect(input, from: bom)

        let reader = CSVRecordReader(input: input, from: bom, line: 1, blockSize: min(1 << 20, input.size + 1),
                                     delimiter: separator)
        guard try reader.next() else { throw DataError(file: path, "is empty, expected a header row and data rows") }
        var header: [String] = []
        for (c, cell) in reader.cells.enumerated() {
            guard let name = reader.string(cell) else {
                let problem = reader.withBytes(of: cell) { textProblem($0) } ?? "is not valid text"
                throw DataError(file: path, line: reader.recordLine, "header cell \(c + 1) \(problem)")
            }
            header.append(name)
        }
        let layout = try CSVLayout(header: header, file: path, classes: classes, classesOf: classesOf, mode: labels,
                                   delimiter: separator)
        let dataStart = reader.nextOffset, dataLine = reader.line

        var parsed: CSVParsed
        if reader.endedWithLoneCR {
            parsed = try readQuoted(input, after: reader, from: dataStart, line: dataLine, layout: layout)
        } else {
            let index = try CSVLineIndex.build(input, from: dataStart, firstLine: dataLine, threads: threads,
                                               chunkBytes: chunkBytes, chunkRows: chunkRows)
            if let z = index.nulOffset {
                throw DataError(file: path, "contains a NUL byte at offset \(z): binary data, expected UTF-8 CSV text")
            }
            if index.hasQuote {
                parsed = try readQuoted(input, after: reader, from: dataStart, line: dataLine, layout: layout)
            } else {
                if index.rows == 0 { throw DataError(file: path, line: 1, "has a header but no data rows") }
                parsed = try readUnquoted(input, index: index, layout: layout, threads: threads)
            }
        }
        return try parsed.loaded(layout: layout, file: path)
    }

    /// Pass 2 of the fast path: chunks of lines parsed on all cores, each worker reading its own chunk.
    private static func readUnquoted(_ input: InputFile, index: CSVLineIndex, layout: CSVLayout,
                                     threads: Int) throws -> CSVParsed {
        var out = CSVParsed(rows: index.rows, layout: layout)
        let chunks = index.chunks
        let workers = max(1, min(threads, chunks.count, ClassTable.maxWorkers))
        var parsers = [CSVRowParser?](repeating: nil, count: workers)
        let lock = NSLock()
        var next = 0
        var failure: (chunk: Int, error: Error)?
        try out.withBuffers(layout: layout, file: input.path) { makeParser in
            parsers.withUnsafeMutableBufferPointer { slots in
                Parallel(threads: workers).run(tasks: workers) { w in
                    var parser = makeParser(Int32(w))
                    var buffer = ByteBuffer(capacity: 1 << 20)
                    defer { buffer.free() }
                    while true {
                        lock.lock()
                        let ci = next
                        next += 1
                        let stop = ci >= chunks.count || ci > (failure?.chunk ?? .max)
                        lock.unlock()
                        if stop { break }
                        do {
                            try parseChunk(chunks[ci], input: input, buffer: &buffer, parser: &parser)
                        } catch {
                            lock.lock()
                            if ci < (failure?.chunk ?? .max) { failure = (ci, error) }
                            lock.unlock()
                            break
                        }
                    }
                    slots[w] = parser
                }
            }
            if let failure { throw failure.error }
        }
        out.finish(parsers.map { $0! })
        return out
    }

    static func parseChunk(_ chunk: CSVChunk, input: InputFile, buffer: inout ByteBuffer,
                                   parser: inout CSVRowParser) throws {
        let length = chunk.end - chunk.start
        buffer.reserve(length, keep: 0)
        let b = buffer.storage
        guard try input.read(into: b, count: length, at: chunk.start) == length else {
            throw DataError(file: input.path, "changed while being read (it is shorter now)")
        }
        b[length] = 0  // the sentinel that stops a number scan on a last line without a line break
        var p = UnsafePointer(b)
        let end = UnsafePointer(b + length)
        var row = chunk.firstRow, line = chunk.firstLine
        while p < end {
            let lf = memchr(p, Int32(UInt8(ascii: "\n")), end - p).map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) } ?? end
            var lineEnd = lf
            if lineEnd > p && (lineEnd - 1).pointee == UInt8(ascii: "\r") { lineEnd -= 1 }
            if lineEnd > p {
                try parser.parseLine(p, lineEnd, row: row, line: line)
                row += 1
            }
            line += 1
            p = lf + 1
        }
        if row - chunk.firstRow != chunk.rows {
            throw DataError(file: input.path, "changed while being read (its lines moved)")
        }
    }

    /// The RFC 4180 path for files with quotes in their data rows: count the records, then parse them.
    private static func readQuoted(_ input: InputFile, after header: CSVRecordReader, from dataStart: Int, line: Int,
                                   layout: CSVLayout) throws -> CSVParsed {
        var n = 0
        while try header.next() { n += 1 }
        if n == 0 { throw DataError(file: input.path, line: 1, "has a header but no data rows") }
        var out = CSVParsed(rows: n, layout: layout)
        var parser: CSVRowParser?
        try out.withBuffers(layout: layout, file: input.path) { makeParser in
            var p = makeParser(0)
            let reader = CSVRecordReader(input: input, from: dataStart, line: line, delimiter: layout.delimiter)
            var row = 0
            while try reader.next() {
                if row == n { throw DataError(file: input.path, "changed while being read (it has more rows now)") }
                try p.store(reader, row: row, line: reader.recordLine)
                row += 1
            }
            if row != n { throw DataError(file: input.path, "changed while being read (it has fewer rows now)") }
            parser = p
        }
        out.finish([parser!])
        return out
    }
}
