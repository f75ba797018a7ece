import Foundation
import Testing
import TestSupport
import SoftLabel
import SoftLabelCLI

/// `softlabel export`: what it writes and prints, and how it refuses bad command lines.
@Suite struct ExportCommandTests {
    /// The README's example model: the summary printed, and the file written atomically (nothing else left behind).
    @Test func exportsTheReadmeExample() throws {
        let dir = scratchFolder()
        let out = dir + "/m.onnx"
        let r = runInProcess(["export", "--model", fixture("models/readme_example.json"), "--onnx", out])
        #expect(r.status == 0 && r.stderr == "")
        let bytes = try #require(FileManager.default.contents(atPath: out))
        #expect(r.stdout == """
        ONNX model written to \(out): opset 13, \(bytes.count) bytes
        graph: features (N, 2) -> Gemm -> Relu -> Gemm -> Softmax -> probabilities (N, 2)
        standardisation: folded into the first Gemm
        temperature: 2.0, folded into the last Gemm

        """)
        // The bytes ONNXExportTests pins against onnx's protobuf library, with this release as the producer.
        let model = try ModelFile.load(path: fixture("models/readme_example.json"))
        #expect([UInt8](bytes) == (try ONNXExport(model, producerVersion: SoftLabelCLI.version).encoded()))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["m.onnx"])
    }

    /// A trained model with a feature whose mean is far from 0 (1000, std 0.7) gets the Sub node, and says why.
    @Test func farFeatureGetsASubNode() throws {
        let dir = scratchFolder()
        var csv = "id,a,big,label:x,label:y\n"
        for i in 0..<40 {
            let a = Double(i % 7) - 3, big = 1000 + Double(i % 5) * 0.5
            csv += "r\(i),\(a),\(big),\(a > 0 ? 0.9 : 0.2),\(a > 0 ? 0.1 : 0.8)\n"
        }
        write(csv, to: dir + "/train.csv")
        #expect(runInProcess(["train", dir + "/train.csv", "--model", dir + "/m.json", "--quiet"]).status == 0)
        let r = runInProcess(["export", "--model", dir + "/m.json", "--onnx", dir + "/m.onnx"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[1] == "graph: features (N, 2) -> Sub -> Gemm -> Softmax -> probabilities (N, 2)")
        #expect(lines[2].hasPrefix("standardisation: mean subtracted by a Sub node, scale folded into the first Gemm " +
                                   "(feature 'big' has its mean "))
        #expect(lines[3] == "temperature: 1")
    }

    /// Usage and input errors: exit 2, one line naming the flag or file, no file written.
    @Test func refusesBadCommandLines() throws {
        let dir = scratchFolder()
        let model = fixture("models/readme_example.json")
        let cases: [([String], String)] = [
            (["export", "--onnx", dir + "/m.onnx"], "softlabel export: --model FILE is required\n"),
            (["export", "--model", model], "softlabel export: --onnx FILE is required (where to write the ONNX model)\n"),
            (["export", "--model", model, "--onnx", dir + "/none/m.onnx"],
             "softlabel export: \(dir)/none/m.onnx: cannot write: folder '\(dir)/none' does not exist\n"),
            (["export", "--model", dir + "/missing.json", "--onnx", dir + "/m.onnx"],
             "softlabel export: \(dir)/missing.json: cannot read the model file (no such file?)\n"),
            (["export", "data.csv", "--model", model, "--onnx", dir + "/m.onnx"], "softlabel export: unexpected argument 'data.csv'\n"),
            (["export", "--model", model, "--onnx", model], "softlabel export: --onnx \(model) is the model file itself\n"),
        ]
        for (args, message) in cases {
            let r = runInProcess(args)
            #expect(r.status == 2 && r.stdout == "" && r.stderr == message, "\(args)")
        }
        write("{\"format\": \"softlabel-model\", \"version\": 3}", to: dir + "/future.json")
        let r = runInProcess(["export", "--model", dir + "/future.json", "--onnx", dir + "/m.onnx"])
        #expect(r.status == 2 && r.stderr == "softlabel export: \(dir)/future.json: model format version 3 is newer than this softlabel reads (2)\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["future.json"])
    }

    /// A fold that overflows float32 is an input error naming the model file, and writes nothing.
    @Test func overflowingFoldIsAnInputError() throws {
        let dir = scratchFolder()
        let json = """
        {"format": "softlabel-model", "version": 2, "classes": ["a", "b"], "features": ["x"],
         "standardization": {"mean": [0], "std": [1e-20]}, "temperature": 1, "config": {},
         "layers": [{"kind": "dense", "inputs": 1, "outputs": 2, "weight": [1e30, 1], "bias": [0, 0]}],
         "training": {"examples": 0, "validationExamples": 0, "epochsRun": 0, "keptEpoch": 0, "stoppedEarly": false, "history": []}}
        """
        write(json, to: dir + "/m.json")
        let r = runInProcess(["export", "--model", dir + "/m.json", "--onnx", dir + "/m.onnx"])
        #expect(r.status == 2)
        #expect(r.stderr == "softlabel export: \(dir)/m.json: dense layer 1: a weight exceeds float32's range once the " +
                "standardisation (1/std) and temperature (1/T) are folded into it; the model cannot be exported as float32 weights\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["m.json"])
    }
}
