import Foundation

/// A row-major `(rows, cols)` matrix of `Float` in one contiguous buffer.
///
/// Element `(i, j)` lives at `values[i * cols + j]`. Every array of numbers in SoftLabel that has a shape
/// (features, targets, weights, activations) is a `Matrix` or a raw pointer into one.
public struct Matrix: Equatable, Sendable {
    public private(set) var rows: Int
    public private(set) var cols: Int
    public var values: [Float]  // (rows, cols)

    /// A `(rows, cols)` matrix filled with `value`.
    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        precondition(rows >= 0 && cols >= 0, "negative matrix shape")
        self.rows = rows
        self.cols = cols
        self.values = [Float](repeating: value, count: rows * cols)
    }

    /// Wraps `values` (row-major, `rows * cols` of them).
    public init(rows: Int, cols: Int, values: [Float]) {
        precondition(values.count == rows * cols, "matrix buffer has \(values.count) values, shape needs \(rows * cols)")
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    public subscript(row: Int, col: Int) -> Float {
        get { values[row * cols + col] }
        set { values[row * cols + col] = newValue }
    }

    /// Row `i` as an array (a copy; for tests and reports, not hot loops).
    public func row(_ i: Int) -> [Float] {
        Array(values[(i * cols)..<((i + 1) * cols)])
    }

    /// The rows listed in `indices`, in that order.
    public func gatherRows(_ indices: [Int]) -> Matrix {
        var out = Matrix(rows: indices.count, cols: cols)
        values.withUnsafeBufferPointer { src in
            out.values.withUnsafeMutableBufferPointer { dst in
                for (r, i) in indices.enumerated() {
                    for j in 0..<cols { dst[r * cols + j] = src[i * cols + j] }
                }
            }
        }
        return out
    }
}

/// Asks the kernel for transparent huge pages (2 MiB) under a large buffer that has not been touched yet.
/// Minibatches read data rows in shuffled order: with 4 KiB pages nearly every row costs a TLB miss (a
/// 200 MB matrix spans 50,000 pages), with 2 MiB pages a hundred rows share one. Only the whole 2 MiB
/// pages inside the buffer are advised; a kernel without THP, or with it off, ignores the request.
func adviseHugePages(_ buffer: UnsafeMutableBufferPointer<Float>) {
    let huge = 2 << 20
    guard let base = buffer.baseAddress, buffer.count * MemoryLayout<Float>.stride >= 4 * huge else { return }
    let start = (UInt(bitPattern: base) + UInt(huge - 1)) & ~UInt(huge - 1)
    let end = (UInt(bitPattern: base + buffer.count)) & ~UInt(huge - 1)
    guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(p, Int(end - start), MADV_HUGEPAGE)
}
