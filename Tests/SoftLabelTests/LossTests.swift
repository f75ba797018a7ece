import Foundation
import Testing
@testable import SoftLabel

/// Value and gradient of one example's loss, through the training code (scale 1).
/// The row buffers are padded to whole vectors as in training: p with zeros, z with junk that must be ignored.
private func lossAndGradient(_ kind: LossKind, z: [Float], p: [Float]) -> (Float, [Float]) {
    let k = z.count, kp = paddedWidth(k)
    var negH: Float = 0
    for v in p where v > 0 { negH += v * log(v) }
    let zp = z + [Float](repeating: .nan, count: kp - k), pp = p + [Float](repeating: 0, count: kp - k)
    var dz = [Float](repeating: .nan, count: kp), q = dz, logq = dz
    let value = dz.withUnsafeMutableBufferPointer { d in
        q.withUnsafeMutableBufferPointer { qb in
            logq.withUnsafeMutableBufferPointer { lb in
                kind.rowForwardBackward(z: zp, p: pp, negEntropy: negH, k: k, kp: kp, scale: 1, dz: d.baseAddress!,
                                        q: qb.baseAddress!, logq: lb.baseAddress!)
            }
        }
    }
    #expect(dz[k...].allSatisfy { $0 == 0 }, "padding of dz must be zeroed")
    return (value, Array(dz[..<k]))
}

private func softmax(_ z: [Float]) -> (q: [Float], logq: [Float]) {
    let k = z.count, kp = paddedWidth(k)
    var zp = z + [Float](repeating: .nan, count: kp - k)  // padding lanes must be ignored, whatever they hold
    var q = [Float](repeating: 0, count: kp), logq = q
    zp.withUnsafeMutableBufferPointer { zb in
        q.withUnsafeMutableBufferPointer { qb in
            logq.withUnsafeMutableBufferPointer { lb in
                Softmax.forwardPadded(z: zb.baseAddress!, k: k, kp: kp, q: qb.baseAddress!, logq: lb.baseAddress!)
            }
        }
    }
    #expect(q[k...].allSatisfy { $0 == 0 } && logq[k...].allSatisfy { $0 == 0 })
    return (Array(q[..<k]), Array(logq[..<k]))
}

@Suite struct LossTests {
    /// Every loss: the gradient w.r.t. the logits against central differences of the Double reference
    /// loss, for k below, at and above one vector width, with and without zero target entries.
    @Test(arguments: LossKind.allCases, [3, 10, 16, 37])
    func gradientMatchesFiniteDifferences(_ kind: LossKind, _ k: Int) {
        var g = TestData(seed: UInt64(k) * 31 + UInt64(kind.rawValue.count))
        for zeros in [false, true] {
            let z = g.matrix(1, k, scale: 2).values
            let p = g.distributions(1, k, zeros: zeros).values
            let (value, grad) = lossAndGradient(kind, z: z, p: p)
            let zd = z.map(Double.init), pd = p.map(Double.init)
            let exact = ReferenceObjective.loss(kind, p: pd, z: zd)
            #expect(close(Double(value), exact, 1e-5), "value \(value) vs \(exact)")
            let h = 1e-6
            for j in 0..<k {
                var up = zd, down = zd
                up[j] += h
                down[j] -= h
                let numeric = (ReferenceObjective.loss(kind, p: pd, z: up) - ReferenceObjective.loss(kind, p: pd, z: down)) / (2 * h)
                #expect(abs(Double(grad[j]) - numeric) <= 2e-5, "\(kind) k=\(k) ∂/∂z\(j): \(grad[j]) vs \(numeric)")
            }
        }
    }

