import Foundation
import SoftLabel
import Testing
import TestSupport

/// Where two JSON trees differ: numbers by more than `tol`, anything else at all. Paths like `per_class[3].recall`.
func jsonDifferences(_ got: Any, _ want: Any, tol: Double, path: String = "") -> [String] {
    switch (got, want) {
    case (let g as [String: Any], let w as [String: Any]):
        if Set(g.keys) != Set(w.keys) { return ["\(path): keys \(g.keys.sorted()) vs \(w.keys.sorted())"] }
        return w.keys.sorted().flatMap { jsonDifferences(g[$0]!, w[$0]!, tol: tol, path: path + "." + $0) }
    case (let g as [Any], let w as [Any]):
        if g.count != w.count { return ["\(path): \(g.count) items vs \(w.count)"] }
        return zip(g, w).enumerated().flatMap { jsonDifferences($1.0, $1.1, tol: tol, path: "\(path)[\($0)]") }
    case (let g as String, let w as String):
        return g == w ? [] : ["\(path): '\(g)' vs '\(w)'"]
    case (is NSNull, is NSNull):
        return []
    case (let g as NSNumber, let w as NSNumber):
        return abs(g.doubleValue - w.doubleValue) <= tol ? [] : ["\(path): \(g) vs \(w)"]
    default:
        return ["\(path): \(got) vs \(want)"]
    }
}

func parseJSON(_ text: String) throws -> Any {
    try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
}

/// A model made over-confident on purpose: its last layer times `factor`, so every logit is `factor` times larger.
func overConfidentCopy(of path: String, factor: Float, to out: String) throws {
    var model = try ModelFile.load(path: path)
    let last = model.network.denseCount - 1
    model.network[dense: last].weight = model.network[dense: last].weight.map { $0 * factor }
    model.network[dense: last].bias = model.network[dense: last].bias.map { $0 * factor }
    try model.write(to: out)
}

@Suite struct EvaluationCommandsTests {
    /// Every `eval --json` metric, nested tables included, against numpy (Scripts/make_metric_fixtures.py
    /// --model ... --data ...) on a committed model (16 hidden units) and the digits test file, to 1e-5.
    @Test func evalJSONMatchesNumpy() throws {
        let r = try runBinary(["eval", "--json", "--model", packagePath("Tests/Fixtures/eval/digits_model.json"),
                               packagePath("Data/digits/test_votes.csv")])
        #expect(r.status == 0, "\(r.stderr)")
        let got = try parseJSON(r.stdout) as! [String: Any]
        let want = try parseJSON(try String(contentsOfFile: packagePath("Tests/Fixtures/eval/digits_test_expected.json"),
                                            encoding: .utf8))
        #expect(jsonDifferences(got, want, tol: 1e-5) == [])
        for key in ["examples", "kl", "cross_entropy", "entropy", "js", "tv", "accuracy", "top2_accuracy", "brier", "ece",
                    "manhattan", "entropy_correlation", "reliability", "per_class", "confusion"] {
            #expect(got[key] != nil, "missing \(key)")
        }
        // Stable key order in the text itself.
        #expect(r.stdout.hasPrefix("{\"examples\": 397, \"kl\": "))
    }

    @Test func evalTextReportHasEverySection() throws {
        let r = try runBinary(["eval", "--model", packagePath("Tests/Fixtures/eval/digits_model.json"),
                               packagePath("Data/digits/test_votes.csv")])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(Array(lines[0..<12].map { $0.split(separator: " ")[0] }) == [
            "examples", "kl", "cross_entropy", "entropy", "js", "tv", "accuracy", "top2_accuracy", "brier", "ece",
            "manhattan", "entropy_correlation"])
        #expect(lines[0] == "examples             397" && lines[11].hasPrefix("entropy_correlation  0."))
        #expect(lines.contains("  confidence   count  mean_conf  accuracy  acc-conf"))
        #expect(lines.contains("  0.000-0.067      0          -         -         -"))
        #expect(lines.contains("  class  support  mean_p  mean_q  precision  recall"))
        #expect(lines.contains("  label \\ predicted   0   1   2   3   4   5   6   7   8   9"))
        #expect(lines.contains { $0.hasPrefix("  9                   ") })
    }

