// The weight gradient of a dense layer, dW = dZᵀ X: dZ (n, o), X (n, d) rows, dW (o, d).

/// dW[o, j] = Σ_r G[r, o] X[r, j] for o in 0..<outputs, j in `cols`, summing r = 0..<n in order.
/// G is (n, ldg) holding `outputs` columns, X rows come from `x`, dW is (outputs, ldw).
public func gemmTN(
    g: UnsafePointer<Float>, ldg: Int, x: Rows, n: Int, outputs: Int, cols: Range<Int>,
    dw: UnsafeMutablePointer<Float>, ldw: Int
) {
    var j = cols.lowerBound
    // 64 columns (4 vectors) x 5 outputs: 20 accumulators, 9 loads per 20 fused multiply-adds.
    while j + 4 * vecWidth <= cols.upperBound {
        var o = 0
        while o + 5 <= outputs {
            var a00 = Vec(), a01 = Vec(), a02 = Vec(), a03 = Vec()
            var a10 = Vec(), a11 = Vec(), a12 = Vec(), a13 = Vec()
            var a20 = Vec(), a21 = Vec(), a22 = Vec(), a23 = Vec()
            var a30 = Vec(), a31 = Vec(), a32 = Vec(), a33 = Vec()
            var a40 = Vec(), a41 = Vec(), a42 = Vec(), a43 = Vec()
            for r in 0..<n {
                let xr = x.row(r) + j
                let v0 = loadVec(xr), v1 = loadVec(xr + 16), v2 = loadVec(xr + 32), v3 = loadVec(xr + 48)
                let gr = g + r * ldg + o
                var s = gr[0]
                fma(&a00, s, v0); fma(&a01, s, v1); fma(&a02, s, v2); fma(&a03, s, v3)
                s = gr[1]
                fma(&a10, s, v0); fma(&a11, s, v1); fma(&a12, s, v2); fma(&a13, s, v3)
                s = gr[2]
                fma(&a20, s, v0); fma(&a21, s, v1); fma(&a22, s, v2); fma(&a23, s, v3)
                s = gr[3]
                fma(&a30, s, v0); fma(&a31, s, v1); fma(&a32, s, v2); fma(&a33, s, v3)
                s = gr[4]
                fma(&a40, s, v0); fma(&a41, s, v1); fma(&a42, s, v2); fma(&a43, s, v3)
            }
            var p = dw + o * ldw + j
            storeVec(a00, p); storeVec(a01, p + 16); storeVec(a02, p + 32); storeVec(a03, p + 48)
            p += ldw
            storeVec(a10, p); storeVec(a11, p + 16); storeVec(a12, p + 32); storeVec(a13, p + 48)
            p += ldw
            storeVec(a20, p); storeVec(a21, p + 16); storeVec(a22, p + 32); storeVec(a23, p + 48)
            p += ldw
            storeVec(a30, p); storeVec(a31, p + 16); storeVec(a32, p + 32); storeVec(a33, p + 48)
            p += ldw
            storeVec(a40, p); storeVec(a41, p + 16); storeVec(a42, p + 32); storeVec(a43, p + 48)
            o += 5
        }
        for oo in o..<outputs {
            for jj in stride(from: j, to: j + 4 * vecWidth, by: vecWidth) {
                columnTN(g: g, ldg: ldg, x: x, n: n, o: oo, j: jj, count: vecWidth, dw: dw, ldw: ldw)
            }
        }
        j += 4 * vecWidth
    }
    while j < cols.upperBound {
        let count = min(vecWidth, cols.upperBound - j)
        for o in 0..<outputs {
            columnTN(g: g, ldg: ldg, x: x, n: n, o: o, j: j, count: count, dw: dw, ldw: ldw)
        }
        j += count
    }
}

/// dW[o, j..<j+count] (count <= 16) by the same per-element sequence as gemmTN's blocked path.
@inline(__always)
private func columnTN(
    g: UnsafePointer<Float>, ldg: Int, x: Rows, n: Int, o: Int, j: Int, count: Int,
    dw: UnsafeMutablePointer<Float>, ldw: Int
) {
    var acc = Vec()
    if count == vecWidth {
        for r in 0..<n { fma(&acc, g[r * ldg + o], loadVec(x.row(r) + j)) }
        storeVec(acc, dw + o * ldw + j)
    } else {
        for r in 0..<n { fma(&acc, g[r * ldg + o], loadPartialVec(x.row(r) + j, count)) }
        storePartialVec(acc, dw + o * ldw + j, count)
    }
}