    /// KL and CE have gradient exactly q - p, soft targets included.
    @Test func klGradientIsQMinusP() {
        let z: [Float] = [0.5, -1, 2, 0], p: [Float] = [0.1, 0.2, 0.6, 0.1]
        let q = softmax(z).q
        for kind in [LossKind.kl, .ce] {
            let grad = lossAndGradient(kind, z: z, p: p).1
            for j in 0..<4 { #expect(grad[j] == q[j] - p[j]) }
        }
    }

    @Test func softmaxOfHugeLogitsStaysFinite() {
        for z: [Float] in [[1e4, -1e4, 0], [1e4, 1e4, 1e4], [-1e4, -1e4 + 1, -1e4], [1e4, 9999, -1e4]] {
            let (q, logq) = softmax(z)
            #expect(q.allSatisfy { $0.isFinite } && logq.allSatisfy { $0.isFinite }, "\(z)")
            #expect(abs(q.reduce(0, +) - 1) < 1e-6)
            for kind in LossKind.allCases {
                let (v, g) = lossAndGradient(kind, z: z, p: [0.5, 0.5, 0])
                #expect(v.isFinite && g.allSatisfy { $0.isFinite }, "\(kind) at \(z)")
            }
        }
        // exp(1e4 - 1e4) = 1 for the two tied maxima, exp(-2e4) = 0 for the third.
        let (q, logq) = softmax([1e4, 1e4, -1e4])
        #expect(q == [0.5, 0.5, 0])
        #expect(abs(logq[2] - (-2e4 - log(2))) < 1)
    }

    @Test func klOfIdenticalDistributionsIsZero() {
        let p: [Float] = [0.7, 0.2, 0.1, 0]
        // Logits whose softmax is p on its support; the zero class gets a logit far below.
        let z = p.map { $0 > 0 ? log($0) : -200 }
        let (v, _) = lossAndGradient(.kl, z: z, p: p)
        #expect(abs(v) < 1e-6)
        let e = Evaluation(logits: Matrix(rows: 1, cols: 4, values: z), targets: Matrix(rows: 1, cols: 4, values: p))
        #expect(abs(e.kl) < 1e-6 && abs(e.js) < 1e-6)
        #expect(close(e.crossEntropy, e.entropy, 1e-6))
    }

    /// 0 · log 0 = 0: a zero target entry contributes nothing, even where q underflows to 0.
    @Test func zeroTargetContributesNothing() {
        let z: [Float] = [0, 0, -150]
        let q = softmax(z).q
        #expect(q[2] == 0)
        let (v, g) = lossAndGradient(.kl, z: z, p: [0.5, 0.5, 0])
        #expect(abs(v) < 1e-7)
        #expect(g.allSatisfy { $0.isFinite })
        let (vc, _) = lossAndGradient(.ce, z: z, p: [0.5, 0.5, 0])
        #expect(abs(Double(vc) - log(2)) < 1e-6)
    }
}

/// Value and gradient of one example's distillation loss through the training code (scale 1), padded as in
/// training (z's padding lanes hold junk that must be ignored).
private func distilledLossAndGradient(_ kind: LossKind, z: [Float], p: [Float], t: Float, a: Float, y: Int)
    -> (Float, [Float]) {
    let k = z.count, kp = paddedWidth(k)
    var negH: Float = 0
    for v in p where v > 0 { negH += v * log(v) }
    let zp = z + [Float](repeating: .nan, count: kp - k), pp = p + [Float](repeating: 0, count: kp - k)
    var dz = [Float](repeating: .nan, count: kp), q = dz, logq = dz
    let distill = Distillation(temperature: t, hardWeight: a)
    let value = dz.withUnsafeMutableBufferPointer { d in
        q.withUnsafeMutableBufferPointer { qb in
            logq.withUnsafeMutableBufferPointer { lb in
                distill.rowForwardBackward(kind, z: zp, p: pp, negEntropy: negH, hard: y, k: k, kp: kp, scale: 1,
                                           dz: d.baseAddress!, q: qb.baseAddress!, logq: lb.baseAddress!)
            }
        }
    }
    #expect(dz[k...].allSatisfy { $0 == 0 }, "padding of dz must be zeroed")
    return (value, Array(dz[..<k]))
}

/// Distillation: (1 - A) T² ℓ(p, softmax(z / T)) + A (-log softmax(z)_y).
@Suite struct DistillationLossTests {
    /// (T, A) settings: temperature alone, sharpening with a hard term, the usual T = 4 mix, the hard term
    /// alone at T = 1, and pure hard-label training.
    static let settings: [(t: Float, a: Float)] = [(4, 0), (0.5, 0.3), (4, 0.3), (1, 0.5), (2.5, 1)]

