/// The network's parameters and their gradients as flat buffers, numbered as tensors: layer l's weight is
/// tensor 2l, its bias 2l + 1. Owned here (not in [Float]) so threads can update slices in place.
final class Parameters {
    let shapes: [(inputs: Int, outputs: Int)]
    let tensors: [UnsafeMutablePointer<Float>]
    let grads: [UnsafeMutablePointer<Float>]
    let sizes: [Int]

    init(_ network: Network) {
        shapes = network.layers.map { ($0.inputs, $0.outputs) }
        var sizes: [Int] = []
        for layer in network.layers { sizes += [layer.weight.count, layer.bias.count] }
        self.sizes = sizes
        tensors = sizes.map { UnsafeMutablePointer<Float>.allocate(capacity: $0) }
        grads = sizes.map { n in
            let g = UnsafeMutablePointer<Float>.allocate(capacity: n)
            g.initialize(repeating: 0, count: n)
            return g
        }
        load(network)
    }

    deinit {
        tensors.forEach { $0.deallocate() }
        grads.forEach { $0.deallocate() }
    }

    var layerCount: Int { shapes.count }
    func weight(_ l: Int) -> UnsafeMutablePointer<Float> { tensors[2 * l] }
    func bias(_ l: Int) -> UnsafeMutablePointer<Float> { tensors[2 * l + 1] }
    func dWeight(_ l: Int) -> UnsafeMutablePointer<Float> { grads[2 * l] }
    func dBias(_ l: Int) -> UnsafeMutablePointer<Float> { grads[2 * l + 1] }

    func load(_ network: Network) {
        for (l, layer) in network.layers.enumerated() {
            layer.weight.withUnsafeBufferPointer { weight(l).update(from: $0.baseAddress!, count: $0.count) }
            layer.bias.withUnsafeBufferPointer { bias(l).update(from: $0.baseAddress!, count: $0.count) }
        }
    }

    var network: Network {
        Network(layers: shapes.enumerated().map { l, s in
            Dense(inputs: s.inputs, outputs: s.outputs,
                  weight: Array(UnsafeBufferPointer(start: weight(l), count: s.inputs * s.outputs)),
                  bias: Array(UnsafeBufferPointer(start: bias(l), count: s.outputs)))
        })
    }

    /// All tensors concatenated in tensor order, as Double.
    var flat: [Double] {
        var out: [Double] = []
        out.reserveCapacity(sizes.reduce(0, +))
        for (t, n) in sizes.enumerated() { for e in 0..<n { out.append(Double(tensors[t][e])) } }
        return out
    }

    /// Sets every tensor from a concatenation in tensor order (rounded to Float).
    func setFlat(_ values: [Double]) {
        var offset = 0
        for (t, n) in sizes.enumerated() {
            for e in 0..<n { tensors[t][e] = Float(values[offset + e]) }
            offset += n
        }
    }

    var allFinite: Bool {
        for (t, n) in sizes.enumerated() {
            for e in 0..<n where !tensors[t][e].isFinite { return false }
        }
        return true
    }
}
