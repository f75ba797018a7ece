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

/// Σ of the 16 lanes: the stdlib's reduction, one fixed order. Kept as the one name every kernel reduces
/// with. (A tree of halves, and a transposing 16-at-once reduction, both measured slower in the
/// dot-product kernels: 76 and 51 GFLOP/s against 84.)
@inline(__always)
func hsum(_ v: Vec) -> Float {
    v.sum()
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

/// v with every subnormal lane (0 < |x| < 2^-126 ≈ 1.2e-38) replaced by 0; zeros and normal numbers unchanged.
///
/// Flush to zero where it cannot change results meaningfully: x86 computes with subnormal operands about 100x
/// slower, and quantities that decay geometrically (Adam's moments of a dead unit's zero gradient, the weights
/// L2 shrinks towards 0, their running average) otherwise sit in the subnormal range for thousands of steps,
/// making late epochs cost 20x early ones (measured: 0.75 s → 18 s per epoch on the 512-256-10 MLP). Applied
/// to the optimizer state, the updated weights, the L2 gradient term and the weight average; a value that
/// small moves no prediction (1e-38 · any feature is below Float's resolution of any logit).
@inline(__always)
func flushSubnormals(_ v: Vec) -> Vec {
    let magnitude = unsafeBitCast(v, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF
    return v.replacing(with: 0, where: (magnitude .> 0) .& (magnitude .< 0x0080_0000))
}

/// The same for one Float (the same result as a lane of `flushSubnormals`).
@inline(__always)
func flushSubnormal(_ x: Float) -> Float { x.isSubnormal ? 0 : x }

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
