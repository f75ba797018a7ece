import Foundation

/// The files a data option names: one path, a glob (`'emb/part-*.npy'`: `*`, `?` and `[...]`, matched by the
/// C library's glob and sorted by name, byte by byte, so zero-padded numbers sort in order), or `@list.txt`
/// (one path per line; a relative one is relative to the list's own directory; blank lines ignored).
public enum ShardPattern {
    /// The paths in order. A path that exists as given is taken literally even if it holds glob characters.
    /// `flag` names the option in errors.
    public static func expand(_ spec: String, flag: String) throws -> [String] {
        if spec.hasPrefix("@") {
            let listPath = String(spec.dropFirst())
            if listPath.isEmpty { throw DataError(file: spec, "\(flag) @FILE needs a file name after '@'") }
            let input = try InputFile(path: listPath)
            if input.size > 64 << 20 { throw DataError(file: listPath, "is \(input.size) bytes, too large for a list of files") }
            let bytes = try input.prefix(input.size)
            guard let text = String(validating: bytes, as: UTF8.self), !bytes.contains(0) else {
                throw DataError(file: listPath, "is not UTF-8 text, expected one file name per line")
            }
            let base = (listPath as NSString).deletingLastPathComponent
            var paths: [String] = []
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                var name = String(line)
                if name.hasSuffix("\r") { name.removeLast() }
                if name.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                paths.append(name.hasPrefix("/") || base.isEmpty ? name : base + "/" + name)
            }
            if paths.isEmpty { throw DataError(file: listPath, "lists no files (\(flag) @FILE expects one file name per line)") }
            return paths
        }
        let wild = spec.contains { $0 == "*" || $0 == "?" || $0 == "[" }
        if !wild || FileManager.default.fileExists(atPath: spec) { return [spec] }
        var g = glob_t()
        defer { globfree(&g) }
        let status = glob(spec, GLOB_NOSORT, nil, &g)
        if status == GLOB_NOMATCH || (status == 0 && g.gl_pathc == 0) {
            throw DataError(file: spec, "matches no files (\(flag) takes a file, a quoted glob such as 'part-*.npy', or @list.txt)")
        }
        guard status == 0 else { throw DataError(file: spec, "cannot be expanded as a glob (error \(status))") }
        var paths: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { paths.append(String(cString: p)) }
        }
        // Byte order, not the locale's collation: the same order on every machine.
        return paths.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}

/// One logical array stored in one NPY file or in several (shards) concatenated along their first axis.
/// Every shard must have the same trailing shape (the same number of columns); dtypes may differ, each
/// shard converting its own. Rows are numbered globally; errors name the shard and its own row.
final class NPYShards: @unchecked Sendable {
    // @unchecked Sendable: immutable after init (`NPYArray` and `InputFile` only do positioned reads), but for
    // `maps`, set once by `map()` before any thread reads rows through it.
    let spec: String
    let arrays: [NPYArray]
    /// The first global row of each shard, then the total: (shards + 1).
    let starts: [Int]
    /// Each shard mapped into memory (`map()`), for reading rows where they lie.
    private(set) var maps: [MappedFile] = []

    /// Opens every file `spec` names (see `ShardPattern`) and checks that their shapes fit together.
    /// `flag` names the option in errors about the pattern itself.
    init(spec: String, flag: String) throws {
        self.spec = spec
        let paths = try ShardPattern.expand(spec, flag: flag)
        var arrays: [NPYArray] = []
        var starts = [0]
        for path in paths {
            let a = try NPYArray(path: path)
            if let first = arrays.first {
                if a.shape.count != first.shape.count || Array(a.shape.dropFirst()) != Array(first.shape.dropFirst()) {
                    let what = first.shape.count == 2 ? "\(first.shape[1]) columns" : "\(first.shape.count) dimension(s)"
                    throw DataError(file: path, "has shape \(a.shapeText), but the first shard \(first.path) has shape " +
                                    "\(first.shapeText): every shard needs the same \(what)")
                }
            }
            if a.shape.isEmpty { throw DataError(file: path, "has shape (), expected an array with rows") }
            arrays.append(a)
            starts.append(starts.last! + a.shape[0])
        }
        self.arrays = arrays
        self.starts = starts
    }

