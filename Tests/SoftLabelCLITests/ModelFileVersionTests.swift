import Foundation
import Testing
import TestSupport
@testable import SoftLabel

/// Model files of the first release (format 1: dense layers only, ReLU implied) still load, and predict what
/// that release predicted for them (Tests/Fixtures/models/README.md).
@Suite struct ModelFileVersionTests {
    /// (fixture, data, largest allowed difference). Layers with at most 16 outputs (linear models here) run the
    /// very dot-product kernel the first release ran: the same bits. Wider layers now run the packed
    /// outer-product kernel, which sums each output in input order in one lane instead of 16 lanes added at
    /// the end: the same numbers to Float rounding, within 1e-6.
    static let cases: [(String, String, Float)] = [
        ("v1_digits_linear", "Data/digits/test_votes.csv", 0),
        ("v1_digits_hidden", "Data/digits/test_votes.csv", 1e-6),
        ("v1_digits_calibrated", "Data/digits/test_votes.csv", 1e-6),
        ("v1_catdog_calibrated", "Data/catdog/test.csv", 0),
        ("v1_digits_hidden64", "Data/digits/test_votes.csv", 1e-6),
    ]

    @Test(arguments: cases.map(\.0))
    func formatOnePredictsAsItDid(_ name: String) throws {
        let (_, data, tolerance) = Self.cases.first { $0.0 == name }!
        let r = runInProcess(["predict", "--model", fixture("models/\(name).json"), packagePath(data)])
        #expect(r.status == 0, "\(r.stderr)")
        let expected = try String(contentsOfFile: fixture("models/\(name).pred.csv"), encoding: .utf8)
        let got = r.stdout.split(separator: "\n"), want = expected.split(separator: "\n")
        #expect(got.count == want.count && got.first == want.first)
        var worst: Float = 0
        for (a, b) in zip(got.dropFirst(), want.dropFirst()) {
            let x = a.split(separator: ","), y = b.split(separator: ",")
            #expect(x.count == y.count && x[0] == y[0])
            for (u, v) in zip(x.dropFirst(), y.dropFirst()) { worst = max(worst, abs(Float(u)! - Float(v)!)) }
        }
        #expect(worst <= tolerance, "\(name): largest difference \(worst)")
    }

    /// A format-1 file reads as dense layers with ReLU between them, and writes back as format 2 with the same numbers.
    @Test func formatOneReadsAsLayersWithReLU() throws {
        let model = try ModelFile.load(path: fixture("models/v1_digits_hidden64.json"))
        #expect(model.network.layers.map(kind) == ["dense", "relu", "dense", "relu", "dense"])
        let again = try ModelFile.decode(try model.encoded(), file: "m.json")
        var expected = model
        expected.version = ModelFile.currentVersion
        #expect(again == expected, "the model changed in the round trip")
        let json = try JSONSerialization.jsonObject(with: try model.encoded()) as! [String: Any]
        #expect(json["version"] as? Int == 2 && json["network"] == nil)
        #expect((json["layers"] as? [[String: Any]])?.map { $0["kind"] as! String } == ["dense", "relu", "dense", "relu", "dense"])
    }

    /// Settings a file lacks take today's defaults (format 1 files predate --activation and --dropout).
    @Test func missingSettingsTakeTodaysDefaults() throws {
        let model = try ModelFile.load(path: fixture("models/v1_digits_hidden.json"))
        #expect(model.config.activation == .relu && model.config.dropout == 0)
        #expect(model.config.hidden == [32] && model.config.epochs == 30)
    }

    private func kind(_ layer: Layer) -> String {
        switch layer {
        case .dense: return "dense"
        case .activation(let f): return f.rawValue
        case .dropout: return "dropout"
        }
    }
}
