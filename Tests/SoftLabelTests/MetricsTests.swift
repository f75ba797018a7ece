import Foundation
import Testing
import TestSupport
@testable import SoftLabel

/// Logits and soft labels from Tests/Fixtures/metrics/small.csv, with the metrics numpy computed from their
/// definitions (Scripts/make_metric_fixtures.py) in small_expected.json.
struct MetricFixture {
    var classes: [String]
    var logits: Matrix   // (n, k)
    var targets: Matrix  // (n, k)
    var expected: [String: Any]

    static func load() throws -> MetricFixture {
        let text = try String(contentsOfFile: packagePath("Tests/Fixtures/metrics/small.csv"), encoding: .utf8)
        let lines = text.split(separator: "\n")
        let header = lines[0].split(separator: ",").map(String.init)
        let k = (header.count - 1) / 2
        var z: [Float] = [], p: [Float] = []
        for line in lines.dropFirst() {
            let cells = line.split(separator: ",").dropFirst().map { Float($0)! }
            z += cells[0..<k]
            p += cells[k...]
        }
        let n = lines.count - 1
        let json = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: packagePath("Tests/Fixtures/metrics/small_expected.json"))))
        return MetricFixture(classes: header[1...k].map { String($0.dropFirst(2)) },
                             logits: Matrix(rows: n, cols: k, values: z), targets: Matrix(rows: n, cols: k, values: p),
                             expected: json as! [String: Any])
    }
}

@Suite struct MetricsTests {
    /// Every metric against numpy, to 1e-5, at temperatures 1 and 2.5.
    @Test func everyMetricMatchesNumpy() throws {
        let f = try MetricFixture.load()
        let cases = f.expected["cases"] as! [[String: Any]]
        #expect(cases.count == 2)
        for c in cases {
            let t = c["temperature"] as! Double
            let want = c["metrics"] as! [String: Any]
            let e = Evaluation(logits: f.logits, targets: f.targets, temperature: Float(t))
            func near(_ got: Double?, _ expected: Any?, _ what: String) {
                guard let expected = expected as? Double else {
                    #expect(got == nil, "T=\(t) \(what): expected null, got \(String(describing: got))")
                    return
                }
                #expect(got != nil && abs(got! - expected) <= 1e-5, "T=\(t) \(what): \(String(describing: got)) vs numpy \(expected)")
            }
            #expect(e.count == want["examples"] as! Int)
            near(e.kl, want["kl"], "kl")
            near(e.crossEntropy, want["cross_entropy"], "cross_entropy")
            near(e.entropy, want["entropy"], "entropy")
            near(e.js, want["js"], "js")
            near(e.tv, want["tv"], "tv")
            near(e.accuracy, want["accuracy"], "accuracy")
            near(e.top2Accuracy, want["top2_accuracy"], "top2_accuracy")
            near(e.brier, want["brier"], "brier")
            near(e.ece, want["ece"], "ece")
            // The field's metrics, to 1e-6.
            func near6(_ got: Double?, _ expected: Any?, _ what: String) {
                let expected = try! #require(expected as? Double, "T=\(t) \(what): numpy has no value")
                #expect(got != nil && abs(got! - expected) <= 1e-6, "T=\(t) \(what): \(String(describing: got)) vs numpy \(expected)")
            }
            near6(e.manhattan, want["manhattan"], "manhattan")
            near6(e.entropyCorrelation, want["entropy_correlation"], "entropy_correlation")
            near6(e.wasserstein, want["wasserstein"], "wasserstein")

            let bins = want["reliability"] as! [[String: Any]]
            #expect(e.reliability.bins.count == bins.count)
            for (b, w) in zip(e.reliability.bins, bins) {
                near(b.lower, w["lower"], "bin lower")
                near(b.upper, w["upper"], "bin upper")
                #expect(b.count == w["count"] as! Int, "T=\(t) bin \(b.lower) count")
                near(b.meanConfidence, w["confidence"], "bin \(b.lower) confidence")
                near(b.accuracy, w["accuracy"], "bin \(b.lower) accuracy")
            }
            let perClass = want["per_class"] as! [[String: Any]]
            #expect(perClass.map { $0["class"] as! String } == f.classes)
            for (m, w) in zip(e.perClass, perClass) {
                #expect(m.support == w["support"] as! Int)
                near(m.meanTarget, w["mean_target"], "mean_target")
                near(m.meanPredicted, w["mean_predicted"], "mean_predicted")
                near(m.precision, w["precision"], "precision")
                near(m.recall, w["recall"], "recall")
            }
            let counts = (want["confusion"] as! [String: Any])["counts"] as! [[Int]]
            #expect((0..<f.classes.count).map { e.confusion.row($0) } == counts)
        }
    }

