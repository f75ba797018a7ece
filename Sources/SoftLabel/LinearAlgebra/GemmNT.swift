// The forward product of a dense layer, Z = X Wᵀ + b, as dot products over the inputs: X (n, d) rows,
// W (o, d), Z (n, o) with any row stride. (Blocking the inputs in panels of 512 so a panel of W stays in
// L1 was tried and measured slower here: 65 instead of 80 GFLOP/s at d = 2048, k = 100.)

/// Z[r, o] = Σ_j X[r, j] W[o, j] + b[o] for r in `rows`, o in 0..<outputs.
/// X rows come from `x` (d inputs each), W is (outputs, d), Z has row stride `ldz` (row r at z + r*ldz).
///
/// Every output, whatever path computes it, is z = hsum(acc) + b, where acc accumulates the products in 16
/// lanes over the inputs in order (d's tail zero-padded last). So any split of the rows (any thread
/// count) gives the same bits.
///
/// Rows go 4 at a time, outputs 5 at a time (20 accumulators, 9 loads per 20 fused multiply-adds), with the
/// last 1-4 outputs in a kernel of their own width. The accumulators of 4 rows x up to 20 outputs are stored
/// and their lane sums taken 16 at a time by a transpose (`transposeSum16`: the same additions in the same
/// order as `hsum`, 4 times fewer instructions than 16 of them).
///
/// Rows gathered by an index (shuffled rows of the whole data set, read from memory) are asked for ahead,
/// rows r+8..<r+12 while rows r..<r+4 are multiplied, up to `readAhead` (the end of the rows this thread reads
/// next; default the end of `rows`), into L2. Every step of the loop asks for one line of each of two rows: of
/// rows r+8 and r+9 while outputs 0-4 are multiplied, of r+10 and r+11 during outputs 5-9 (all four during
/// the first call when there are 5 outputs or fewer). Spread over the loop, the requests overlap the
/// arithmetic: 512 -> 10, s/epoch 0.0505 -> 0.047 on one thread and 0.036-0.040 -> 0.026-0.034 on two
/// (Intel, alternating runs), where asking for the next 4 rows all at once, between their groups, had been
/// 8-25% slower on two: a burst of 128 requests fills the core's miss buffers and stalls the loads the
/// arithmetic is waiting for. Four rows' lines per step in the first call only, against two per step over
/// both calls: 0.0265 -> 0.0224 s/epoch on one thread, 0.0147 -> 0.0131 on two (AMD EPYC, Zen 5; medians
/// of 28 epochs, alternating runs).
public func gemmNT(
    x: Rows, rows: Range<Int>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    outputs: Int, inputs d: Int, z: UnsafeMutablePointer<Float>, ldz: Int, readAhead: Int? = nil
) {
    let aheadEnd = readAhead ?? rows.upperBound
    let block = 20
    withUnsafeTemporaryAllocation(of: Vec.self, capacity: 4 * block + 16) { accBuffer in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 4 * block + vecWidth) { sumBuffer in
            let acc = accBuffer.baseAddress!, scratch = acc + 4 * block, sums = sumBuffer.baseAddress!
            sums.initialize(repeating: 0, count: 4 * block + vecWidth)  // whole vectors are read from it
            var r = rows.lowerBound
            while r + 4 <= rows.upperBound {
                let ahead = x.index != nil && r + prefetchDistance + 4 <= aheadEnd
                var o0 = 0
                while o0 < outputs {
                    let count = min(block, outputs - o0)
                    var o = 0
                    while o < count {
                        let n = min(5, count - o), wo = w + (o0 + o) * d, a = acc + o
                        let q = r + prefetchDistance
                        // The rows ahead asked for two per call over the first two calls (outputs 0-4, 5-9), or all
                        // four in the first when it is the only one.
                        if ahead && o0 == 0 && o == 0 && count <= 5 {
                            let pf = (x.row(q), x.row(q + 1), x.row(q + 2), x.row(q + 3))
                            nt4(AskAhead.self, outputs: n, x: x, r: r, w: wo, d: d, acc: a, lda: count, ahead: pf)
                        } else if ahead && o0 == 0 && (o == 0 || o == 5) {
                            let pf = o == 0 ? (x.row(q), x.row(q + 1), wo, wo) : (x.row(q + 2), x.row(q + 3), wo, wo)
                            nt4(AskTwoAhead.self, outputs: n, x: x, r: r, w: wo, d: d, acc: a, lda: count, ahead: pf)
                        } else {
                            nt4(NoRequests.self, outputs: n, x: x, r: r, w: wo, d: d, acc: a, lda: count, ahead: (wo, wo, wo, wo))
                        }
                        o += n
                    }
                    // The sums stored whole, then read back as floats: writing Z lane by lane straight from the
                    // transposed sums measured 60 against 92 GFLOP/s (Scripts/kernelbench, 64 x 512 -> 10).
                    var i = 0
                    while i < 4 * count {
                        storeVec(transposeSum16(acc + i, count: min(16, 4 * count - i), scratch: scratch), sums + i)
                        i += 16
                    }
                    if ldz - o0 >= vecWidth && count <= vecWidth {
                        // A whole vector per row where Z's row has room (its padding lanes, which nobody reads, get
                        // the next row's sums): the same additions as below.
                        let b = bias.map { loadPartialVec($0 + o0, count) } ?? Vec()
                        for rr in 0..<4 { storeVec(loadVec(sums + rr * count) + b, z + (r + rr) * ldz + o0) }
                    } else {
                        for rr in 0..<4 {
                            let zr = z + (r + rr) * ldz + o0, s = sums + rr * count
                            for c in 0..<count { zr[c] = s[c] + (bias?[o0 + c] ?? 0) }
                        }
                    }
                    o0 += count
                }
                r += 4
            }
            while r < rows.upperBound {
                for c in 0..<outputs { z[r * ldz + c] = dot(x.row(r), w + c * d, d) + (bias?[c] ?? 0) }
                r += 1
            }
        }
    }
}