    /// A model made over-confident (logits × 5) and calibrated on the training file: T comes out near 5,
    /// and held-out KL and ECE both drop; eval of the written model shows the "after" numbers.
    @Test func calibrateLowersHeldOutKLAndECEOfAnOverConfidentModel() throws {
        let dir = scratchFolder()
        let train = packagePath("Data/catdog/train.csv"), test = packagePath("Data/catdog/test.csv")
        #expect(try runBinary(["train", train, "--model", dir + "/m.json", "--quiet"]).status == 0)
        try overConfidentCopy(of: dir + "/m.json", factor: 5, to: dir + "/loud.json")
        let c = try runBinary(["calibrate", "--model", dir + "/loud.json", train, "--out", dir + "/cal.json"])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(c.stdout.hasPrefix("temperature 1 -> 4.9"))
        #expect(c.stdout.contains("\n\nmetric           before     after\nkl             "))
        #expect(c.stdout.hasSuffix("\ncalibrated model written to \(dir)/cal.json\n"))
        let t = try ModelFile.load(path: dir + "/cal.json").temperature
        #expect(t > 4.5 && t < 5.5)

        func held(_ model: String) throws -> [String: Any] {
            try parseJSON(try runBinary(["eval", "--json", "--model", dir + "/" + model, test]).stdout) as! [String: Any]
        }
        let before = try held("loud.json"), after = try held("cal.json")
        #expect((after["kl"] as! Double) < (before["kl"] as! Double) / 2)
        #expect((after["ece"] as! Double) < (before["ece"] as! Double))
        #expect(after["accuracy"] as! Double == before["accuracy"] as! Double)

        // The report's "after" column is what eval says about the written model (on the calibration data).
        let own = try parseJSON(try runBinary(["eval", "--json", "--model", dir + "/cal.json", train]).stdout) as! [String: Any]
        let klLine = c.stdout.split(separator: "\n").first { $0.hasPrefix("kl ") }!
        #expect(klLine.hasSuffix(String(format: "%.6f", own["kl"] as! Double)))
    }