    var isSharded: Bool { arrays.count > 1 }
    /// The name of the whole array in messages: the file, or the pattern of several.
    var path: String { isSharded ? spec : arrays[0].path }
    var rowCount: Int { starts.last! }
    var columnCount: Int { arrays[0].columnCount }
    /// The shape of the concatenation.
    var shape: [Int] { [rowCount] + arrays[0].shape.dropFirst() }
    var shapeText: String {
        isSharded ? "(" + shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? ",)" : ")") +
            " in \(arrays.count) shards" : arrays[0].shapeText
    }
    var count: Int { rowCount * (shape.count == 2 ? columnCount : 1) }
    /// Stored bytes of data in every shard.
    var dataBytes: Int { arrays.reduce(0) { $0 + $1.count * $1.itemSize } }

    /// The shard holding global row `row` and the row's number inside it.
    func locate(_ row: Int) -> (shard: Int, row: Int) {
        var lo = 0, hi = arrays.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= row { lo = mid } else { hi = mid - 1 }
        }
        return (lo, row - starts[lo])
    }

    /// An error about global row `row`: named by its shard's file and its row there.
    func error(row: Int, column: String? = nil, _ message: String) -> DataError {
        let (s, r) = locate(row)
        return DataError(file: arrays[s].path, row: r, column: column, message)
    }

    /// Scratch bytes `readRows` needs for `rows` rows.
    func scratchBytes(rows: Int) -> Int { arrays.map { $0.scratchBytes(rows: rows) }.max()! }

    /// Global rows `rows` as Float (rows.count, columnCount), across shard boundaries. Each shard read is
    /// checked to be the file it was when opened (`InputFile.checkUnchanged`).
    func readRows(_ rows: Range<Int>, into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutableRawPointer) throws {
        var r = rows.lowerBound
        while r < rows.upperBound {
            let (s, local) = locate(r)
            let m = min(rows.upperBound, starts[s + 1]) - r
            try arrays[s].readRows(local..<(local + m), into: out + (r - rows.lowerBound) * columnCount, scratch: scratch)
            try arrays[s].input.checkUnchanged()
            r += m
        }
    }

    /// Global rows `rows` of a 1-D array as Double (class indices), across shard boundaries.
    func readDoubles(_ rows: Range<Int>, into out: UnsafeMutablePointer<Double>, scratch: UnsafeMutableRawPointer) throws {
        var r = rows.lowerBound
        while r < rows.upperBound {
            let (s, local) = locate(r)
            let m = min(rows.upperBound, starts[s + 1]) - r
            try arrays[s].readDoubles(local..<(local + m), into: out + (r - rows.lowerBound), scratch: scratch)
            try arrays[s].input.checkUnchanged()
            r += m
        }
    }

    /// The whole array as Float in C order (`count` elements), shard after shard.
    func readFloats(into out: UnsafeMutablePointer<Float>) throws {
        let width = shape.count == 2 ? columnCount : 1
        for (s, a) in arrays.enumerated() { try a.readFloats(into: out + starts[s] * width) }
    }

    /// `body(first, values)` over the elements in order (global element numbers), as `NPYArray.forEachChunk`.
    func forEachChunk(_ body: (Int, UnsafeBufferPointer<Double>) throws -> Void) throws {
        let width = shape.count == 2 ? columnCount : 1
        for (s, a) in arrays.enumerated() {
            try a.forEachChunk { first, values in try body(starts[s] * width + first, values) }
        }
    }

    // MARK: - Mapped rows

    func map() throws {
        if maps.isEmpty { maps = try arrays.map { try MappedFile($0.input) } }
    }

    /// Row `local` of shard `s` as Floats where they lie, when the shard stores little-endian float32 in C
    /// order (aligned); nil otherwise.
    @inline(__always)
    func floatRow(_ s: Int, _ local: Int) -> UnsafePointer<Float>? {
        let a = arrays[s]
        guard a.isNativeFloat32, a.dataOffset % 4 == 0 else { return nil }
        return (maps[s].base + a.dataOffset + local * a.columnCount * 4).assumingMemoryBound(to: Float.self)
    }

    /// Row `local` of shard `s` converted to Float into `out` (columnCount values).
    @inline(__always)
    func convertRow(_ s: Int, _ local: Int, into out: UnsafeMutablePointer<Float>) {
        let a = arrays[s], base = maps[s].base + a.dataOffset
        if a.columnMajor {
            for j in 0..<a.columnCount { a.convert(base + (j * a.rowCount + local) * a.itemSize, count: 1, into: out + j) }
        } else {
            a.convert(base + local * a.columnCount * a.itemSize, count: a.columnCount, into: out)
        }
    }

    /// Element `local` of 1-D shard `s` as Double (a class index).
    @inline(__always)
    func doubleValue(_ s: Int, _ local: Int) -> Double {
        let a = arrays[s]
        var v = 0.0
        a.decodeOne(maps[s].base + a.dataOffset + local * a.itemSize, into: &v)
        return v
    }

    /// Throws when a read of a mapped shard faulted (the file was cut short under it).
    func checkMappings() throws {
        for m in maps { if MappingGuard.faulted(m) { throw DataError(file: m.input.path, "changed while being read (it is shorter now)") } }
    }

    /// Throws when a shard holding rows `rows` changed since it was opened.
    func checkFiles(_ rows: Range<Int>) throws {
        guard !rows.isEmpty else { return }
        for s in locate(rows.lowerBound).shard...locate(rows.upperBound - 1).shard {
            if maps.isEmpty { try arrays[s].input.checkUnchanged() } else { try maps[s].checkUnchanged() }
        }
    }

    /// The byte ranges of rows `rows` per shard (C order; a Fortran-order shard: all of its data).
    private func byteRanges(_ rows: Range<Int>) -> [(Int, Range<Int>)] {
        guard !rows.isEmpty, !maps.isEmpty else { return [] }
        var out: [(Int, Range<Int>)] = []
        var r = rows.lowerBound
        while r < rows.upperBound {
            let (s, local) = locate(r)
            let m = min(rows.upperBound, starts[s + 1]) - r
            let a = arrays[s], width = a.columnCount * a.itemSize
            out.append((s, a.columnMajor ? a.dataOffset..<(a.dataOffset + a.count * a.itemSize)
                                         : (a.dataOffset + local * width)..<(a.dataOffset + (local + m) * width)))
            r += m
        }
        return out
    }

    func advise(_ rows: Range<Int>, willNeed: Bool) {
        for (s, range) in byteRanges(rows) { maps[s].advise(range, willNeed: willNeed) }
    }

    /// Reads a byte of every page of rows `rows`: the pages are then in memory and mapped.
    func touch(_ rows: Range<Int>) -> UInt8 {
        var sum: UInt8 = 0
        for (s, range) in byteRanges(rows) {
            if maps[s].populate(range) { continue }
            let base = maps[s].base
            var o = range.lowerBound
            while o < range.upperBound {
                sum &+= base.load(fromByteOffset: o, as: UInt8.self)
                o += 4096
            }
            if range.upperBound > range.lowerBound { sum &+= base.load(fromByteOffset: range.upperBound - 1, as: UInt8.self) }
        }
        return sum
    }
}
