import Foundation
import Testing
@testable import SoftLabel

/// Runs `steps` updates of one 2-element tensor with the given gradients (a function of θ).
private func run(_ opt: Optimizer, theta start: [Float], lr: Float, l2: Float = 0, decay: Bool = true, steps: Int,
                 gradient: ([Float]) -> [Float]) -> [Float] {
    var theta = start
    for _ in 0..<steps {
        var g = gradient(theta)
        opt.beginStep()
        theta.withUnsafeMutableBufferPointer { t in
            g.withUnsafeMutableBufferPointer { gb in
                // The coupled penalty enters the gradient as the minibatch step adds it (penalised tensors only).
                if decay { L2Penalty(l2: l2).addGradient(theta: t.baseAddress!, grad: gb.baseAddress!, range: 0..<t.count) }
                opt.step(tensor: 0, range: 0..<t.count, theta: t.baseAddress!, grad: gb.baseAddress!, lr: lr, decay: decay)
            }
        }
    }
    return theta
}

@Suite struct OptimizerTests {
    /// SGD with momentum 0.9, lr 0.1 on f(θ) = ½ θ² (g = θ), from θ = 1, by hand:
    ///   step 1: v = 1,                 θ = 1 - 0.1·1 = 0.9
    ///   step 2: v = 0.9·1 + 0.9 = 1.8, θ = 0.9 - 0.18 = 0.72
    ///   step 3: v = 1.62 + 0.72 = 2.34, θ = 0.72 - 0.234 = 0.486
    @Test func sgdMomentumByHand() {
        let expected: [Float] = [0.9, 0.72, 0.486]
        for (i, e) in expected.enumerated() {
            let opt = SGD(sizes: [1], momentum: 0.9, nesterov: false)
            let theta = run(opt, theta: [1], lr: 0.1, steps: i + 1) { $0 }
            #expect(abs(theta[0] - e) < 1e-6, "step \(i + 1): \(theta[0]) vs \(e)")
        }
    }

    /// The coupled L2 penalty adds l2·θ to the gradient: with g = 0, l2 = 0.5, lr 0.1, momentum 0:
    /// θ ← θ - 0.1 · 0.5 θ = 0.95 θ per step; biases (decay false) do not move.
    @Test func sgdL2PenaltyOnWeightsOnly() {
        let w = run(SGD(sizes: [2], momentum: 0, nesterov: false), theta: [2, -4], lr: 0.1, l2: 0.5, steps: 2) { _ in [0, 0] }
        #expect(abs(w[0] - 2 * 0.95 * 0.95) < 1e-6 && abs(w[1] + 4 * 0.95 * 0.95) < 1e-6)
        let b = run(SGD(sizes: [2], momentum: 0, nesterov: false), theta: [2, -4], lr: 0.1, l2: 0.5, decay: false,
                    steps: 2) { _ in [0, 0] }
        #expect(b == [2, -4])
    }

    /// Nesterov, μ 0.9, lr 0.1, g = θ from θ = 1:
    ///   step 1: v = 1,   θ = 1 - 0.1 (1 + 0.9·1) = 0.81
    ///   step 2: g = 0.81, v = 0.9 + 0.81 = 1.71, θ = 0.81 - 0.1 (0.81 + 0.9·1.71) = 0.81 - 0.2349 = 0.5751
    @Test func nesterovByHand() {
        let t1 = run(SGD(sizes: [1], momentum: 0.9, nesterov: true), theta: [1], lr: 0.1, steps: 1) { $0 }
        let t2 = run(SGD(sizes: [1], momentum: 0.9, nesterov: true), theta: [1], lr: 0.1, steps: 2) { $0 }
        #expect(abs(t1[0] - 0.81) < 1e-6)
        #expect(abs(t2[0] - 0.5751) < 1e-6)
    }

