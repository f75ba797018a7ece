import Foundation

/// An NPY file (format 1.0, 2.0 or 3.0) opened and checked: element type, order, shape, and where the data
/// starts. The data itself is read on demand, in chunks or straight into the caller's buffer.
struct NPYArray {
    enum Kind { case float, signed, unsigned, bool }

    let input: InputFile
    var kind: Kind
    var itemSize: Int
    var bigEndian: Bool
    var fortranOrder: Bool
    var shape: [Int]
    var descr: String
    var dataOffset: Int

    var count: Int { shape.reduce(1, *) }

    /// The longest header read: 64 KiB.
    static let maxHeaderLength = 1 << 16
    var path: String { input.path }

    /// Opens `path` and checks its header against the file size.
    init(path: String) throws {
        input = try InputFile(path: path)
        let head = try input.prefix(12)
        guard head.starts(with: [0x93] + Array("NUMPY".utf8)) else {
            throw DataError(file: path, "is not an NPY file (bad magic bytes, expected '\\x93NUMPY')")
        }
        guard head.count >= 10 else { throw DataError(file: path, "is truncated inside its NPY header") }
        let major = head[6], minor = head[7]
        let headerLength: Int, headerStart: Int
        switch major {
        case 1:
            headerLength = Int(head[8]) | Int(head[9]) << 8
            headerStart = 10
        case 2, 3:
            guard head.count >= 12 else { throw DataError(file: path, "is truncated inside its NPY header") }
            headerLength = Int(head[8]) | Int(head[9]) << 8 | Int(head[10]) << 16 | Int(head[11]) << 24
            headerStart = 12
        default:
            throw DataError(file: path, "has NPY format version \(major).\(minor), expected 1.0, 2.0 or 3.0")
        }
        // numpy itself refuses headers over 10,000 bytes by default (`max_header_size`); ours parses
        // Characters (16 bytes each), so a gigabyte header must not reach the parser.
        guard headerLength <= NPYArray.maxHeaderLength else {
            throw DataError(file: path, "has an NPY header of \(headerLength) bytes, more than the \(NPYArray.maxHeaderLength) " +
                            "bytes a numeric array's header needs")
        }
        guard headerStart + headerLength <= input.size else {
            throw DataError(file: path, "is truncated inside its NPY header")
        }
        let bytes = Array(try input.prefix(headerStart + headerLength)[headerStart...])
        var parser = NPYHeaderParser(text: String(decoding: bytes, as: UTF8.self), file: path)
        let dict = try parser.parse()
        dataOffset = headerStart + headerLength

        guard case .string(let descr)? = dict["descr"] else {
            if dict["descr"] != nil {
                throw DataError(file: path, "has a structured dtype (record fields), expected a plain numeric array")
            }
            throw DataError(file: path, "NPY header has no 'descr' (dtype)")
        }
        guard case .bool(let fortran)? = dict["fortran_order"] else {
            throw DataError(file: path, "NPY header has no 'fortran_order'")
        }
        guard case .tuple(let shape)? = dict["shape"] else { throw DataError(file: path, "NPY header has no 'shape'") }
        self.descr = descr
        self.fortranOrder = fortran
        self.shape = shape
        (kind, itemSize, bigEndian) = try NPYArray.dtype(descr, file: path)

        let (product, overflow) = shape.reduce((1, false)) { acc, n in
            let m = acc.0.multipliedReportingOverflow(by: n)
            return (m.partialValue, acc.1 || m.overflow)
        }
        let needed = product.multipliedReportingOverflow(by: itemSize)
        let have = input.size - dataOffset
        if overflow || needed.overflow || needed.partialValue > have {
            throw DataError(file: path, "is truncated: its header shape \(shapeText) of \(shown(descr)) needs " +
                            "\(overflow || needed.overflow ? "more than 2^63" : String(needed.partialValue)) bytes of data, the file has \(have)")
        }
        if needed.partialValue < have {
            throw DataError(file: path, "has \(have - needed.partialValue) bytes more than its header shape \(shapeText) " +
                            "of \(shown(descr)) needs: the header disagrees with the file size")
        }
    }

    /// The shape as numpy prints it, `(4, 3)` or `(4,)`; at most 8 dimensions shown.
    var shapeText: String {
        "(" + shape.prefix(8).map(String.init).joined(separator: ", ") + (shape.count > 8 ? ", ...)" : shape.count == 1 ? ",)" : ")")
    }

