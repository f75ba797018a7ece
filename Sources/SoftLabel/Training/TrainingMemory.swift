/// What training a network of a given shape needs in memory, estimated before anything is allocated: an
/// absurd `--hidden 100000000` must be a clear error, not an allocation failure after the data is read.
///
/// The estimate counts the large buffers, in Floats: per parameter the weights, their gradient, the packed
/// copy the forward reads, the best and the last good network, the optimizer's state (Adam: 2 moments, SGD:
/// momentum, L-BFGS: 2 × memory + 4 vectors) and the running average; per row in flight (a minibatch, or a
/// 2,048-row chunk of the full-batch objective and of validation) each layer's output and its gradient,
/// padded to whole vectors; and the per-chunk weight gradients of layers with at most 16 outputs. Smaller
/// buffers are left out, so the figure is a lower bound of what the run will use.
public enum TrainingMemory {
    /// Bytes, or nil when the count overflows Int (certainly too large).
    public static func bytes(inputs d: Int, hidden: [Int], classes k: Int, config: TrainConfig) -> Int? {
        let widths = [d] + hidden + [k]
        var parameters = 0, activations = 0, partials = 0
        let rows = config.optimizer == .lbfgs ? 2048 : max(config.batchSize, 2048)
        let chunks = (rows + BatchStep.chunkRows - 1) / BatchStep.chunkRows
        for l in 0..<(widths.count - 1) {
            guard let w = mul(widths[l], widths[l + 1]), let p = add(w, widths[l + 1]),
                  let sum = add(parameters, p) else { return nil }
            parameters = sum
            if widths[l + 1] <= BatchStep.chunkedGradientOutputs {
                guard let c = mul(chunks, p), let s = add(partials, c) else { return nil }
                partials = s
            }
        }
        for w in widths {
            guard let a = add(activations, paddedWidth(w)) else { return nil }
            activations = a
        }
        let optimizer: Int
        switch config.optimizer {
        case .adam, .adamw: optimizer = 2
        case .sgd: optimizer = config.momentum > 0 ? 1 : 0
        case .lbfgs: optimizer = 2 * 10 + 4
        }
        let perParameter = 5 + optimizer + (config.averageEpochs > 0 ? 1 : 0)
        guard let a = mul(parameters, perParameter), let b = mul(mul(rows, activations) ?? .max, 2),
              let floats = add(add(a, b) ?? .max, partials) else { return nil }
        return mul(floats, MemoryLayout<Float>.size)
    }

    private static func mul(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.multipliedReportingOverflow(by: b)
        return o ? nil : r
    }

    private static func add(_ a: Int, _ b: Int) -> Int? {
        let (r, o) = a.addingReportingOverflow(b)
        return o ? nil : r
    }
}
