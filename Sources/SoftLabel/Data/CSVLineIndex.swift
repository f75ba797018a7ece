import Foundation

/// A run of whole lines of the data part of a CSV file: bytes `start..<end`, holding `rows` non-blank lines, the
/// first of which is data row `firstRow` (0-based) on physical line `firstLine` (1-based).
struct CSVChunk: Sendable {
    var start: Int
    var end: Int
    var firstRow: Int
    var firstLine: Int
    var rows: Int
}

/// Pass 1 over the data part of a CSV file: where its lines are, cut into chunks for parallel parsing, and
/// whether any byte rules out the fast path (a quote) or the file (a NUL). Streams the file in blocks;
/// the parts of the file are scanned in parallel.
struct CSVLineIndex {
    var chunks: [CSVChunk] = []
    var rows = 0
    var hasQuote = false
    var nulOffset: Int?

    /// - Parameters:
    ///   - chunkBytes, chunkRows: a chunk ends at the first line break after either is reached.
    static func build(_ input: InputFile, from dataStart: Int, firstLine: Int, threads: Int,
                      chunkBytes: Int = 1 << 19, chunkRows: Int = 4096) throws -> CSVLineIndex {
        let length = input.size - dataStart
        let parts = max(1, min(threads, length / (1 << 20)))  // small files: one part
        var segments = [Result<Segment, Error>](repeating: .success(Segment()), count: parts)
        segments.withUnsafeMutableBufferPointer { out in
            Parallel(threads: parts).run(tasks: parts) { w in
                let lo = dataStart + length * w / parts, hi = dataStart + length * (w + 1) / parts
                out[w] = Result { try scan(input, lo: lo, hi: hi, first: w == 0, chunkBytes: chunkBytes, chunkRows: chunkRows) }
            }
        }
        var index = CSVLineIndex()
        var lines = firstLine
        for s in segments {
            let seg = try s.get()
            for var c in seg.chunks {
                c.firstRow += index.rows
                c.firstLine += lines
                index.chunks.append(c)
            }
            index.rows += seg.rows
            lines += seg.lines
            index.hasQuote = index.hasQuote || seg.hasQuote
            if index.nulOffset == nil { index.nulOffset = seg.nulOffset }
        }
        return index
    }

    private struct Segment {
        var chunks: [CSVChunk] = []  // rows and lines counted from this segment's start
        var rows = 0
        var lines = 0
        var hasQuote = false
        var nulOffset: Int?
    }

    /// The lines that start in `lo..<hi` (the last may run past `hi`).
    private static func scan(_ input: InputFile, lo: Int, hi: Int, first: Bool,
                             chunkBytes: Int, chunkRows: Int) throws -> Segment {
        let size = input.size
        let blockSize = min(4 << 20, max(hi - lo, 1 << 16))
        let buffer = ByteBuffer(capacity: blockSize)
        defer { buffer.free() }
        let b = buffer.storage
        var blockStart = 0, blockEnd = 0
        var previousLast: UInt8 = 0  // the last byte of the block before this one
        var seg = Segment()
        var scannedTo = 0  // bytes before this were checked for quotes and NULs

        func load(_ offset: Int) throws {
            if blockEnd > blockStart { previousLast = b[blockEnd - blockStart - 1] }
            let n = try input.read(into: b, count: blockSize, at: offset)
            blockStart = offset
            blockEnd = offset + n
        }
        /// Checks bytes `from..<to` of the loaded block for quotes and NULs.
        func check(_ from: Int, _ to: Int) {
            guard to > from else { return }
            let p = b + (from - blockStart)
            if !seg.hasQuote && memchr(p, Int32(UInt8(ascii: "\"")), to - from) != nil { seg.hasQuote = true }
            if seg.nulOffset == nil, let z = memchr(p, 0, to - from) {
                seg.nulOffset = from + (UnsafeMutablePointer<UInt8>(z.assumingMemoryBound(to: UInt8.self)) - p)
            }
        }
        /// The first line break at or after `from`, or `size`.
        func nextBreak(_ from: Int, checking: Bool) throws -> Int {
            var pos = from
            while true {
                if pos >= blockEnd || pos < blockStart {
                    if pos >= size { return size }
                    try load(pos)
                }
                let start = b + (pos - blockStart)
                if let f = memchr(start, Int32(UInt8(ascii: "\n")), blockEnd - pos) {
                    let e = pos + (UnsafeMutablePointer<UInt8>(f.assumingMemoryBound(to: UInt8.self)) - start)
                    if checking { check(max(pos, scannedTo), e); scannedTo = e }
                    return e
                }
                if checking { check(max(pos, scannedTo), blockEnd); scannedTo = blockEnd }
                pos = blockEnd
                if pos >= size { return size }
            }
        }

        var lineStart = first ? lo : try nextBreak(lo - 1, checking: false) + 1
        scannedTo = lineStart
        var chunk = CSVChunk(start: lineStart, end: lineStart, firstRow: 0, firstLine: 0, rows: 0)
        while lineStart < hi && lineStart < size {
            let e = try nextBreak(lineStart, checking: true)
            let blank: Bool
            switch e - lineStart {
            case 0: blank = true
            case 1: blank = (e - 1 >= blockStart ? b[e - 1 - blockStart] : previousLast) == UInt8(ascii: "\r")
            default: blank = false
            }
            seg.lines += 1
            if !blank {
                seg.rows += 1
                chunk.rows += 1
            }
            lineStart = min(e + 1, size)
            if chunk.rows >= chunkRows || lineStart - chunk.start >= chunkBytes {
                chunk.end = lineStart
                seg.chunks.append(chunk)
                chunk = CSVChunk(start: lineStart, end: lineStart, firstRow: seg.rows, firstLine: seg.lines, rows: 0)
            }
        }
        if lineStart > chunk.start {
            chunk.end = lineStart
            seg.chunks.append(chunk)
        }
        return seg
    }
}
