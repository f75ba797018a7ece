import Foundation
import Testing
@testable import SoftLabel

@Suite struct LayerTests {
    /// Every activation's vector forward against the C library in Double, over a grid from -12 to 12 and tiny
    /// values: within 4e-7 absolute (A&S erf is good to 1.5e-7, exp to 2 ulp).
    @Test(arguments: Activation.allCases)
    func activationForwardMatchesTheLibrary(_ f: Activation) {
        var z: [Float] = stride(from: -12.0, through: 12.0, by: 0.01).map { Float($0) }
        z += [1e-30, -1e-30, 1e-5, -1e-5, 0.6249, 0.6251, -0.625, 0, 88, -88]
        var a = [Float](repeating: 0, count: z.count)
        z.withUnsafeBufferPointer { zb in a.withUnsafeMutableBufferPointer { f.forward(zb.baseAddress!, $0.baseAddress!, count: z.count) } }
        var worst = 0.0
        for (x, y) in zip(z, a) { worst = max(worst, abs(Double(y) - f.reference(Double(x))) / max(1, abs(Double(x)) * 1e-7 * 1e7)) }
        #expect(worst < 4e-7, "\(f): \(worst)")
        // Small arguments keep their relative accuracy where it matters (tanh z ≈ z).
        if f == .tanh { #expect(abs(Double(a[z.count - 8]) / 1e-5 - 1) < 1e-6) }
    }

    /// Each derivative against a central difference of the Double reference.
    @Test(arguments: Activation.allCases)
    func activationDerivativeMatchesFiniteDifferences(_ f: Activation) {
        let z: [Float] = stride(from: -6.0, through: 6.0, by: 0.037).map { Float($0) }  // avoids z = 0 exactly
        var a = [Float](repeating: 0, count: z.count), dz = a
        let ones = [Float](repeating: 1, count: z.count)
        z.withUnsafeBufferPointer { zb in
            a.withUnsafeMutableBufferPointer { ab in
                f.forward(zb.baseAddress!, ab.baseAddress!, count: z.count)
                dz.withUnsafeMutableBufferPointer {
                    f.backward(ones, input: zb.baseAddress!, output: UnsafePointer(ab.baseAddress!), dIn: $0.baseAddress!, count: z.count)
                }
            }
        }
        for (x, g) in zip(z, dz) {
            let h = 1e-6, x = Double(x)
            let numeric = (f.reference(x + h) - f.reference(x - h)) / (2 * h)
            #expect(abs(Double(g) - numeric) < 2e-6, "\(f) at \(x): \(g) vs \(numeric)")
        }
    }

    /// Dropout keeps about 1 - p of the units, scaled by 1 / (1 - p); the mask depends on (seed, epoch, layer,
    /// example, unit) only, and inference is the identity.
    @Test func dropoutMask() {
        var kept = 0
        for e in 0..<200 { for j in 0..<100 where Dropout.keeps(seed: 7, epoch: 3, layer: 2, example: e, unit: j, rate: 0.3) { kept += 1 } }
        #expect(abs(Double(kept) / 20_000 - 0.7) < 0.015)
        // Another epoch, layer, seed or example: another mask.
        func mask(_ seed: UInt64, _ epoch: Int, _ layer: Int, _ example: Int) -> [Bool] {
            (0..<64).map { Dropout.keeps(seed: seed, epoch: epoch, layer: layer, example: example, unit: $0, rate: 0.5) }
        }
        let m = mask(1, 1, 1, 1)
        #expect(m == mask(1, 1, 1, 1))
        for other in [mask(2, 1, 1, 1), mask(1, 2, 1, 1), mask(1, 1, 2, 1), mask(1, 1, 1, 2)] { #expect(other != m) }
        #expect(!(0..<1000).contains { Dropout.keeps(seed: 1, epoch: 1, layer: 1, example: 1, unit: $0, rate: 0) == false })
    }

    /// Dropout and the activation choice change training, not inference: a network with dropout layers gives
    /// the logits of the same network without them.
    @Test func dropoutIsTheIdentityAtInference() {
        var rng = SplitMix64(seed: 4)
        let net = Network.make(inputs: 6, hidden: [20, 9], classes: 3, activation: .gelu, dropout: 0.4, rng: &rng)
        #expect(net.layers.count == 7)  // dense, gelu, dropout, dense, gelu, dropout, dense
        let plain = Network(layers: net.layers.filter { if case .dropout = $0 { return false } else { return true } })
        var g = TestData(seed: 2)
        let x = g.matrix(33, 6)
        #expect(net.logits(x) == plain.logits(x))
    }

    /// Format-2 layers round-trip through JSON with their kinds; unknown kinds and broken chains are refused.
    @Test func layersCodeWithTheirKinds() throws {
        var rng = SplitMix64(seed: 4)
        let net = Network.make(inputs: 3, hidden: [4], classes: 2, activation: .tanh, dropout: 0.25, rng: &rng)
        let data = try JSONEncoder().encode(net)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\"kind\":\"tanh\"") && text.contains("\"kind\":\"dropout\"") && text.contains("\"rate\":0.25"))
        #expect(try JSONDecoder().decode(Network.self, from: data) == net)
        let unknown = Data(#"[{"kind":"dense","inputs":1,"outputs":1,"weight":[1],"bias":[0]},{"kind":"softplus"}]"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Network.self, from: unknown) }
        let broken = Data(#"[{"kind":"dense","inputs":2,"outputs":3,"weight":[1,1,1,1,1,1],"bias":[0,0,0]},{"kind":"dense","inputs":2,"outputs":1,"weight":[1,1],"bias":[0]}]"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Network.self, from: broken) }
        #expect(Network.problem([.activation(.relu)]) == "the model has no dense layer")
    }

    /// Decoding with defaults: keys present are read, missing ones come from the defaults.
    @Test func missingConfigKeysTakeDefaults() throws {
        struct Holder: Decodable {
            var config: TrainConfig
            init(from decoder: Decoder) throws {
                config = try TrainConfig(from: DefaultingDecoder(base: decoder, defaults: TrainConfig()))
            }
        }
        let h = try JSONDecoder().decode(Holder.self, from: Data(#"{"epochs": 7, "activation": "gelu"}"#.utf8))
        var expected = TrainConfig()
        expected.epochs = 7
        expected.activation = .gelu
        #expect(h.config == expected)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Holder.self, from: Data(#"{"epochs": "x"}"#.utf8)) }
    }
}