    /// Adam's first step moves every coordinate by lr·sign(g) (mHat = g, vHat = g²); the second step with
    /// g = θ from θ = 1, lr = 0.1, β = (0.9, 0.999), ε = 1e-8:
    ///   t=1: m = 0.1, v = 0.001, mHat = 1, vHat = 1, θ = 0.9
    ///   t=2: m = 0.09 + 0.09 = 0.18, v = 0.000999 + 0.00081 = 0.001809,
    ///        mHat = 0.18 / 0.19 = 0.947368, vHat = 0.001809 / 0.001999 = 0.904952,
    ///        θ = 0.9 - 0.1 · 0.947368 / 0.951290 = 0.800412
    @Test func adamByHand() {
        let t1 = run(Adam(sizes: [2], beta1: 0.9, beta2: 0.999, epsilon: 1e-8), theta: [1, -3], lr: 0.1, steps: 1) { $0 }
        #expect(abs(t1[0] - 0.9) < 1e-6 && abs(t1[1] + 2.9) < 1e-6)
        let t2 = run(Adam(sizes: [1], beta1: 0.9, beta2: 0.999, epsilon: 1e-8), theta: [1], lr: 0.1, steps: 2) { $0 }
        #expect(abs(t2[0] - 0.800412) < 2e-6, "\(t2[0])")
    }

    /// AdamW: θ ← θ (1 - lr λ) - lr mHat / (√vHat + ε). With g = 0 the Adam part is 0 (m = v = 0):
    /// θ shrinks by (1 - 0.1 · 0.5) = 0.95 per step, on weights only.
    @Test func adamWDecoupledDecay() {
        let w = run(Adam(sizes: [1], beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.5), theta: [2], lr: 0.1,
                    steps: 3) { _ in [0] }
        #expect(abs(w[0] - 2 * pow(0.95, 3)) < 1e-6)
        let b = run(Adam(sizes: [1], beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.5), theta: [2], lr: 0.1,
                    decay: false, steps: 3) { _ in [0] }
        #expect(b == [2])
    }

    /// Quantities that decay towards 0 (a dead unit's weights under L2, Adam's moments of a zero gradient) never
    /// linger as subnormal floats, which x86 computes about 100x slower: they reach 0 instead.
    @Test func noSubnormalsSurviveAStep() {
        let tiny: [Float] = [1e-39, -3e-40, .leastNonzeroMagnitude, 1e-37, 0, -0.0, 2e-38]
        var v = Vec()
        for (i, x) in tiny.enumerated() { v[i] = x }
        let flushed = flushSubnormals(v)
        for (i, x) in tiny.enumerated() {
            #expect(flushed[i].bitPattern == flushSubnormal(x).bitPattern)
            #expect(!flushed[i].isSubnormal && (x.isSubnormal || x == 0 ? flushed[i].bitPattern == 0 : flushed[i].bitPattern == x.bitPattern))
        }
        for make in [{ SGD(sizes: [40], momentum: 0.9, nesterov: false) as Optimizer },
                     { Adam(sizes: [40], beta1: 0.9, beta2: 0.999, epsilon: 1e-8) }] {
            let opt = make()
            var theta = (0..<40).map { Float($0 + 1) * 1e-30 }
            for _ in 0..<3000 {
                var g = [Float](repeating: 0, count: 40)
                opt.beginStep()
                theta.withUnsafeMutableBufferPointer { t in
                    g.withUnsafeMutableBufferPointer { gb in
                        L2Penalty(l2: 10).addGradient(theta: t.baseAddress!, grad: gb.baseAddress!, range: 0..<40)
                        #expect(!gb.contains { $0.isSubnormal })
                        opt.step(tensor: 0, range: 0..<40, theta: t.baseAddress!, grad: gb.baseAddress!, lr: 0.01, decay: true)
                    }
                }
                #expect(!theta.contains { $0.isSubnormal })
            }
        }
    }

    /// Updating a tensor in slices (as threads do) gives the same numbers as one call.
    @Test func slicedUpdatesEqualWholeUpdates() {
        var g = TestData(seed: 4)
        let grad = g.matrix(1, 37).values
        let start = g.matrix(1, 37).values
        for make in [{ SGD(sizes: [37], momentum: 0.9, nesterov: true) as Optimizer },
                     { Adam(sizes: [37], beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01) }] {
            let a = make(), b = make()
            var ta = start, tb = start
            for _ in 0..<3 {
                a.beginStep()
                b.beginStep()
                ta.withUnsafeMutableBufferPointer { t in
                    var g = grad
                    g.withUnsafeMutableBufferPointer { gb in
                        L2Penalty(l2: 0.1).addGradient(theta: t.baseAddress!, grad: gb.baseAddress!, range: 0..<37)
                        a.step(tensor: 0, range: 0..<37, theta: t.baseAddress!, grad: gb.baseAddress!, lr: 0.05, decay: true)
                    }
                }
                tb.withUnsafeMutableBufferPointer { t in
                    var g = grad
                    g.withUnsafeMutableBufferPointer { gb in
                        for r in [0..<5, 5..<20, 20..<37] {
                            L2Penalty(l2: 0.1).addGradient(theta: t.baseAddress!, grad: gb.baseAddress!, range: r)
                            b.step(tensor: 0, range: r, theta: t.baseAddress!, grad: gb.baseAddress!, lr: 0.05, decay: true)
                        }
                    }
                }
            }
            #expect(ta == tb)
        }
    }
}

