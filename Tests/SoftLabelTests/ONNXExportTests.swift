import Foundation
import Testing
import TestSupport
@testable import SoftLabel

/// `ONNXExport`: the exact bytes for the README's example model (as onnx's own protobuf library writes them),
/// and, for every kind of model, a graph that computes what `predict` computes. The graph is read back from
/// the bytes by a protobuf reader and run by an evaluator written here in Double, sharing no code with the
/// exporter (none of its folding arithmetic), so a wrong fold, layout or operator shows as a wrong number.
@Suite struct ONNXExportTests {
    static let summary = TrainingSummary(examples: 0, validationExamples: 0, epochsRun: 0, keptEpoch: 0, stoppedEarly: false,
                                         converged: false, finalTrainLoss: nil, validationLoss: nil, validationKL: nil,
                                         validationAccuracy: nil, history: [])

    /// The README's worked example, exported, is byte for byte what Scripts/make_onnx_fixture.py builds with
    /// onnx.helper and serialises with protobuf (pinned in Tests/Fixtures/models/readme_example.onnx.hex).
    @Test func readmeExampleBytesMatchTheProtobufLibrary() throws {
        let model = try ModelFile.load(path: fixture("models/readme_example.json"))
        let bytes = try ONNXExport(model, producerVersion: "0.3.0").encoded()
        let hex = try String(contentsOfFile: fixture("models/readme_example.onnx.hex"), encoding: .utf8)
            .split(whereSeparator: \.isNewline).joined()
        let expected = stride(from: 0, to: hex.count, by: 2).map { i -> UInt8 in
            let start = hex.index(hex.startIndex, offsetBy: i)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
        #expect(bytes.count == expected.count)
        let first = zip(bytes, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(first == nil, "first differing byte at offset \(first ?? -1)")
    }

    /// The README's hand computation: x = (10, 5) gives (0.8175745, 0.1824255); and a loader that reads the
    /// square output layer transposed would get (0.5, 0.5), as the README says.
    @Test func readmeExamplePredictsTheHandComputedNumbers() throws {
        var model = try ModelFile.load(path: fixture("models/readme_example.json"))
        let x = Matrix(rows: 1, cols: 2, values: [10, 5])
        let q = try model.probabilities(x, parallel: Parallel(threads: 1))
        let e = exp(-1.5)
        #expect(abs(Double(q[0, 0]) - 1 / (1 + e)) < 1e-7 && abs(Double(q[0, 1]) - e / (1 + e)) < 1e-7)
        #expect(abs(Double(q[0, 0]) - 0.8175745) < 1e-7)
        let w = model.network[dense: 1].weight
        model.network[dense: 1].weight = [w[0], w[2], w[1], w[3]]
        let transposed = try model.probabilities(x, parallel: Parallel(threads: 1))
        #expect(transposed.values == [0.5, 0.5])
    }

    /// Every kind of model: the evaluated graph equals `probabilities` (Float) to 1e-5, and has the expected
    /// operators and standardisation placement.
    @Test(arguments: ExportCase.all.indices)
    func graphComputesThePrediction(_ c: Int) throws {
        let test = ExportCase.all[c]
        let model = test.model()
        let export = try ONNXExport(model, producerVersion: "test")
        #expect(export.operators == test.operators, "\(test.name)")
        #expect(export.standardization == test.placement, "\(test.name)")
        let graph = try DecodedModel(export.encoded())
        var g = TestData(seed: 99)
        let n = 37
        var x = g.matrix(n, model.features.count, scale: 3)
        if let s = model.standardization {  // around the training mean, as real data would be
            for i in 0..<n { for j in 0..<x.cols { x[i, j] += s.mean[j] } }
        }
        let expected = try model.probabilities(x, parallel: Parallel(threads: 1))
        let got = try graph.run(x.values.map(Double.init), rows: n)
        #expect(got.count == expected.values.count)
        let worst = zip(got, expected.values).map { abs($0 - Double($1)) }.max()!
        #expect(worst < 1e-5, "\(test.name): largest difference \(worst)")
    }

    /// The model-level facts a runtime relies on: opset 13 of the default domain, IR 7, one input `features`
    /// (N, d) and one output `probabilities` (N, k) of float32, the names in the metadata, the producer.
    @Test func modelHeader() throws {
        let model = ExportCase.all[2].model()
        let graph = try DecodedModel(try ONNXExport(model, producerVersion: "9.9.9").encoded())
        #expect(graph.irVersion == 7 && graph.opsets == [":13"])  // "" is the default domain, ai.onnx
        #expect(graph.producer == "softlabel 9.9.9")
        #expect(graph.inputs == ["features: float32 (N, 5)"] && graph.outputs == ["probabilities: float32 (N, 3)"])
        #expect(graph.metadata["classes"] == "[\"a\", \"b\", \"c,\\\"d\\\"\"]")
        #expect(graph.metadata["features"] == "[\"f0\", \"f1\", \"f2\", \"f3\", \"f4\"]")
        #expect(graph.metadata["temperature"] == "0.75")
        #expect(graph.nodeDomains.allSatisfy { $0 == "" })
        let classes = try JSONSerialization.jsonObject(with: Data(graph.metadata["classes"]!.utf8)) as? [String]
        #expect(classes == model.classes)
    }

    /// Folding a standardisation into weights that overflow float32 is an error, not an infinite weight.
    @Test func overflowingFoldIsRefused() throws {
        let network = Network(layers: [.dense(Dense(inputs: 1, outputs: 2, weight: [1e30, 1], bias: [0, 0]))])
        let model = ModelFile(classes: ["a", "b"], features: ["x"], standardization: Standardizer(mean: [0], std: [1e-20]),
                              network: network, config: TrainConfig(), training: Self.summary)
        #expect(throws: ExportError.self) { try ONNXExport(model, producerVersion: "test") }
    }
}

/// One model shape to export.
struct ExportCase: Sendable {
    var name: String
    var d: Int
    var layers: [Layer]
    var standardizer: Standardizer?
    var temperature: Float
    var operators: [String]
    /// Where the exporter must put the standardisation.
    var placement: ONNXExport.Standardization

    init(_ name: String, d: Int, _ layers: [Layer], standardization: Standardizer?, temperature: Float = 1,
         operators: [String], placement: ONNXExport.Standardization) {
        self.name = name
        self.d = d
        self.layers = layers
        self.standardizer = standardization
        self.temperature = temperature
        self.operators = operators
        self.placement = placement
    }

    func model() -> ModelFile {
        let k = layers.last.map { if case .dense(let dense) = $0 { return dense.outputs } else { return 0 } }!
        let classes = ["a", "b", "c,\"d\"", "e", "f"].prefix(k)
        return ModelFile(classes: Array(classes), features: (0..<d).map { "f\($0)" }, standardization: standardizer,
                         temperature: temperature, network: Network(layers: layers), config: TrainConfig(),
                         training: ONNXExportTests.summary)
    }

    static func dense(_ i: Int, _ o: Int, seed: UInt64) -> Layer {
        var rng = SplitMix64(seed: seed)
        let w = (0..<(i * o)).map { _ in Float(rng.nextGaussian() * 0.8) }
        let b = (0..<o).map { _ in Float(rng.nextGaussian() * 0.3) }
        return .dense(Dense(inputs: i, outputs: o, weight: w, bias: b))
    }

    static let gelu = ["Div", "Erf", "Add", "Mul", "Mul"]
    /// Means within 4 standard deviations of 0, one constant feature (std 0).
    static let near = Standardizer(mean: [0.5, -2, 3, 10, 0.25], std: [1, 2, 0, 4, 0.5])
    /// Feature 1 has its mean 1000 standard deviations from 0.
    static let far = Standardizer(mean: [0.5, 1000, 3, 10, 0.25], std: [1, 1, 0, 4, 0.5])

    static let all: [ExportCase] = [
        ExportCase("linear, no standardisation", d: 5, [dense(5, 3, seed: 1)], standardization: nil,
                   operators: ["Gemm", "Softmax"], placement: .none),
        ExportCase("linear, standardised, constant feature", d: 5, [dense(5, 3, seed: 2)], standardization: near,
                   operators: ["Gemm", "Softmax"], placement: .folded),
        ExportCase("linear, standardised, calibrated", d: 5, [dense(5, 3, seed: 3)], standardization: near, temperature: 0.75,
                   operators: ["Gemm", "Softmax"], placement: .folded),
        ExportCase("relu, square layers, dropout, calibrated", d: 5,
                   [dense(5, 5, seed: 4), .activation(.relu), .dropout(rate: 0.3), dense(5, 5, seed: 5)],
                   standardization: near, temperature: 1.7, operators: ["Gemm", "Relu", "Gemm", "Softmax"], placement: .folded),
        ExportCase("gelu then tanh", d: 5,
                   [dense(5, 6, seed: 6), .activation(.gelu), dense(6, 4, seed: 7), .activation(.tanh), dense(4, 2, seed: 8)],
                   standardization: near, operators: ["Gemm"] + gelu + ["Gemm", "Tanh", "Gemm", "Softmax"], placement: .folded),
        ExportCase("two gelu layers share the constants", d: 5,
                   [dense(5, 4, seed: 9), .activation(.gelu), .dropout(rate: 0.1), dense(4, 4, seed: 10), .activation(.gelu),
                    dense(4, 3, seed: 11)],
                   standardization: nil, temperature: 3, operators: ["Gemm"] + gelu + ["Gemm"] + gelu + ["Gemm", "Softmax"],
                   placement: .none),
        ExportCase("a feature far from 0: Sub node", d: 5, [dense(5, 4, seed: 12), .activation(.relu), dense(4, 3, seed: 13)],
                   standardization: far, operators: ["Sub", "Gemm", "Relu", "Gemm", "Softmax"],
                   placement: .meanSubtracted(feature: "f1", sigmas: 1000)),
        ExportCase("starts with an activation: Sub and Mul nodes", d: 5, [.activation(.tanh), dense(5, 3, seed: 14)],
                   standardization: near, temperature: 0.5, operators: ["Sub", "Mul", "Tanh", "Gemm", "Softmax"], placement: .nodes),
    ]
}

/// An ONNX model read back from its bytes by a protobuf reader of its own, and run in Double.
struct DecodedModel {
    struct Node {
        var op: String
        var inputs: [String]
        var outputs: [String]
        var ints: [String: Int64]
        var domain: String
    }
    var irVersion: Int64 = 0
    var opsets: [String] = []
    var producer = ""
    var metadata: [String: String] = [:]
    var nodes: [Node] = []
    var initializers: [String: (dims: [Int], values: [Double])] = [:]
    var inputs: [String] = []
    var outputs: [String] = []
    var nodeDomains: [String] { nodes.map(\.domain) }

    struct Malformed: Error { var what: String }

    /// One field of a message: its number and its value (a varint, 4 bytes, or a length-delimited payload).
    enum Value {
        case varint(UInt64)
        case fixed32(UInt32)
        case bytes(ArraySlice<UInt8>)

        var int: Int64 { if case .varint(let v) = self { return Int64(bitPattern: v) } else { return .min } }
        var data: ArraySlice<UInt8> { if case .bytes(let b) = self { return b } else { return [] } }
        var string: String { String(decoding: data, as: UTF8.self) }
    }

    static func fields(_ bytes: ArraySlice<UInt8>) throws -> [(Int, Value)] {
        var out: [(Int, Value)] = []
        var i = bytes.startIndex
        func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard i < bytes.endIndex, shift < 64 else { throw Malformed(what: "truncated varint") }
                let b = bytes[i]
                i += 1
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }
        while i < bytes.endIndex {
            let key = try varint()
            let field = Int(key >> 3)
            switch key & 7 {
            case 0: out.append((field, .varint(try varint())))
            case 5:
                guard i + 4 <= bytes.endIndex else { throw Malformed(what: "truncated fixed32") }
                out.append((field, .fixed32(bytes[i..<i + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) })))
                i += 4
            case 2:
                let n = Int(try varint())
                guard i + n <= bytes.endIndex else { throw Malformed(what: "truncated field \(field)") }
                out.append((field, .bytes(bytes[i..<i + n])))
                i += n
            default: throw Malformed(what: "wire type \(key & 7)")
            }
        }
        return out
    }

