/// The model: Dense layers with ReLU between them; the last Dense layer's outputs are the logits and the
/// prediction is their softmax. No hidden layers = multinomial logistic regression.
public struct Network: Codable, Equatable, Sendable {
    public var layers: [Dense]

    public init(layers: [Dense]) {
        precondition(!layers.isEmpty)
        for l in 1..<layers.count { precondition(layers[l].inputs == layers[l - 1].outputs) }
        self.layers = layers
    }

    /// d inputs → hidden widths (Dense + ReLU each, He-initialised) → k logits. The output layer starts at
    /// zero for a linear model (convex objective) and He-initialised after hidden layers (breaks symmetry).
    public static func make(inputs d: Int, hidden: [Int], classes k: Int, rng: inout SplitMix64) -> Network {
        var layers: [Dense] = []
        var width = d
        for h in hidden {
            layers.append(.he(inputs: width, outputs: h, rng: &rng))
            width = h
        }
        layers.append(hidden.isEmpty ? .zeros(inputs: width, outputs: k) : .he(inputs: width, outputs: k, rng: &rng))
        return Network(layers: layers)
    }

    public var inputs: Int { layers[0].inputs }
    public var classes: Int { layers[layers.count - 1].outputs }
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.weight.count + $1.bias.count } }
    public var isFinite: Bool { layers.allSatisfy { $0.weight.allSatisfy(\.isFinite) && $0.bias.allSatisfy(\.isFinite) } }

    /// Logits for every row of x (n, d) → (n, k), computed in blocks of rows spread over the threads.
    public func logits(_ x: Matrix, parallel: Parallel = Parallel(threads: 1)) -> Matrix {
        precondition(x.cols == inputs)
        let n = x.rows, k = classes
        var out = Matrix(rows: n, cols: k)
        let widest = layers.map(\.outputs).max()!
        let blocks = Parallel.split(n, parts: max(1, (n + 255) / 256), align: 4)
        let groups = Parallel.split(blocks.count, parts: parallel.threads)
        x.values.withUnsafeBufferPointer { xv in
            out.values.withUnsafeMutableBufferPointer { ov in
                let xb = xv.baseAddress!, ob = ov.baseAddress!
                parallel.run(tasks: groups.count) { t in
                    // Two ping-pong buffers for hidden activations, (256, widest) each.
                    let bufA = UnsafeMutablePointer<Float>.allocate(capacity: 256 * widest)
                    let bufB = UnsafeMutablePointer<Float>.allocate(capacity: 256 * widest)
                    defer { bufA.deallocate(); bufB.deallocate() }
                    for b in groups[t] {
                        let rows = blocks[b]
                        let m = rows.count
                        var input = Rows(base: xb + rows.lowerBound * inputs, stride: inputs)
                        var cur = bufA, other = bufB
                        for (l, layer) in layers.enumerated() {
                            let last = l == layers.count - 1
                            let dst = last ? ob + rows.lowerBound * k : cur
                            layer.weight.withUnsafeBufferPointer { w in
                                layer.bias.withUnsafeBufferPointer { bias in
                                    Dense.forward(x: input, rows: 0..<m, w: w.baseAddress!, b: bias.baseAddress!,
                                                  inputs: layer.inputs, outputs: layer.outputs, z: dst, ldz: layer.outputs)
                                }
                            }
                            if !last {
                                ReLU.forward(dst, count: m * layer.outputs)
                                input = Rows(base: UnsafePointer(dst), stride: layer.outputs)
                                swap(&cur, &other)
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
