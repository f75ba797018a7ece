import Testing
import Foundation
@testable import SoftLabel

/// The three batch products against plain Double loops, on shapes that exercise every remainder path
/// (rows not a multiple of 4, outputs not a multiple of 5, inputs not a multiple of 16 or 64).
@Suite struct KernelTests {
    /// Also wide inputs, more outputs than the forward's block of 20 (45 = 20 + 20 + 5), and every width of its
    /// 4-row kernel (1 to 5 outputs: 19 = 5 + 5 + 5 + 4, 4, 11 = 5 + 5 + 1, ...).
    static let shapes: [(n: Int, d: Int, o: Int)] = [(1, 1, 1), (7, 13, 3), (9, 64, 10), (13, 100, 11), (5, 131, 7),
                                                     (17, 512, 12), (9, 1100, 7), (70, 130, 12), (10, 40, 45),
                                                     (8, 37, 19), (4, 16, 4)]

    @Test(arguments: shapes.indices)
    func forwardMatchesNaive(_ s: Int) {
        let (n, d, o) = Self.shapes[s]
        var g = TestData(seed: UInt64(s))
        let x = g.matrix(n, d), w = g.matrix(o, d), b = g.matrix(1, o)
        var z = Matrix(rows: n, cols: o)
        x.values.withUnsafeBufferPointer { xp in
            w.values.withUnsafeBufferPointer { wp in
                b.values.withUnsafeBufferPointer { bp in
                    z.values.withUnsafeMutableBufferPointer { zp in
                        gemmNT(x: Rows(base: xp.baseAddress!, stride: d), rows: 0..<n, w: wp.baseAddress!,
                               bias: bp.baseAddress!, outputs: o, inputs: d, z: zp.baseAddress!, ldz: o)
                    }
                }
            }
        }
        for i in 0..<n {
            for c in 0..<o {
                var e = Double(b[0, c])
                for j in 0..<d { e += Double(x[i, j]) * Double(w[c, j]) }
                #expect(abs(Double(z[i, c]) - e) <= 1e-5 * max(1, abs(e)), "Z[\(i),\(c)]")
            }
        }
    }

    /// The 16-at-once lane sums are `hsum`'s, bit for bit (signed zeros and cancellations included), for any
    /// count of vectors; the vectors beyond the count are never read (they hold NaN here).
    @Test func transposeSumIsHsumBitForBit() {
        var g = TestData(seed: 77)
        let specials: [Float] = [-0.0, 0.0, 1e30, -1e30, 1e-40, 3.5, -3.5]
        for count in 1...16 {
            var src = [Vec](repeating: Vec(repeating: .nan), count: 16), scratch = [Vec](repeating: Vec(), count: 16)
            for i in 0..<count {
                for l in 0..<vecWidth {
                    let u = g.matrix(1, 1)[0, 0]
                    src[i][l] = (i + l) % 5 == 0 ? specials[(i * 16 + l) % specials.count] : u * Float(1 << (l % 20))
                }
            }
            let sums = src.withUnsafeBufferPointer { s in
                scratch.withUnsafeMutableBufferPointer { transposeSum16(s.baseAddress!, count: count, scratch: $0.baseAddress!) }
            }
            for i in 0..<count {
                #expect(sums[i].bitPattern == hsum(src[i]).bitPattern, "count \(count), vector \(i)")
            }
        }
    }

    @Test(arguments: shapes.indices)
    func weightGradientMatchesNaive(_ s: Int) {
        let (n, d, o) = Self.shapes[s]
        var gen = TestData(seed: 100 + UInt64(s))
        let x = gen.matrix(n, d), g = gen.matrix(n, o)
        // Read X through a reversed row index, as a shuffled batch is.
        let index = Array((0..<n).reversed())
        var dw = Matrix(rows: o, cols: d)
        x.values.withUnsafeBufferPointer { xp in
            g.values.withUnsafeBufferPointer { gp in
                index.withUnsafeBufferPointer { ip in
                    dw.values.withUnsafeMutableBufferPointer { dp in
                        gemmTN(g: gp.baseAddress!, ldg: o, x: Rows(base: xp.baseAddress!, stride: d, index: ip.baseAddress!),
                               n: n, outputs: o, cols: 0..<d, dw: dp.baseAddress!, ldw: d)
                    }
                }
            }
        }
        for c in 0..<o {
            for j in 0..<d {
                var e = 0.0
                for r in 0..<n { e += Double(g[r, c]) * Double(x[index[r], j]) }
                #expect(abs(Double(dw[c, j]) - e) <= 1e-5 * max(1, abs(e)), "dW[\(c),\(j)]")
            }
        }
    }