    init(_ bytes: [UInt8]) throws {
        for (f, v) in try Self.fields(bytes[...]) {
            switch f {
            case 1: irVersion = v.int
            case 2: producer = v.string
            case 3: producer += " " + v.string
            case 7: try readGraph(v.data)
            case 8:
                let op = try Self.fields(v.data)
                opsets.append((op.first { $0.0 == 1 }?.1.string ?? "") + ":" + String(op.first { $0.0 == 2 }?.1.int ?? -1))
            case 14:
                let e = try Self.fields(v.data)
                metadata[e.first { $0.0 == 1 }!.1.string] = e.first { $0.0 == 2 }!.1.string
            default: break
            }
        }
    }

    private mutating func readGraph(_ bytes: ArraySlice<UInt8>) throws {
        for (f, v) in try Self.fields(bytes) {
            switch f {
            case 1:
                var node = Node(op: "", inputs: [], outputs: [], ints: [:], domain: "")
                for (nf, nv) in try Self.fields(v.data) {
                    switch nf {
                    case 1: node.inputs.append(nv.string)
                    case 2: node.outputs.append(nv.string)
                    case 4: node.op = nv.string
                    case 7: node.domain = nv.string
                    case 5:
                        let a = try Self.fields(nv.data)
                        let name = a.first { $0.0 == 1 }!.1.string
                        guard a.first(where: { $0.0 == 20 })?.1.int == 2 else { throw Malformed(what: "attribute \(name) not INT") }
                        node.ints[name] = a.first { $0.0 == 3 }!.1.int
                    default: break
                    }
                }
                nodes.append(node)
            case 5:
                var dims: [Int] = [], values: [Double] = [], name = ""
                for (tf, tv) in try Self.fields(v.data) {
                    switch tf {
                    case 1: dims.append(Int(tv.int))
                    case 2: guard tv.int == 1 else { throw Malformed(what: "tensor type \(tv.int)") }
                    case 4:
                        let b = Array(tv.data)
                        values = stride(from: 0, to: b.count, by: 4).map { i in
                            Double(Float(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24))
                        }
                    case 8: name = tv.string
                    default: break
                    }
                }
                guard values.count == dims.reduce(1, *) else { throw Malformed(what: "tensor \(name) size") }
                initializers[name] = (dims, values)
            case 11, 12:
                let info = try Self.fields(v.data)
                let name = info.first { $0.0 == 1 }!.1.string
                let tensor = try Self.fields(try Self.fields(info.first { $0.0 == 2 }!.1.data).first { $0.0 == 1 }!.1.data)
                let type = tensor.first { $0.0 == 1 }!.1.int == 1 ? "float32" : "other"
                let dims = try Self.fields(tensor.first { $0.0 == 2 }!.1.data).map { dim -> String in
                    let d = try Self.fields(dim.1.data)[0]
                    return d.0 == 1 ? String(d.1.int) : d.1.string
                }
                let text = "\(name): \(type) (\(dims.joined(separator: ", ")))"
                if f == 11 { inputs.append(text) } else { outputs.append(text) }
            default: break
            }
        }
    }