/// out[r][j] = (x[r][j] - mean[j]) · scale[j] (or x[r][j] without `mean`) for r in `rows`, 16 features per
/// step; returns whether every result is finite (`NPYArray.firstNonFinite`'s test, an exponent of all ones,
/// on the stored values). `out` may be `x` itself (in place). The arithmetic of every streamed row gathered
/// standardised (`StreamedSet.gather`).
@inline(__always)
func standardizeRows(_ x: Rows, _ rows: Range<Int>, d: Int, mean: UnsafePointer<Float>?, scale: UnsafePointer<Float>?,
                     into out: UnsafeMutablePointer<Float>, ld: Int) -> Bool {
    let end = d - d % vecWidth
    var any = SIMD16<UInt32>()
    var tailFinite = true
    for r in rows {
        let from = x.row(r), to = out + r * ld
        var j = 0
        while j < end {
            var v = loadVec(from + j)
            if let mean, let scale { v = (v - loadVec(mean + j)) * loadVec(scale + j) }
            storeVec(v, to + j)
            any |= nonFiniteMarks(unsafeBitCast(v, to: SIMD16<UInt32>.self))
            j += vecWidth
        }
        while j < d {
            var v = from[j]
            if let mean, let scale { v = (v - mean[j]) * scale[j] }
            to[j] = v
            tailFinite = tailFinite && v.isFinite
            j += 1
        }
    }
    return !anyNonFinite(any) && tailFinite
}

/// Rows ahead of the ones being multiplied whose lines `nt4` asks for into L2 (`prefetchForRead`), a few
/// lines per step of its loop, when X's rows are gathered by an index (shuffled rows of the whole data set,
/// read from memory).
private let prefetchDistance = 8

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

/// How many outputs (1 to 5) one `nt4` call computes, as a type so each width is compiled on its own with the
/// unused accumulators gone.
private protocol DotOutputs { static var count: Int { get } }
private enum OneDot: DotOutputs { static var count: Int { 1 } }
private enum TwoDots: DotOutputs { static var count: Int { 2 } }
private enum ThreeDots: DotOutputs { static var count: Int { 3 } }
private enum FourDots: DotOutputs { static var count: Int { 4 } }
private enum FiveDots: DotOutputs { static var count: Int { 5 } }

/// Whether `nt4` asks for the rows `ahead` as it goes, as a type so each kind is compiled as a loop of its own
/// (no test in the loop, one written-out body).
private protocol RowRequests {
    static var on: Bool { get }
    /// Rows asked for per step: the first 2 or all 4 of `ahead`.
    static var rows: Int { get }
}
private enum AskAhead: RowRequests {
    static var on: Bool { true }; static var rows: Int { 4 }
}
private enum AskTwoAhead: RowRequests {
    static var on: Bool { true }; static var rows: Int { 2 }
}
private enum NoRequests: RowRequests {
    static var on: Bool { false }; static var rows: Int { 0 }
}

/// Four rows' pointers.
private typealias FourRows = (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>)