    /// Element kind, size and byte order from a dtype string such as `<f4`, `|u1`, `>i8`.
    static func dtype(_ descr: String, file: String) throws -> (Kind, Int, Bool) {
        let chars = Array(descr)
        let descr = shown(descr)  // a hostile header may hold a megabyte of dtype
        let expected = "expected float16, float32, float64, an integer type or bool"
        guard chars.count >= 2, "<>|=".contains(chars[0]) else {
            throw DataError(file: file, "has unsupported dtype '\(descr)', \(expected)")
        }
        // The item size in bytes: 1 to 3 ASCII digits (numpy's largest is 16), else 0 (unsupported), so no
        // size from a hostile header (`<f4611686018427387904`) can overflow the arithmetic below.
        let digits = chars[2...]
        let size = digits.count <= 3 && digits.allSatisfy({ $0.isASCII && $0.isNumber }) ? Int(String(digits)) ?? 0 : 0
        let big = chars[0] == ">"
        switch (chars[1], size) {
        case ("f", 2), ("f", 4), ("f", 8): return (.float, size, big)
        case ("i", 1), ("i", 2), ("i", 4), ("i", 8): return (.signed, size, big)
        case ("u", 1), ("u", 2), ("u", 4), ("u", 8): return (.unsigned, size, big)
        case ("b", 1): return (.bool, 1, false)
        case ("f", 1...): throw DataError(file: file, "has unsupported dtype '\(descr)' (float\(size * 8)), \(expected)")
        case ("c", _): throw DataError(file: file, "has unsupported dtype '\(descr)' (complex), \(expected)")
        case ("O", _): throw DataError(file: file, "has unsupported dtype '\(descr)' (Python objects), \(expected)")
        case ("U", _), ("S", _), ("a", _):
            throw DataError(file: file, "has unsupported dtype '\(descr)' (text), \(expected)")
        case ("M", _), ("m", _): throw DataError(file: file, "has unsupported dtype '\(descr)' (dates/times), \(expected)")
        default: throw DataError(file: file, "has unsupported dtype '\(descr)', \(expected)")
        }
    }

    /// Whether the data is little-endian float32 in C order: then its bytes are the final buffer's bytes.
    var isNativeFloat32: Bool { kind == .float && itemSize == 4 && !bigEndian && (!fortranOrder || shape.count < 2) }

    /// Rows: `shape[0]`. Columns: `shape[1]` of a 2-D array, 1 for a 1-D one.
    var rowCount: Int { shape.first ?? 1 }
    var columnCount: Int { shape.count == 2 ? shape[1] : 1 }
    /// Fortran order that matters (a 2-D array stored column by column).
    var columnMajor: Bool { fortranOrder && shape.count == 2 }

