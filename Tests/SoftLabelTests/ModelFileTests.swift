import Foundation
import Testing
@testable import SoftLabel

@Suite struct ModelFileTests {
    /// Every Float survives the JSON round trip bit for bit, including awkward values.
    @Test func floatsRoundTripExactly() throws {
        var g = TestData(seed: 8)
        var weights = g.matrix(3, 4, scale: 1e-3).values
        weights[0] = .leastNonzeroMagnitude
        weights[1] = .greatestFiniteMagnitude
        weights[2] = 0.1
        weights[3] = -0.0
        weights[4] = 1 / 3
        weights[5] = .ulpOfOne
        let network = Network(layers: [.dense(Dense(inputs: 4, outputs: 3, weight: weights, bias: [1e-38, -7.5e-8, 3]))])
        let model = ModelFile(classes: ["a", "b", "c"], features: ["w", "x", "y", "z"],
                              standardization: Standardizer(mean: [0.1, 0.2, 0.3, 1e10], std: [1, 0, 0.5, 3]),
                              temperature: 1.25, network: network, config: TrainConfig(),
                              training: TrainingSummary(examples: 1, validationExamples: 0, epochsRun: 1, keptEpoch: 1,
                                                        stoppedEarly: false, converged: false, finalTrainLoss: 0.5, validationLoss: nil,
                                                        validationKL: nil, validationAccuracy: nil, history: []))
        let back = try ModelFile.decode(try model.encoded(), file: "m.json")
        #expect(back == model)
        #expect(back.network[dense: 0].weight.map(\.bitPattern) == weights.map(\.bitPattern))
        // The same model always gives the same bytes.
        #expect(try model.encoded() == back.encoded())
    }

    @Test func rejectsOtherFilesWithAMessage() {
        func message(_ json: String) -> String {
            do {
                _ = try ModelFile.decode(Data(json.utf8), file: "m.json")
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(message("not json") == "m.json: is not a JSON model file")
        #expect(message("{\"format\": \"other\"}") == "m.json: is not a softlabel model (format is 'other')")
        #expect(message("{\"format\": \"softlabel-model\", \"version\": 99}")
                == "m.json: model format version 99 is newer than this softlabel reads (2)")
        #expect(message("{\"format\": \"softlabel-model\", \"version\": 1}").hasPrefix("m.json: malformed model file: missing key"))
    }

    /// Files that decode but cannot be a usable model are refused with what is wrong, never trapped on.
    @Test func rejectsUnusableModels() throws {
        var rng = SplitMix64(seed: 1)
        let base = ModelFile(classes: ["a", "b"], features: ["x", "y"], standardization: Standardizer(mean: [0, 0], std: [1, 2]),
                             network: Network.make(inputs: 2, hidden: [3], classes: 2, rng: &rng), config: TrainConfig(),
                             training: TrainingSummary(examples: 1, validationExamples: 0, epochsRun: 0, keptEpoch: 0, stoppedEarly: false,
                                                       converged: false, finalTrainLoss: nil, validationLoss: nil, validationKL: nil,
                                                       validationAccuracy: nil, history: []))
        func message(_ edit: (inout [String: Any]) -> Void) throws -> String {
            var json = try JSONSerialization.jsonObject(with: try base.encoded()) as! [String: Any]
            edit(&json)
            do {
                _ = try ModelFile.decode(try JSONSerialization.data(withJSONObject: json), file: "m.json")
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(try message { _ in } == "accepted")
        #expect(try message { $0["version"] = 0 } == "m.json: model format version 0 is not a valid version (1...2)")
        #expect(try message { $0["version"] = -1 } == "m.json: model format version -1 is not a valid version (1...2)")
        #expect(try message { $0["features"] = ["x", "x"] } == "m.json: duplicate feature name 'x' in the model")
        #expect(try message { $0["classes"] = ["a", "a"] } == "m.json: duplicate class name 'a' in the model")
        #expect(try message { $0["temperature"] = 1e-45 } == "m.json: temperature 1e-45 is not a positive normal number")
        #expect(try message { $0["temperature"] = 1e39 }.hasPrefix("m.json:1: column "))
        #expect(try message { $0["temperature"] = 1e39 }.hasSuffix(": number 1e+39 is beyond Float's range (±3.4028235e+38); model numbers are float32"))
        #expect(try message { json in
            var layers = json["layers"] as! [[String: Any]]
            layers[0]["inputs"] = 1 << 62
            layers[0]["outputs"] = 4
            json["layers"] = layers
        }.hasPrefix("m.json: malformed model file:"))
        #expect(try message { json in
            var layers = json["layers"] as! [[String: Any]]
            layers[2]["inputs"] = 1 << 62
            layers[2]["outputs"] = 1 << 2
            layers[0]["outputs"] = 1 << 62
            json["layers"] = layers
        }.contains("inconsistent shapes"))
        #expect(try message { json in
            json["standardization"] = ["mean": [0, 0], "std": [1, 1e-45]]
        }.hasPrefix("m.json: standardisation of feature 'y' is unusable"))
    }

    @Test func atomicWriteLeavesNoTemporaryFile() throws {
        let path = temporaryFile("old", name: "m.json")
        try AtomicFile.write(Data("new".utf8), to: path)
        #expect(String(data: FileManager.default.contents(atPath: path)!, encoding: .utf8) == "new")
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["m.json"])
        #expect(throws: DataError.self) { try AtomicFile.write(Data(), to: "/nonexistent-dir/m.json") }
    }
}
