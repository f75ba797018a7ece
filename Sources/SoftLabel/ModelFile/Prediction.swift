extension ModelFile {
    /// The features of `data` in the model's order (see `Dataset.features(orderedAs:file:)`).
    public func alignedFeatures(_ data: Dataset, file: String) throws -> (features: Matrix, ignored: [String]) {
        try data.features(orderedAs: features, file: file)
    }

    /// Logits for raw features (n, d) in the model's feature order: standardise, then the network; divided by
    /// the model's temperature. Every logit is finite, or the first row with one that is not is the error.
    public func logits(_ rawFeatures: Matrix, parallel: Parallel) throws(NonFinitePrediction) -> Matrix {
        var x = rawFeatures
        standardization?.apply(to: &x)
        var z = network.logits(x, parallel: parallel)
        if temperature != 1 { for i in z.values.indices { z.values[i] /= temperature } }
        if let bad = z.values.firstIndex(where: { !$0.isFinite }) { throw NonFinitePrediction(row: bad / max(z.cols, 1)) }
        return z
    }

    /// Predicted distributions softmax(z / T) for raw features (n, d) → (n, k), by the training code's softmax.
    public func probabilities(_ rawFeatures: Matrix, parallel: Parallel) throws(NonFinitePrediction) -> Matrix {
        let z = try logits(rawFeatures, parallel: parallel)
        let k = z.cols, kp = paddedWidth(k)
        var q = Matrix(rows: z.rows, cols: k)
        // One padded row at a time: the logits, then q and log q (whole vectors, as in training).
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 3 * kp)
        defer { scratch.deallocate() }
        scratch.initialize(repeating: 0, count: 3 * kp)
        z.values.withUnsafeBufferPointer { zb in
            q.values.withUnsafeMutableBufferPointer { qb in
                for i in 0..<z.rows {
                    scratch.update(from: zb.baseAddress! + i * k, count: k)
                    Softmax.forwardPadded(z: scratch, k: k, kp: kp, q: scratch + kp, logq: scratch + 2 * kp)
                    (qb.baseAddress! + i * k).update(from: scratch + kp, count: k)
                }
            }
        }
        return q
    }
}

/// The model's prediction for a row is not finite (NaN or infinite logits): a feature far outside what the
/// model was trained on, or a model whose numbers overflow. `row` is 0-based.
public struct NonFinitePrediction: Error, Equatable, Sendable {
    public var row: Int
}
