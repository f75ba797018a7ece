/// A network's parameters and their gradients as flat buffers, numbered as tensors in layer order from the
/// layers' own `parameterShapes` (a dense layer: weight, then bias). Owned here (not in [Float]) so threads
/// can update slices in place.
final class Parameters {
    // Not Sendable: threads share the buffers through raw pointers inside `Parallel.run`, each writing only
    // the slices it owns (see BatchStep).
    let layers: [Layer]                // the structure (`Layer.structure`); the numbers live in `tensors`
    let inputs: Int                    // d, the width of the network's input
    let widths: [Int]                  // outputs of each layer
    let shapes: [ParameterShape]       // every tensor, in tensor order
    let first: [Int]                   // the first tensor of layer l (layers without parameters own none)
    let tensors: [UnsafeMutablePointer<Float>]
    let grads: [UnsafeMutablePointer<Float>]
    /// tensors and grads again, as C arrays a `LayerContext` points into (layer l's start at `first[l]`).
    private let tensorTable: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let gradTable: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    /// W packed in 64-column panels of Wᵀ (`packPanels`) for the dense layers that run their forward from them,
    /// nil for the others.
    let packed: [UnsafeMutablePointer<Float>?]
    /// The panels match W: set after a refresh, and by a training step's update, which repacks as it goes.
    var packedCurrent: [Bool]

    init(_ network: Network) {
        layers = network.layers.map(\.structure)
        inputs = network.inputs
        widths = network.widths
        var shapes: [ParameterShape] = [], first: [Int] = []
        for layer in layers {
            first.append(shapes.count)
            shapes += layer.parameterShapes
        }
        self.shapes = shapes
        self.first = first
        tensors = shapes.map { UnsafeMutablePointer<Float>.allocate(capacity: max($0.count, 1)) }
        grads = shapes.map { s in
            let g = UnsafeMutablePointer<Float>.allocate(capacity: max(s.count, 1))
            g.initialize(repeating: 0, count: max(s.count, 1))
            return g
        }
        tensorTable = .allocate(capacity: max(shapes.count, 1))
        tensorTable.initialize(from: tensors, count: tensors.count)
        gradTable = .allocate(capacity: max(shapes.count, 1))
        gradTable.initialize(from: grads, count: grads.count)
        packed = layers.map { layer in
            guard case .dense(let d) = layer, Dense.usesPackedForward(outputs: d.outputs) else { return nil }
            return UnsafeMutablePointer<Float>.allocate(capacity: packedCount(inputs: d.inputs, outputs: d.outputs))
        }
        packedCurrent = layers.map { _ in false }
        load(network)
    }

    deinit {
        tensors.forEach { $0.deallocate() }
        grads.forEach { $0.deallocate() }
        packed.forEach { $0?.deallocate() }
        tensorTable.deallocate()
        gradTable.deallocate()
    }

    var sizes: [Int] { shapes.map(\.count) }
    var layerCount: Int { layers.count }

    /// Layer l's tensors, as a `LayerContext` wants them.
    func tensors(ofLayer l: Int) -> UnsafePointer<UnsafeMutablePointer<Float>> { UnsafePointer(tensorTable + first[l]) }
    func grads(ofLayer l: Int) -> UnsafePointer<UnsafeMutablePointer<Float>> { UnsafePointer(gradTable + first[l]) }

    /// Sets the tensors from a network of the same structure (the packed panels are refreshed on next use).
    func load(_ network: Network) {
        for (l, layer) in network.layers.enumerated() {
            for (t, values) in layer.tensors.enumerated() {
                values.withUnsafeBufferPointer { tensors[first[l] + t].update(from: $0.baseAddress!, count: $0.count) }
            }
        }
        for l in packedCurrent.indices { packedCurrent[l] = false }
    }

    var network: Network { network(from: tensors.map { UnsafePointer($0) }) }

    /// Copies of every tensor, in tensor order (for a checkpoint).
    var tensorArrays: [[Float]] { zip(tensors, shapes).map { Array(UnsafeBufferPointer(start: $0, count: $1.count)) } }

    /// Sets every tensor from copies; false (nothing changed) when their sizes are not this network's.
    func load(tensors arrays: [[Float]]) -> Bool {
        guard arrays.map(\.count) == shapes.map(\.count) else { return false }
        for (t, a) in arrays.enumerated() { a.withUnsafeBufferPointer { tensors[t].update(from: $0.baseAddress!, count: $0.count) } }
        for l in packedCurrent.indices { packedCurrent[l] = false }
        return true
    }

    /// The network with these layers and tensors given as arrays (sizes as `tensorArrays`).
    func network(from arrays: [[Float]]) -> Network {
        Network(layers: layers.enumerated().map { l, layer in
            let count = layer.parameterShapes.count
            return count == 0 ? layer : layer.with(arrays: Array(arrays[first[l]..<(first[l] + count)]))
        })
    }

    /// The network with these layers and the given tensors (e.g. averaged weights), in tensor order.
    func network(from values: [UnsafePointer<Float>]) -> Network {
        Network(layers: layers.enumerated().map { l, layer in
            layer.with(tensors: Array(values[first[l]..<(first[l] + layer.parameterShapes.count)]))
        })
    }

    /// Makes the packed panels current for every layer that has them: input rows split across threads.
    func refreshPacked(parallel: Parallel) {
        for l in layers.indices where !packedCurrent[l] {
            guard let panels = packed[l], case .dense(let d) = layers[l] else { continue }
            let w = tensors[first[l]]
            let tasks = Parallel.partCount(d.inputs, parts: parallel.threads, align: 16)
            parallel.run(tasks: tasks) { t in
                packPanels(w, inputs: d.inputs, outputs: d.outputs,
                           rows: Parallel.part(t, of: tasks, count: d.inputs, align: 16), into: panels)
            }
            packedCurrent[l] = true
        }
    }

    /// All tensors concatenated in tensor order, as Double.
    var flat: [Double] {
        var out: [Double] = []
        out.reserveCapacity(sizes.reduce(0, +))
        for (t, s) in shapes.enumerated() { for e in 0..<s.count { out.append(Double(tensors[t][e])) } }
        return out
    }

    /// Adds every gradient, as Double, to `gradient` (the concatenation in tensor order, as `flat`): how a
    /// full-batch objective sums the gradients of its chunks.
    func addGradients(to gradient: inout [Double]) {
        var offset = 0
        for (t, s) in shapes.enumerated() {
            let g = grads[t]
            for e in 0..<s.count { gradient[offset + e] += Double(g[e]) }
            offset += s.count
        }
    }

    /// Sets every tensor from a concatenation in tensor order (rounded to Float).
    func setFlat(_ values: [Double]) {
        var offset = 0
        for (t, s) in shapes.enumerated() {
            for e in 0..<s.count { tensors[t][e] = Float(values[offset + e]) }
            offset += s.count
        }
        for l in packedCurrent.indices { packedCurrent[l] = false }
    }

    var allFinite: Bool {
        for (t, s) in shapes.enumerated() {
            for e in 0..<s.count where !tensors[t][e].isFinite { return false }
        }
        return true
    }
}
