import Foundation

/// A model file as an ONNX graph of core operators (opset 13) that computes what `predict` computes:
/// probabilities = softmax(network(standardise(features)) / T).
///
/// Graph: `features` (N, d) float32 → [Sub] → Gemm → activation → ... → Gemm → Softmax(axis -1) →
/// `probabilities` (N, k), N a named dynamic dimension. Each dense layer is one Gemm(X, W, b) with transB = 1,
/// since W is stored (outputs, inputs) and Z = X Wᵀ + b. Dropout is the identity at inference and is left out.
///
/// - Standardisation x'_j = (x_j - m_j) s_j, s_j = 1/σ_j (0 for a constant feature, σ_j = 0), is folded into
///   the first Gemm: W'[o, j] = W[o, j] s_j, b'[o] = b[o] - Σ_j W[o, j] s_j m_j (a constant feature's column is
///   zero and adds nothing to the bias). Folding the mean makes the Gemm sum x_j s_j, which is as large as
///   the mean is far from 0 in standard deviations, and float32 cancellation then loses those digits (measured
///   on random 64 x 10 layers: 3e-6 in the probabilities at 4 σ, 1.4e-5 at 16 σ, 7e-4 at 1000 σ, against 1e-6
///   when subtracting first). So when some feature's |m_j| s_j exceeds `foldableMeanSigmas`, the mean is
///   subtracted by a Sub node (as predict does) and only the scale is folded. A network that does not begin
///   with a dense layer gets explicit Sub and Mul nodes.
/// - The temperature is folded into the last Gemm: W / T and b / T give z / T.
/// - GELU (the exact erf form) is x · (1 + erf(x / √2)) · 0.5 from Div, Erf, Add, Mul: the Gelu operator
///   exists only from opset 20 (ONNX 1.15, 2023), which many deployed runtimes do not read, while Erf is in
///   every opset since 9; onnxruntime fuses this pattern into its own Gelu kernel.
///
/// Folded weights are computed in Double and rounded to Float once.
public struct ONNXExport: Sendable {
    /// The operator set written (13: Softmax over one axis, Erf, Gemm with a 1-D bias all present).
    public static let opset: Int64 = 13
    /// The IR version that goes with opset 13 (ONNX 1.8).
    public static let irVersion: Int64 = 7
    /// The largest |mean| / std at which the mean is folded into the first Gemm's bias (see above).
    public static let foldableMeanSigmas: Double = 4

    /// Where the standardisation went.
    public enum Standardization: Equatable, Sendable {
        /// The model has none.
        case none
        /// Scale and mean folded into the first Gemm.
        case folded
        /// A Sub node subtracts the mean and the scale is folded into the first Gemm, because the mean of
        /// `feature` is `sigmas` standard deviations from 0 (more than `foldableMeanSigmas`).
        case meanSubtracted(feature: String, sigmas: Double)
        /// Sub and Mul nodes, because the network does not begin with a dense layer.
        case nodes
    }

    let model: ONNX.Model
    public let standardization: Standardization

    /// The operator of each node, in graph order.
    public var operators: [String] { model.graph.nodes.map(\.opType) }
    /// The .onnx file's bytes.
    public func encoded() -> [UInt8] { model.encoded() }

