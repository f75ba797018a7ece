// The forward product of a dense layer, Z = X Wᵀ + b, as dot products over the inputs: X (n, d) rows,
// W (o, d), Z (n, o) with any row stride.

/// Inputs per block of gemmNT: one block for narrow layers; wide layers are blocked so a panel of W stays
/// in L1 while the rows of X pass it.
let ntBlock = 512

/// Z[r, o] = Σ_j X[r, j] W[o, j] + b[o] for r in `rows`, o in 0..<outputs.
/// X rows come from `x` (d inputs each), W is (outputs, d), Z has row stride `ldz` (row r at z + r*ldz).
///
/// Every output, whatever path computes it, is z = ((s_0 + s_1) + ... + s_last) + b, where s_i is the dot
/// product over the i-th block of `ntBlock` inputs, accumulated in 16 lanes (with d's tail in the last
/// block) and reduced by `hsum`. So any split of the rows (any thread count) gives the same bits.
public func gemmNT(
    x: Rows, rows: Range<Int>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    outputs: Int, inputs d: Int, z: UnsafeMutablePointer<Float>, ldz: Int
) {
    if d <= ntBlock {
        var r = rows.lowerBound
        // 8 rows at once (8 x 2 outputs, 16 accumulators): the 8 rows (<= 16 KB) stay in L1 across the output
        // pairs, and 8 rows fetched together keep more memory requests in flight than 4 when the rows come
        // from a shuffled batch.
        while r + 8 <= rows.upperBound {
            nt8Rows(x: x, r: r, w: w, outputs: outputs, d: d, z: z, ldz: ldz)
            r += 8
        }
        while r < rows.upperBound {
            let block = min(4, rows.upperBound - r)
            ntPanels(x: x, rows: r..<(r + block), w: w, outputs: outputs, d: d, j0: 0, j1: d, z: z, ldz: ldz, first: true)
            r += block
        }
    } else {
        // For each block of inputs and each 5-row panel of W (10 KB, kept in L1), every row passes the panel:
        // X streams from L2 instead of W.
        var j0 = 0
        while j0 < d {
            let j1 = min(d, j0 + ntBlock)
            var o = 0
            while o < outputs {
                let panel = min(5, outputs - o)
                var r = rows.lowerBound
                while r < rows.upperBound {
                    let block = min(4, rows.upperBound - r)
                    ntPanels(x: x, rows: r..<(r + block), w: w + o * d, outputs: panel, d: d, j0: j0, j1: j1,
                             z: z + o, ldz: ldz, first: j0 == 0)
                    r += block
                }
                o += panel
            }
            j0 = j1
        }
    }
    if let bias {
        for r in rows {
            let zr = z + r * ldz
            for c in 0..<outputs { zr[c] = zr[c] + bias[c] }
        }
    }
}

/// Rows `rows` (at most 4) x outputs 0..<outputs over inputs [j0, j1): 4 x 5 register blocks where they fit,
/// single dot products for the rest; stores (first block) or adds the reduced sums into z.
@inline(__always)
private func ntPanels(
    x: Rows, rows: Range<Int>, w: UnsafePointer<Float>, outputs: Int, d: Int, j0: Int, j1: Int,
    z: UnsafeMutablePointer<Float>, ldz: Int, first: Bool
) {
    var o = 0
    if rows.count == 4 {
        while o + 5 <= outputs {
            nt4x5(x: x, r: rows.lowerBound, w: w + o * d, d: d, j0: j0, j1: j1, z: z + rows.lowerBound * ldz + o,
                  ldz: ldz, first: first)
            o += 5
        }
    }
    for c in o..<outputs {
        for r in rows {
            let s = dotBlock(x.row(r), w + c * d, j0, j1, d)
            z[r * ldz + c] = first ? s : z[r * ldz + c] + s
        }
    }
}

/// Adds the last d % 16 inputs of a dot product (zero-padded) to its accumulator.
@inline(__always)
private func dotTail(_ acc: inout Vec, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, from j: Int, _ d: Int) {
    if j < d { fma(&acc, loadPartialVec(x + j, d - j), loadPartialVec(w + j, d - j)) }
}

