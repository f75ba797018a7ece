// The input gradient of a dense layer, dX = dZ W: dZ (n, o), W (o, d), dX (n, d). Also the forward of a
// wide layer from its transposed weights, Z = X Wᵀ (see Dense.forwardTransposed).

/// dX[r, j] = Σ_o G[r, o] W[o, j] for r in `rows`, j in 0..<d, summing o = 0..<outputs in order.
/// G rows come from `g` (`outputs` values each), W is (outputs, d), dX has row stride `ldx`.
public func gemmNN(
    g: Rows, rows: Range<Int>, w: UnsafePointer<Float>, outputs: Int, inputs d: Int,
    dx: UnsafeMutablePointer<Float>, ldx: Int
) {
    var r = rows.lowerBound
    // 4 rows x 64 columns: 16 accumulators, 8 loads per 16 fused multiply-adds.
    while r + 4 <= rows.upperBound {
        var j = 0
        while j + 4 * vecWidth <= d {
            var a00 = Vec(), a01 = Vec(), a02 = Vec(), a03 = Vec()
            var a10 = Vec(), a11 = Vec(), a12 = Vec(), a13 = Vec()
            var a20 = Vec(), a21 = Vec(), a22 = Vec(), a23 = Vec()
            var a30 = Vec(), a31 = Vec(), a32 = Vec(), a33 = Vec()
            let g0 = g.row(r), g1 = g.row(r + 1), g2 = g.row(r + 2), g3 = g.row(r + 3)
            for o in 0..<outputs {
                let wr = w + o * d + j
                let v0 = loadVec(wr), v1 = loadVec(wr + 16), v2 = loadVec(wr + 32), v3 = loadVec(wr + 48)
                var s = g0[o]
                fma(&a00, s, v0); fma(&a01, s, v1); fma(&a02, s, v2); fma(&a03, s, v3)
                s = g1[o]
                fma(&a10, s, v0); fma(&a11, s, v1); fma(&a12, s, v2); fma(&a13, s, v3)
                s = g2[o]
                fma(&a20, s, v0); fma(&a21, s, v1); fma(&a22, s, v2); fma(&a23, s, v3)
                s = g3[o]
                fma(&a30, s, v0); fma(&a31, s, v1); fma(&a32, s, v2); fma(&a33, s, v3)
            }
            var p = dx + r * ldx + j
            storeVec(a00, p); storeVec(a01, p + 16); storeVec(a02, p + 32); storeVec(a03, p + 48)
            p += ldx
            storeVec(a10, p); storeVec(a11, p + 16); storeVec(a12, p + 32); storeVec(a13, p + 48)
            p += ldx
            storeVec(a20, p); storeVec(a21, p + 16); storeVec(a22, p + 32); storeVec(a23, p + 48)
            p += ldx
            storeVec(a30, p); storeVec(a31, p + 16); storeVec(a32, p + 32); storeVec(a33, p + 48)
            j += 4 * vecWidth
        }
        for rr in r..<(r + 4) { rowNN(g: g.row(rr), w: w, outputs: outputs, d: d, from: j, dx: dx + rr * ldx) }
        r += 4
    }
    while r < rows.upperBound {
        rowNN(g: g.row(r), w: w, outputs: outputs, d: d, from: 0, dx: dx + r * ldx)
        r += 1
    }
}

/// dX[r, j...] for one row from column `from`, by the same per-element sequence as gemmNN's blocked path.
@inline(__always)
private func rowNN(
    g: UnsafePointer<Float>, w: UnsafePointer<Float>, outputs: Int, d: Int, from start: Int,
    dx: UnsafeMutablePointer<Float>
) {
    var j = start
    while j < d {
        let count = min(vecWidth, d - j)
        var acc = Vec()
        if count == vecWidth {
            for o in 0..<outputs { fma(&acc, g[o], loadVec(w + o * d + j)) }
            storeVec(acc, dx + j)
        } else {
            for o in 0..<outputs { fma(&acc, g[o], loadPartialVec(w + o * d + j, count)) }
            storePartialVec(acc, dx + j, count)
        }
        j += count
    }
}