    /// CE = H + KL, and the bounds: 0 <= js <= log 2, 0 <= tv <= 1, 0 <= brier <= 2, accuracy <= top-2.
    @Test func identitiesAndBounds() throws {
        let f = try MetricFixture.load()
        let e = Evaluation(logits: f.logits, targets: f.targets)
        #expect(abs(e.crossEntropy - (e.entropy + e.kl)) < 1e-12)
        #expect(e.js >= 0 && e.js <= log(2.0))
        #expect(e.tv >= 0 && e.tv <= 1 && e.brier >= 0 && e.brier <= 2)
        #expect(e.accuracy <= e.top2Accuracy)
        #expect(e.reliability.total == e.count && e.perClass.map(\.support).reduce(0, +) == e.count)
    }

    /// Hand-computed values of the field's metrics on two examples, k = 3 (classes in order 0 < 1 < 2).
    @Test func manhattanWassersteinAndEntropyCorrelationByHand() {
        // q = softmax(0, 0, 0) = (1/3, 1/3, 1/3); q' = softmax(log 1, log 2, log 1) = (1/4, 1/2, 1/4).
        let logits = Matrix(rows: 2, cols: 3, values: [0, 0, 0,   0, Float(log(2.0)), 0])
        let targets = Matrix(rows: 2, cols: 3, values: [1, 0, 0,   0, 0.5, 0.5])
        let e = Evaluation(logits: logits, targets: targets)
        // Σ|p - q|: (2/3 + 1/3 + 1/3) and (1/4 + 0 + 1/4).
        #expect(abs(e.manhattan - (4.0 / 3 + 0.5) / 2) < 1e-7)
        #expect(abs(e.manhattan - 2 * e.tv) < 1e-15)
        // CDF gaps: |1 - 1/3| + |1 - 2/3| = 1, and |0 - 1/4| + |1/2 - 3/4| = 1/2.
        #expect(abs(e.wasserstein - 0.75) < 1e-7)
        // Two points always correlate ±1: H(p) = (0, log 2) rises, H(q) = (log 3, 1.5 log 2) falls.
        #expect(abs(e.entropyCorrelation! + 1) < 1e-12)
        // Moving all mass one class further away doubles W1 but leaves Manhattan unchanged.
        let near = Evaluation(logits: Matrix(rows: 1, cols: 3, values: [10, -10, -10]),
                              targets: Matrix(rows: 1, cols: 3, values: [0, 1, 0]))
        let far = Evaluation(logits: Matrix(rows: 1, cols: 3, values: [10, -10, -10]),
                             targets: Matrix(rows: 1, cols: 3, values: [0, 0, 1]))
        #expect(abs(far.wasserstein - 2 * near.wasserstein) < 1e-6 && abs(far.manhattan - near.manhattan) < 1e-6)
    }

    /// One-hot labels have H(p) = 0 for every example: the correlation is undefined, reported as JSON null and
    /// "n/a", never NaN.
    @Test func entropyCorrelationIsNilWhenAnEntropyIsConstant() {
        let logits = Matrix(rows: 3, cols: 2, values: [1, 0,   0, 2,   3, 1])
        let onehot = Evaluation(logits: logits, targets: Matrix(rows: 3, cols: 2, values: [1, 0,   0, 1,   1, 0]))
        #expect(onehot.entropyCorrelation == nil)
        let report = EvaluationReport(onehot, classes: ["a", "b"])
        #expect(report.json.text.contains("\"entropy_correlation\": null"))
        #expect(report.text.contains("\nentropy_correlation  n/a\n"))
        #expect(!report.json.text.contains("nan") && !report.text.lowercased().contains("nan"))
        // Equal logits in every row: H(q) is constant.
        let flat = Evaluation(logits: Matrix(rows: 2, cols: 2, values: [0, 0,   0, 0]),
                              targets: Matrix(rows: 2, cols: 2, values: [0.5, 0.5,   0.9, 0.1]))
        #expect(flat.entropyCorrelation == nil)
    }

    /// `wasserstein` is in the report only for ordered classes, after the other scalars.
    @Test func wassersteinOnlyWithOrdinal() throws {
        let f = try MetricFixture.load()
        let e = Evaluation(logits: f.logits, targets: f.targets)
        #expect(!EvaluationReport(e, classes: f.classes).json.text.contains("wasserstein"))
        let ordinal = EvaluationReport(e, classes: f.classes, ordinal: true)
        #expect(ordinal.keys.suffix(3) == ["manhattan", "entropy_correlation", "wasserstein"])
        #expect(ordinal.json.text.contains("\"entropy_correlation\": \(e.entropyCorrelation!), \"wasserstein\": \(e.wasserstein), "))
    }

