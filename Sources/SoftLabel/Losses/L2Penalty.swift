/// The coupled L2 penalty of the training objective, (l2/2) Σ ‖θ‖² over the penalised tensors (weights, not
/// biases: `ParameterShape.penalised`), whose gradient is l2 θ. The one place that knows it: the minibatch
/// step adds it to the gradient before the optimizer steps, the full-batch objective and the gradient check
/// add it in Double.
struct L2Penalty: Sendable {
    var l2: Float

    /// g ← g + l2 θ over `range` of one penalised tensor, in place (Float; subnormal results flushed to 0).
    @inline(__always)
    func addGradient(theta: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>, range: Range<Int>) {
        guard l2 != 0 else { return }
        var e = range.lowerBound
        let pv = Vec(repeating: l2)
        // Whole vectors, then single elements, by the same operations (a range's split between the two
        // depends on the thread count, the result must not).
        while e + vecWidth <= range.upperBound {
            storeVec(flushSubnormals(loadVec(grad + e) + pv * loadVec(theta + e)), grad + e)
            e += vecWidth
        }
        while e < range.upperBound {
            grad[e] = flushSubnormal(grad[e] + l2 * theta[e])
            e += 1
        }
    }

    /// `addGradient` on columns `cols` of rows `rows` of a row-major tensor with `stride` elements per row.
    @inline(__always)
    func addGradient(theta: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>, rows: Range<Int>, stride: Int,
                     cols: Range<Int>) {
        guard l2 != 0 else { return }
        for row in rows {
            let base = row * stride
            addGradient(theta: theta, grad: grad, range: (base + cols.lowerBound)..<(base + cols.upperBound))
        }
    }

    /// (l2/2) Σ θ² over the penalised tensors of `theta` (all tensors concatenated in tensor order), adding
    /// l2 θ to `gradient` (the same layout), in Double.
    func add(to gradient: inout [Double], theta: [Double], shapes: [ParameterShape]) -> Double {
        let l2 = Double(self.l2)
        var sum = 0.0, offset = 0
        for s in shapes {
            if s.penalised {
                for e in offset..<(offset + s.count) {
                    sum += theta[e] * theta[e]
                    gradient[e] += l2 * theta[e]
                }
            }
            offset += s.count
        }
        return 0.5 * l2 * sum
    }
}