/// `nt4` for 1 to 5 `outputs`.
@inline(__always)
private func nt4<A: RowRequests>(
    _ a: A.Type, outputs n: Int, x: Rows, r: Int, w: UnsafePointer<Float>, d: Int, acc: UnsafeMutablePointer<Vec>,
    lda: Int, ahead: FourRows
) {
    switch n {
    case 5: nt4(FiveDots.self, a, x: x, r: r, w: w, d: d, acc: acc, lda: lda, ahead: ahead)
    case 4: nt4(FourDots.self, a, x: x, r: r, w: w, d: d, acc: acc, lda: lda, ahead: ahead)
    case 3: nt4(ThreeDots.self, a, x: x, r: r, w: w, d: d, acc: acc, lda: lda, ahead: ahead)
    case 2: nt4(TwoDots.self, a, x: x, r: r, w: w, d: d, acc: acc, lda: lda, ahead: ahead)
    default: nt4(OneDot.self, a, x: x, r: r, w: w, d: d, acc: acc, lda: lda, ahead: ahead)
    }
}

/// The 16-lane accumulators of rows r..<r+4 x outputs 0..<O.count (W rows at w, w + d, ...): stored to
/// acc[row * lda + output], lanes not yet summed. With `AskAhead`, each step asks for one line of each of the
/// rows `ahead` into L2.
@inline(__always)
private func nt4<O: DotOutputs, A: RowRequests>(
    _: O.Type, _: A.Type, x: Rows, r: Int, w: UnsafePointer<Float>, d: Int, acc: UnsafeMutablePointer<Vec>, lda: Int,
    ahead: FourRows
) {
    let n = O.count
    let end = d - d % vecWidth
    let x0 = x.row(r), x1 = x.row(r + 1), x2 = x.row(r + 2), x3 = x.row(r + 3)
    let w0 = w, w1 = w0 + d, w2 = w1 + d, w3 = w2 + d, w4 = w3 + d
    var a00 = Vec(), a01 = Vec(), a02 = Vec(), a03 = Vec(), a04 = Vec()
    var a10 = Vec(), a11 = Vec(), a12 = Vec(), a13 = Vec(), a14 = Vec()
    var a20 = Vec(), a21 = Vec(), a22 = Vec(), a23 = Vec(), a24 = Vec()
    var a30 = Vec(), a31 = Vec(), a32 = Vec(), a33 = Vec(), a34 = Vec()
    // Written out, with no nested function over the accumulators (one mutating them costs a dynamic
    // exclusivity check per call).
    let (p0, p1, p2, p3) = ahead
    var j = 0
    while j < end {
        if A.on {
            prefetchForRead(p0 + j); prefetchForRead(p1 + j)
            if A.rows == 4 { prefetchForRead(p2 + j); prefetchForRead(p3 + j) }
        }
        let v0 = loadVec(x0 + j), v1 = loadVec(x1 + j), v2 = loadVec(x2 + j), v3 = loadVec(x3 + j)
        var c = loadVec(w0 + j)
        fma(&a00, v0, c); fma(&a10, v1, c); fma(&a20, v2, c); fma(&a30, v3, c)
        if n > 1 { c = loadVec(w1 + j); fma(&a01, v0, c); fma(&a11, v1, c); fma(&a21, v2, c); fma(&a31, v3, c) }
        if n > 2 { c = loadVec(w2 + j); fma(&a02, v0, c); fma(&a12, v1, c); fma(&a22, v2, c); fma(&a32, v3, c) }
        if n > 3 { c = loadVec(w3 + j); fma(&a03, v0, c); fma(&a13, v1, c); fma(&a23, v2, c); fma(&a33, v3, c) }
        if n > 4 { c = loadVec(w4 + j); fma(&a04, v0, c); fma(&a14, v1, c); fma(&a24, v2, c); fma(&a34, v3, c) }
        j += vecWidth
    }
    var p = acc
    p[0] = a00; if n > 1 { p[1] = a01 }; if n > 2 { p[2] = a02 }; if n > 3 { p[3] = a03 }; if n > 4 { p[4] = a04 }
    p += lda
    p[0] = a10; if n > 1 { p[1] = a11 }; if n > 2 { p[2] = a12 }; if n > 3 { p[3] = a13 }; if n > 4 { p[4] = a14 }
    p += lda
    p[0] = a20; if n > 1 { p[1] = a21 }; if n > 2 { p[2] = a22 }; if n > 3 { p[3] = a23 }; if n > 4 { p[4] = a24 }
    p += lda
    p[0] = a30; if n > 1 { p[1] = a31 }; if n > 2 { p[2] = a32 }; if n > 3 { p[3] = a33 }; if n > 4 { p[4] = a34 }
    // The last d % 16 inputs added to the stored sums (the same addition as on the registers: kept out of the
    // loop's registers, where it made the compiler keep one accumulator in memory).
    if end < d {
        for row in 0..<4 {
            for o in 0..<n { dotTail(&acc[row * lda + o], x.row(r + row), w + o * d, from: end, d) }
        }
    }
}
