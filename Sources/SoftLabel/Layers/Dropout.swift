/// Inverted dropout (Srivastava et al. 2014): in training each unit is kept with probability 1 - p and scaled
/// by 1 / (1 - p), so the expected activation is unchanged and inference is the identity.
///
/// The mask is not drawn from a stream: unit j of layer l for stored example e in epoch t is kept when
/// hash(seed, t, l, e, j) clears the threshold (a counter-based generator, SplitMix64's finaliser applied to
/// the key). So the mask does not depend on batch composition, chunking or thread count, and a resumed run
/// or the gradient check can recompute exactly the mask training used.
enum Dropout {
    /// Keep iff the top 24 bits of the hash are >= p · 2^24 (p rounded to a multiple of 2^-24).
    @inline(__always)
    static func threshold(_ rate: Float) -> UInt64 { UInt64((Double(rate) * 16_777_216).rounded()) }

    /// The per-row part of the key, mixed once per row.
    @inline(__always)
    static func rowKey(seed: UInt64, epoch: Int, layer: Int, example: Int) -> UInt64 {
        var h = mix(seed ^ 0x5DEE_CE66_D1B5_4A32)
        h = mix(h ^ UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15)
        h = mix(h ^ UInt64(truncatingIfNeeded: layer) &* 0xBF58_476D_1CE4_E5B9)
        return mix(h ^ UInt64(truncatingIfNeeded: example) &* 0x94D0_49BB_1331_11EB)
    }

    @inline(__always)
    static func keeps(rowKey: UInt64, unit: Int, threshold: UInt64) -> Bool {
        mix(rowKey &+ UInt64(truncatingIfNeeded: unit) &* 0x9E37_79B9_7F4A_7C15) >> 40 >= threshold
    }

    /// Whether unit `unit` of layer `layer` is kept for example `example` in epoch `epoch` (the gradient check's
    /// reference objective applies the same mask).
    static func keeps(seed: UInt64, epoch: Int, layer: Int, example: Int, unit: Int, rate: Float) -> Bool {
        keeps(rowKey: rowKey(seed: seed, epoch: epoch, layer: layer, example: example), unit: unit,
              threshold: threshold(rate))
    }

    /// SplitMix64's output function: a bijection of 64-bit words that mixes every input bit into every output bit.
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Forward: out = x · m / (1 - p) with m the mask (training); out = x (inference).   x rows (n, w) → out (n, w)
    static func forward(_ x: Rows, rows: Range<Int>, width: Int, rate: Float, output: UnsafeMutablePointer<Float>, ldo: Int,
                        context c: LayerContext) {
        guard case .training(let seed, let epoch) = c.mode, rate > 0 else {
            for r in rows { (output + r * ldo).update(from: x.row(r), count: width) }
            return
        }
        let scale = 1 / (1 - rate), cut = threshold(rate)
        for r in rows {
            let key = rowKey(seed: seed, epoch: epoch, layer: c.layer, example: c.examples(r))
            let src = x.row(r), dst = output + r * ldo
            for j in 0..<width { dst[j] = keeps(rowKey: key, unit: j, threshold: cut) ? src[j] * scale : 0 }
        }
    }

    /// Backward: dx = dOut · m / (1 - p), the same mask recomputed (dx = dOut at inference).
    static func backward(dOut: UnsafePointer<Float>, ldo: Int, rows: Range<Int>, width: Int, rate: Float,
                         dIn: UnsafeMutablePointer<Float>, ldi: Int, context c: LayerContext) {
        guard case .training(let seed, let epoch) = c.mode, rate > 0 else {
            for r in rows { (dIn + r * ldi).update(from: dOut + r * ldo, count: width) }
            return
        }
        let scale = 1 / (1 - rate), cut = threshold(rate)
        for r in rows {
            let key = rowKey(seed: seed, epoch: epoch, layer: c.layer, example: c.examples(r))
            let src = dOut + r * ldo, dst = dIn + r * ldi
            for j in 0..<width { dst[j] = keeps(rowKey: key, unit: j, threshold: cut) ? src[j] * scale : 0 }
        }
    }
}
