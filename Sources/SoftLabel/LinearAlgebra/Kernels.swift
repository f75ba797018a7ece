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
        // Wrapping products: the offsets are within the matrix, and an overflow check in every kernel's inner loop
        // costs a branch per row.
        if let index { return base + index[r] &* stride }
        return base + r &* stride
    }

    /// The same rows from logical row `r0` on: row r of the result is row r0 + r of these.
    @inline(__always)
    public func dropping(_ r0: Int) -> Rows {
        if let index { return Rows(base: base, stride: stride, index: index + r0) }
        return Rows(base: base + r0 * stride, stride: stride)
    }
}

/// A tile's width in vectors as a type: a kernel generic over it is specialised for each width with its
/// `if W.vectors > 1` tests folded away. (An Int argument, even a literal one, left those tests and a spilled
/// accumulator in the inner loop when the compiler outlined the kernel instead of inlining it: measured
/// 80 GFLOP/s for the weight gradient at 256 x 512 -> 256 with it.)
protocol TileWidth { static var vectors: Int { get } }
enum OneVector: TileWidth { static var vectors: Int { 1 } }
enum TwoVectors: TileWidth { static var vectors: Int { 2 } }
enum ThreeVectors: TileWidth { static var vectors: Int { 3 } }
enum FourVectors: TileWidth { static var vectors: Int { 4 } }
