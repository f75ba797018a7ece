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
        z: UnsafeMutablePointer<Float>, ldz: Int, readAhead: Int? = nil
    ) {
        gemmNT(x: x, rows: rows, w: w, bias: b, outputs: outputs, inputs: inputs, z: z, ldz: ldz, readAhead: readAhead)
    }

    /// Forward from W packed in 64-column panels (`packPanels`): Z[r, :] = X[r, :] Wᵀ + b, whole output vectors
    /// at a time (no lane sums), which runs faster than `forward` for layers with more than 16 outputs
    /// (measured with Scripts/kernelbench, one core: 512 -> 256: 146 against 54 GFLOP/s; 2048 -> 100: 112
    /// against 56; but 512 -> 10: 35 against 62, so few outputs keep the dot products).
    @inline(__always)
    static func forwardPacked(
        x: Rows, rows: Range<Int>, packed: UnsafePointer<Float>, b: UnsafePointer<Float>, inputs: Int, outputs: Int,
        z: UnsafeMutablePointer<Float>, ldz: Int
    ) {
        gemmPacked(x: x, rows: rows, packed: packed, bias: b, outputs: outputs, inputs: inputs, z: z, ldz: ldz)
    }

    /// Whether a layer runs `forwardPacked` (and keeps its weights packed): more than 16 outputs.
    static func usesPackedForward(outputs: Int) -> Bool { outputs > 16 }

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
        // 16 outputs at a time in a register where dZ's rows have room for whole vectors (their padding), each
        // lane the same sum in the same order as the scalar loop (which took a fifth of a 512 -> 10 batch step's
        // own time, every add waiting on the store of the one before).
        var o0 = 0
        while o0 + vecWidth <= ldz && o0 < outputs {
            var acc = Vec()
            for r in 0..<n { acc += loadVec(dz + r * ldz + o0) }
            for l in 0..<min(vecWidth, outputs - o0) { db[o0 + l] = acc[l] }
            o0 += vecWidth
        }
        guard o0 < outputs else { return }
        for o in o0..<outputs { db[o] = 0 }
        for r in 0..<n {
            let row = dz + r * ldz
            for o in o0..<outputs { db[o] += row[o] }
        }
    }
}
