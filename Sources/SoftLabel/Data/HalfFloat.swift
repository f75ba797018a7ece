/// IEEE 754 binary16 ("float16", numpy's `<f2`) to and from Float, 16 values at a time. Widening is exact (every
/// float16 is a Float); narrowing rounds to the nearest float16, ties to even, as numpy's `astype(np.float16)`,
/// so a value beyond ±65504 becomes ±inf. With the host's vector units enabled (the default build) each
/// 16-value step is one conversion instruction (F16C or AVX-512 FP16).
enum HalfFloat {
    /// dst[i] = Float(src[i]) for `count` float16 values at `src` (any alignment), stored in either byte order.
    static func widen(_ src: UnsafeRawPointer, count: Int, bigEndian: Bool = false, into dst: UnsafeMutablePointer<Float>) {
        var i = 0
        if !bigEndian {
            while i + 16 <= count {
                let h = src.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<Float16>.self)
                UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD16<Float>(h), as: SIMD16<Float>.self)
                i += 16
            }
        }
        while i < count {
            let bits = src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
            dst[i] = Float(half: bigEndian ? UInt16(bigEndian: bits) : UInt16(littleEndian: bits))
            i += 1
        }
    }

    /// dst[i] = the float16 nearest src[i] (ties to even), little-endian, for `count` values.
    static func narrow(_ src: UnsafePointer<Float>, count: Int, into dst: UnsafeMutableRawPointer) {
        var i = 0
        while i + 16 <= count {
            let f = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<Float>.self)
            dst.storeBytes(of: SIMD16<Float16>(f), toByteOffset: 2 * i, as: SIMD16<Float16>.self)
            i += 16
        }
        while i < count {
            dst.storeBytes(of: Float16(src[i]).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            i += 1
        }
    }
}

extension Float {
    /// The Float equal to the float16 with these bits (exact).
    @inline(__always)
    init(half bits: UInt16) { self = Float(Float16(bitPattern: bits)) }
}
