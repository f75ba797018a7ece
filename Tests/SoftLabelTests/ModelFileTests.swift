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

    @Test func atomicWriteLeavesNoTemporaryFile() throws {
        let path = temporaryFile("old", name: "m.json")
        try AtomicFile.write(Data("new".utf8), to: path)
        #expect(String(data: FileManager.default.contents(atPath: path)!, encoding: .utf8) == "new")
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["m.json"])
        #expect(throws: DataError.self) { try AtomicFile.write(Data(), to: "/nonexistent-dir/m.json") }
    }
}
