// The one vector type every kernel uses, and the few operations on it that kernels share.
// 16 floats = one AVX-512 register, two AVX2 registers, four NEON registers: the code is the same on all.

public typealias Vec = SIMD16<Float>
public let vecWidth = 16

@inline(__always)
func loadVec(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

/// The first `count` (< 16) floats at `p`, the other lanes set to `fill`.
@inline(__always)
func loadPartialVec(_ p: UnsafePointer<Float>, _ count: Int, fill: Float = 0) -> Vec {
    var v = Vec(repeating: fill)
    for l in 0..<count { v[l] = p[l] }
    return v
}

/// Scratch of `vectors` vectors followed by `floats` floats, both uninitialised, on the stack.
/// `withUnsafeTemporaryAllocation(of: Vec.self, ...)` puts any buffer aligned beyond 16 bytes (a Vec is aligned
/// to 64) on the heap, a `posix_memalign` and a `free` per call; here the bytes are asked for with 16-byte
/// alignment and the start rounded up to 64.
@inline(__always)
func withVecScratch<R>(vectors: Int, floats: Int,
                       _ body: (UnsafeMutablePointer<Vec>, UnsafeMutablePointer<Float>) throws -> R) rethrows -> R {
    let alignment = MemoryLayout<Vec>.alignment, vectorBytes = vectors * MemoryLayout<Vec>.stride
    let bytes = vectorBytes + floats * MemoryLayout<Float>.stride + alignment
    return try withUnsafeTemporaryAllocation(byteCount: bytes, alignment: 16) { raw in
        let base = Int(bitPattern: raw.baseAddress!)
        let aligned = UnsafeMutableRawPointer(bitPattern: (base + alignment - 1) & ~(alignment - 1))!
        return try body(aligned.bindMemory(to: Vec.self, capacity: vectors),
                        (aligned + vectorBytes).bindMemory(to: Float.self, capacity: floats))
    }
}

/// The finiteness test every check shares (`NPYArray.firstNonFinite`, `standardizeRows`, `InputFolding.check`):
/// a float is ±∞ or NaN exactly when its exponent bits are all ones, and then adding 1 to the exponent field
/// carries into the sign bit's place. OR the marks of many values together and test them once (`anyNonFinite`).
@inline(__always)
func nonFiniteMarks(_ bits: SIMD16<UInt32>) -> SIMD16<UInt32> {
    (bits & SIMD16(repeating: 0x7F80_0000)) &+ SIMD16(repeating: 0x0080_0000)
}

/// Whether any value whose `nonFiniteMarks` were ORed into `marks` is ±∞ or NaN.
@inline(__always)
func anyNonFinite(_ marks: SIMD16<UInt32>) -> Bool { marks & 0x8000_0000 != SIMD16<UInt32>() }

/// Σ of the 16 lanes: the stdlib's reduction, ((v0 + v1) + v2) + ... + v15. Every kernel reduces in this
/// order, one vector at a time with this, or 16 at once with `transposeSum16`. (A tree of halves would be
/// faster but give other bits, and version-1 model files must predict exactly as they did.)
@inline(__always)
func hsum(_ v: Vec) -> Float {
    v.sum()
}

/// `hsum` of 16 vectors at once: lane i of the result is hsum(src[i]) bit for bit (vectors from `count` on
/// are taken as zeros, not read). A transpose (64 shuffles) into `scratch` (16 vectors), then 15 vector
/// additions in hsum's order, where 16 hsums take 240 scalar additions and shuffles.
@inline(__always)
func transposeSum16(_ src: UnsafePointer<Vec>, count: Int, scratch t: UnsafeMutablePointer<Vec>) -> Vec {
    transposeBlock16(src, count: count, into: t)
    var s = t[0] + t[1]
    s += t[2]; s += t[3]; s += t[4]; s += t[5]; s += t[6]; s += t[7]; s += t[8]
    s += t[9]; s += t[10]; s += t[11]; s += t[12]; s += t[13]; s += t[14]; s += t[15]
    return s
}

/// dst[i] = lane i of src[0..<16] (src from `count` on taken as zeros). Not inlined on purpose: where the
/// additions of `transposeSum16` could see the shuffles, the optimizer merged them into scalar inserts and
/// extracts that ran slower than 16 hsums.
@inline(never)
func transposeBlock16(_ src: UnsafePointer<Vec>, count: Int, into dst: UnsafeMutablePointer<Vec>) {
    var t = Block16(rows: count) { i in src[i] }
    t.transpose()
    t.forEach { i, v in dst[i] = v }
}

/// Asks for the cache line at `p` to be fetched for writing, ahead of the stores that will fill it (LLVM's
/// prefetch intrinsic: prefetchw on x86-64, prfm pstl1keep on arm64). A hint: it never faults, whatever
/// the address. Swift has no prefetch API; the intrinsic is reached by its LLVM name, which works in plain
/// builds but not under ThreadSanitizer (it turns every call into an `invoke`, which LLVM rejects for an
/// intrinsic). So it is compiled only where Package.swift defines SOFTLABEL_PREFETCH (release builds), and
/// is a no-op elsewhere: debug and sanitizer builds compute the same values, only slower.
@inline(__always)
func prefetchForWrite(_ p: UnsafeRawPointer) {
    #if SOFTLABEL_PREFETCH
    llvmPrefetch(p, 1, 3, 1)
    #endif
}

/// Asks for the cache line at `p` to be fetched into L2 for reading (prefetcht1 on x86-64, prfm pldl2keep
/// on arm64), so a load soon after finds it there. A hint, compiled as `prefetchForWrite` is.
@inline(__always)
func prefetchForRead(_ p: UnsafeRawPointer) {
    #if SOFTLABEL_PREFETCH
    llvmPrefetch(p, 0, 2, 1)
    #endif
}

#if SOFTLABEL_PREFETCH
@_silgen_name("llvm.prefetch.p0")
private func llvmPrefetch(_ address: UnsafeRawPointer, _ write: Int32, _ locality: Int32, _ cache: Int32)
#endif

/// 16 vectors in registers: a 16 x 16 block of floats, row i in r.i.
struct Block16 {
    var r: (Vec, Vec, Vec, Vec, Vec, Vec, Vec, Vec, Vec, Vec, Vec, Vec, Vec, Vec, Vec, Vec)

    /// Rows 0..<rows from `row`, the others zero.
    @inline(__always)
    init(rows: Int, _ row: (Int) -> Vec) {
        @inline(__always) func at(_ i: Int) -> Vec { i < rows ? row(i) : Vec() }
        r = (at(0), at(1), at(2), at(3), at(4), at(5), at(6), at(7),
             at(8), at(9), at(10), at(11), at(12), at(13), at(14), at(15))
    }

    /// Rows become columns: four rounds of a perfect shuffle (rows 2i and 2i+1 split into even and odd lanes),
    /// each rotating the bits of (row, lane) by one, swap rows and lanes. (`evenHalf`/`oddHalf` of a pair
    /// compile to one vpermt2ps each on AVX-512.)
    @inline(__always)
    mutating func transpose() {
        @inline(__always) func even(_ a: Vec, _ b: Vec) -> Vec { Vec(lowHalf: a.evenHalf, highHalf: b.evenHalf) }
        @inline(__always) func odd(_ a: Vec, _ b: Vec) -> Vec { Vec(lowHalf: a.oddHalf, highHalf: b.oddHalf) }
        for _ in 0..<4 {
            let (r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15) = r
            r = (even(r0, r1), even(r2, r3), even(r4, r5), even(r6, r7), even(r8, r9), even(r10, r11), even(r12, r13),
                 even(r14, r15), odd(r0, r1), odd(r2, r3), odd(r4, r5), odd(r6, r7), odd(r8, r9), odd(r10, r11),
                 odd(r12, r13), odd(r14, r15))
        }
    }

    @inline(__always)
    func forEach(_ body: (Int, Vec) -> Void) {
        body(0, r.0); body(1, r.1); body(2, r.2); body(3, r.3); body(4, r.4); body(5, r.5); body(6, r.6)
        body(7, r.7); body(8, r.8); body(9, r.9); body(10, r.10); body(11, r.11); body(12, r.12); body(13, r.13)
        body(14, r.14); body(15, r.15)
    }
}

/// Lane-wise max by a select (the stdlib's pointwiseMax compiles to a generic call here).
@inline(__always)
func vmax(_ a: Vec, _ b: Vec) -> Vec { a.replacing(with: b, where: b .> a) }

/// max of the 16 lanes, by the same tree.
@inline(__always)
func hmax(_ v: Vec) -> Float {
    // Selects rather than the stdlib's pointwiseMax, which stays a generic call for the half-width types.
    var a = v.lowHalf
    a.replace(with: v.highHalf, where: v.highHalf .> a)
    var b = a.lowHalf
    b.replace(with: a.highHalf, where: a.highHalf .> b)
    var c = b.lowHalf
    c.replace(with: b.highHalf, where: b.highHalf .> c)
    return c[1] > c[0] ? c[1] : c[0]
}

@inline(__always)
func storeVec(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

@inline(__always)
func storePartialVec(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
    for l in 0..<count { p[l] = v[l] }
}

/// v with every subnormal lane (0 < |x| < 2^-126 ≈ 1.2e-38) replaced by 0 (-0 too); normal numbers unchanged.
///
/// Flush to zero where it cannot change results meaningfully: x86 computes with subnormal operands about 100x
/// slower, and quantities that decay geometrically (Adam's moments of a dead unit's zero gradient, the weights
/// L2 shrinks towards 0, their running average) otherwise sit in the subnormal range for thousands of steps,
/// making late epochs cost 20x early ones (measured: 0.75 s → 18 s per epoch on the 512-256-10 MLP). Applied
/// to the optimizer state, the updated weights, the L2 gradient term and the weight average; a value that
/// small moves no prediction (1e-38 · any feature is below Float's resolution of any logit).
@inline(__always)
func flushSubnormals(_ v: Vec) -> Vec {
    // |v| by a select, then one float compare: these compile to a few vector instructions (a mask built from
    // integer lane compares combined with .& was compiled to a loop over the lanes, 10x slower).
    let magnitude = vmax(v, -v)
    return v.replacing(with: 0, where: magnitude .< Vec(repeating: .leastNormalMagnitude))
}

/// The same for one Float (the same result as a lane of `flushSubnormals`; -0 becomes 0 in both).
@inline(__always)
func flushSubnormal(_ x: Float) -> Float { abs(x) < .leastNormalMagnitude ? 0 : x }

/// `acc += a * b`, fused where the target has fused multiply-add (a libm call per lane where it does not).
@inline(__always)
func fma(_ acc: inout Vec, _ a: Vec, _ b: Vec) {
    #if SOFTLABEL_FMA
    acc.addProduct(a, b)
    #else
    acc += a * b
    #endif
}

@inline(__always)
func fma(_ acc: inout Vec, _ a: Float, _ b: Vec) {
    #if SOFTLABEL_FMA
    acc.addProduct(Vec(repeating: a), b)
    #else
    acc += a * b
    #endif
}

/// e^x on 16 lanes: Cephes `expf` (range reduction x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial),
/// within 2 ulp of the true value. Lanes below -87.3 (where e^x leaves the normal range) give exactly 0,
/// which is what a softmax wants for a logit ~88 below the row max (and for padding lanes set to -inf).
@inline(__always)
func expVec(_ x: Vec) -> Vec {
    let lo = Vec(repeating: -87.3), hi = Vec(repeating: 88.37)
    let tooSmall = x .< lo
    var xc = x.replacing(with: lo, where: tooSmall)
    xc = xc.replacing(with: hi, where: xc .> hi)
    // n = round(x log2 e): adding 1.5·2^23 pushes the fraction out of the mantissa, rounding to nearest, and
    // leaves n in the low bits of the sum (so 2^n needs no float-to-int conversion).
    let shifter = Vec(repeating: 12_582_912)
    let t = xc * Vec(repeating: 1.442_695_04) + shifter
    let n = t - shifter
    var r = xc - n * Vec(repeating: 0.693_359_375)
    r = r - n * Vec(repeating: -2.121_944_40e-4)
    var p = Vec(repeating: 1.987_569_150_0e-4)
    p = p * r + Vec(repeating: 1.398_199_950_7e-3)
    p = p * r + Vec(repeating: 8.333_451_907_3e-3)
    p = p * r + Vec(repeating: 4.166_579_589_4e-2)
    p = p * r + Vec(repeating: 1.666_666_545_9e-1)
    p = p * r + Vec(repeating: 5.000_000_120_1e-1)
    p = p * (r * r) + r + Vec(repeating: 1)
    // 2^n from the exponent bits; n is in [-126, 127] after the clamp.
    let bits = (unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return (p * unsafeBitCast(bits, to: Vec.self)).replacing(with: 0, where: tooSmall)
}
