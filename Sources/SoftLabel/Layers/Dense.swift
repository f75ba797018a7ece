/// A fully connected layer, `Z = X Wᵀ + b`.
///
/// Shapes: X (n, i) inputs, W (o, i) weights (one row per output, as PyTorch's `Linear`), b (o),
/// Z (n, o). Forward and backward below are the only code that touches a layer's numbers.
public struct Dense: Codable, Equatable, Sendable {
    public var inputs: Int   // i
    public var outputs: Int  // o
    public var weight: [Float]  // (o, i)
    public var bias: [Float]    // (o)

    public init(inputs: Int, outputs: Int, weight: [Float], bias: [Float]) {
        precondition(weight.count == inputs * outputs && bias.count == outputs)
        self.inputs = inputs
        self.outputs = outputs
        self.weight = weight
        self.bias = bias
    }

    /// All-zero weights: the softmax layer of a linear model (its objective is convex, zero is a fine start).
    public static func zeros(inputs: Int, outputs: Int) -> Dense {
        Dense(inputs: inputs, outputs: outputs, weight: [Float](repeating: 0, count: inputs * outputs),
              bias: [Float](repeating: 0, count: outputs))
    }

    /// He initialisation (He et al. 2015): W ~ N(0, 2 / i), b = 0, drawn from the seeded generator.
    public static func he(inputs: Int, outputs: Int, rng: inout SplitMix64) -> Dense {
        let sd = (2.0 / Double(inputs)).squareRoot()
        let w = (0..<(inputs * outputs)).map { _ in Float(rng.nextGaussian() * sd) }
        return Dense(inputs: inputs, outputs: outputs, weight: w, bias: [Float](repeating: 0, count: outputs))
    }
}

extension Dense {
    /// Forward: Z[r, :] = X[r, :] Wᵀ + b for r in `rows`.   X rows (n, i) → Z (n, o) with row stride `ldz`.
    @inline(__always)
    static func forward(
        x: Rows, rows: Range<Int>, w: UnsafePointer<Float>, b: UnsafePointer<Float>, inputs: Int, outputs: Int,
        z: UnsafeMutablePointer<Float>, ldz: Int
    ) {
        gemmNT(x: x, rows: rows, w: w, bias: b, outputs: outputs, inputs: inputs, z: z, ldz: ldz)
    }

    /// Forward from the transposed weights Wᵀ (i, o): Z[r, :] = Σ_j X[r, j] Wᵀ[j, :] + b, whole output vectors
    /// at a time (no lane sums), which runs faster than `forward` for layers whose outputs fill 64-wide
    /// blocks (measured at i = 512, o = 256: 116 against 79 GFLOP/s on one core).
    @inline(__always)
    static func forwardTransposed(
        x: Rows, rows: Range<Int>, wt: UnsafePointer<Float>, b: UnsafePointer<Float>, inputs: Int, outputs: Int,
        z: UnsafeMutablePointer<Float>, ldz: Int
    ) {
        gemmNN(g: x, rows: rows, w: wt, outputs: inputs, inputs: outputs, dx: z, ldx: ldz)
        for r in rows {
            let zr = z + r * ldz
            var c = 0
            while c + vecWidth <= outputs {
                storeVec(loadVec(zr + c) + loadVec(b + c), zr + c)
                c += vecWidth
            }
            while c < outputs {
                zr[c] = zr[c] + b[c]
                c += 1
            }
        }
    }

    /// Whether a layer runs `forwardTransposed`: its outputs fill whole 64-wide blocks of that kernel.
    static func prefersTransposedForward(outputs: Int) -> Bool { outputs >= 64 && outputs % 64 == 0 }

    /// Wᵀ (i, o) from W (o, i), for rows j in `rows` of Wᵀ, in 16 x 16 tiles (each tile reads 16 short runs of
    /// W and writes 16 short runs of Wᵀ, instead of striding across all of W for every element).
    static func transpose(_ w: UnsafePointer<Float>, inputs i: Int, outputs o: Int, rows: Range<Int>,
                          into wt: UnsafeMutablePointer<Float>) {
        var j0 = rows.lowerBound
        while j0 < rows.upperBound {
            let j1 = min(rows.upperBound, j0 + 16)
            var c0 = 0
            while c0 < o {
                let c1 = min(o, c0 + 16)
                for c in c0..<c1 {
                    let src = w + c * i
                    for j in j0..<j1 { wt[j * o + c] = src[j] }
                }
                c0 = c1
            }
            j0 = j1
        }
    }

    /// Backward to the input: dX = dZ W, since Z[r, o] = Σ_j X[r, j] W[o, j] + b[o] gives
    /// ∂L/∂X[r, j] = Σ_o dZ[r, o] W[o, j].   dZ (n, o), W (o, i) → dX (n, i).
    @inline(__always)
    static func backwardInput(
        dz: UnsafePointer<Float>, ldz: Int, rows: Range<Int>, w: UnsafePointer<Float>, inputs: Int, outputs: Int,
        dx: UnsafeMutablePointer<Float>, ldx: Int
    ) {
        gemmNN(g: Rows(base: dz, stride: ldz), rows: rows, w: w, outputs: outputs, inputs: inputs, dx: dx, ldx: ldx)
    }

    /// Backward to the weights, columns `cols` of dW: dW = dZᵀ X, i.e. ∂L/∂W[o, j] = Σ_r dZ[r, o] X[r, j].
    /// dZ (n, o), X rows (n, i) → dW (o, i).
    @inline(__always)
    static func backwardWeight(
        dz: UnsafePointer<Float>, ldz: Int, x: Rows, n: Int, inputs: Int, outputs: Int, cols: Range<Int>,
        dw: UnsafeMutablePointer<Float>
    ) {
        gemmTN(g: dz, ldg: ldz, x: x, n: n, outputs: outputs, cols: cols, dw: dw, ldw: inputs)
    }

    /// Backward to the bias: ∂L/∂b[o] = Σ_r dZ[r, o], summed over r in order.   dZ (n, o) → db (o).
    @inline(__always)
    static func backwardBias(dz: UnsafePointer<Float>, ldz: Int, n: Int, outputs: Int, db: UnsafeMutablePointer<Float>) {
        for o in 0..<outputs { db[o] = 0 }
        for r in 0..<n {
            let row = dz + r * ldz
            for o in 0..<outputs { db[o] += row[o] }
        }
    }
}