    /// Runs the graph on `x` (rows, d) row-major; returns the `probabilities` output, row-major.
    func run(_ x: [Double], rows n: Int) throws -> [Double] {
        // value name → (width, row-major values); scalars and vectors are initializers, broadcast over rows.
        var values: [String: (cols: Int, v: [Double])] = ["features": (x.count / n, x)]
        func operand(_ name: String) throws -> (cols: Int, v: [Double], perRow: Bool) {
            if let a = values[name] { return (a.cols, a.v, true) }
            guard let t = initializers[name] else { throw Malformed(what: "unknown value \(name)") }
            return (t.dims.last ?? 1, t.values, false)
        }
        func elementwise(_ a: String, _ b: String, _ f: (Double, Double) -> Double) throws -> (Int, [Double]) {
            let x = try operand(a), y = try operand(b)
            precondition(x.perRow, "first operand must be a batch value")
            let cols = x.cols
            return (cols, x.v.indices.map { idx in
                let other = y.perRow ? y.v[idx] : (y.v.count == 1 ? y.v[0] : y.v[idx % cols])  // scalar or (cols)
                return f(x.v[idx], other)
            })
        }
        for node in nodes {
            let out: (Int, [Double])
            switch node.op {
            case "Gemm":
                guard node.ints["transB"] == 1, node.ints["transA"] ?? 0 == 0 else { throw Malformed(what: "Gemm attributes") }
                let a = try operand(node.inputs[0]), w = initializers[node.inputs[1]]!, b = initializers[node.inputs[2]]!
                let o = w.dims[0], i = w.dims[1]
                guard a.cols == i, b.values.count == o else { throw Malformed(what: "Gemm shapes") }
                var z = [Double](repeating: 0, count: n * o)
                for r in 0..<n {
                    for c in 0..<o {
                        var s = b.values[c]
                        for j in 0..<i { s += a.v[r * i + j] * w.values[c * i + j] }  // B (o, i), transB: A Bᵀ
                        z[r * o + c] = s
                    }
                }
                out = (o, z)
            case "Relu": let a = try operand(node.inputs[0]); out = (a.cols, a.v.map { max($0, 0) })
            case "Tanh": let a = try operand(node.inputs[0]); out = (a.cols, a.v.map { Foundation.tanh($0) })
            case "Erf": let a = try operand(node.inputs[0]); out = (a.cols, a.v.map { Foundation.erf($0) })
            case "Add": out = try elementwise(node.inputs[0], node.inputs[1], +)
            case "Sub": out = try elementwise(node.inputs[0], node.inputs[1], -)
            case "Mul": out = try elementwise(node.inputs[0], node.inputs[1], *)
            case "Div": out = try elementwise(node.inputs[0], node.inputs[1], /)
            case "Softmax":
                guard node.ints["axis"] == -1 else { throw Malformed(what: "Softmax axis") }
                let a = try operand(node.inputs[0]), k = a.cols
                var q = a.v
                for r in 0..<n {
                    let row = a.v[r * k..<(r + 1) * k], m = row.max()!
                    let e = row.map { Foundation.exp($0 - m) }, s = e.reduce(0, +)
                    for c in 0..<k { q[r * k + c] = e[c] / s }
                }
                out = (k, q)
            default:
                throw Malformed(what: "operator \(node.op) not in this evaluator")
            }
            values[node.outputs[0]] = out
        }
        guard let q = values["probabilities"] else { throw Malformed(what: "no probabilities output") }
        return q.v
    }
}
