// Batch matrix products, the only heavy arithmetic in training. Three shapes cover a dense layer:
//   forward           Z  = X Wᵀ + b    gemmNT   Z (n, o), X (n, i), W (o, i)
//   weight gradient   dW = dZᵀ X       gemmTN   dW (o, i)
//   input gradient    dX = dZ W        gemmNN   dX (n, i)
// Each output element is computed by one fixed sequence of operations whatever block, thread or range it
// falls in: main blocks and remainders accumulate in the same order and reduce with the same `sum()`.
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
}

/// `hsum(acc)` of a dot product over `d` inputs: the one reduction every gemmNT path ends with.
@inline(__always)
private func dotTail(_ acc: inout Vec, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, from j: Int, _ d: Int) {
    if j < d { fma(&acc, loadPartialVec(x + j, d - j), loadPartialVec(w + j, d - j)) }
}

/// Z[r, o] = Σ_j X[r, j] W[o, j] + b[o] for r in `rows`, o in 0..<outputs.
/// X rows come from `x` (d inputs each), W is (outputs, d), Z has row stride `ldz` (row r at z + r*ldz).
public func gemmNT(
    x: Rows, rows: Range<Int>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    outputs: Int, inputs d: Int, z: UnsafeMutablePointer<Float>, ldz: Int
) {
    let dMain = d - d % vecWidth
    var r = rows.lowerBound
    // 4 rows x 5 outputs: 20 accumulators, 9 loads per 20 fused multiply-adds.
    while r + 4 <= rows.upperBound {
        let x0 = x.row(r), x1 = x.row(r + 1), x2 = x.row(r + 2), x3 = x.row(r + 3)
        var o = 0
        while o + 5 <= outputs {
            let w0 = w + o * d, w1 = w0 + d, w2 = w1 + d, w3 = w2 + d, w4 = w3 + d
            var a00 = Vec(), a01 = Vec(), a02 = Vec(), a03 = Vec(), a04 = Vec()
            var a10 = Vec(), a11 = Vec(), a12 = Vec(), a13 = Vec(), a14 = Vec()
            var a20 = Vec(), a21 = Vec(), a22 = Vec(), a23 = Vec(), a24 = Vec()
            var a30 = Vec(), a31 = Vec(), a32 = Vec(), a33 = Vec(), a34 = Vec()
            var j = 0
            while j < dMain {
                let v0 = loadVec(x0 + j), v1 = loadVec(x1 + j), v2 = loadVec(x2 + j), v3 = loadVec(x3 + j)
                var c = loadVec(w0 + j)
                fma(&a00, v0, c); fma(&a10, v1, c); fma(&a20, v2, c); fma(&a30, v3, c)
                c = loadVec(w1 + j)
                fma(&a01, v0, c); fma(&a11, v1, c); fma(&a21, v2, c); fma(&a31, v3, c)
                c = loadVec(w2 + j)
                fma(&a02, v0, c); fma(&a12, v1, c); fma(&a22, v2, c); fma(&a32, v3, c)
                c = loadVec(w3 + j)
                fma(&a03, v0, c); fma(&a13, v1, c); fma(&a23, v2, c); fma(&a33, v3, c)
                c = loadVec(w4 + j)
                fma(&a04, v0, c); fma(&a14, v1, c); fma(&a24, v2, c); fma(&a34, v3, c)
                j += vecWidth
            }
            if dMain < d {
                dotTail(&a00, x0, w0, from: dMain, d); dotTail(&a01, x0, w1, from: dMain, d)
                dotTail(&a02, x0, w2, from: dMain, d); dotTail(&a03, x0, w3, from: dMain, d)
                dotTail(&a04, x0, w4, from: dMain, d)
                dotTail(&a10, x1, w0, from: dMain, d); dotTail(&a11, x1, w1, from: dMain, d)
                dotTail(&a12, x1, w2, from: dMain, d); dotTail(&a13, x1, w3, from: dMain, d)
                dotTail(&a14, x1, w4, from: dMain, d)
                dotTail(&a20, x2, w0, from: dMain, d); dotTail(&a21, x2, w1, from: dMain, d)
                dotTail(&a22, x2, w2, from: dMain, d); dotTail(&a23, x2, w3, from: dMain, d)
                dotTail(&a24, x2, w4, from: dMain, d)
                dotTail(&a30, x3, w0, from: dMain, d); dotTail(&a31, x3, w1, from: dMain, d)
                dotTail(&a32, x3, w2, from: dMain, d); dotTail(&a33, x3, w3, from: dMain, d)
                dotTail(&a34, x3, w4, from: dMain, d)
            }
            let b0 = bias?[o] ?? 0, b1 = bias?[o + 1] ?? 0, b2 = bias?[o + 2] ?? 0
            let b3 = bias?[o + 3] ?? 0, b4 = bias?[o + 4] ?? 0
            var zr = z + r * ldz + o
            zr[0] = hsum(a00) + b0; zr[1] = hsum(a01) + b1; zr[2] = hsum(a02) + b2
            zr[3] = hsum(a03) + b3; zr[4] = hsum(a04) + b4
            zr += ldz
            zr[0] = hsum(a10) + b0; zr[1] = hsum(a11) + b1; zr[2] = hsum(a12) + b2
            zr[3] = hsum(a13) + b3; zr[4] = hsum(a14) + b4
            zr += ldz
            zr[0] = hsum(a20) + b0; zr[1] = hsum(a21) + b1; zr[2] = hsum(a22) + b2
            zr[3] = hsum(a23) + b3; zr[4] = hsum(a24) + b4
            zr += ldz
            zr[0] = hsum(a30) + b0; zr[1] = hsum(a31) + b1; zr[2] = hsum(a32) + b2
            zr[3] = hsum(a33) + b3; zr[4] = hsum(a34) + b4
            o += 5
        }
        for oo in o..<outputs {
            for rr in r..<(r + 4) {
                z[rr * ldz + oo] = dotNT(x.row(rr), w + oo * d, d) + (bias?[oo] ?? 0)
            }
        }
        r += 4
    }
    while r < rows.upperBound {
        let xr = x.row(r)
        for o in 0..<outputs {
            z[r * ldz + o] = dotNT(xr, w + o * d, d) + (bias?[o] ?? 0)
        }
        r += 1
    }
}

/// One output of gemmNT, by the same sequence of operations as the blocked path.
@inline(__always)
private func dotNT(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ d: Int) -> Float {
    var acc = Vec()
    var j = 0
    while j + vecWidth <= d {
        fma(&acc, loadVec(x + j), loadVec(w + j))
        j += vecWidth
    }
    dotTail(&acc, x, w, from: j, d)
    return hsum(acc)
}

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

/// dX[r, j] = Σ_o G[r, o] W[o, j] for r in `rows`, j in 0..<d, summing o = 0..<outputs in order.
/// G is (n, ldg), W is (outputs, d), dX has row stride `ldx`.
public func gemmNN(
    g: UnsafePointer<Float>, ldg: Int, rows: Range<Int>, w: UnsafePointer<Float>, outputs: Int, inputs d: Int,
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
            let g0 = g + r * ldg, g1 = g0 + ldg, g2 = g1 + ldg, g3 = g2 + ldg
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
        for rr in r..<(r + 4) { rowNN(g: g + rr * ldg, w: w, outputs: outputs, d: d, from: j, dx: dx + rr * ldx) }
        r += 4
    }
    while r < rows.upperBound {
        rowNN(g: g + r * ldg, w: w, outputs: outputs, d: d, from: 0, dx: dx + r * ldx)
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