    @Test(arguments: shapes.indices)
    func inputGradientMatchesNaive(_ s: Int) {
        let (n, d, o) = Self.shapes[s]
        var gen = TestData(seed: 200 + UInt64(s))
        let w = gen.matrix(o, d), g = gen.matrix(n, o)
        var dx = Matrix(rows: n, cols: d)
        w.values.withUnsafeBufferPointer { wp in
            g.values.withUnsafeBufferPointer { gp in
                dx.values.withUnsafeMutableBufferPointer { dp in
                    gemmNN(g: Rows(base: gp.baseAddress!, stride: o), rows: 0..<n, w: wp.baseAddress!, outputs: o, inputs: d,
                           dx: dp.baseAddress!, ldx: d)
                }
            }
        }
        for r in 0..<n {
            for j in 0..<d {
                var e = 0.0
                for c in 0..<o { e += Double(g[r, c]) * Double(w[c, j]) }
                #expect(abs(Double(dx[r, j]) - e) <= 1e-5 * max(1, abs(e)), "dX[\(r),\(j)]")
            }
        }
    }

    /// Any split of the rows or columns gives the same bits: the basis of thread-count independence.
    @Test func splitsGiveIdenticalBits() {
        let n = 23, d = 150, o = 12
        var gen = TestData(seed: 7)
        let x = gen.matrix(n, d), w = gen.matrix(o, d), g = gen.matrix(n, o)
        func forward(_ parts: [Range<Int>]) -> [Float] {
            var z = [Float](repeating: 0, count: n * o)
            x.values.withUnsafeBufferPointer { xp in
                w.values.withUnsafeBufferPointer { wp in
                    z.withUnsafeMutableBufferPointer { zp in
                        for rows in parts {
                            gemmNT(x: Rows(base: xp.baseAddress!, stride: d), rows: rows, w: wp.baseAddress!, bias: nil,
                                   outputs: o, inputs: d, z: zp.baseAddress!, ldz: o)
                        }
                    }
                }
            }
            return z
        }
        func weightGrad(_ parts: [Range<Int>]) -> [Float] {
            var dw = [Float](repeating: 0, count: o * d)
            x.values.withUnsafeBufferPointer { xp in
                g.values.withUnsafeBufferPointer { gp in
                    dw.withUnsafeMutableBufferPointer { dp in
                        for cols in parts {
                            gemmTN(g: gp.baseAddress!, ldg: o, x: Rows(base: xp.baseAddress!, stride: d), n: n,
                                   outputs: o, cols: cols, dw: dp.baseAddress!, ldw: d)
                        }
                    }
                }
            }
            return dw
        }
        #expect(forward([0..<n]) == forward([0..<1, 1..<10, 10..<23]))
        #expect(forward([0..<n]) == forward(Parallel.split(n, parts: 3, align: 4)))
        #expect(forward([0..<n]) == forward([0..<8, 8..<16, 16..<23]))
        #expect(weightGrad([0..<d]) == weightGrad([0..<17, 17..<64, 64..<150]))
        #expect(weightGrad([0..<d]) == weightGrad(Parallel.split(d, parts: 2, align: 64)))
    }

    /// The forward gives the same bits for any split of the rows, whichever kernel path a row falls in.
    @Test func wideForwardSplitsGiveIdenticalBits() {
        let n = 21, d = 300, o = 12
        var gen = TestData(seed: 9)
        let x = gen.matrix(n, d), w = gen.matrix(o, d), b = gen.matrix(1, o)
        func forward(_ parts: [Range<Int>]) -> [Float] {
            var z = [Float](repeating: 0, count: n * o)
            x.values.withUnsafeBufferPointer { xp in
                w.values.withUnsafeBufferPointer { wp in
                    b.values.withUnsafeBufferPointer { bp in
                        z.withUnsafeMutableBufferPointer { zp in
                            for rows in parts {
                                gemmNT(x: Rows(base: xp.baseAddress!, stride: d), rows: rows, w: wp.baseAddress!,
                                       bias: bp.baseAddress!, outputs: o, inputs: d, z: zp.baseAddress!, ldz: o)
                            }
                        }
                    }
                }
            }
            return z
        }
        #expect(forward([0..<n]) == forward([0..<3, 3..<4, 4..<21]))
        #expect(forward([0..<n]) == forward((0..<n).map { $0..<($0 + 1) }))
    }

    @Test func splitCoversRangeWithAlignedBounds() {
        let parts = Parallel.split(150, parts: 3, align: 64)
        #expect(parts == [0..<64, 64..<128, 128..<150])
        #expect(Parallel.split(10, parts: 4, align: 4) == [0..<4, 4..<8, 8..<10])
        #expect(Parallel.split(0, parts: 2) == [])
        // part(i) is the i-th range of split, without building the array.
        for (count, parts, align) in [(150, 3, 64), (10, 4, 4), (7, 2, 1), (1000, 3, 16), (5, 8, 1)] {
            let ranges = Parallel.split(count, parts: parts, align: align)
            #expect(ranges.count == Parallel.partCount(count, parts: parts, align: align))
            #expect(ranges == ranges.indices.map { Parallel.part($0, of: parts, count: count, align: align) })
            #expect(Parallel.part(ranges.count, of: parts, count: count, align: align).isEmpty)
        }
    }
}

