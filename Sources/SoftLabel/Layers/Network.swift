/// The model: a sequence of layers whose last one is dense and gives the logits; the prediction is their
/// softmax. A single dense layer is multinomial logistic regression.
public struct Network: Equatable, Sendable {
    public var layers: [Layer]

    /// `layers` must start from dense inputs, chain (each dense layer takes the width before it) and end with a
    /// dense layer (use `validated` for layers read from a file).
    public init(layers: [Layer]) {
        precondition(Network.problem(layers) == nil, Network.problem(layers) ?? "")
        self.layers = layers
    }

    /// What is wrong with a layer list as a network, if anything.
    public static func problem(_ layers: [Layer]) -> String? {
        guard case .dense(let first)? = layers.first(where: { if case .dense = $0 { return true } else { return false } }) else {
            return "the model has no dense layer"
        }
        guard case .dense? = layers.last else { return "the last layer must be dense (it gives the logits)" }
        var width = first.inputs
        for (l, layer) in layers.enumerated() {
            if case .dense(let d) = layer {
                guard d.inputs == width else {
                    return "layer \(l + 1) takes \(d.inputs) inputs but the layer before it gives \(width)"
                }
            }
            if case .dropout(let rate) = layer, !(rate >= 0 && rate < 1) {
                return "layer \(l + 1): dropout rate \(rate) is not in [0, 1)"
            }
            width = layer.outputs(inputs: width)
        }
        return nil
    }

    /// d inputs → for each hidden width: Dense (He-initialised), the activation, dropout if `dropout` > 0 →
    /// Dense to k logits. The output layer starts at zero for a linear model (convex objective) and
    /// He-initialised after hidden layers (breaks symmetry).
    public static func make(inputs d: Int, hidden: [Int], classes k: Int, activation: Activation = .relu,
                            dropout: Float = 0, rng: inout SplitMix64) -> Network {
        var layers: [Layer] = []
        var width = d
        for h in hidden {
            layers.append(.dense(.he(inputs: width, outputs: h, rng: &rng)))
            layers.append(.activation(activation))
            if dropout > 0 { layers.append(.dropout(rate: dropout)) }
            width = h
        }
        layers.append(.dense(hidden.isEmpty ? .zeros(inputs: width, outputs: k) : .he(inputs: width, outputs: k, rng: &rng)))
        return Network(layers: layers)
    }

    /// The settings `make` would build this network from: hidden widths, the (first) activation and the
    /// (first) dropout rate.
    public var shape: (hidden: [Int], activation: Activation, dropout: Float) {
        var activation = Activation.relu, dropout: Float = 0
        if let f = layers.lazy.compactMap({ if case .activation(let f) = $0 { return f } else { return nil } }).first { activation = f }
        if let p = layers.lazy.compactMap({ if case .dropout(let p) = $0 { return p } else { return nil } }).first { dropout = p }
        return (denseLayers.dropLast().map(\.outputs), activation, dropout)
    }

    /// The dense layers, in order.
    public var denseLayers: [Dense] { layers.compactMap { if case .dense(let d) = $0 { return d } else { return nil } } }
    /// The dense layer number `i` (0-based, counting dense layers only), to read or replace in place.
    public subscript(dense i: Int) -> Dense {
        get { denseLayers[i] }
        set {
            let positions = layers.indices.filter { if case .dense = layers[$0] { return true } else { return false } }
            precondition(newValue.inputs == denseLayers[i].inputs && newValue.outputs == denseLayers[i].outputs)
            layers[positions[i]] = .dense(newValue)
        }
    }
    public var denseCount: Int { denseLayers.count }
    public var inputs: Int { denseLayers[0].inputs }
    public var classes: Int { denseLayers[denseLayers.count - 1].outputs }
    /// The output width of each layer.
    public var widths: [Int] {
        var width = inputs
        return layers.map { width = $0.outputs(inputs: width); return width }
    }
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterShapes.reduce(0) { $0 + $1.count } } }
    public var isFinite: Bool { layers.allSatisfy { $0.tensors.allSatisfy { $0.allSatisfy(\.isFinite) } } }

    /// Logits for every row of x (n, d) → (n, k), by the one forward pass in blocks of 256 rows spread over
    /// the threads.
    public func logits(_ x: Matrix, parallel: Parallel = Parallel(threads: 1)) -> Matrix {
        precondition(x.cols == inputs)
        let n = x.rows, k = classes
        var out = Matrix(rows: n, cols: k)
        let params = Parameters(self)
        params.refreshPacked(parallel: parallel)
        let blocks = Parallel.split(n, parts: max(1, (n + 255) / 256), align: 4)
        let groups = Parallel.split(blocks.count, parts: parallel.threads)
        x.values.withUnsafeBufferPointer { xv in
            out.values.withUnsafeMutableBufferPointer { ov in
                let xb = xv.baseAddress!, ob = ov.baseAddress!
                parallel.run(tasks: groups.count) { t in
                    let work = Workspace(params: params, batch: 256, tasks: 1, training: false)
                    for b in groups[t] {
                        let rows = blocks[b], m = rows.count
                        let input = Rows(base: xb + rows.lowerBound * inputs, stride: inputs)
                        Network.forward(input, rows: 0..<m, params: params, work: work, mode: .inference,
                                        examples: ExampleIndex(index: nil, offset: rows.lowerBound))
                        let z = work.act[layers.count - 1], ld = work.stride[layers.count - 1]
                        for r in 0..<m { (ob + (rows.lowerBound + r) * k).update(from: z + r * ld, count: k) }
                    }
                }
            }
        }
        return out
    }

    /// The one forward pass (training, validation, prediction, calibration and the gradient check all run
    /// it): rows `rows` of the batch `x` through every layer, layer l's output into `work.act[l]` (batch,
    /// stride[l]) at the same row positions. Dense layers with a packed forward need `params`' packed panels current.
    /// `firstLayer`: tensors the first layer runs with in place of its own (`InputFolding`'s).
    static func forward(_ x: Rows, rows: Range<Int>, params: Parameters, work: Workspace, mode: PassMode,
                        examples: ExampleIndex, readAhead: Int? = nil,
                        firstLayer: UnsafePointer<UnsafeMutablePointer<Float>>? = nil) {
        var input = x
        var width = params.inputs
        for (l, layer) in params.layers.enumerated() {
            let context = LayerContext(parameters: (l == 0 ? firstLayer : nil) ?? params.tensors(ofLayer: l),
                                       packed: params.packed[l], layer: l, mode: mode, examples: examples,
                                       readAhead: l == 0 ? readAhead : nil)
            layer.forward(input, rows: rows, inputs: width, output: work.act[l], ldo: work.stride[l], context: context)
            input = Rows(base: work.act[l], stride: work.stride[l])
            width = params.widths[l]
        }
    }
}

