import Foundation
import Testing
import TestSupport
@testable import SoftLabel

/// Two models' logits and ordinal soft labels (Tests/Fixtures/metrics/paired.csv) with numpy's paired
/// bootstrap intervals of every metric difference B - A (paired_expected.json, 20,000 resamples drawn by
/// numpy's generator; Scripts/make_metric_fixtures.py).
struct PairedFixture {
    var a: Evaluation, b: Evaluation
    var expected: [String: Any]

    static func load() throws -> PairedFixture {
        let text = try String(contentsOfFile: packagePath("Tests/Fixtures/metrics/paired.csv"), encoding: .utf8)
        let lines = text.split(separator: "\n")
        let k = (lines[0].split(separator: ",").count - 1) / 3
        var za: [Float] = [], zb: [Float] = [], p: [Float] = []
        for line in lines.dropFirst() {
            let cells = line.split(separator: ",").dropFirst().map { Float($0)! }
            za += cells[0..<k]
            zb += cells[k..<(2 * k)]
            p += cells[(2 * k)...]
        }
        let n = lines.count - 1
        let targets = Matrix(rows: n, cols: k, values: p)
        let json = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: packagePath("Tests/Fixtures/metrics/paired_expected.json"))))
        return PairedFixture(a: Evaluation(logits: Matrix(rows: n, cols: k, values: za), targets: targets, keepExamples: true),
                             b: Evaluation(logits: Matrix(rows: n, cols: k, values: zb), targets: targets, keepExamples: true),
                             expected: json as! [String: Any])
    }

    func report(resamples: Int, seed: UInt64, threads: Int = 1) -> ComparisonReport {
        ComparisonReport(models: [("a", EvaluationReport(a, classes: ["1", "2", "3", "4", "5"], ordinal: true)),
                                  ("b", EvaluationReport(b, classes: ["1", "2", "3", "4", "5"], ordinal: true))],
                         resamples: resamples, seed: seed, parallel: Parallel(threads: threads))
    }
}

@Suite struct BootstrapTests {
    /// Every bound of our 1,000-resample interval is within 10% of the interval's width of numpy's (for five
    /// seeds), and the differences themselves agree to 1e-9. The two use the same percentile method; only
    /// the random draws differ.
    @Test func intervalsAgreeWithNumpy() throws {
        let f = try PairedFixture.load()
        let want = f.expected["differences"] as! [String: [String: Any]]
        let keys = f.report(resamples: 0, seed: 1).metricKeys
        #expect(Set(keys) == Set(want.keys) && keys.count == 12)
        for seed: UInt64 in 1...5 {
            let report = f.report(resamples: 1000, seed: seed)
            for key in keys {
                let got = report.differences[0][key]!, w = want[key]!
                let lo = w["lower"] as! Double, hi = w["upper"] as! Double, d = w["difference"] as! Double
                #expect(abs(got.difference! - d) < 1e-9, "\(key): difference \(got.difference!) vs numpy \(d)")
                let width = hi - lo
                if width == 0 {  // entropy: the labels are the same for both models
                    #expect(got.lower == 0 && got.upper == 0, "\(key)")
                    continue
                }
                #expect(abs(got.lower! - lo) <= 0.1 * width, "seed \(seed) \(key): lower \(got.lower!) vs numpy \(lo), width \(width)")
                #expect(abs(got.upper! - hi) <= 0.1 * width, "seed \(seed) \(key): upper \(got.upper!) vs numpy \(hi), width \(width)")
            }
        }
    }