    /// Every loss and setting: value and gradient against central differences of the Double reference, for k
    /// below, at and above one vector width, with and without zero targets.
    @Test(arguments: LossKind.allCases, settings.indices)
    func gradientMatchesFiniteDifferences(_ kind: LossKind, _ s: Int) {
        let (t, a) = Self.settings[s]
        for k in [3, 16, 37] {
            var g = TestData(seed: UInt64(k * 7 + s) + UInt64(kind.rawValue.count))
            for zeros in [false, true] {
                let z = g.matrix(1, k, scale: 2).values
                let p = g.distributions(1, k, zeros: zeros).values
                let y = Int(g.rng.next() % UInt64(k))
                let (value, grad) = distilledLossAndGradient(kind, z: z, p: p, t: t, a: a, y: y)
                let zd = z.map(Double.init), pd = p.map(Double.init)
                func reference(_ z: [Double]) -> Double {
                    ReferenceObjective.loss(kind, p: pd, z: z, temperature: Double(t), hardWeight: Double(a), hard: y)
                }
                let exact = reference(zd)
                #expect(close(Double(value), exact, 1e-5), "\(kind) T=\(t) A=\(a) k=\(k): value \(value) vs \(exact)")
                let h = 1e-6
                for j in 0..<k {
                    var up = zd, down = zd
                    up[j] += h
                    down[j] -= h
                    let numeric = (reference(up) - reference(down)) / (2 * h)
                    #expect(abs(Double(grad[j]) - numeric) <= 2e-5 * Double(max(1, t)),
                            "\(kind) T=\(t) A=\(a) k=\(k) ∂/∂z\(j): \(grad[j]) vs \(numeric)")
                }
            }
        }
    }