extension Network: Codable {
    /// A network is stored as its list of layers (see `Layer`'s coding).
    public init(from decoder: Decoder) throws {
        let layers = try [Layer](from: decoder)
        if let problem = Network.problem(layers) {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: problem))
        }
        self.layers = layers
    }

    public func encode(to encoder: Encoder) throws { try layers.encode(to: encoder) }
}

/// Rounds a row width up to whole vectors: activation rows are padded so every row starts a fresh vector
/// and whole-vector loads and stores never touch the next row.
@inline(__always)
func paddedWidth(_ width: Int) -> Int { (width + vecWidth - 1) / vecWidth * vecWidth }

/// Per-batch buffers, allocated once per run: each layer's output (batch, stride[l]), stride[l] its width
/// rounded up to whole vectors; for training also each output's gradient, the per-chunk weight-gradient
/// shares of the dense layers that sum them per chunk, and per-task scratch.
final class Workspace {
    let stride: [Int]
    let act: [UnsafeMutablePointer<Float>]  // layer l output (batch, stride[l]); the last holds the logits
    let dz: [UnsafeMutablePointer<Float>]   // ∂L/∂(layer l output) (batch, stride[l]); training only
    let chunked: [Bool]                     // dense layer l sums dW per chunk (BatchStep.chunkedGradientOutputs)
    let partialWeight: [UnsafeMutablePointer<Float>?]  // (chunks, outputs_l, inputs_l) when chunked
    let partialBias: [UnsafeMutablePointer<Float>?]    // (chunks, outputs_l) when chunked
    let rowLoss: UnsafeMutablePointer<Float>  // (batch)
    let rowKL: UnsafeMutablePointer<Float>    // (batch) validation: KL(p‖q) per row
    let rowHit: UnsafeMutablePointer<Float>   // (batch) validation: 1 where argmax q = argmax p
    let q: UnsafeMutablePointer<Float>, logq: UnsafeMutablePointer<Float>  // (tasks, stride[last]) scratch
    private var owned: [UnsafeMutablePointer<Float>] = []

    init(params: Parameters, batch: Int, tasks: Int, training: Bool = true) {
        var owned: [UnsafeMutablePointer<Float>] = []
        func zeroed(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            owned.append(p)
            return p
        }
        let stride = params.widths.map(paddedWidth)
        self.stride = stride
        act = stride.map { zeroed(batch * $0) }
        let chunks = (batch + BatchStep.chunkRows - 1) / BatchStep.chunkRows
        chunked = params.layers.map { layer in
            guard training, case .dense(let d) = layer else { return false }
            return d.outputs <= BatchStep.chunkedGradientOutputs
        }
        var pw: [UnsafeMutablePointer<Float>?] = [], pb: [UnsafeMutablePointer<Float>?] = []
        for (l, layer) in params.layers.enumerated() {
            if chunked[l], case .dense(let d) = layer {
                pw.append(zeroed(chunks * d.inputs * d.outputs))
                pb.append(zeroed(chunks * d.outputs))
            } else {
                pw.append(nil)
                pb.append(nil)
            }
        }
        partialWeight = pw
        partialBias = pb
        dz = training ? stride.map { zeroed(batch * $0) } : []
        let kp = stride[stride.count - 1]
        rowLoss = zeroed(training ? batch : 0)
        rowKL = zeroed(training ? batch : 0)
        rowHit = zeroed(training ? batch : 0)
        q = zeroed(tasks * kp)
        logq = zeroed(tasks * kp)
        self.owned = owned
    }

    deinit { owned.forEach { $0.deallocate() } }
}