    /// Builds the graph for `file`; `producerVersion` is the softlabel release that writes it.
    public init(_ file: ModelFile, producerVersion: String) throws(ExportError) {
        let d = file.features.count
        var b = GraphBuilder()
        var x = "features"

        // Standardisation: scale s_j as predict computes it (Standardizer.apply), in Float.
        var firstScale: [Double]?, firstShift: [Double]?
        if let st = file.standardization {
            let scale = st.std.map { $0 == 0 ? Float(0) : 1 / $0 }
            let ratio = (0..<d).map { abs(Double(st.mean[$0])) * Double(scale[$0]) }
            let worst = ratio.indices.max { ratio[$0] < ratio[$1] }
            if case .dense? = file.network.layers.first {
                firstScale = scale.map(Double.init)
                if let j = worst, ratio[j] > ONNXExport.foldableMeanSigmas {
                    x = b.node("Sub", [x, b.constant("standardization.mean", dims: [d], st.mean)], name: "subtract_mean")
                    standardization = .meanSubtracted(feature: file.features[j], sigmas: ratio[j])
                } else {
                    firstShift = st.mean.map(Double.init)
                    standardization = .folded
                }
            } else {
                x = b.node("Sub", [x, b.constant("standardization.mean", dims: [d], st.mean)], name: "subtract_mean")
                x = b.node("Mul", [x, b.constant("standardization.scale", dims: [d], scale)], name: "scale")
                standardization = .nodes
            }
        } else {
            standardization = .none
        }

        let lastDense = file.network.layers.lastIndex { if case .dense = $0 { return true } else { return false } }!
        var denseNumber = 0
        for (l, layer) in file.network.layers.enumerated() {
            switch layer {
            case .dense(let dense):
                denseNumber += 1
                let o = dense.outputs, i = dense.inputs
                var w = dense.weight.map(Double.init)  // (o, i)
                var bias = dense.bias.map(Double.init)  // (o)
                if denseNumber == 1, let s = firstScale {
                    for r in 0..<o {
                        for j in 0..<i {
                            if let m = firstShift { bias[r] -= w[r * i + j] * s[j] * Double(m[j]) }
                            w[r * i + j] *= s[j]
                        }
                    }
                }
                if l == lastDense && file.temperature != 1 {
                    let t = Double(file.temperature)
                    w = w.map { $0 / t }
                    bias = bias.map { $0 / t }
                }
                let wf = w.map { Float($0) }, bf = bias.map { Float($0) }
                if let bad = (wf + bf).firstIndex(where: { !$0.isFinite }) {
                    let what = bad < wf.count ? "weight" : "bias"
                    throw ExportError(message: "dense layer \(denseNumber): a \(what) exceeds float32's range once the " +
                                      "standardisation (1/std) and temperature (1/T) are folded into it; the model cannot be " +
                                      "exported as float32 weights")
                }
                let name = "dense\(denseNumber)"
                x = b.node("Gemm", [x, b.constant(name + ".weight", dims: [o, i], wf), b.constant(name + ".bias", dims: [o], bf)],
                           name: name, attributes: [ONNX.Attribute(name: "transB", value: .int(1))])
            case .activation(.relu):
                x = b.node("Relu", [x], name: "relu\(l + 1)")
            case .activation(.tanh):
                x = b.node("Tanh", [x], name: "tanh\(l + 1)")
            case .activation(.gelu):
                let g = "gelu\(l + 1)"
                let sqrt2 = b.constant("gelu.sqrt2", dims: [], [Float(2.0.squareRoot())])
                let scaled = b.node("Div", [x, sqrt2], name: g + ".div")
                let erf = b.node("Erf", [scaled], name: g + ".erf")
                let onePlus = b.node("Add", [erf, b.constant("gelu.one", dims: [], [1])], name: g + ".add")
                let times = b.node("Mul", [x, onePlus], name: g + ".mul")
                x = b.node("Mul", [times, b.constant("gelu.half", dims: [], [0.5])], name: g)
            case .dropout:
                continue  // the identity at inference
            }
        }
        b.node("Softmax", [x], name: "softmax", output: "probabilities",
               attributes: [ONNX.Attribute(name: "axis", value: .int(-1))])

        let k = file.classes.count
        let graph = ONNX.Graph(
            nodes: b.nodes, name: "softlabel", initializers: b.initializers,
            docString: "probabilities = softmax(network(standardise(features)) / T), as softlabel predict",
            inputs: [ONNX.ValueInfo(name: "features", shape: [.named("N"), .fixed(d)])],
            outputs: [ONNX.ValueInfo(name: "probabilities", shape: [.named("N"), .fixed(k)])])
        model = ONNX.Model(
            irVersion: ONNXExport.irVersion, opset: ONNXExport.opset, producerName: "softlabel",
            producerVersion: producerVersion,
            docString: "A softmax classifier trained by softlabel. Input 'features': (N, \(d)) raw features in the order of " +
                "the metadata 'features' (standardisation is inside the graph). Output 'probabilities': (N, \(k)) in the " +
                "order of the metadata 'classes'.",
            graph: graph,
            metadata: [("classes", JSONValue.array(file.classes.map { .string($0) }).text),
                       ("features", JSONValue.array(file.features.map { .string($0) }).text),
                       ("temperature", JSONValue.float(file.temperature).text)])
    }
}

/// Why a model cannot be exported.
public struct ExportError: Error, Equatable, Sendable {
    public var message: String
}

/// Accumulates nodes and initializers, naming each node's output after the node.
private struct GraphBuilder {
    var nodes: [ONNX.Node] = []
    var initializers: [ONNX.Tensor] = []

    /// The name of an initializer holding `values`; a name already added is reused (the GELU constants).
    mutating func constant(_ name: String, dims: [Int], _ values: [Float]) -> String {
        if !initializers.contains(where: { $0.name == name }) {
            initializers.append(ONNX.Tensor(name: name, dims: dims, values: values))
        }
        return name
    }

    /// Adds a node and returns the name of its output.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], name: String, output: String? = nil,
                       attributes: [ONNX.Attribute] = []) -> String {
        let out = output ?? name
        nodes.append(ONNX.Node(opType: op, inputs: inputs, outputs: [out], name: name, attributes: attributes))
        return out
    }
}
