// The register-blocked outer-product kernel behind two products of a dense layer:
//   forward        Z  = X Wᵀ + b   A = X (n, i) rows, B = Wᵀ packed in 64-column panels (GemmPacked.swift)
//   input gradient dX = dZ W       A = dZ (n, o) rows, B = W (o, i) itself (its rows run along the inputs)
// C (rows, cols) += A (rows, t) B (t, cols): a tile of 6 rows x 64 columns lives in 24 vector registers; for
// each t the kernel loads 4 vectors of B's row t and broadcasts A[r][t] of the 6 rows: 24 fused multiply-adds
// per 4 loads and 6 broadcasts, no horizontal sums. Every element of C is accumulated over t in order in one
// lane, whatever the tiling or thread, so results never depend on the thread count.

/// dX[r, j] = Σ_o G[r, o] W[o, j] for r in `rows`, j in 0..<d, summing o = 0..<outputs in order.
/// G rows come from `g` (`outputs` values each), W is (outputs, d), dX has row stride `ldx`.
public func gemmNN(
    g: Rows, rows: Range<Int>, w: UnsafePointer<Float>, outputs: Int, inputs d: Int,
    dx: UnsafeMutablePointer<Float>, ldx: Int
) {
    guard outputs > 0 else { return }
    if d % vecWidth == 0 {
        outerProduct(a: g, rows: rows, depth: outputs, b: w, ldb: d, cols: d, panelStride: 64,
                     tail: Tail(rows: 0, base: w, ld: d), bias: nil, c: dx, ldc: ldx)
        return
    }
    // The tile loads whole vectors: over a ragged row that runs up to 15 floats on, into the next rows (lanes
    // ignored), and past the end of W from the last rows, the last ⌊15/d⌋ + 1 of them. Those rows are read from
    // a zero-padded copy (each row 64-column blocks wide), so no load leaves the buffers.
    let tailRows = min(outputs, 15 / d + 1), padded = (d + 63) / 64 * 64
    // On the stack (called per chunk and layer): at most 16 rows of the padded width.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: tailRows * padded) { buffer in
        let tail = buffer.baseAddress!
        tail.initialize(repeating: 0, count: tailRows * padded)
        for t in 0..<tailRows {
            (tail + t * padded).update(from: w + (outputs - tailRows + t) * d, count: d)
        }
        outerProduct(a: g, rows: rows, depth: outputs, b: w, ldb: d, cols: d, panelStride: 64,
                     tail: Tail(rows: tailRows, base: tail, ld: padded), bias: nil, c: dx, ldc: ldx)
    }
}

/// The last `rows` rows of B, read from `base` (row stride `ld`, 64-column blocks at base + q·64) instead of B.
struct Tail {
    var rows: Int
    var base: UnsafePointer<Float>
    var ld: Int

    init(rows: Int, base: UnsafePointer<Float>, ld: Int) {
        self.rows = rows
        self.base = base
        self.ld = ld
    }
}

/// C[r, c] = Σ_t A[r, t] B[t, c] (+ bias[c]) for r in `rows`, c in 0..<cols. A rows from `a` (`depth` values
/// used each); B row t of column block q (64 columns) starts at b + q·panelStride + t·ldb. For W itself
/// (ldb = i, panelStride = 64) that is plain row-major; for packed panels ldb = 64, panelStride = 64·depth.
/// The last `tail.rows` rows of B are read from `tail` instead, so a caller whose B ends in ragged rows can hand
/// in a padded copy of them (every block's 64 columns readable).
@inline(__always)
func outerProduct(a: Rows, rows: Range<Int>, depth: Int, b: UnsafePointer<Float>, ldb: Int, cols: Int, panelStride: Int,
                  tail: Tail,
                  bias: UnsafePointer<Float>?, c: UnsafeMutablePointer<Float>, ldc: Int) {
    let blocks = (cols + 63) / 64
    var r = rows.lowerBound
    while r < rows.upperBound {
        let count = min(6, rows.upperBound - r)
        // Missing rows of the last group repeat its last row; their results are not stored.
        let a0 = a.row(r), a1 = a.row(r + min(1, count - 1)), a2 = a.row(r + min(2, count - 1))
        let a3 = a.row(r + min(3, count - 1)), a4 = a.row(r + min(4, count - 1)), a5 = a.row(r + min(5, count - 1))
        for q in 0..<blocks {
            let first = q * 64, width = min(64, cols - first)
            let bq = b + q * panelStride, tq = tail.base + q * 64, cq = c + r * ldc + first, biasq = bias.map { $0 + first }
            // A ragged last block runs only the vectors it needs (100 columns: 64 + 48, not 64 + 64).
            @inline(__always) func tile<W: TileWidth>(_ w: W.Type) {
                tile6(w, a0, a1, a2, a3, a4, a5, depth: depth, b: bq, ldb: ldb, tail: tq, tailRows: tail.rows, tailLd: tail.ld,
                      bias: biasq, width: width, c: cq, ldc: ldc, rows: count)
            }
            switch (width + vecWidth - 1) / vecWidth {
            case 4: tile(FourVectors.self)
            case 3: tile(ThreeVectors.self)
            case 2: tile(TwoVectors.self)
            default: tile(OneVector.self)
            }
        }
        r += count
    }
}

