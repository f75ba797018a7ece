// Batch matrix products, the only heavy arithmetic in training. Three shapes cover a dense layer:
//   forward           Z  = X Wᵀ + b    gemmNT   Z (n, o), X (n, i), W (o, i)
//   weight gradient   dW = dZᵀ X       gemmTN   dW (o, i)
//   input gradient    dX = dZ W        gemmNN   dX (n, i)
// Each output element is computed by one fixed sequence of operations whatever block, thread or range it
// falls in: main blocks and remainders accumulate in the same order and reduce with the same `hsum`.
// That is what makes training bit-identical for any thread count (no cross-thread reductions anywhere).

/// Rows of a row-major matrix, in storage order or through an index (a shuffled batch read in place,
/// without gathering a copy).
public struct Rows {
    public let base: UnsafePointer<Float>
    public let stride: Int  // floats between consecutive stored rows
    public let index: UnsafePointer<Int>?  // logical row r is stored row index[r] when present

    public init(base: UnsafePointer<Float>, stride: Int, index: UnsafePointer<Int>? = nil) {
        self.base = base
        self.stride = stride
        self.index = index
    }

    @inline(__always)
    public func row(_ r: Int) -> UnsafePointer<Float> {
        if let index { return base + index[r] * stride }
        return base + r * stride
    }

    /// The same rows from logical row `r0` on: row r of the result is row r0 + r of these.
    @inline(__always)
    public func dropping(_ r0: Int) -> Rows {
        if let index { return Rows(base: base, stride: stride, index: index + r0) }
        return Rows(base: base + r0 * stride, stride: stride)
    }
}
