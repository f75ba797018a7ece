import Foundation

/// Parses data rows straight into the final buffers. One per worker thread; each row is written by exactly
/// one worker, so the buffers need no locks.
struct CSVRowParser {
    let file: String
    let layout: CSVLayout
    let roles: UnsafePointer<Int32>              // (columns)
    let columns: Int
    let features: UnsafeMutablePointer<Float>    // (n, d)
    let d: Int
    let targets: UnsafeMutablePointer<Float>?    // (n, k) soft labels, when read
    let k: Int
    let hardCodes: UnsafeMutablePointer<Int32>?  // (n) `ClassTable.code(worker:local:)`, for hard labels
    let ids: UnsafeMutablePointer<String>?       // (n) when the file has an id column
    let worker: Int32
    let knownClasses: Set<String>?
    var classes = ClassTable()
    var stats = LabelSumStats()
    /// Leave label rows as written (counts stay counts), only checking that they could be normalised:
    /// `convert` writes them so, and the NPY reader then normalises them exactly as this parser would.
    var keepRawLabels = false
    var rawRow: [Float] = []  // scratch for keepRawLabels

    /// Parses one line of an unquoted file: the bytes `start..<end` (line break excluded). The byte at `end`
    /// is a line break or a 0 sentinel, so number scans stop there.
    @inline(__always)
    mutating func parseLine(_ start: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>, row: Int, line: Int) throws {
        let comma = layout.delimiter
        let featureRow = features + row * d
        var p = start
        var c = 0
        while true {
            if c == columns { throw cellCount(1 + count(comma, start, end), line: line) }
            let role = roles[c]
            let stop: UnsafePointer<UInt8>
            if role >= 0, let (v, s) = FloatParser.scanTerminated(p), s == end || s.pointee == comma {
                featureRow[Int(role)] = v
                stop = s
            } else if role <= CSVLayout.softLabelBase, let (v, s) = FloatParser.scanTerminated(p),
                      v >= 0 || layout.readsLogits, s == end || s.pointee == comma {
                targets![row * k + Int(CSVLayout.softLabelBase - role)] = v + 0  // + 0 turns -0.0 into 0
                stop = s
            } else {
                stop = memchr(p, Int32(comma), end - p).map { UnsafePointer($0.assumingMemoryBound(to: UInt8.self)) } ?? end
                try storeCell(UnsafeBufferPointer(start: p, count: stop - p), column: c, row: row, line: line)
            }
            if stop == end { break }
            p = stop + 1
            c += 1
        }
        if c + 1 != columns { throw cellCount(c + 1, line: line) }
        if targets != nil { try finishLabels(row: row, line: line) }
    }

    /// Stores the record the reader holds (a quoted file's row).
    mutating func store(_ reader: CSVRecordReader, row: Int, line: Int) throws {
        if reader.cells.count != columns { throw cellCount(reader.cells.count, line: line) }
        for (c, cell) in reader.cells.enumerated() where roles[c] != CSVLayout.skip {
            try reader.withBytes(of: cell) { try storeCell($0, column: c, row: row, line: line) }
        }
        if targets != nil { try finishLabels(row: row, line: line) }
    }

    /// One cell, whole: the slow path of every role.
    mutating func storeCell(_ bytes: UnsafeBufferPointer<UInt8>, column c: Int, row: Int, line: Int) throws {
        let role = roles[c]
        if role >= 0 {
            features[row * d + Int(role)] = try number(bytes, column: c, line: line)
        } else if role <= CSVLayout.softLabelBase {
            let v = try number(bytes, column: c, line: line)
            if v < 0 && !layout.readsLogits {
                throw DataError(file: file, line: line, column: layout.header[c], "negative label value \(shown(bytes))")
            }
            targets![row * k + Int(CSVLayout.softLabelBase - role)] = v + 0
        } else if role == CSVLayout.id {
            guard let s = String(validating: bytes, as: UTF8.self), !bytes.contains(0) else {
                throw DataError(file: file, line: line, column: layout.header[c], textProblem(bytes) ?? "bad text")
            }
            ids![row] = s
        } else if role == CSVLayout.hardLabel {
            if bytes.isEmpty { throw DataError(file: file, line: line, column: "label", "empty class name") }
            guard let i = classes.index(of: bytes) else {
                throw DataError(file: file, line: line, column: "label", textProblem(bytes) ?? "bad text")
            }
            if let knownClasses, !knownClasses.contains(classes.names[Int(i)]) {
                throw DataError(file: file, line: line, column: "label",
                                "class '\(classes.names[Int(i)])' is not one of \(layout.classesOf)'s classes")
            }
            if i >= DataLimits.maxClasses {
                throw DataError(file: file, line: line, column: "label",
                                "the label column has \(DataLimits.classLimitText) (is it really a label column?)")
            }
            hardCodes![row] = ClassTable.code(worker: worker, local: i)
        }
    }

    private mutating func finishLabels(row: Int, line: Int) throws {
        if layout.readsLogits { return }  // logits are any finite numbers, not a distribution
        var target = targets! + row * k
        if keepRawLabels {
            if rawRow.count < k { rawRow = [Float](repeating: 0, count: k) }
            let copy = rawRow.withUnsafeMutableBufferPointer { $0.baseAddress! }
            copy.update(from: target, count: k)
            target = copy
        }
        if !LabelRow.normalise(target, k: k, row: row, stats: &stats) {
            throw DataError(file: file, line: line, "label cells sum to 0, expected a distribution or counts")
        }
    }

    /// A finite Float from a whole cell (spaces around it allowed), or the error that says what is wrong.
    private func number(_ raw: UnsafeBufferPointer<UInt8>, column c: Int, line: Int) throws -> Float {
        var lo = 0, hi = raw.count
        while lo < hi && (raw[lo] == 0x20 || raw[lo] == 0x09) { lo += 1 }
        while hi > lo && (raw[hi - 1] == 0x20 || raw[hi - 1] == 0x09) { hi -= 1 }
        let bytes = UnsafeBufferPointer(rebasing: raw[lo..<hi])
        let column = layout.header[c]
        if bytes.isEmpty { throw DataError(file: file, line: line, column: column, "empty cell, expected a number") }
        guard let v = FloatParser.parse(bytes) else {
            if let problem = textProblem(bytes) { throw DataError(file: file, line: line, column: column, problem) }
            let decimalComma = layout.delimiter != UInt8(ascii: ",") && bytes.contains(UInt8(ascii: ","))
            throw DataError(file: file, line: line, column: column, "'\(shown(bytes))' is not a number" +
                            (decimalComma ? " (a decimal comma? write numbers with a '.')" : ""))
        }
        if v.isNaN { throw DataError(file: file, line: line, column: column, "NaN, expected a finite number") }
        if v.isInfinite {
            throw DataError(file: file, line: line, column: column, "'\(shown(bytes))' is infinite or overflows Float")
        }
        return v
    }

    private func cellCount(_ found: Int, line: Int) -> DataError {
        DataError(file: file, line: line, "has \(found) cells, expected \(columns) (as in the header)")
    }

    private func count(_ byte: UInt8, _ start: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>) -> Int {
        var n = 0
        var p = start
        while p < end {
            if p.pointee == byte { n += 1 }
            p += 1
        }
        return n
    }
}