/// One tile: 6 rows x 16·W.vectors columns; stores `rows` rows and `width` columns. Specialised per width
/// (`TileWidth`), so each compiles to its own branch-free loop.
@inline(__always)
private func tile6<W: TileWidth>(
    _: W.Type,
    _ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ x2: UnsafePointer<Float>, _ x3: UnsafePointer<Float>,
    _ x4: UnsafePointer<Float>, _ x5: UnsafePointer<Float>, depth: Int, b start: UnsafePointer<Float>, ldb: Int,
    tail: UnsafePointer<Float>, tailRows: Int, tailLd: Int, bias: UnsafePointer<Float>?, width: Int, c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int
) {
    let v = W.vectors
    var a00 = Vec(), a01 = Vec(), a02 = Vec(), a03 = Vec()
    var a10 = Vec(), a11 = Vec(), a12 = Vec(), a13 = Vec()
    var a20 = Vec(), a21 = Vec(), a22 = Vec(), a23 = Vec()
    var a30 = Vec(), a31 = Vec(), a32 = Vec(), a33 = Vec()
    var a40 = Vec(), a41 = Vec(), a42 = Vec(), a43 = Vec()
    var a50 = Vec(), a51 = Vec(), a52 = Vec(), a53 = Vec()
    @inline(__always) func step(_ b: UnsafePointer<Float>, _ t: Int) {
        let w0 = loadVec(b)
        let w1 = v > 1 ? loadVec(b + 16) : Vec(), w2 = v > 2 ? loadVec(b + 32) : Vec(), w3 = v > 3 ? loadVec(b + 48) : Vec()
        @inline(__always) func row(_ s: Float, _ c0: inout Vec, _ c1: inout Vec, _ c2: inout Vec, _ c3: inout Vec) {
            fma(&c0, s, w0)
            if v > 1 { fma(&c1, s, w1) }
            if v > 2 { fma(&c2, s, w2) }
            if v > 3 { fma(&c3, s, w3) }
        }
        row(x0[t], &a00, &a01, &a02, &a03)
        row(x1[t], &a10, &a11, &a12, &a13)
        row(x2[t], &a20, &a21, &a22, &a23)
        row(x3[t], &a30, &a31, &a32, &a33)
        row(x4[t], &a40, &a41, &a42, &a43)
        row(x5[t], &a50, &a51, &a52, &a53)
    }
    var b = start
    for t in 0..<(depth - tailRows) {
        step(b, t)
        b += ldb
    }
    b = tail
    for t in (depth - tailRows)..<depth {
        step(b, t)
        b += tailLd
    }
    storeTile(a00, a01, a02, a03, row: 0, rows: rows, width: width, bias: bias, c: c, ldc: ldc)
    storeTile(a10, a11, a12, a13, row: 1, rows: rows, width: width, bias: bias, c: c, ldc: ldc)
    storeTile(a20, a21, a22, a23, row: 2, rows: rows, width: width, bias: bias, c: c, ldc: ldc)
    storeTile(a30, a31, a32, a33, row: 3, rows: rows, width: width, bias: bias, c: c, ldc: ldc)
    storeTile(a40, a41, a42, a43, row: 4, rows: rows, width: width, bias: bias, c: c, ldc: ldc)
    storeTile(a50, a51, a52, a53, row: 5, rows: rows, width: width, bias: bias, c: c, ldc: ldc)
}

/// Stores one row of a tile (`width` <= 64 columns), adding the bias when there is one.
@inline(__always)
func storeTile(_ v0: Vec, _ v1: Vec, _ v2: Vec, _ v3: Vec, row: Int, rows: Int, width: Int, bias: UnsafePointer<Float>?,
               c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard row < rows else { return }
    let cr = c + row * ldc
    @inline(__always) func put(_ v: Vec, _ at: Int) {
        let n = width - at
        if n >= vecWidth {
            storeVec(bias.map { v + loadVec($0 + at) } ?? v, cr + at)
        } else if n > 0 {
            storePartialVec(bias.map { v + loadPartialVec($0 + at, n) } ?? v, cr + at, n)
        }
    }
    put(v0, 0)
    put(v1, 16)
    put(v2, 32)
    put(v3, 48)
}
