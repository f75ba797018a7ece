/// One step of the model. A network is an array of layers applied in order; the last one's outputs are the
/// logits and the prediction is their softmax.
///
/// Each case has its forward, its backward and its parameter shapes side by side (in this file the dispatch,
/// in the case's own file the arithmetic). Adding a layer kind means a case here and a file of its own; adding
/// an activation means a case of `Activation`, nothing else.
///
/// In a model file each layer is an object with a `kind`: `{"kind": "dense", "inputs": i, "outputs": o,
/// "weight": [...], "bias": [...]}`, `{"kind": "relu"}` (or another activation's name), `{"kind": "dropout",
/// "rate": p}`.
public enum Layer: Equatable, Sendable {
    /// Z = X Wᵀ + b (Dense.swift).
    case dense(Dense)
    /// A = f(Z) elementwise (Activation.swift).
    case activation(Activation)
    /// Inverted dropout with drop probability `rate` in training; the identity at inference (Dropout.swift).
    case dropout(rate: Float)

    /// The number of outputs given the number of inputs.
    public func outputs(inputs: Int) -> Int {
        switch self {
        case .dense(let d): return d.outputs
        case .activation, .dropout: return inputs
        }
    }

    /// The parameter tensors of the layer, in the order `Parameters` numbers them.
    var parameterShapes: [ParameterShape] {
        switch self {
        case .dense(let d):
            return [ParameterShape(rows: d.outputs, cols: d.inputs, penalised: true),  // W (o, i)
                    ParameterShape(rows: d.outputs, cols: 1, penalised: false)]        // b (o)
        case .activation, .dropout:
            return []
        }
    }

    /// The layer with its parameter tensors replaced by `tensors` (as many as `parameterShapes`).
    func with(tensors: [UnsafePointer<Float>]) -> Layer {
        switch self {
        case .dense(let d):
            return .dense(Dense(inputs: d.inputs, outputs: d.outputs,
                                weight: Array(UnsafeBufferPointer(start: tensors[0], count: d.inputs * d.outputs)),
                                bias: Array(UnsafeBufferPointer(start: tensors[1], count: d.outputs))))
        case .activation, .dropout:
            return self
        }
    }

    /// The layer with its parameter tensors replaced by arrays (as many as `parameterShapes`, of their sizes).
    func with(arrays: [[Float]]) -> Layer {
        switch self {
        case .dense(let d): return .dense(Dense(inputs: d.inputs, outputs: d.outputs, weight: arrays[0], bias: arrays[1]))
        case .activation, .dropout: return self
        }
    }

    /// The layer without its numbers (a dense layer's weight and bias arrays empty): what `Parameters` keeps
    /// while the numbers live in its buffers. Every copy of a layer retains its arrays, and the threads of a
    /// minibatch copy the same layers at the same moments: with the arrays there, each copy was an atomic
    /// add on a reference count the other cores had just written (two dozen per batch).
    var structure: Layer {
        guard case .dense(var d) = self else { return self }
        d.weight = []
        d.bias = []
        return .dense(d)
    }

    /// The layer's parameter tensors as arrays (as many as `parameterShapes`).
    var tensors: [[Float]] {
        switch self {
        case .dense(let d): return [d.weight, d.bias]
        case .activation, .dropout: return []
        }
    }

    /// Forward of rows `rows` of a batch: `input` rows (i wide) → `output` rows (o wide, row stride `ldo`).
    @inline(__always)
    func forward(_ input: Rows, rows: Range<Int>, inputs: Int, output: UnsafeMutablePointer<Float>, ldo: Int,
                 context c: LayerContext) {
        switch self {
        case .dense(let d):
            if let packed = c.packed {
                Dense.forwardPacked(x: input, rows: rows, packed: packed, b: c.tensor(1), inputs: d.inputs, outputs: d.outputs,
                                    z: output, ldz: ldo)
            } else {
                Dense.forward(x: input, rows: rows, w: c.tensor(0), b: c.tensor(1), inputs: d.inputs, outputs: d.outputs,
                              z: output, ldz: ldo, readAhead: c.readAhead)
            }
        case .activation(let f):
            for r in rows { f.forward(input.row(r), output + r * ldo, count: inputs) }
        case .dropout(let rate):
            Dropout.forward(input, rows: rows, width: inputs, rate: rate, output: output, ldo: ldo, context: c)
        }
    }

