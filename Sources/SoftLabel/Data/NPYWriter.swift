import Foundation

/// An NPY file (format 1.0, as `np.save` writes it: little-endian, C order, header padded to 64 bytes)
/// written a block of rows at a time through an `AtomicFileWriter`, so it appears only when complete. The
/// shape is fixed when it is opened; `commit` checks that exactly that many rows came.
public final class NPYWriter {
    public enum Element: String, Sendable {
        case float32 = "<f4"
        case float16 = "<f2"
        case int64 = "<i8"

        var size: Int { self == .float16 ? 2 : self == .float32 ? 4 : 8 }
    }

    public let element: Element
    public let rows: Int
    public let columns: Int?  // nil: a 1-D array (rows,)
    private let file: AtomicFileWriter
    private var written = 0
    private var half: [UInt16] = []

    public init(path: String, element: Element, rows: Int, columns: Int?) throws {
        self.element = element
        self.rows = rows
        self.columns = columns
        file = try AtomicFileWriter(path: path)
        try file.write(Self.header(descr: element.rawValue, shape: columns.map { [rows, $0] } ?? [rows]))
    }

    public var path: String { file.path }

    /// The bytes before the data: magic, version 1.0, header length, the header dict padded with spaces to
    /// a multiple of 64 bytes in all, ending in a line break.
    static func header(descr: String, shape: [Int]) -> [UInt8] {
        let dims = shape.map(String.init).joined(separator: ", ") + (shape.count == 1 ? "," : "")
        var text = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        while (10 + text.utf8.count + 1) % 64 != 0 { text += " " }
        text += "\n"
        let n = text.utf8.count
        return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(text.utf8)
    }

    /// Appends `count` rows of Floats (`count × columns` values; 1 per row for a 1-D array), as float32 or
    /// rounded to float16.
    public func append(_ values: UnsafePointer<Float>, rows count: Int) throws {
        let m = count * (columns ?? 1)
        switch element {
        case .float32:
            try file.write(UnsafeRawBufferPointer(start: values, count: 4 * m))
        case .float16:
            if half.count < m { half = [UInt16](repeating: 0, count: m) }
            try half.withUnsafeMutableBytes { raw in
                HalfFloat.narrow(values, count: m, into: raw.baseAddress!)
                try file.write(UnsafeRawBufferPointer(rebasing: raw[..<(2 * m)]))
            }
        case .int64:
            let ints = (0..<m).map { Int64(values[$0]).littleEndian }
            try ints.withUnsafeBytes { try file.write($0) }
        }
        written += count
    }

    /// Appends 1-D int64 values (class indices).
    public func append(_ values: [Int64]) throws {
        precondition(element == .int64)
        let le = values.map(\.littleEndian)
        try le.withUnsafeBytes { try file.write($0) }
        written += values.count
    }

    /// Renumbers every int64 value v written so far to map[v] (class indices, once the final class order is
    /// known).
    public func remap(_ map: [Int64]) throws {
        precondition(element == .int64)
        let dataStart = NPYWriter.header(descr: element.rawValue, shape: columns.map { [rows, $0] } ?? [rows]).count
        try file.rewrite(from: dataStart, unit: 8) { raw in
            for i in 0..<(raw.count / 8) {
                let v = Int64(littleEndian: raw.load(fromByteOffset: 8 * i, as: Int64.self))
                raw.storeBytes(of: map[Int(v)].littleEndian, toByteOffset: 8 * i, as: Int64.self)
            }
        }
    }

    /// Puts the file in place; every row must have been appended.
    public func commit() throws {
        guard written == rows else {
            file.abort()
            throw DataError(file: file.path, "got \(written) rows of the \(rows) its header promises (the input changed while being read?)")
        }
        try file.commit()
    }

    public func abort() { file.abort() }
}