@Suite struct ScheduleTests {
    @Test func ratesByHand() {
        let constant = Schedule(kind: .constant, baseRate: 0.1, epochs: 10)
        #expect((1...10).allSatisfy { constant.rate(epoch: $0) == 0.1 })
        let step = Schedule(kind: .step, baseRate: 1, epochs: 10, stepEvery: 3, stepGamma: 0.5)
        #expect((1...7).map { step.rate(epoch: $0) } == [1, 1, 1, 0.5, 0.5, 0.5, 0.25])
        // Warm-up 2 of 6 epochs, then cosine over the remaining 4: ½(1 + cos(π i / 4)), i = 0..3.
        let cosine = Schedule(kind: .cosine, baseRate: 1, epochs: 6, warmup: 2)
        let expected: [Float] = [0.5, 1, 1, 0.853553, 0.5, 0.146447]
        for (e, want) in expected.enumerated() {
            #expect(abs(cosine.rate(epoch: e + 1) - want) < 1e-5, "epoch \(e + 1)")
        }
    }
}

/// The block form of `step` (rows x a column range, as phase B calls it) updates exactly as one `step` per
/// row: same bits for SGD (plain and Nesterov) and Adam(W), over three steps, with the L2 penalty's block form
/// too; elements outside the block are untouched.
@Suite struct OptimizerBlockTests {
    @Test(arguments: ["sgd", "nesterov", "adamw"])
    func blockStepIsRowSteps(_ name: String) {
        let rows = 7, stride = 53, cols = 5..<40  // a ragged column range: whole vectors and single elements
        func make() -> Optimizer {
            switch name {
            case "sgd": return SGD(sizes: [rows * stride], momentum: 0.9, nesterov: false)
            case "nesterov": return SGD(sizes: [rows * stride], momentum: 0.9, nesterov: true)
            default: return Adam(sizes: [rows * stride], beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01)
            }
        }
        var g = TestData(seed: 9)
        let start = g.matrix(rows, stride).values
        let grads = (0..<3).map { _ in g.matrix(rows, stride).values }
        let penalty = L2Penalty(l2: 0.01)
        var block = start, perRow = start
        let a = make(), b = make()
        for step in 0..<3 {
            var ga = grads[step], gb = grads[step]
            a.beginStep()
            b.beginStep()
            block.withUnsafeMutableBufferPointer { t in
                ga.withUnsafeMutableBufferPointer { gp in
                    penalty.addGradient(theta: t.baseAddress!, grad: gp.baseAddress!, rows: 1..<rows, stride: stride, cols: cols)
                    a.step(tensor: 0, rows: 1..<rows, stride: stride, cols: cols, theta: t.baseAddress!, grad: gp.baseAddress!,
                           lr: 0.05, decay: true)
                }
            }
            perRow.withUnsafeMutableBufferPointer { t in
                gb.withUnsafeMutableBufferPointer { gp in
                    for row in 1..<rows {
                        let range = (row * stride + cols.lowerBound)..<(row * stride + cols.upperBound)
                        penalty.addGradient(theta: t.baseAddress!, grad: gp.baseAddress!, range: range)
                        b.step(tensor: 0, range: range, theta: t.baseAddress!, grad: gp.baseAddress!, lr: 0.05, decay: true)
                    }
                }
            }
        }
        #expect(block.map(\.bitPattern) == perRow.map(\.bitPattern))
        #expect(block != start)
        #expect(block[0..<stride] == start[0..<stride], "row 0 is outside the block")
        #expect((1..<rows).allSatisfy { block[$0 * stride + cols.upperBound] == start[$0 * stride + cols.upperBound] },
                "columns beyond the block are untouched")
    }
}