/// One block [j0, j1) of one output's dot product, reduced to a Float (the tail of d only in the last block).
@inline(__always)
private func dotBlock(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ j0: Int, _ j1: Int, _ d: Int) -> Float {
    let end = j1 == d ? d - d % vecWidth : j1
    var acc = Vec()
    var j = j0
    while j < end {
        fma(&acc, loadVec(x + j), loadVec(w + j))
        j += vecWidth
    }
    if j1 == d { dotTail(&acc, x, w, from: end, d) }
    return hsum(acc)
}

/// Rows r..<r+4 x outputs 0..<5 (of the panel at w) over inputs [j0, j1): 20 accumulators, 9 loads per 20
/// fused multiply-adds; stores (first block) or adds the reduced sums into z (row stride ldz).
@inline(__always)
private func nt4x5(
    x: Rows, r: Int, w: UnsafePointer<Float>, d: Int, j0: Int, j1: Int, z: UnsafeMutablePointer<Float>, ldz: Int,
    first: Bool
) {
    let end = j1 == d ? d - d % vecWidth : j1
    let x0 = x.row(r), x1 = x.row(r + 1), x2 = x.row(r + 2), x3 = x.row(r + 3)
    let w0 = w, w1 = w0 + d, w2 = w1 + d, w3 = w2 + d, w4 = w3 + d
    var a00 = Vec(), a01 = Vec(), a02 = Vec(), a03 = Vec(), a04 = Vec()
    var a10 = Vec(), a11 = Vec(), a12 = Vec(), a13 = Vec(), a14 = Vec()
    var a20 = Vec(), a21 = Vec(), a22 = Vec(), a23 = Vec(), a24 = Vec()
    var a30 = Vec(), a31 = Vec(), a32 = Vec(), a33 = Vec(), a34 = Vec()
    var j = j0
    while j < end {
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
    if j1 == d && end < d {
        dotTail(&a00, x0, w0, from: end, d); dotTail(&a01, x0, w1, from: end, d); dotTail(&a02, x0, w2, from: end, d)
        dotTail(&a03, x0, w3, from: end, d); dotTail(&a04, x0, w4, from: end, d)
        dotTail(&a10, x1, w0, from: end, d); dotTail(&a11, x1, w1, from: end, d); dotTail(&a12, x1, w2, from: end, d)
        dotTail(&a13, x1, w3, from: end, d); dotTail(&a14, x1, w4, from: end, d)
        dotTail(&a20, x2, w0, from: end, d); dotTail(&a21, x2, w1, from: end, d); dotTail(&a22, x2, w2, from: end, d)
        dotTail(&a23, x2, w3, from: end, d); dotTail(&a24, x2, w4, from: end, d)
        dotTail(&a30, x3, w0, from: end, d); dotTail(&a31, x3, w1, from: end, d); dotTail(&a32, x3, w2, from: end, d)
        dotTail(&a33, x3, w3, from: end, d); dotTail(&a34, x3, w4, from: end, d)
    }
    @inline(__always) func put(_ p: UnsafeMutablePointer<Float>, _ s: Float) { p.pointee = first ? s : p.pointee + s }
    var zr = z
    put(zr, hsum(a00)); put(zr + 1, hsum(a01)); put(zr + 2, hsum(a02)); put(zr + 3, hsum(a03)); put(zr + 4, hsum(a04))
    zr += ldz
    put(zr, hsum(a10)); put(zr + 1, hsum(a11)); put(zr + 2, hsum(a12)); put(zr + 3, hsum(a13)); put(zr + 4, hsum(a14))
    zr += ldz
    put(zr, hsum(a20)); put(zr + 1, hsum(a21)); put(zr + 2, hsum(a22)); put(zr + 3, hsum(a23)); put(zr + 4, hsum(a24))
    zr += ldz
    put(zr, hsum(a30)); put(zr + 1, hsum(a31)); put(zr + 2, hsum(a32)); put(zr + 3, hsum(a33)); put(zr + 4, hsum(a34))
}

/// Rows r..<r+8 of a single-block gemmNT (d <= ntBlock), two outputs at a time (16 accumulators) and a last
/// single output; stores the reduced sums.
@inline(__always)
private func nt8Rows(
    x: Rows, r: Int, w: UnsafePointer<Float>, outputs: Int, d: Int, z: UnsafeMutablePointer<Float>, ldz: Int
) {
    let dMain = d - d % vecWidth
    let x0 = x.row(r), x1 = x.row(r + 1), x2 = x.row(r + 2), x3 = x.row(r + 3)
    let x4 = x.row(r + 4), x5 = x.row(r + 5), x6 = x.row(r + 6), x7 = x.row(r + 7)
    var o = 0
    while o + 2 <= outputs {
        let w0 = w + o * d, w1 = w0 + d
        var a00 = Vec(), a10 = Vec(), a20 = Vec(), a30 = Vec(), a40 = Vec(), a50 = Vec(), a60 = Vec(), a70 = Vec()
        var a01 = Vec(), a11 = Vec(), a21 = Vec(), a31 = Vec(), a41 = Vec(), a51 = Vec(), a61 = Vec(), a71 = Vec()
        var j = 0
        while j < dMain {
            let c0 = loadVec(w0 + j), c1 = loadVec(w1 + j)
            var v = loadVec(x0 + j); fma(&a00, v, c0); fma(&a01, v, c1)
            v = loadVec(x1 + j); fma(&a10, v, c0); fma(&a11, v, c1)
            v = loadVec(x2 + j); fma(&a20, v, c0); fma(&a21, v, c1)
            v = loadVec(x3 + j); fma(&a30, v, c0); fma(&a31, v, c1)
            v = loadVec(x4 + j); fma(&a40, v, c0); fma(&a41, v, c1)
            v = loadVec(x5 + j); fma(&a50, v, c0); fma(&a51, v, c1)
            v = loadVec(x6 + j); fma(&a60, v, c0); fma(&a61, v, c1)
            v = loadVec(x7 + j); fma(&a70, v, c0); fma(&a71, v, c1)
            j += vecWidth
        }
        if dMain < d {
            dotTail(&a00, x0, w0, from: dMain, d); dotTail(&a01, x0, w1, from: dMain, d)
            dotTail(&a10, x1, w0, from: dMain, d); dotTail(&a11, x1, w1, from: dMain, d)
            dotTail(&a20, x2, w0, from: dMain, d); dotTail(&a21, x2, w1, from: dMain, d)
            dotTail(&a30, x3, w0, from: dMain, d); dotTail(&a31, x3, w1, from: dMain, d)
            dotTail(&a40, x4, w0, from: dMain, d); dotTail(&a41, x4, w1, from: dMain, d)
            dotTail(&a50, x5, w0, from: dMain, d); dotTail(&a51, x5, w1, from: dMain, d)
            dotTail(&a60, x6, w0, from: dMain, d); dotTail(&a61, x6, w1, from: dMain, d)
            dotTail(&a70, x7, w0, from: dMain, d); dotTail(&a71, x7, w1, from: dMain, d)
        }
        var zr = z + r * ldz + o
        zr[0] = hsum(a00); zr[1] = hsum(a01); zr += ldz
        zr[0] = hsum(a10); zr[1] = hsum(a11); zr += ldz
        zr[0] = hsum(a20); zr[1] = hsum(a21); zr += ldz
        zr[0] = hsum(a30); zr[1] = hsum(a31); zr += ldz
        zr[0] = hsum(a40); zr[1] = hsum(a41); zr += ldz
        zr[0] = hsum(a50); zr[1] = hsum(a51); zr += ldz
        zr[0] = hsum(a60); zr[1] = hsum(a61); zr += ldz
        zr[0] = hsum(a70); zr[1] = hsum(a71)
        o += 2
    }
    if o < outputs {
        for rr in r..<(r + 8) { z[rr * ldz + o] = dotBlock(x.row(rr), w + o * d, 0, d, d) }
    }
}