/// Floats that end exactly where an unreadable page begins: a kernel that loads one element past the end of
/// such a buffer (a whole vector over a ragged row, say) crashes the test instead of reading a neighbour's
/// memory unnoticed. (AddressSanitizer found one such read; this keeps it found without a sanitizer build.)
final class GuardedFloats {
    let pointer: UnsafeMutablePointer<Float>
    private let base: UnsafeMutableRawPointer, length: Int

    init(_ values: [Float]) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = max(values.count, 1) * MemoryLayout<Float>.stride
        let dataPages = (bytes + page - 1) / page
        length = (dataPages + 1) * page
        base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)!
        precondition(base != MAP_FAILED)
        precondition(mprotect(base + dataPages * page, page, PROT_NONE) == 0)
        pointer = (base + dataPages * page - values.count * MemoryLayout<Float>.stride).assumingMemoryBound(to: Float.self)
        pointer.initialize(from: values, count: values.count)
    }

    deinit { munmap(base, length) }
}

@Suite struct KernelBoundsTests {
    static let shapes: [(n: Int, d: Int, o: Int)] = KernelTests.shapes + [(6, 20, 40), (7, 70, 33), (13, 17, 100), (6, 6, 5), (5, 3, 7), (9, 1, 4), (8, 15, 2), (7, 2, 70)]

    /// Packed panels hold exactly Wᵀ (zeros beyond the outputs), packed whole or a range of inputs at a time as
    /// the optimizer's tasks repack what they updated (whole 16 x 16 blocks are transposed in registers, ragged
    /// ones copied element by element).
    @Test(arguments: [(70, 33), (64, 64), (512, 256), (100, 17), (16, 16), (3, 5), (130, 100)])
    func packedPanelsAreTheTransposedWeights(_ d: Int, _ o: Int) {
        var gen = TestData(seed: UInt64(d * 1000 + o))
        let w = gen.matrix(o, d).values
        var packed = [Float](repeating: .nan, count: packedCount(inputs: d, outputs: o))
        let ranges = [0..<d, 0..<min(d, 64), min(d, 64)..<d, (d / 3)..<(2 * d / 3)]
        for range in ranges {
            packed.withUnsafeMutableBufferPointer { packPanels(w, inputs: d, outputs: o, rows: range, into: $0.baseAddress!) }
        }
        for p in 0..<((o + 63) / 64) {
            for j in 0..<d {
                for c in 0..<64 {
                    let expected = 64 * p + c < o ? w[(64 * p + c) * d + j] : 0
                    #expect(packed[p * 64 * d + j * 64 + c] == expected, "d \(d) o \(o) panel \(p) input \(j) column \(c)")
                }
            }
        }
    }

    /// Every kernel on every shape with each of its operands ending at an unreadable page.
    @Test(arguments: shapes.indices)
    func kernelsStayInsideTheirBuffers(_ s: Int) {
        let (n, d, o) = Self.shapes[s]
        var gen = TestData(seed: 300 + UInt64(s))
        let x = GuardedFloats(gen.matrix(n, d).values), w = GuardedFloats(gen.matrix(o, d).values)
        let b = GuardedFloats(gen.matrix(1, o).values), g = GuardedFloats(gen.matrix(n, o).values)
        let z = GuardedFloats([Float](repeating: 0, count: n * o)), dx = GuardedFloats([Float](repeating: 0, count: n * d))
        let dw = GuardedFloats([Float](repeating: 0, count: o * d))
        let packed = GuardedFloats([Float](repeating: 0, count: packedCount(inputs: d, outputs: o)))
        let xr = Rows(base: x.pointer, stride: d)
        gemmNT(x: xr, rows: 0..<n, w: w.pointer, bias: b.pointer, outputs: o, inputs: d, z: z.pointer, ldz: o)
        let direct = Array(UnsafeBufferPointer(start: z.pointer, count: n * o))
        packPanels(w.pointer, inputs: d, outputs: o, rows: 0..<d, into: packed.pointer)
        gemmPacked(x: xr, rows: 0..<n, packed: packed.pointer, bias: b.pointer, outputs: o, inputs: d, z: z.pointer, ldz: o)
        let viaPanels = Array(UnsafeBufferPointer(start: z.pointer, count: n * o))
        gemmNN(g: Rows(base: g.pointer, stride: o), rows: 0..<n, w: w.pointer, outputs: o, inputs: d, dx: dx.pointer, ldx: d)
        gemmTN(g: g.pointer, ldg: o, x: xr, n: n, outputs: o, cols: 0..<d, dw: dw.pointer, ldw: d)
        // The results themselves are checked against Double loops above; here only that the two forward paths
        // agree and that every output is a finite number written by the kernels.
        for (a, p) in zip(direct, viaPanels) { #expect(abs(a - p) <= 1e-4 * max(1, abs(a))) }
        let dxFinite = UnsafeBufferPointer(start: dx.pointer, count: n * d).allSatisfy { $0.isFinite }
        let dwWritten = UnsafeBufferPointer(start: dw.pointer, count: o * d).contains { $0 != 0 }
        #expect(dxFinite)
        #expect(dwWritten)
    }
}
