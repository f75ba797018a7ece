// The forward product of a dense layer, Z = X Wᵀ + b, as dot products over the inputs: X (n, d) rows,
// W (o, d), Z (n, o) with any row stride. (Blocking the inputs in panels of 512 so a panel of W stays in
// L1 was tried and measured slower here: 65 instead of 80 GFLOP/s at d = 2048, k = 100.)

/// Z[r, o] = Σ_j X[r, j] W[o, j] + b[o] for r in `rows`, o in 0..<outputs.
/// X rows come from `x` (d inputs each), W is (outputs, d), Z has row stride `ldz` (row r at z + r*ldz).
///
/// Every output, whatever path computes it, is z = hsum(acc) + b, where acc accumulates the products in 16
/// lanes over the inputs in order (d's tail zero-padded last). So any split of the rows (any thread
/// count) gives the same bits.
public func gemmNT(
    x: Rows, rows: Range<Int>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    outputs: Int, inputs d: Int, z: UnsafeMutablePointer<Float>, ldz: Int
) {
    var r = rows.lowerBound
    // 4 rows x 5 outputs: 20 accumulators, 9 loads per 20 fused multiply-adds: ~85 GFLOP/s on one core
    // here with the rows in cache. (An 8-row x 2-output kernel, meant to keep more rows in flight from
    // memory for the softmax layer, measured no faster in training: 0.031 s per epoch against 0.029.)
    while r + 4 <= rows.upperBound {
        var o = 0
        while o + 5 <= outputs {
            nt4x5(x: x, r: r, w: w + o * d, bias: bias.map { $0 + o }, d: d, z: z + r * ldz + o, ldz: ldz)
            o += 5
        }
        for c in o..<outputs {
            for rr in r..<(r + 4) { z[rr * ldz + c] = dot(x.row(rr), w + c * d, d) + (bias?[c] ?? 0) }
        }
        r += 4
    }
    while r < rows.upperBound {
        for c in 0..<outputs { z[r * ldz + c] = dot(x.row(r), w + c * d, d) + (bias?[c] ?? 0) }
        r += 1
    }
}

/// Adds the last d % 16 inputs of a dot product (zero-padded) to its accumulator.
@inline(__always)
private func dotTail(_ acc: inout Vec, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, from j: Int, _ d: Int) {
    if j < d { fma(&acc, loadPartialVec(x + j, d - j), loadPartialVec(w + j, d - j)) }
}

/// One output's dot product over d inputs, reduced as every path reduces it.
@inline(__always)
private func dot(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ d: Int) -> Float {
    let end = d - d % vecWidth
    var acc = Vec()
    var j = 0
    while j < end {
        fma(&acc, loadVec(x + j), loadVec(w + j))
        j += vecWidth
    }
    dotTail(&acc, x, w, from: end, d)
    return hsum(acc)
}

/// Rows r..<r+4 x outputs 0..<5 (of the panel at w, biases at bias): 20 accumulators, 9 loads per 20 fused
/// multiply-adds; z points at output 0 of row r (row stride ldz).
@inline(__always)
private func nt4x5(
    x: Rows, r: Int, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, d: Int, z: UnsafeMutablePointer<Float>,
    ldz: Int
) {
    let end = d - d % vecWidth
    let x0 = x.row(r), x1 = x.row(r + 1), x2 = x.row(r + 2), x3 = x.row(r + 3)
    let w0 = w, w1 = w0 + d, w2 = w1 + d, w3 = w2 + d, w4 = w3 + d
    var a00 = Vec(), a01 = Vec(), a02 = Vec(), a03 = Vec(), a04 = Vec()
    var a10 = Vec(), a11 = Vec(), a12 = Vec(), a13 = Vec(), a14 = Vec()
    var a20 = Vec(), a21 = Vec(), a22 = Vec(), a23 = Vec(), a24 = Vec()
    var a30 = Vec(), a31 = Vec(), a32 = Vec(), a33 = Vec(), a34 = Vec()
    var j = 0
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
    if end < d {
        dotTail(&a00, x0, w0, from: end, d); dotTail(&a01, x0, w1, from: end, d); dotTail(&a02, x0, w2, from: end, d)
        dotTail(&a03, x0, w3, from: end, d); dotTail(&a04, x0, w4, from: end, d)
        dotTail(&a10, x1, w0, from: end, d); dotTail(&a11, x1, w1, from: end, d); dotTail(&a12, x1, w2, from: end, d)
        dotTail(&a13, x1, w3, from: end, d); dotTail(&a14, x1, w4, from: end, d)
        dotTail(&a20, x2, w0, from: end, d); dotTail(&a21, x2, w1, from: end, d); dotTail(&a22, x2, w2, from: end, d)
        dotTail(&a23, x2, w3, from: end, d); dotTail(&a24, x2, w4, from: end, d)
        dotTail(&a30, x3, w0, from: end, d); dotTail(&a31, x3, w1, from: end, d); dotTail(&a32, x3, w2, from: end, d)
        dotTail(&a33, x3, w3, from: end, d); dotTail(&a34, x3, w4, from: end, d)
    }
    let b0 = bias?[0] ?? 0, b1 = bias?[1] ?? 0, b2 = bias?[2] ?? 0, b3 = bias?[3] ?? 0, b4 = bias?[4] ?? 0
    var zr = z
    zr[0] = hsum(a00) + b0; zr[1] = hsum(a01) + b1; zr[2] = hsum(a02) + b2; zr[3] = hsum(a03) + b3; zr[4] = hsum(a04) + b4
    zr += ldz
    zr[0] = hsum(a10) + b0; zr[1] = hsum(a11) + b1; zr[2] = hsum(a12) + b2; zr[3] = hsum(a13) + b3; zr[4] = hsum(a14) + b4
    zr += ldz
    zr[0] = hsum(a20) + b0; zr[1] = hsum(a21) + b1; zr[2] = hsum(a22) + b2; zr[3] = hsum(a23) + b3; zr[4] = hsum(a24) + b4
    zr += ldz
    zr[0] = hsum(a30) + b0; zr[1] = hsum(a31) + b1; zr[2] = hsum(a32) + b2; zr[3] = hsum(a33) + b3; zr[4] = hsum(a34) + b4
}