    /// Backward to the input for rows `rows`: from dOut (∂L/∂output, row stride `ldo`) and the forward's input
    /// and output, writes dIn (∂L/∂input, row stride `ldi`). Parameter gradients are `Dense`'s own.
    @inline(__always)
    func backward(dOut: UnsafePointer<Float>, ldo: Int, input: Rows, output: UnsafePointer<Float>, rows: Range<Int>,
                  inputs: Int, dIn: UnsafeMutablePointer<Float>, ldi: Int, context c: LayerContext) {
        switch self {
        case .dense(let d):
            Dense.backwardInput(dz: dOut, ldz: ldo, rows: rows, w: c.tensor(0), inputs: d.inputs, outputs: d.outputs,
                                dx: dIn, ldx: ldi)
        case .activation(let f):
            for r in rows {
                f.backward(dOut + r * ldo, input: input.row(r), output: output + r * ldo, dIn: dIn + r * ldi, count: inputs)
            }
        case .dropout(let rate):
            Dropout.backward(dOut: dOut, ldo: ldo, rows: rows, width: inputs, rate: rate, dIn: dIn, ldi: ldi, context: c)
        }
    }
}

/// The shape of one parameter tensor: (rows, cols) row-major; `penalised` tensors take the L2 penalty and
/// decoupled weight decay (weights do, biases do not).
public struct ParameterShape: Equatable, Sendable {
    public var rows: Int
    public var cols: Int
    public var penalised: Bool
    public var count: Int { rows * cols }
}

/// How a forward pass runs: for training (dropout active, its masks keyed by seed and epoch) or for inference.
public enum PassMode: Equatable, Sendable {
    case inference
    case training(seed: UInt64, epoch: Int)
}

/// What a layer's forward and backward see besides their data: its parameter tensors, the pass mode, and
/// which stored example each batch row is (dropout masks are keyed by it, not by the row's batch position).
struct LayerContext {
    var parameters: UnsafePointer<UnsafeMutablePointer<Float>>?  // the layer's tensors (Layer.parameterShapes)
    /// W packed in 64-column panels of Wᵀ for a dense layer that runs its forward from them.
    var packed: UnsafeMutablePointer<Float>?
    var layer: Int  // position in the network
    var mode: PassMode
    var examples: ExampleIndex
    /// The end of the rows this thread's forward reads next (its chunks run on past `rows`): a dense layer
    /// reading gathered rows asks for them ahead up to there (nil: up to the end of `rows`).
    var readAhead: Int? = nil

    @inline(__always) func tensor(_ t: Int) -> UnsafeMutablePointer<Float> { parameters![t] }
}

/// The stored example behind each row of a batch: index[r] when the batch is a shuffled selection, else
/// offset + r.
struct ExampleIndex {
    var index: UnsafePointer<Int>?
    var offset: Int

    @inline(__always) func callAsFunction(_ r: Int) -> Int { index?[r] ?? offset + r }
}

extension Layer: Codable {
    private enum CodingKeys: String, CodingKey { case kind, rate }
    private enum Kind: String, Codable { case dense, dropout }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(String.self, forKey: .kind)
        if let f = Activation(rawValue: kind) {
            self = .activation(f)
            return
        }
        switch Kind(rawValue: kind) {
        case .dense: self = .dense(try Dense(from: decoder))
        case .dropout: self = .dropout(rate: try c.decode(Float.self, forKey: .rate))
        case nil:
            let known = ([Kind.dense.rawValue, Kind.dropout.rawValue] + Activation.allCases.map(\.rawValue)).joined(separator: ", ")
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c,
                                                   debugDescription: "unknown layer kind '\(kind)' (known: \(known))")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .dense(let d):
            try c.encode(Kind.dense.rawValue, forKey: .kind)
            try d.encode(to: encoder)
        case .activation(let f):
            try c.encode(f.rawValue, forKey: .kind)
        case .dropout(let rate):
            try c.encode(Kind.dropout.rawValue, forKey: .kind)
            try c.encode(rate, forKey: .rate)
        }
    }
}