    /// Significant exactly where numpy's interval excludes 0 (the fixture has both kinds).
    @Test func significanceFollowsTheInterval() throws {
        let f = try PairedFixture.load()
        let want = f.expected["differences"] as! [String: [String: Any]]
        let report = f.report(resamples: 1000, seed: 1)
        var significant = 0
        for (key, w) in want {
            let lo = w["lower"] as! Double, hi = w["upper"] as! Double
            // Skip those numpy puts within a whisker of 0, where sampling noise may fall either way.
            if min(abs(lo), abs(hi)) < 0.05 * (hi - lo) { continue }
            #expect(report.differences[0][key]!.significant == (lo > 0 || hi < 0), "\(key)")
            if lo > 0 || hi < 0 { significant += 1 }
        }
        #expect(significant >= 3)
        #expect(report.text.contains("\n  kl                   b       -0.109145  -0.148521  -0.069777  better, significant\n"))
        #expect(report.text.contains("worse, significant") == false && report.text.contains("better, significant"))
        #expect(report.text.contains("\n  entropy              b        0.000000   0.000000   0.000000  labels only\n"))
        #expect(report.text.contains("\n  accuracy             b       +0.015000  -0.042500  +0.072500  not significant\n"))
    }

    /// The same seed gives the same intervals for any number of threads; another seed moves them.
    @Test func seededAndThreadIndependent() throws {
        let f = try PairedFixture.load()
        let one = f.report(resamples: 300, seed: 7, threads: 1).differences
        let four = f.report(resamples: 300, seed: 7, threads: 4).differences
        #expect(one == four)
        let other = f.report(resamples: 300, seed: 8, threads: 1).differences
        #expect(one[0]["kl"]!.lower != other[0]["kl"]!.lower)
    }

    /// numpy's "linear" percentile: position (N - 1) q between order statistics.
    @Test func percentileIsNumpysLinearMethod() {
        let a: [Double] = [1, 2, 3, 4]  // np.percentile(a, [0, 2.5, 25, 50, 97.5, 100]) = 1, 1.075, 1.75, 2.5, 3.925, 4
        let expected: [(Double, Double)] = [(0, 1), (0.025, 1.075), (0.25, 1.75), (0.5, 2.5), (0.975, 3.925), (1, 4)]
        for (q, v) in expected {
            #expect(abs(PairedBootstrap.percentile(a, q) - v) < 1e-12, "q \(q)")
        }
        #expect(PairedBootstrap.percentile([5], 0.975) == 5)
    }

    /// A resampled statistic with all weights 1 is the plain statistic, for each kind; ECE as Reliability computes it.
    @Test func unitWeightsGiveThePlainStatistic() throws {
        let f = try PairedFixture.load()
        let ex = try #require(f.a.examples)
        #expect(ex.count == f.a.count)
        let ones = [Int32](repeating: 1, count: ex.count)
        ones.withUnsafeBufferPointer { w in
            for key in ["kl", "accuracy", "ece", "entropy_correlation", "wasserstein", "manhattan"] {
                let stat = ex.statistic(key)
                let plain = EvaluationReport.scalar(key, of: f.a)!
                #expect(abs(stat.value(weights: w)! - plain) < 1e-12, "\(key)")
                #expect(abs(stat.value(weights: nil)! - plain) < 1e-12, "\(key)")
            }
        }
        // Doubling one example's weight (and dropping another) is the mean with that example twice.
        var w = ones
        w[0] = 2
        w[1] = 0
        let kl = ex.kl
        let manual = (kl.reduce(0, +) + kl[0] - kl[1]) / Double(kl.count)
        w.withUnsafeBufferPointer { #expect(abs(ex.statistic("kl").value(weights: $0)! - manual) < 1e-12) }
    }

    /// A correlation that is undefined on the whole data has no difference and no interval.
    @Test func undefinedCorrelationHasNoInterval() {
        let logits = Matrix(rows: 4, cols: 2, values: [1, 0,   0, 2,   3, 1,   0, 1])
        let targets = Matrix(rows: 4, cols: 2, values: [1, 0,   0, 1,   1, 0,   0, 1])
        let e = Evaluation(logits: logits, targets: targets, keepExamples: true)
        let d = PairedBootstrap.differences(baseline: [e.examples!.statistic("entropy_correlation")],
                                            models: [[e.examples!.statistic("entropy_correlation")]],
                                            resamples: 50, seed: 1)
        #expect(d[0][0] == PairedDifference(difference: nil, lower: nil, upper: nil))
        #expect(!d[0][0].significant)
    }
}
