import Testing
@testable import SoftLabel

@Suite struct LBFGSTests {
    /// On a convex quadratic f(x) = ½ xᵀ A x - bᵀ x, L-BFGS with the Wolfe line search reaches A⁻¹ b.
    @Test func minimisesAQuadratic() {
        // A = [[4, 1, 0], [1, 3, 0.5], [0, 0.5, 2]] (positive definite), b = [1, 2, 3].
        let a: [[Double]] = [[4, 1, 0], [1, 3, 0.5], [0, 0.5, 2]], b: [Double] = [1, 2, 3]
        func f(_ x: [Double]) -> (Double, [Double]) {
            let ax = a.map { dot($0, x) }
            return (0.5 * dot(x, ax) - dot(b, x), zip(ax, b).map { $0 - $1 })
        }
        var x = [0.0, 0.0, 0.0]
        var memory = LBFGS(memory: 5)
        var (fx, g) = f(x)
        for _ in 0..<30 {
            let d = memory.direction(g)
            guard let step = WolfeLineSearch.search(phi: { alpha in
                var t = x
                axpy(alpha, d, &t)
                let (v, gt) = f(t)
                return (v, dot(gt, d))
            }, f0: fx, slope0: dot(g, d), initial: 1) else { break }
            var next = x
            axpy(step.alpha, d, &next)
            let (fn, gn) = f(next)
            memory.update(s: zip(next, x).map { $0 - $1 }, y: zip(gn, g).map { $0 - $1 })
            (x, fx, g) = (next, fn, gn)
            if g.map(abs).max()! < 1e-12 { break }
        }
        // Solution of A x = b by Cramer's rule: det A = 21, x = (3.25, 8, 29.5) / 21.
        let expected = [3.25 / 21, 8.0 / 21, 29.5 / 21]
        for i in 0..<3 { #expect(abs(x[i] - expected[i]) < 1e-8, "x[\(i)] = \(x[i])") }
    }

    /// The accepted step satisfies both strong Wolfe conditions.
    @Test func lineSearchMeetsStrongWolfe() {
        // φ(α) = (α - 3)² + 0.1 α⁴ along a descent direction from α = 0.
        let phi = { (a: Double) -> (f: Double, slope: Double) in ((a - 3) * (a - 3) + 0.1 * a * a * a * a, 2 * (a - 3) + 0.4 * a * a * a) }
        let (f0, s0) = phi(0)
        for initial in [0.01, 1, 10, 100] {
            let r = WolfeLineSearch.search(phi: phi, f0: f0, slope0: s0, initial: initial)!
            #expect(r.f <= f0 + 1e-4 * r.alpha * s0, "sufficient decrease from \(initial)")
            #expect(abs(phi(r.alpha).slope) <= 0.9 * abs(s0), "curvature from \(initial)")
        }
    }

    /// The full-batch gradient summed over chunks equals the one-batch gradient of the same rows.
    @Test func chunkedFullBatchGradientMatchesOneBatch() {
        var g = TestData(seed: 17)
        let data = g.dataset(n: 45, d: 7, k: 3)
        var rng = SplitMix64(seed: 2)
        let network = Network.make(inputs: 7, hidden: [5], classes: 3, rng: &rng)
        var config = TrainConfig()
        config.l2 = 0.1
        let targets = PreparedTargets(data.targets, config: config)
        let params = Parameters(network)
        let (whole, chunked) = TrainingPointers.with(data.features, targets) { ptrs in
            (FullBatchObjective(config: config, data: ptrs, params: params, parallel: Parallel(threads: 1), chunk: 45).evaluate(),
             FullBatchObjective(config: config, data: ptrs, params: params, parallel: Parallel(threads: 2), chunk: 8).evaluate())
        }
        #expect(abs(whole.objective - chunked.objective) < 1e-12)
        for i in whole.gradient.indices { #expect(abs(whole.gradient[i] - chunked.gradient[i]) < 1e-6) }
        // And the objective is the Double reference's, to Float precision.
        let reference = ReferenceObjective(data: data, targets: targets, config: config, layers: network.layers, mode: .inference)
        #expect(close(whole.objective, reference.value(params.flat), 1e-6))
    }
}