    /// KL at T = 4 without a hard term: gradient T (q_T - p) with q_T = softmax(z / T), exactly (1/4 is exact).
    @Test func klGradientIsTTimesQTMinusP() {
        let z: [Float] = [0.5, -1, 2, 0, 3.5], p: [Float] = [0.1, 0.2, 0.5, 0.1, 0.1]
        let qT = softmax(z.map { $0 * 0.25 }).q
        let (value, grad) = distilledLossAndGradient(.kl, z: z, p: p, t: 4, a: 0, y: 0)
        for j in 0..<5 { #expect(grad[j] == 4 * (qT[j] - p[j])) }
        let kl = zip(p, qT).reduce(0.0) { $0 + Double($1.0) * log(Double($1.0) / Double($1.1)) }
        #expect(close(Double(value), 16 * kl, 1e-5))
    }

    /// At T = 1 the hard term turns KL's gradient into q minus the mixed target (1 - A) p + A e_y.
    @Test func hardWeightAtT1MixesTheTarget() {
        let z: [Float] = [0.3, -0.7, 1.1, 0.2], p: [Float] = [0.4, 0.3, 0.2, 0.1]
        let (q, logq) = softmax(z)
        let (value, grad) = distilledLossAndGradient(.kl, z: z, p: p, t: 1, a: 0.25, y: 2)
        for j in 0..<4 {
            let mixed = 0.75 * p[j] + (j == 2 ? 0.25 : 0)
            #expect(abs(grad[j] - (q[j] - mixed)) < 1e-6, "∂/∂z\(j)")
        }
        let kl = (0..<4).reduce(Float(0)) { $0 + p[$1] * (log(p[$1]) - logq[$1]) }
        #expect(abs(value - (0.75 * kl - 0.25 * logq[2])) < 1e-6)
    }

    /// Why T²: for large T the soft term's gradient tends to (z - v) / k for zero-mean logits z (student) and v
    /// (teacher) (Hinton et al. 2015, section 2.1): its size does not depend on T. Without the T² factor it
    /// would be this divided by T².
    @Test(arguments: [Float(50), 200, 1000])
    func tSquaredKeepsTheGradientSize(_ t: Float) {
        let v: [Float] = [1.0, -0.5, 0.25, -0.75], z: [Float] = [0.2, 0.4, -0.9, 0.3]  // each sums to 0
        let p = softmax(v.map { $0 / t }).q
        let grad = distilledLossAndGradient(.kl, z: z, p: p, t: t, a: 0, y: 0).1
        for j in 0..<4 {
            let limit = (z[j] - v[j]) / 4
            #expect(abs(grad[j] - limit) < 0.02 * 0.3, "T=\(t) ∂/∂z\(j): \(grad[j]) vs \((z[j] - v[j]) / 4)")
        }
    }

    /// The plain settings run the plain loss: no `Distillation` at T = 1 with A = 0.
    @Test func plainSettingsAreThePlainLoss() {
        var config = TrainConfig()
        #expect(Distillation(config) == nil)
        config.distillTemperature = 2
        #expect(Distillation(config) == Distillation(temperature: 2, hardWeight: 0))
        config.distillTemperature = 1
        config.hardWeight = 0.1
        #expect(Distillation(config) == Distillation(temperature: 1, hardWeight: 0.1))
    }
}

/// The batch path of KL and cross-entropy (16 rows at a time, lane sums by transposes) gives each row exactly
/// the bits of the one-row path, for blocks of 16 and a ragged one, one vector of classes or several, with
/// example weights and without; the padding lanes of dz are zero.
@Suite struct LossBatchTests {
    @Test(arguments: [LossKind.kl, .ce], [3, 10, 16, 37])
    func blocksMatchOneRowAtATime(_ kind: LossKind, _ k: Int) {
        let n = 37, kp = paddedWidth(k)
        var g = TestData(seed: UInt64(k) + 5)
        let zm = g.matrix(n, kp, scale: 3), pm = g.distributions(n, k, zeros: true)
        var p = [Float](repeating: 0, count: n * kp), negH = [Float](repeating: 0, count: n)
        for r in 0..<n {
            for j in 0..<k {
                p[r * kp + j] = pm[r, j]
                if pm[r, j] > 0 { negH[r] += pm[r, j] * log(pm[r, j]) }
            }
        }
        let weights = (0..<n).map { Float(1 + $0 % 3) / 2 }
        for weighted in [false, true] {
            var dz = [Float](repeating: .nan, count: n * kp), loss = [Float](repeating: .nan, count: n)
            var dzOne = dz, lossOne = loss, q = [Float](repeating: 0, count: kp), logq = q
            zm.values.withUnsafeBufferPointer { z in
                p.withUnsafeBufferPointer { pb in
                    negH.withUnsafeBufferPointer { h in
                        weights.withUnsafeBufferPointer { w in
                            let targets = LossTargets(p: Rows(base: pb.baseAddress!, stride: kp), index: nil,
                                                      negEntropy: h.baseAddress!, weight: weighted ? w.baseAddress! : nil)
                            dz.withUnsafeMutableBufferPointer { d in
                                loss.withUnsafeMutableBufferPointer { l in
                                    q.withUnsafeMutableBufferPointer { qb in
                                        logq.withUnsafeMutableBufferPointer { lb in
                                            kind.forwardBackward(z: z.baseAddress!, ldz: kp, targets: targets, rows: 0..<n,
                                                                 k: k, n: n, dz: d.baseAddress!, loss: l.baseAddress!,
                                                                 q: qb.baseAddress!, logq: lb.baseAddress!)
                                            for r in 0..<n {
                                                let wr = weighted ? weights[r] : 1
                                                lossOne[r] = wr * kind.rowForwardBackward(
                                                    z: z.baseAddress! + r * kp, p: pb.baseAddress! + r * kp,
                                                    negEntropy: negH[r], k: k, kp: kp, scale: wr * (1 / Float(n)),
                                                    dz: &dzOne[r * kp], q: qb.baseAddress!, logq: lb.baseAddress!)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            #expect(loss.map(\.bitPattern) == lossOne.map(\.bitPattern), "\(kind) k=\(k) weighted \(weighted): loss")
            #expect(dz.map(\.bitPattern) == dzOne.map(\.bitPattern), "\(kind) k=\(k) weighted \(weighted): dz")
        }
    }
}