    /// Converts `count` stored elements at `raw` to Float, exactly as the whole-array reader does: float16 and
    /// float32 exactly, every other type as Float(Double(value)).
    func convert(_ raw: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        func each<T>(_: T.Type, _ f: (T) -> Float) {
            for i in 0..<count { out[i] = f(raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
        }
        let big = bigEndian
        switch (kind, itemSize) {
        case (.float, 2): HalfFloat.widen(raw, count: count, bigEndian: big, into: out)
        case (.float, 4):
            if big { each(UInt32.self) { Float(bitPattern: UInt32(bigEndian: $0)) } } else {
                UnsafeMutableRawPointer(out).copyMemory(from: raw, byteCount: 4 * count)
            }
        case (.float, _): each(UInt64.self) { Float(Double(bitPattern: big ? UInt64(bigEndian: $0) : UInt64(littleEndian: $0))) }
        case (.signed, 1): each(Int8.self) { Float(Double($0)) }
        case (.signed, 2): each(Int16.self) { Float(Double(big ? Int16(bigEndian: $0) : Int16(littleEndian: $0))) }
        case (.signed, 4): each(Int32.self) { Float(Double(big ? Int32(bigEndian: $0) : Int32(littleEndian: $0))) }
        case (.signed, _): each(Int64.self) { Float(Double(big ? Int64(bigEndian: $0) : Int64(littleEndian: $0))) }
        case (.unsigned, 1), (.bool, _): each(UInt8.self) { Float(Double($0)) }
        case (.unsigned, 2): each(UInt16.self) { Float(Double(big ? UInt16(bigEndian: $0) : UInt16(littleEndian: $0))) }
        case (.unsigned, 4): each(UInt32.self) { Float(Double(big ? UInt32(bigEndian: $0) : UInt32(littleEndian: $0))) }
        case (.unsigned, _): each(UInt64.self) { Float(Double(big ? UInt64(bigEndian: $0) : UInt64(littleEndian: $0))) }
        }
    }

    /// Bytes of scratch space `readRows` needs for `rows` rows.
    func scratchBytes(rows: Int) -> Int { rows * columnCount * itemSize + (columnMajor ? rows * 4 : 0) }

    /// Reads rows `rows` as Float into `out` (rows.count, columnCount) in C order, converted as `convert` does,
    /// through `scratch` (`scratchBytes(rows:)` bytes). One positioned read for C order (little-endian float32
    /// lands in `out` directly); one per column for Fortran order. A file that has become shorter is an error.
    func readRows(_ rows: Range<Int>, into out: UnsafeMutablePointer<Float>, scratch: UnsafeMutableRawPointer) throws {
        let m = rows.count, cols = columnCount
        guard m > 0 else { return }
        if columnMajor {
            let column = (scratch + m * itemSize).assumingMemoryBound(to: Float.self)
            for j in 0..<cols {
                let bytes = m * itemSize
                guard try input.read(into: scratch, count: bytes, at: dataOffset + (j * rowCount + rows.lowerBound) * itemSize) == bytes
                else { throw changed }
                convert(scratch, count: m, into: column)
                for r in 0..<m { out[r * cols + j] = column[r] }
            }
            return
        }
        let count = m * cols, bytes = count * itemSize
        let target = isNativeFloat32 ? UnsafeMutableRawPointer(out) : scratch
        guard try input.read(into: target, count: bytes, at: dataOffset + rows.lowerBound * cols * itemSize) == bytes else {
            throw changed
        }
        if !isNativeFloat32 { convert(scratch, count: count, into: out) }
    }

    /// Reads the whole array as Float into `out` (`count` elements) in C (row-major) order:
    /// little-endian float32 in C order straight into `out`; float16 widened chunk by chunk; anything else
    /// converted chunk by chunk.
    func readFloats(into out: UnsafeMutablePointer<Float>) throws {
        if kind == .float && itemSize == 2 && !columnMajor {
            let rows = rowCount, per = max(1, (1 << 16) / max(columnCount, 1))
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: scratchBytes(rows: min(per, rows)), alignment: 64)
            defer { scratch.deallocate() }
            var r = 0
            while r < rows {
                let m = min(per, rows - r)
                try readRows(r..<(r + m), into: out + r * columnCount, scratch: scratch)
                r += m
            }
            return
        }
        if isNativeFloat32 {
            // Two halves read at once: the copy and the first-touch page faults run on both cores.
            let parts = Parallel.split(count, parts: count >= 1 << 20 ? Parallel.allCores : 1, align: 1024)
            var failures = [Error?](repeating: nil, count: parts.count)
            failures.withUnsafeMutableBufferPointer { failed in
                Parallel(threads: parts.count).run(tasks: parts.count) { t in
                    let r = parts[t]
                    do {
                        let bytes = r.count * 4
                        if try input.read(into: out + r.lowerBound, count: bytes, at: dataOffset + r.lowerBound * 4) != bytes {
                            failed[t] = changed
                        }
                    } catch { failed[t] = error }
                }
            }
            if let e = failures.compactMap({ $0 }).first { throw e }
            return
        }
        let rows = shape.first ?? 1, cols = shape.count == 2 ? shape[1] : 1
        let transpose = fortranOrder && shape.count == 2
        try forEachChunk { first, values in
            if transpose {
                // Fortran order: element e of the file is (e % rows, e / rows).
                for (o, v) in values.enumerated() {
                    let e = first + o
                    out[(e % rows) * cols + e / rows] = Float(v)
                }
            } else {
                for (o, v) in values.enumerated() { out[first + o] = Float(v) }
            }
        }
    }

    /// Calls `body(first, values)` for consecutive chunks of the data in file order, each element as a Double
    /// (exact for every supported type but 64-bit integers beyond 2^53).
    func forEachChunk(_ body: (Int, UnsafeBufferPointer<Double>) throws -> Void) throws {
        let perChunk = 1 << 16
        let raw = UnsafeMutableRawPointer.allocate(byteCount: perChunk * itemSize, alignment: 8)
        defer { raw.deallocate() }
        var values = [Double](repeating: 0, count: perChunk)
        var first = 0
        while first < count {
            let m = min(perChunk, count - first)
            guard try input.read(into: raw, count: m * itemSize, at: dataOffset + first * itemSize) == m * itemSize else {
                throw changed
            }
            values.withUnsafeMutableBufferPointer { v in decode(raw, m, into: v.baseAddress!) }
            try values.withUnsafeBufferPointer { try body(first, UnsafeBufferPointer(rebasing: $0[..<m])) }
            first += m
        }
    }

    /// Rows `rows` of a 1-D array as Double, as `forEachChunk` gives them, through `scratch`
    /// (`scratchBytes(rows:)` bytes).
    func readDoubles(_ rows: Range<Int>, into out: UnsafeMutablePointer<Double>, scratch: UnsafeMutableRawPointer) throws {
        precondition(shape.count == 1)
        let bytes = rows.count * itemSize
        guard try input.read(into: scratch, count: bytes, at: dataOffset + rows.lowerBound * itemSize) == bytes else { throw changed }
        decode(scratch, rows.count, into: out)
    }

    /// One stored element at `raw` as Double.
    func decodeOne(_ raw: UnsafeRawPointer, into v: inout Double) {
        withUnsafeMutablePointer(to: &v) { decode(UnsafeMutableRawPointer(mutating: raw), 1, into: $0) }
    }

    private func decode(_ raw: UnsafeMutableRawPointer, _ m: Int, into v: UnsafeMutablePointer<Double>) {
        func load<T: FixedWidthInteger>(_: T.Type) -> (Int) -> T {
            { i in let x = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)
                return bigEndian ? T(bigEndian: x) : T(littleEndian: x) }
        }
        switch (kind, itemSize) {
        case (.float, 2): let l = load(UInt16.self); for i in 0..<m { v[i] = Double(Float(half: l(i))) }
        case (.float, 4): let l = load(UInt32.self); for i in 0..<m { v[i] = Double(Float(bitPattern: l(i))) }
        case (.float, _): let l = load(UInt64.self); for i in 0..<m { v[i] = Double(bitPattern: l(i)) }
        case (.signed, 1): let l = load(Int8.self); for i in 0..<m { v[i] = Double(l(i)) }
        case (.signed, 2): let l = load(Int16.self); for i in 0..<m { v[i] = Double(l(i)) }
        case (.signed, 4): let l = load(Int32.self); for i in 0..<m { v[i] = Double(l(i)) }
        case (.signed, _): let l = load(Int64.self); for i in 0..<m { v[i] = Double(l(i)) }
        case (.unsigned, 1), (.bool, _): let l = load(UInt8.self); for i in 0..<m { v[i] = Double(l(i)) }
        case (.unsigned, 2): let l = load(UInt16.self); for i in 0..<m { v[i] = Double(l(i)) }
        case (.unsigned, 4): let l = load(UInt32.self); for i in 0..<m { v[i] = Double(l(i)) }
        case (.unsigned, _): let l = load(UInt64.self); for i in 0..<m { v[i] = Double(l(i)) }
        }
    }

