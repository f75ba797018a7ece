/// ReLU, `A = max(0, Z)`, applied in place on rows of an activation buffer.
public enum ReLU {
    /// Forward: A = max(0, Z) over `count` floats at `a` (Z is overwritten by A).
    @inline(__always)
    static func forward(_ a: UnsafeMutablePointer<Float>, count: Int) {
        var j = 0
        let zero = Vec()
        while j + vecWidth <= count {
            let v = loadVec(a + j)
            storeVec(v.replacing(with: zero, where: v .< zero), a + j)  // NaN stays NaN: divergence stays visible
            j += vecWidth
        }
        while j < count {
            if a[j] < 0 { a[j] = 0 }
            j += 1
        }
    }

    /// Backward: dZ = dA ⊙ [A > 0] (the derivative of max(0, z) is 1 for z > 0, and we take 0 at z = 0).
    /// `a` holds the forward output A; `d` holds dA and is overwritten by dZ.
    @inline(__always)
    static func backward(_ d: UnsafeMutablePointer<Float>, activation a: UnsafePointer<Float>, count: Int) {
        var j = 0
        let zero = Vec()
        while j + vecWidth <= count {
            let keep = loadVec(a + j) .> zero
            storeVec(Vec().replacing(with: loadVec(d + j), where: keep), d + j)
            j += vecWidth
        }
        while j < count {
            if !(a[j] > 0) { d[j] = 0 }
            j += 1
        }
    }
}
