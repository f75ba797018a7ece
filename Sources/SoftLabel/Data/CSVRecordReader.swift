import Foundation

/// Reads RFC 4180 records one at a time, streaming the file through a buffer: quoted fields, doubled quotes,
/// commas and line breaks inside quotes; records end at LF, CRLF or a lone CR; blank lines are skipped.
///
/// The buffer grows (doubling) only for a record longer than it; each growth rescans the record from its
/// start, so a 20 MB line costs a few passes over 20 MB, never quadratic time.
final class CSVRecordReader {
    /// A field's bytes in `bytes[start..<end]`; for a quoted field, the text inside the quotes, where
    /// `escaped` says it still holds doubled quotes.
    struct Cell {
        var start: Int
        var end: Int
        var quoted: Bool
        var escaped: Bool
    }

    private let input: InputFile
    private var buffer: ByteBuffer
    private var head = 0           // first unconsumed byte
    private var tail = 0           // end of the bytes read so far
    private var bufferOffset: Int  // file offset of buffer[0]
    private var atEOF = false
    private(set) var cells: [Cell] = []
    private(set) var recordLine = 0        // physical line where the current record starts (1-based)
    private(set) var line: Int             // physical line of the next unread byte
    private(set) var endedWithLoneCR = false
    private var scratch: [UInt8] = []
    /// The cell separator: a comma, or what `CSVDelimiter` found or was told.
    let delimiter: UInt8

    init(input: InputFile, from offset: Int, line: Int, blockSize: Int = 1 << 20, delimiter: UInt8 = UInt8(ascii: ",")) {
        self.input = input
        self.delimiter = delimiter
        self.bufferOffset = offset
        self.line = line
        buffer = ByteBuffer(capacity: blockSize)
    }

    deinit { buffer.free() }

    /// File offset just after the current record (where the next one starts).
    var nextOffset: Int { bufferOffset + head }

    /// Reads the next non-blank record into `cells`; false at the end of the file.
    func next() throws -> Bool {
        while true {
            switch try scanRecord() {
            case .needMore:
                if !(try refill()) { atEOF = true }
            case .end:
                return false
            case .blank:
                continue
            case .record:
                return true
            }
        }
    }

    private enum Scan { case needMore, end, blank, record }

    private func scanRecord() throws -> Scan {
        let b = buffer.storage
        let quote = UInt8(ascii: "\""), comma = delimiter, lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
        var i = head
        var newlines = 0
        cells.removeAll(keepingCapacity: true)
        if i == tail { return atEOF ? .end : .needMore }
        func finish(_ consumed: Int, lineBreaks: Int, loneCR: Bool = false) -> Scan {
            head = consumed
            recordLine = line
            line += lineBreaks
            endedWithLoneCR = loneCR
            if cells.count == 1 && !cells[0].quoted && cells[0].start == cells[0].end { return .blank }
            return .record
        }
        while true {
            if i == tail && !atEOF { return .needMore }
            if i < tail && b[i] == quote {
                var j = i + 1
                var escaped = false
                while true {
                    guard let q = memchr(b + j, Int32(quote), tail - j) else {
                        if atEOF {
                            throw DataError(file: input.path, line: line, "unterminated quoted field (no closing '\"')")
                        }
                        return .needMore
                    }
                    let qi = UnsafeMutablePointer<UInt8>(q.assumingMemoryBound(to: UInt8.self)) - b
                    for k in j..<qi where b[k] == lf { newlines += 1 }
                    if qi + 1 == tail && !atEOF { return .needMore }
                    if qi + 1 < tail && b[qi + 1] == quote {
                        escaped = true
                        j = qi + 2
                        continue
                    }
                    cells.append(Cell(start: i + 1, end: qi, quoted: true, escaped: escaped))
                    i = qi + 1
                    break
                }
                if i < tail && b[i] != comma && b[i] != lf && b[i] != cr {
                    throw DataError(file: input.path, line: line + newlines,
                                    "text after a closing quote, expected \(CSVDelimiter.quoted(delimiter)) or end of line")
                }
            } else {
                let start = i
                while i < tail {
                    let c = b[i]
                    if c == comma || c == lf || c == cr { break }
                    if c == quote {
                        throw DataError(file: input.path, line: line + newlines, "stray quote inside an unquoted field")
                    }
                    i += 1
                }
                if i == tail && !atEOF { return .needMore }
                cells.append(Cell(start: start, end: i, quoted: false, escaped: false))
            }
            if i == tail { return finish(i, lineBreaks: 1) }  // the last record, without a final line break
            let c = b[i]
            if c == comma {
                i += 1
                continue
            }
            if c == lf { return finish(i + 1, lineBreaks: newlines + 1) }
            if i + 1 == tail && !atEOF { return .needMore }  // CR: is an LF next?
            if i + 1 < tail && b[i + 1] == lf { return finish(i + 2, lineBreaks: newlines + 1) }
            return finish(i + 1, lineBreaks: newlines + 1, loneCR: true)
        }
    }

    /// Moves the unconsumed bytes to the front, grows the buffer when they fill it, and reads more.
    /// False when the file has no more bytes.
    private func refill() throws -> Bool {
        let keep = tail - head
        if head > 0 {
            memmove(buffer.storage, buffer.storage + head, keep)
            bufferOffset += head
            head = 0
            tail = keep
        }
        if tail == buffer.capacity { buffer.reserve(buffer.capacity * 2, keep: tail) }
        let n = try input.read(into: buffer.storage + tail, count: buffer.capacity - tail, at: bufferOffset + tail)
        if let z = memchr(buffer.storage + tail, 0, n) {
            let offset = bufferOffset + (UnsafeMutablePointer<UInt8>(z.assumingMemoryBound(to: UInt8.self)) - buffer.storage)
            throw DataError(file: input.path, "contains a NUL byte at offset \(offset): binary data, expected UTF-8 CSV text")
        }
        tail += n
        buffer.storage[tail] = 0
        return n > 0
    }

    /// Calls `body` with the cell's text bytes (doubled quotes undone).
    func withBytes<R>(of cell: Cell, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if !cell.escaped {
            // The byte after a cell is a delimiter, a quote or the 0 sentinel: number scans stop there.
            return try body(UnsafeBufferPointer(start: buffer.storage + cell.start, count: cell.end - cell.start))
        }
        scratch.removeAll(keepingCapacity: true)
        var k = cell.start
        while k < cell.end {
            scratch.append(buffer.storage[k])
            k += buffer.storage[k] == UInt8(ascii: "\"") ? 2 : 1
        }
        scratch.append(0)
        return try scratch.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0.dropLast())) }
    }

    /// The cell as a String; nil when it is not valid UTF-8 (or holds a NUL).
    func string(_ cell: Cell) -> String? {
        withBytes(of: cell) { b in
            if b.contains(0) { return nil }
            return String(validating: b, as: UTF8.self)
        }
    }
}