    /// The index of the first NaN or ±inf among `values`, if any. 64 values per step, integer operations only:
    /// (bits & 0x7F800000) + 0x00800000 has its top bit set exactly when the exponent field is all ones (a
    /// value that is not finite), so OR-ing those sums over a piece and testing the top bit finds any; the
    /// first culprit is then looked for in that piece alone.
    static func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
        let n = values.count, n64 = n / 64 * 64
        guard let base = values.baseAddress else { return nil }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i < n64 {
            let end = min(n64, i + 4096)
            var any = SIMD16<UInt32>()
            var k = i
            while k < end {
                let a = raw.loadUnaligned(fromByteOffset: 4 * k, as: SIMD16<UInt32>.self)
                let b = raw.loadUnaligned(fromByteOffset: 4 * k + 64, as: SIMD16<UInt32>.self)
                let c = raw.loadUnaligned(fromByteOffset: 4 * k + 128, as: SIMD16<UInt32>.self)
                let d = raw.loadUnaligned(fromByteOffset: 4 * k + 192, as: SIMD16<UInt32>.self)
                any |= nonFiniteMarks(a) | nonFiniteMarks(b) | nonFiniteMarks(c) | nonFiniteMarks(d)
                k += 64
            }
            if anyNonFinite(any) { return (i..<end).first { !values[$0].isFinite } }
            i = end
        }
        return (n64..<n).first { !values[$0].isFinite }
    }

    /// `firstNonFinite` over a large buffer on every thread of `parallel`, in pieces of 1 MiB: the first
    /// non-finite index of the earliest piece that has one (the same answer for any thread count).
    static func firstNonFinite(_ values: UnsafeBufferPointer<Float>, parallel: Parallel) -> Int? {
        let n = values.count, piece = 1 << 18
        let pieces = (n + piece - 1) / piece
        if pieces <= 1 || parallel.threads == 1 { return firstNonFinite(values) }
        let tasks = min(parallel.threads, pieces)
        var found = [Int?](repeating: nil, count: tasks)
        found.withUnsafeMutableBufferPointer { out in
            parallel.run(tasks: tasks) { t in
                for p in Parallel.part(t, of: tasks, count: pieces) {
                    let lo = p * piece, hi = min(n, lo + piece)
                    if let i = firstNonFinite(UnsafeBufferPointer(rebasing: values[lo..<hi])) {
                        out[t] = lo + i
                        return
                    }
                }
            }
        }
        return found.compactMap { $0 }.min()
    }

    private var changed: DataError { DataError(file: path, "changed while being read (it is shorter now)") }
}
