import Testing
@testable import SoftLabel

/// Finite-difference checks of every layer gradient (weights and biases of each Dense layer, through the
/// ReLU and the input gradient dX = dZ W of hidden layers), for every loss, as used in training.
@Suite struct GradientTests {
    @Test(arguments: LossKind.allCases, [[Int](), [6], [7, 5], [64]])  // 64: a layer that runs its forward from Wᵀ
    func networkGradientsMatchFiniteDifferences(_ kind: LossKind, _ hidden: [Int]) {
        var g = TestData(seed: 11 + UInt64(hidden.count))
        let data = g.dataset(n: 9, d: 5, k: 4, zeros: true)
        var rng = SplitMix64(seed: 3)
        var network = Network.make(inputs: 5, hidden: hidden, classes: 4, rng: &rng)
        // A non-zero output layer so every path carries gradient.
        let last = network.denseCount - 1
        for e in network[dense: last].weight.indices {
            network[dense: last].weight[e] = Float(rng.nextGaussian() * 0.5)
        }
        var config = TrainConfig()
        config.loss = kind
        config.l2 = 0.01
        let reports = GradientCheck.run(network: network, data: data, config: config)
        #expect(reports.count == 2 * (hidden.count + 1))
        for r in reports {
            #expect(r.maxRelativeError < 1e-3, "\(kind) hidden \(hidden) \(r.name): \(r.maxRelativeError)")
        }
    }

    /// Every activation, with dropout (a fixed mask: epoch 1 of the config's seed), through two hidden layers.
    @Test(arguments: LossKind.allCases, Activation.allCases)
    func activationsAndDropoutGradients(_ kind: LossKind, _ activation: Activation) {
        var g = TestData(seed: 21)
        let data = g.dataset(n: 11, d: 5, k: 4, zeros: true)
        var rng = SplitMix64(seed: 8)
        var network = Network.make(inputs: 5, hidden: [9, 6], classes: 4, activation: activation, dropout: 0.3, rng: &rng)
        let last = network.denseCount - 1
        for e in network[dense: last].weight.indices { network[dense: last].weight[e] = Float(rng.nextGaussian() * 0.5) }
        var config = TrainConfig()
        config.loss = kind
        config.l2 = 0.01
        config.seed = 5
        let reports = GradientCheck.run(network: network, data: data, config: config)
        #expect(reports.count == 6)
        for r in reports { #expect(r.maxRelativeError < 1e-3, "\(kind) \(activation) \(r.name): \(r.maxRelativeError)") }
    }

    /// The check sees dropout: the same gradient with the mask of another seed disagrees with the reference.
    @Test func dropoutMaskIsPartOfTheCheck() {
        var g = TestData(seed: 21)
        let data = g.dataset(n: 11, d: 5, k: 4, zeros: true)
        var rng = SplitMix64(seed: 8)
        let network = Network.make(inputs: 5, hidden: [9], classes: 4, dropout: 0.5, rng: &rng)
        var config = TrainConfig()
        config.seed = 5
        let reference = ReferenceObjective(data: data, targets: PreparedTargets(data.targets, config: config), config: config,
                                           layers: network.layers, mode: .training(seed: 6, epoch: 1))
        let theta = Parameters(network).flat
        let withMask = ReferenceObjective(data: data, targets: PreparedTargets(data.targets, config: config), config: config,
                                          layers: network.layers, mode: .training(seed: 5, epoch: 1))
        #expect(abs(reference.value(theta) - withMask.value(theta)) > 1e-4)
    }

    /// Target transformations and class weights enter the gradient too.
    @Test func weightedSmoothedTargetsGradients() {
        var g = TestData(seed: 5)
        let data = g.dataset(n: 12, d: 3, k: 3, zeros: true)
        var rng = SplitMix64(seed: 9)
        let network = Network.make(inputs: 3, hidden: [4], classes: 3, rng: &rng)
        var config = TrainConfig()
        config.classWeight = .balanced
        config.labelSmoothing = 0.1
        config.targetTemperature = 0.5
        for r in GradientCheck.run(network: network, data: data, config: config) {
            #expect(r.maxRelativeError < 1e-3, "\(r.name): \(r.maxRelativeError)")
        }
    }

    /// The comparison is not vacuous: a 1% error in one entry is reported as such.
    @Test func comparisonDetectsAWrongGradient() {
        let numeric = [0.5, -2.0, 1e-9, 3.0]
        #expect(GradientCheck.compare(analytic: numeric, numeric: numeric).relative == 0)
        var wrong = numeric
        wrong[1] *= 1.01
        let (rel, abs) = GradientCheck.compare(analytic: wrong, numeric: numeric)
        #expect(close(rel, 0.01, 1e-9) && close(abs, 0.02, 1e-9))
        // A tiny entry off by round-off-sized amounts relative to the tensor scale is not an error.
        var roundoff = numeric
        roundoff[2] = 2e-9
        #expect(GradientCheck.compare(analytic: roundoff, numeric: numeric).relative < 1e-6)
    }
}