    /// Ties in p and in q go to the first class; a class nobody predicts has no precision, one nobody
    /// labels has no recall.
    @Test func tiesGoToTheFirstClassAndEmptyClassesHaveNoRates() {
        let logits = Matrix(rows: 3, cols: 3, values: [1, 1, 0,   0, 2, 0,   5, 0, 0])
        let targets = Matrix(rows: 3, cols: 3, values: [0.5, 0.5, 0,   0.2, 0.4, 0.4,   1, 0, 0])
        let e = Evaluation(logits: logits, targets: targets)
        #expect(e.confusion.counts == [2, 0, 0,   0, 1, 0,   0, 0, 0])
        #expect(e.accuracy == 1)
        #expect(e.perClass[2].support == 0 && e.perClass[2].recall == nil && e.perClass[2].precision == nil)
        #expect(e.perClass[0].precision == 1 && e.perClass[0].recall == 1)
        // Top-2 with a tie: for q ∝ (e, e, 1) the ranking is class 0, then class 1.
        let tie = Evaluation(logits: Matrix(rows: 1, cols: 3, values: [1, 1, 1]),
                             targets: Matrix(rows: 1, cols: 3, values: [0, 0, 1]))
        #expect(tie.top2Accuracy == 0 && tie.accuracy == 0)
    }

    /// Bin b holds [b/15, (b+1)/15); confidence 1 falls in the last bin.
    @Test func reliabilityBinEdges() {
        #expect(Reliability.bin(of: 0) == 0)
        #expect(Reliability.bin(of: 1.0 / 15 - 1e-12) == 0)
        #expect(Reliability.bin(of: 0.5) == 7)
        #expect(Reliability.bin(of: 1) == 14)
        var r = Reliability()
        r.add(confidence: 0.9, correct: true)
        r.add(confidence: 0.9, correct: false)
        r.add(confidence: 0.3, correct: true)
        // |1 - 1.8| + |1 - 0.3| over 3 examples.
        #expect(abs(r.ece - (0.8 + 0.7) / 3) < 1e-15)
    }
}

@Suite struct TemperatureScalingTests {
    /// The golden-section fit agrees with numpy's bisection on the derivative in 1/T, to 1e-4.
    @Test func fitMatchesNumpy() throws {
        let f = try MetricFixture.load()
        let want = f.expected["best_temperature"] as! Double
        let fit = TemperatureScaling.fit(logits: f.logits, targets: f.targets)
        #expect(abs(fit.temperature - want) < 1e-4, "T \(fit.temperature) vs numpy \(want)")
        #expect(fit.verified && !fit.atBoundary)
        #expect(abs(fit.kl - TemperatureScaling.meanKL(logits: f.logits, targets: f.targets, temperature: want)) < 1e-9)
    }

    /// Labels that are exactly softmax(z / T*) give back T*, for a sharpening and a softening T*.
    @Test(arguments: [0.37, 1.0, 3.2])
    func recoversTheTemperatureThatMadeTheLabels(_ tStar: Double) {
        var g = TestData(seed: 17)
        let z = g.matrix(300, 5, scale: 2)
        var p = Matrix(rows: 300, cols: 5)
        for i in 0..<300 {
            let row = z.row(i).map { Double($0) / tStar }
            let m = row.max()!
            let s = row.reduce(0) { $0 + exp($1 - m) }
            for j in 0..<5 { p[i, j] = Float(exp(row[j] - m) / s) }
        }
        let fit = TemperatureScaling.fit(logits: z, targets: p)
        #expect(abs(fit.temperature - tStar) < 1e-4, "T \(fit.temperature) vs \(tStar)")
        #expect(fit.kl < 1e-6)
    }

    /// Over-confident predictions (the logits scaled up 4×) are softened: T ≈ 4, and KL and ECE drop.
    @Test func softensAnOverConfidentModel() throws {
        let f = try MetricFixture.load()
        let fit0 = TemperatureScaling.fit(logits: f.logits, targets: f.targets)
        var loud = f.logits
        for i in loud.values.indices { loud.values[i] *= 4 }
        let fit = TemperatureScaling.fit(logits: loud, targets: f.targets)
        #expect(abs(fit.temperature - 4 * fit0.temperature) < 1e-3)
        let before = Evaluation(logits: loud, targets: f.targets)
        let after = Evaluation(logits: loud, targets: f.targets, temperature: Float(fit.temperature))
        #expect(after.kl < before.kl && after.ece < before.ece)
        #expect(after.accuracy == before.accuracy)
    }
}
