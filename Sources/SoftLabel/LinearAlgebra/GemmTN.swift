// The weight gradient of a dense layer, dW = dZᵀ X: dZ (n, o), X (n, d) rows, dW (o, d). The same register
// blocking as the outer-product kernel (GemmNN.swift), transposed: a tile of 6 outputs x 64 inputs in 24
// vector registers; for each row r it loads 4 vectors of X's row r and broadcasts dZ[r][o] of the 6 outputs
// (contiguous in dZ's row). Each dW element is summed over r in order in one lane.

/// dW[o, j] = Σ_r G[r, o] X[r, j] for o in 0..<outputs, j in `cols`, summing r = 0..<n in order.
/// G is (n, ldg) holding `outputs` columns, X rows come from `x`, dW is (outputs, ldw).
public func gemmTN(
    g: UnsafePointer<Float>, ldg: Int, x: Rows, n: Int, outputs: Int, cols: Range<Int>,
    dw: UnsafeMutablePointer<Float>, ldw: Int
) {
    // Rows in blocks whose 64-column slice of X is first copied into one contiguous buffer (24 KB: it stays in
    // L1 while every output group passes over it; X's own rows, a power of two apart in memory, would fall
    // into the same few cache sets and evict each other). A later block continues from the sums stored by
    // the one before, which adds in the same order as one pass would.
    let rowBlock = 128
    withUnsafeTemporaryAllocation(of: Float.self, capacity: rowBlock * 64) { buffer in
        let pack = buffer.baseAddress!
        var j = cols.lowerBound
        while j < cols.upperBound {
            let width = min(64, cols.upperBound - j)
            var r0 = 0
            repeat {
                let r1 = min(n, r0 + rowBlock)
                // With two output groups or fewer the copy costs more than the misses it saves (measured with
                // Scripts/kernelbench: 512 inputs -> 10 outputs, 64 rows: 94 GFLOP/s direct, 57 packed).
                let packs = outputs > 12
                if packs {
                    for r in r0..<r1 {
                        let src = x.row(r) + j, dst = pack + (r - r0) * 64
                        var c = 0
                        while c + vecWidth <= width { storeVec(loadVec(src + c), dst + c); c += vecWidth }
                        if c < width { storeVec(loadPartialVec(src + c, width - c), dst + c) }
                    }
                }
                let block = packs ? Rows(base: pack, stride: 64) : x.dropping(r0)
                let from = packs ? 0 : j
                // Tiles of 6 outputs, or of 5 when that divides the outputs and 6 does not (10 outputs: 5 + 5 rather
                // than 6 + 4 with 2 computed for nothing; measured 101 against 59 GFLOP/s at 512 -> 10).
                let group = outputs % 6 != 0 && outputs % 5 == 0 ? 5 : 6
                var o = 0
                while o < outputs {
                    let count = min(group, outputs - o)
                    let c = dw + o * ldw + j, go = g + r0 * ldg + o, start = r0 > 0, m = r1 - r0
                    let vectors = (width + vecWidth - 1) / vecWidth
                    if count == 6 && vectors == 4 {  // the common cases, with constant offsets into dZ's row
                        tileTN(FourVectors.self, SixOutputs.self, g: go, ldg: ldg, (0, 1, 2, 3, 4, 5), x: block, rows: 0..<m,
                               from: from, width: width, c: c, ldc: ldw, outputs: 6, continuing: start)
                    } else if count == 5 && vectors == 4 {
                        tileTN(FourVectors.self, FiveOutputs.self, g: go, ldg: ldg, (0, 1, 2, 3, 4, 4), x: block, rows: 0..<m,
                               from: from, width: width, c: c, ldc: ldw, outputs: 5, continuing: start)
                    } else {
                        // Missing outputs of the last group repeat its last one; their results are not stored.
                        let k = (0, min(1, count - 1), min(2, count - 1), min(3, count - 1), min(4, count - 1), min(5, count - 1))
                        @inline(__always) func tile<W: TileWidth>(_ w: W.Type) {
                            tileTN(w, AnyOutputs.self, g: go, ldg: ldg, k, x: block, rows: 0..<m, from: from, width: width, c: c,
                                   ldc: ldw, outputs: count, continuing: start)
                        }
                        switch vectors {
                        case 4: tile(FourVectors.self)
                        case 3: tile(ThreeVectors.self)
                        case 2: tile(TwoVectors.self)
                        default: tile(OneVector.self)
                        }
                    }
                    o += count
                }
                r0 = r1
            } while r0 < n
            j += width
        }
    }
}

/// Which outputs of dZ's row a tile reads, as a type (see `TileWidth`): the six or five next ones at constant
/// offsets, or six at the offsets given (a short last group repeating its last output).
protocol TileOutputs {
    static var six: Bool { get }
    static var fixedOffsets: Bool { get }
}
enum SixOutputs: TileOutputs { static var six: Bool { true }; static var fixedOffsets: Bool { true } }
enum FiveOutputs: TileOutputs { static var six: Bool { false }; static var fixedOffsets: Bool { true } }
enum AnyOutputs: TileOutputs { static var six: Bool { true }; static var fixedOffsets: Bool { false } }

