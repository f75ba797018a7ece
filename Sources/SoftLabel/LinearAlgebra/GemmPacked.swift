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
/// (not read): four rounds of a perfect shuffle (rows 2i and 2i+1 split into even and odd lanes), each rotating
/// the bits of (row, lane) by one, swap rows and lanes.
@inline(__always)
private func transpose16(_ src: UnsafePointer<Float>, ld lds: Int, rows: Int, into dst: UnsafeMutablePointer<Float>,
                         ld ldd: Int) {
    let s = UnsafeRawPointer(src), b = 4 &* lds
    @inline(__always) func row(_ i: Int) -> Vec { i < rows ? s.loadUnaligned(fromByteOffset: i &* b, as: Vec.self) : Vec() }
    var r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5), r6 = row(6), r7 = row(7)
    var r8 = row(8), r9 = row(9), r10 = row(10), r11 = row(11), r12 = row(12), r13 = row(13), r14 = row(14), r15 = row(15)
    @inline(__always) func even(_ a: Vec, _ b: Vec) -> Vec { Vec(lowHalf: a.evenHalf, highHalf: b.evenHalf) }
    @inline(__always) func odd(_ a: Vec, _ b: Vec) -> Vec { Vec(lowHalf: a.oddHalf, highHalf: b.oddHalf) }
    for _ in 0..<4 {
        (r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15) =
            (even(r0, r1), even(r2, r3), even(r4, r5), even(r6, r7), even(r8, r9), even(r10, r11), even(r12, r13),
             even(r14, r15), odd(r0, r1), odd(r2, r3), odd(r4, r5), odd(r6, r7), odd(r8, r9), odd(r10, r11),
             odd(r12, r13), odd(r14, r15))
    }
    let d = UnsafeMutableRawPointer(dst), e = 4 &* ldd
    d.storeBytes(of: r0, as: Vec.self); d.storeBytes(of: r1, toByteOffset: e, as: Vec.self)
    d.storeBytes(of: r2, toByteOffset: 2 &* e, as: Vec.self); d.storeBytes(of: r3, toByteOffset: 3 &* e, as: Vec.self)
    d.storeBytes(of: r4, toByteOffset: 4 &* e, as: Vec.self); d.storeBytes(of: r5, toByteOffset: 5 &* e, as: Vec.self)
    d.storeBytes(of: r6, toByteOffset: 6 &* e, as: Vec.self); d.storeBytes(of: r7, toByteOffset: 7 &* e, as: Vec.self)
    d.storeBytes(of: r8, toByteOffset: 8 &* e, as: Vec.self); d.storeBytes(of: r9, toByteOffset: 9 &* e, as: Vec.self)
    d.storeBytes(of: r10, toByteOffset: 10 &* e, as: Vec.self); d.storeBytes(of: r11, toByteOffset: 11 &* e, as: Vec.self)
    d.storeBytes(of: r12, toByteOffset: 12 &* e, as: Vec.self); d.storeBytes(of: r13, toByteOffset: 13 &* e, as: Vec.self)
    d.storeBytes(of: r14, toByteOffset: 14 &* e, as: Vec.self); d.storeBytes(of: r15, toByteOffset: 15 &* e, as: Vec.self)
}
