import Foundation

/// Elementwise activations between dense layers, A = f(Z). Each case's forward, derivative and a plain
/// Double reference (for the gradient check) sit together below; a new activation is a new case here and
/// nothing else (the CLI's `--activation` and the model file list the cases).
public enum Activation: String, Codable, CaseIterable, Sendable {
    /// max(0, z).
    case relu
    /// z Φ(z) = ½ z (1 + erf(z / √2)), the exact GELU of Hendrycks & Gimpel (2016) (PyTorch's default form).
    case gelu
    /// tanh(z).
    case tanh

    /// Forward of one row: a[j] = f(z[j]) for j < count.
    @inline(__always)
    func forward(_ z: UnsafePointer<Float>, _ a: UnsafeMutablePointer<Float>, count: Int) {
        var j = 0
        while j + vecWidth <= count {
            storeVec(forward(loadVec(z + j)), a + j)
            j += vecWidth
        }
        if j < count { storePartialVec(forward(loadPartialVec(z + j, count - j)), a + j, count - j) }
    }

    /// Backward of one row: dz[j] = da[j] · f'(z[j]), from the forward's input z and output a.
    @inline(__always)
    func backward(_ da: UnsafePointer<Float>, input z: UnsafePointer<Float>, output a: UnsafePointer<Float>,
                  dIn dz: UnsafeMutablePointer<Float>, count: Int) {
        var j = 0
        while j + vecWidth <= count {
            storeVec(backward(loadVec(da + j), z: loadVec(z + j), a: loadVec(a + j)), dz + j)
            j += vecWidth
        }
        if j < count {
            let n = count - j
            storePartialVec(backward(loadPartialVec(da + j, n), z: loadPartialVec(z + j, n), a: loadPartialVec(a + j, n)),
                            dz + j, n)
        }
    }

    @inline(__always)
    private func forward(_ z: Vec) -> Vec {
        switch self {
        case .relu:
            return z.replacing(with: Vec(), where: z .< Vec())  // NaN stays NaN: divergence stays visible
        case .gelu:
            return 0.5 * z * (1 + erfVec(z * Vec(repeating: 0.707_106_781_186_547_5)))
        case .tanh:
            return tanhVec(z)
        }
    }

    /// da · f'(z), with a = f(z) at hand.
    @inline(__always)
    private func backward(_ da: Vec, z: Vec, a: Vec) -> Vec {
        switch self {
        case .relu:
            // d/dz max(0, z) = 1 for z > 0, and we take 0 at z = 0.
            return Vec().replacing(with: da, where: a .> Vec())
        case .gelu:
            // d/dz z Φ(z) = Φ(z) + z φ(z), φ(z) = e^{-z²/2} / √(2π).
            let cdf = 0.5 * (1 + erfVec(z * Vec(repeating: 0.707_106_781_186_547_5)))
            let pdf = expVec(-0.5 * z * z) * Vec(repeating: 0.398_942_280_401_432_7)
            return da * (cdf + z * pdf)
        case .tanh:
            // d/dz tanh z = 1 - tanh² z.
            return da * (1 - a * a)
        }
    }

    /// f(z) in Double from the C library, sharing no arithmetic with the forward above (the gradient check's
    /// independent objective).
    func reference(_ z: Double) -> Double {
        switch self {
        case .relu: return max(z, 0)
        case .gelu: return 0.5 * z * (1 + erf(z / 2.0.squareRoot()))
        case .tanh: return Foundation.tanh(z)
        }
    }
}

/// erf on 16 lanes: Abramowitz & Stegun 7.1.26, erf |x| = 1 - (a1 t + ... + a5 t⁵) e^{-x²}, t = 1 / (1 + p|x|),
/// absolute error below 1.5e-7 (about one Float ulp of 1), odd symmetry for x < 0.
@inline(__always)
func erfVec(_ x: Vec) -> Vec {
    let ax = x.replacing(with: -x, where: x .< Vec())
    let t = 1 / (1 + Vec(repeating: 0.327_591_1) * ax)
    var p = Vec(repeating: 1.061_405_429)
    p = p * t + Vec(repeating: -1.453_152_027)
    p = p * t + Vec(repeating: 1.421_413_741)
    p = p * t + Vec(repeating: -0.284_496_736)
    p = p * t + Vec(repeating: 0.254_829_592)
    let y = 1 - p * t * expVec(-ax * ax)
    return y.replacing(with: -y, where: x .< Vec())
}

/// tanh on 16 lanes (Cephes `tanhf`): x + x³ P(x²) for |x| < 0.625, where 1 - 2 / (e^{2x} + 1) would lose
/// digits to cancellation; 1 - 2 / (e^{2|x|} + 1) with the sign of x beyond (exactly ±1 past |x| ≈ 9).
@inline(__always)
func tanhVec(_ x: Vec) -> Vec {
    let ax = x.replacing(with: -x, where: x .< Vec())
    let z = x * x
    var p = Vec(repeating: -5.704_988_727_45e-3)
    p = p * z + Vec(repeating: 2.063_908_879_54e-2)
    p = p * z + Vec(repeating: -5.373_971_555_31e-2)
    p = p * z + Vec(repeating: 1.333_144_220_36e-1)
    p = p * z + Vec(repeating: -3.333_328_194_22e-1)
    let small = p * z * x + x
    let e = expVec(2 * ax.replacing(with: Vec(repeating: 20), where: ax .> Vec(repeating: 20)))
    var large = 1 - 2 / (e + 1)
    large = large.replacing(with: -large, where: x .< Vec())
    return small.replacing(with: large, where: ax .>= Vec(repeating: 0.625))
}