/// 6 outputs (5 with `FiveOutputs`) x 16·W.vectors inputs of dW over rows `rows`, starting from 0 or
/// (`continuing`) from the stored sums; stores `outputs` outputs and `width` inputs.
@inline(__always)
private func tileTN<W: TileWidth, O: TileOutputs>(
    _: W.Type, _: O.Type, g: UnsafePointer<Float>, ldg: Int, _ offsets: (Int, Int, Int, Int, Int, Int), x: Rows,
    rows: Range<Int>, from j: Int, width: Int, c: UnsafeMutablePointer<Float>, ldc: Int, outputs: Int, continuing: Bool
) {
    let v = W.vectors, six = O.six
    let k = O.fixedOffsets ? (0, 1, 2, 3, 4, 5) : offsets
    var a00 = Vec(), a01 = Vec(), a02 = Vec(), a03 = Vec()
    var a10 = Vec(), a11 = Vec(), a12 = Vec(), a13 = Vec()
    var a20 = Vec(), a21 = Vec(), a22 = Vec(), a23 = Vec()
    var a30 = Vec(), a31 = Vec(), a32 = Vec(), a33 = Vec()
    var a40 = Vec(), a41 = Vec(), a42 = Vec(), a43 = Vec()
    var a50 = Vec(), a51 = Vec(), a52 = Vec(), a53 = Vec()
    if continuing {
        @inline(__always) func load(_ v0: inout Vec, _ v1: inout Vec, _ v2: inout Vec, _ v3: inout Vec, row: Int) {
            if v == 4 && width == 64 && (O.fixedOffsets || row < outputs) {
                let cr = UnsafePointer(c + row &* ldc)
                v0 = loadVec(cr); v1 = loadVec(cr + 16); v2 = loadVec(cr + 32); v3 = loadVec(cr + 48)
            } else {
                loadTile(&v0, &v1, &v2, &v3, row: row, rows: outputs, width: width, c: c, ldc: ldc)
            }
        }
        load(&a00, &a01, &a02, &a03, row: 0)
        load(&a10, &a11, &a12, &a13, row: 1)
        load(&a20, &a21, &a22, &a23, row: 2)
        load(&a30, &a31, &a32, &a33, row: 3)
        load(&a40, &a41, &a42, &a43, row: 4)
        if six { load(&a50, &a51, &a52, &a53, row: 5) }
    }
    @inline(__always) func accumulate(_ r: Int, _ w0: Vec, _ w1: Vec, _ w2: Vec, _ w3: Vec) {
        let gr = g + r &* ldg
        @inline(__always) func output(_ s: Float, _ c0: inout Vec, _ c1: inout Vec, _ c2: inout Vec, _ c3: inout Vec) {
            fma(&c0, s, w0)
            if v > 1 { fma(&c1, s, w1) }
            if v > 2 { fma(&c2, s, w2) }
            if v > 3 { fma(&c3, s, w3) }
        }
        output(gr[k.0], &a00, &a01, &a02, &a03)
        output(gr[k.1], &a10, &a11, &a12, &a13)
        output(gr[k.2], &a20, &a21, &a22, &a23)
        output(gr[k.3], &a30, &a31, &a32, &a33)
        output(gr[k.4], &a40, &a41, &a42, &a43)
        if six { output(gr[k.5], &a50, &a51, &a52, &a53) }
    }
    if width == v * vecWidth {
        for r in rows {
            let xr = x.row(r) + j
            accumulate(r, loadVec(xr), v > 1 ? loadVec(xr + 16) : Vec(), v > 2 ? loadVec(xr + 32) : Vec(),
                       v > 3 ? loadVec(xr + 48) : Vec())
        }
    } else {
        // The last vector is partial: read only its lanes (the row may end there).
        @inline(__always) func load(_ p: UnsafePointer<Float>, _ at: Int) -> Vec {
            width - at >= vecWidth ? loadVec(p + at) : loadPartialVec(p + at, width - at)
        }
        for r in rows {
            let xr = x.row(r) + j
            accumulate(r, load(xr, 0), v > 1 ? load(xr, 16) : Vec(), v > 2 ? load(xr, 32) : Vec(), v > 3 ? load(xr, 48) : Vec())
        }
    }
    // Whole tiles (the common case) stored directly; `storeTile`, called out of line with its vectors passed
    // through memory, took a twentieth of an MLP epoch.
    @inline(__always) func store(_ v0: Vec, _ v1: Vec, _ v2: Vec, _ v3: Vec, row: Int) {
        if v == 4 && width == 64 && (O.fixedOffsets || row < outputs) {
            let cr = c + row &* ldc
            storeVec(v0, cr); storeVec(v1, cr + 16); storeVec(v2, cr + 32); storeVec(v3, cr + 48)
        } else {
            storeTile(v0, v1, v2, v3, row: row, rows: outputs, width: width, bias: nil, c: c, ldc: ldc)
        }
    }
    store(a00, a01, a02, a03, row: 0)
    store(a10, a11, a12, a13, row: 1)
    store(a20, a21, a22, a23, row: 2)
    store(a30, a31, a32, a33, row: 3)
    store(a40, a41, a42, a43, row: 4)
    if six { store(a50, a51, a52, a53, row: 5) }
}

/// Loads one row of a tile stored by `storeTile` (lanes beyond `width` are 0).
@inline(__always)
private func loadTile(_ v0: inout Vec, _ v1: inout Vec, _ v2: inout Vec, _ v3: inout Vec, row: Int, rows: Int, width: Int,
                      c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard row < rows else { return }
    let cr = c + row * ldc
    @inline(__always) func get(_ at: Int) -> Vec {
        let n = width - at
        return n >= vecWidth ? loadVec(cr + at) : n > 0 ? loadPartialVec(cr + at, n) : Vec()
    }
    v0 = get(0); v1 = get(16); v2 = get(32); v3 = get(48)
}
