// The forward product of a dense layer with many outputs, Z = X Wᵀ + b, as a packed, register-blocked
// outer product (the BLIS/GotoBLAS scheme): Wᵀ is packed once per weight update into panels of P = 64
// columns, panel p holding Wᵀ[j][64p ..< 64p + 64] for j in 0..<d contiguously (row-major (d, 64), zero
// beyond the outputs), so the micro-kernel streams one panel sequentially. The micro-kernel keeps a tile of
// 6 rows x 64 columns in 24 vector registers and, for each input j, broadcasts X[r][j] of the 6 rows and
// multiplies it into the panel's 4 vectors of row j: 24 fused multiply-adds per 4 vector loads and 6
// broadcasts, and no horizontal sums anywhere.
//
// Every output z[r][o] is Σ_j X[r][j] W[o][j] accumulated in j order in one lane, then + b[o]: the same
// sequence whatever the row grouping, the panel or the thread, hence bit-identical for any thread count.

/// Floats in one packed panel row: 64 columns.
let panelWidth = 64

/// Space for W (o, i) packed: ceil(o / 64) panels of (i, 64).
@inline(__always)
func packedCount(inputs d: Int, outputs o: Int) -> Int { (o + panelWidth - 1) / panelWidth * panelWidth * d }

/// Packs rows `inputs` (a range of j) of every panel of Wᵀ from W (o, d) into `packed` (see the file
/// comment): what changed when an update wrote those columns of W. Columns beyond o are zero.
func packPanels(_ w: UnsafePointer<Float>, inputs d: Int, outputs o: Int, rows inputs: Range<Int>,
                into packed: UnsafeMutablePointer<Float>) {
    let panels = (o + panelWidth - 1) / panelWidth
    for p in 0..<panels {
        let base = packed + p * panelWidth * d
        let first = p * panelWidth, width = min(panelWidth, o - first)
        // Blocks of 16 inputs x 16 columns: a whole block is transposed in registers (16 vector loads and
        // stores; a copy element by element took 6% of an MLP epoch), a ragged one copied element by element.
        var j0 = inputs.lowerBound
        while j0 < inputs.upperBound {
            let j1 = min(inputs.upperBound, j0 + 16), count = j1 - j0
            // The next block's 4 KiB of panel asked for ahead: the forward of the last batch left these lines in
            // every core's cache, and each store waited on taking its line back (three quarters of this
            // function's time in a profile of 2048 -> 100).
            if j1 + 16 <= inputs.upperBound {
                let next = UnsafeRawPointer(base + j1 &* panelWidth)
                var b = 0
                while b < 16 * panelWidth * 4 { prefetchForWrite(next + b); b += 64 }
            }
            for c0 in stride(from: 0, to: panelWidth, by: 16) {
                let dst = base + (j0 &* panelWidth &+ c0)
                if count == 16 {
                    transpose16(w + ((first + c0) &* d &+ j0), ld: d, rows: max(0, min(16, width - c0)), into: dst, ld: panelWidth)
                    continue
                }
                for c in c0..<(c0 + 16) {
                    for j in 0..<count { dst[j &* panelWidth &+ (c - c0)] = c < width ? w[(first + c) &* d &+ (j0 + j)] : 0 }
                }
            }
            j0 = j1
        }
    }
}

/// Z[r, o] = Σ_j X[r, j] W[o, j] + b[o] for r in `rows`, o in 0..<outputs, from W packed by `packPanels`.
/// Z has row stride `ldz`; columns beyond `outputs` are not written.
func gemmPacked(x: Rows, rows: Range<Int>, packed: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                outputs o: Int, inputs d: Int, z: UnsafeMutablePointer<Float>, ldz: Int) {
    // Panels are padded to 64 columns, so every row of them reads whole vectors: no tail.
    outerProduct(a: x, rows: rows, depth: d, b: packed, ldb: panelWidth, cols: o, panelStride: panelWidth * d,
                 tail: Tail(rows: 0, base: packed, ld: panelWidth), bias: bias, c: z, ldc: ldz)
}

/// dst[i][j] = src[j][i] for a 16 x 16 block (row strides in floats), rows of src from `rows` on taken as zeros
/// (not read).
@inline(__always)
private func transpose16(_ src: UnsafePointer<Float>, ld lds: Int, rows: Int, into dst: UnsafeMutablePointer<Float>,
                         ld ldd: Int) {
    let s = UnsafeRawPointer(src), b = 4 &* lds
    var t = Block16(rows: rows) { i in s.loadUnaligned(fromByteOffset: i &* b, as: Vec.self) }
    t.transpose()
    let d = UnsafeMutableRawPointer(dst), e = 4 &* ldd
    t.forEach { i, v in d.storeBytes(of: v, toByteOffset: i &* e, as: Vec.self) }
}
