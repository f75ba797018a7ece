import Foundation
import SoftLabel

/// `softlabel export`: the model as an ONNX file that any ONNX runtime can run.
enum ExportCommand: Command {
    static let spec = CommandSpec(
        name: "export",
        usage: ["export --model M.json --onnx M.onnx"],
        summary: "Write the model as an ONNX graph of core operators (opset \(ONNXExport.opset)) computing predict's probabilities.",
        positionals: [],
        options: [
            OptionSpec(name: "--model", value: "FILE", help: "The trained model. Required."),
            OptionSpec(name: "--onnx", value: "FILE", help: "Where to write the ONNX model (atomically). Required."),
        ],
        notes: [
            "Input 'features': (N, d) float32, raw features in the model's order (N: any batch size). Output",
            "'probabilities': (N, k) in the model's class order. Metadata: 'classes' and 'features' (JSON arrays).",
            "Standardisation is folded into the first Gemm (the mean goes in a Sub node instead when a feature's",
            "mean is more than \(Int(ONNXExport.foldableMeanSigmas)) standard deviations from 0: folding it would lose float32 digits); the",
            "temperature into the last Gemm. GELU is Div, Erf, Add, Mul; dropout (the identity at inference) is left out.",
        ])

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        try Common.checkOutputs(a, ["--onnx"])
        _ = try a.positionals([])
        guard let modelPath = a.string("--model") else { throw UsageError("--model FILE is required") }
        guard let onnxPath = a.string("--onnx") else { throw UsageError("--onnx FILE is required (where to write the ONNX model)") }
        let model = try ModelFile.load(path: modelPath)
        if URL(fileURLWithPath: onnxPath).standardizedFileURL.resolvingSymlinksInPath()
            == URL(fileURLWithPath: modelPath).standardizedFileURL.resolvingSymlinksInPath() {
            throw UsageError("--onnx \(onnxPath) is the model file itself")
        }
        let export: ONNXExport
        do {
            export = try ONNXExport(model, producerVersion: SoftLabelCLI.version)
        } catch {
            throw DataError(file: modelPath, error.message)
        }
        let bytes = export.encoded()
        // Protobuf messages are limited to 2 GB; runtimes refuse larger ones.
        guard bytes.count < Int(Int32.max) else {
            throw RuntimeFailure(message: "the model needs \(bytes.count) bytes, over protobuf's 2 GB limit for one ONNX file")
        }
        try AtomicFile.write(Data(bytes), to: onnxPath)

        let d = model.features.count, k = model.classes.count
        var out = "ONNX model written to \(onnxPath): opset \(ONNXExport.opset), \(bytes.count) bytes\n"
        out += "graph: features (N, \(d)) -> \(export.operators.joined(separator: " -> ")) -> probabilities (N, \(k))\n"
        switch export.standardization {
        case .none:
            out += "standardisation: none (the model uses raw features)\n"
        case .folded:
            out += "standardisation: folded into the first Gemm\n"
        case .meanSubtracted(let feature, let sigmas):
            out += "standardisation: mean subtracted by a Sub node, scale folded into the first Gemm (feature '\(feature)' " +
                "has its mean \(String(format: "%.3g", sigmas)) standard deviations from 0: folding it would lose float32 digits)\n"
        case .nodes:
            out += "standardisation: Sub and Mul nodes (the network does not begin with a dense layer)\n"
        }
        out += model.temperature == 1 ? "temperature: 1\n"
            : "temperature: \(model.temperature), folded into the last Gemm\n"
        console.out(out)
    }
}