    /// Calibrating replaces the old temperature (it starts from the raw logits): twice gives the same T.
    @Test func calibrateIsIdempotent() throws {
        let dir = scratchFolder()
        let data = packagePath("Data/catdog/test.csv")
        #expect(try runBinary(["train", packagePath("Data/catdog/train.csv"), "--model", dir + "/m.json", "--epochs", "20",
                               "--quiet"]).status == 0)
        #expect(try runBinary(["calibrate", "--model", dir + "/m.json", data, "--out", dir + "/c1.json"]).status == 0)
        #expect(try runBinary(["calibrate", "--model", dir + "/c1.json", data, "--out", dir + "/c2.json"]).status == 0)
        #expect(try ModelFile.load(path: dir + "/c1.json").temperature == ModelFile.load(path: dir + "/c2.json").temperature)
    }

    @Test func compareShowsModelsSideBySide() throws {
        let dir = scratchFolder()
        let fixture = packagePath("Tests/Fixtures/eval/digits_model.json"), test = packagePath("Data/digits/test_votes.csv")
        try overConfidentCopy(of: fixture, factor: 3, to: dir + "/loud.json")
        let r = try runBinary(["compare", "--model", fixture, "--model", dir + "/loud.json", test])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "397 examples of \(test)")
        #expect(lines[2] == "metric               digits_model.json  loud.json     change")
        #expect(lines[3].hasPrefix("kl                   ") && lines[3].contains("* "))
        #expect(lines[8].hasPrefix("accuracy             "))
        // Then the differences to the first model with their intervals: 11 metrics, the logits × 3 are
        // significantly worse in KL; accuracy cannot change (the same argmax).
        #expect(lines[17] == "difference to digits_model.json, with its 95% paired bootstrap interval (1000 resamples of the 397 examples, seed 1)")
        #expect(lines[18] == "  metric               model      difference      lower      upper  verdict")
        #expect(lines[19].hasPrefix("  kl                   loud.json   +0.") && lines[19].hasSuffix("worse, significant"))
        #expect(lines[24] == "  accuracy             loud.json    0.000000   0.000000   0.000000  not significant")
        #expect(lines.count == 34 && lines[33] == "")

        // JSON: each model's eval --json fields, and the first equals eval --json of that model.
        let j = try runBinary(["compare", "--json", "--model", fixture, "--model", dir + "/loud.json", test])
        let obj = try parseJSON(j.stdout) as! [String: Any]
        let models = obj["models"] as! [[String: Any]]
        #expect(obj["examples"] as? Int == 397 && models.count == 2)
        #expect(models[0]["model"] as? String == fixture)
        var first = models[0]
        first["model"] = nil
        let alone = try parseJSON(try runBinary(["eval", "--json", "--model", fixture, test]).stdout)
        #expect(jsonDifferences(first, alone, tol: 0) == [])
        #expect((models[1]["kl"] as! Double) > (models[0]["kl"] as! Double))
        // The differences with their intervals: the same numbers as the text.
        let boot = obj["bootstrap"] as! [String: Any]
        #expect(boot["resamples"] as? Int == 1000 && boot["seed"] as? Int == 1 && boot["level"] as? Double == 0.95)
        let diffs = obj["differences"] as! [[String: Any]]
        #expect(diffs.count == 1 && diffs[0]["model"] as? String == dir + "/loud.json")
        let metrics = diffs[0]["metrics"] as! [String: [String: Any]]
        #expect(metrics.count == 11)
        let kl = metrics["kl"]!
        let d = kl["difference"] as! Double, lo = kl["lower"] as! Double, hi = kl["upper"] as! Double
        #expect(abs(d - ((models[1]["kl"] as! Double) - (models[0]["kl"] as! Double))) < 1e-12)
        #expect(lo < d && d < hi && lo > 0 && kl["significant"] as? Bool == true)
        let klRow = r.stdout.split(separator: "\n").first { $0.hasPrefix("  kl ") }!
        #expect(klRow.contains(String(format: "%+.6f  %+.6f  %+.6f", d, lo, hi)))
        // Another seed moves the bounds; --bootstrap 0 leaves them out.
        let other = try parseJSON(try runBinary(["compare", "--json", "--seed", "2", "--model", fixture, "--model",
                                                 dir + "/loud.json", test]).stdout) as! [String: Any]
        let otherKL = ((other["differences"] as! [[String: Any]])[0]["metrics"] as! [String: [String: Any]])["kl"]!
        #expect(otherKL["lower"] as! Double != lo && otherKL["difference"] as! Double == d)
        let none = try runBinary(["compare", "--bootstrap", "0", "--model", fixture, "--model", dir + "/loud.json", test])
        #expect(!none.stdout.contains("bootstrap") && none.stdout.hasSuffix("entropy depends only on the labels)\n"))
    }

    /// --ordinal adds wasserstein after the other scalars and changes nothing else; --plot writes the reliability
    /// SVG and leaves stdout as it was.
    @Test func evalOrdinalAndPlot() throws {
        let dir = scratchFolder()
        let model = packagePath("Tests/Fixtures/eval/digits_model.json"), test = packagePath("Data/digits/test_votes.csv")
        let plain = try runBinary(["eval", "--json", "--model", model, test])
        let ordinal = try runBinary(["eval", "--json", "--ordinal", "--model", model, test, "--plot", dir + "/rel.svg"])
        #expect(ordinal.status == 0, "\(ordinal.stderr)")
        var got = try parseJSON(ordinal.stdout) as! [String: Any]
        let w = try #require(got["wasserstein"] as? Double)
        #expect(w >= (got["tv"] as! Double))  // W1 >= TV on a line with unit spacing
        #expect(ordinal.stdout.contains(#/"entropy_correlation": [0-9.e-]+, "wasserstein": /#))
        got["wasserstein"] = nil
        #expect(jsonDifferences(got, try parseJSON(plain.stdout), tol: 0) == [])
        let svg = try String(contentsOfFile: dir + "/rel.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<?xml") && svg.contains("Reliability: digits_model.json on test_votes.csv, ECE ") && svg.hasSuffix("</svg>\n"))
        #expect(try runBinary(["eval", "--model", model, test, "--plot", dir + "/no/rel.svg"]).status == 2)
    }

    /// compare --plot overlays the models in one SVG.
    @Test func comparePlotOverlaysTheModels() throws {
        let dir = scratchFolder()
        let fixture = packagePath("Tests/Fixtures/eval/digits_model.json"), test = packagePath("Data/digits/test_votes.csv")
        try overConfidentCopy(of: fixture, factor: 3, to: dir + "/loud.json")
        let r = try runBinary(["compare", "--bootstrap", "0", "--model", fixture, "--model", dir + "/loud.json", test,
                               "--plot", dir + "/c.svg"])
        #expect(r.status == 0, "\(r.stderr)")
        let svg = try String(contentsOfFile: dir + "/c.svg", encoding: .utf8)
        #expect(svg.contains("Reliability of 2 models") && svg.contains(">digits_model.json (ECE ") && svg.contains(">loud.json (ECE "))
    }
}
