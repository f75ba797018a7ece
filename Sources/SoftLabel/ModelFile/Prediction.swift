extension ModelFile {
    /// The features of `data` in the model's order (see `Dataset.features(orderedAs:file:)`).
    public func alignedFeatures(_ data: Dataset, file: String) throws -> (features: Matrix, ignored: [String]) {
        try data.features(orderedAs: features, file: file)
    }

    /// Logits for raw features (n, d) in the model's feature order: standardise, then the network; divided by
    /// the model's temperature.
    public func logits(_ rawFeatures: Matrix, parallel: Parallel) -> Matrix {
        var x = rawFeatures
        standardization?.apply(to: &x)
        var z = network.logits(x, parallel: parallel)
        if temperature != 1 { for i in z.values.indices { z.values[i] /= temperature } }
        return z
    }

    /// Predicted distributions softmax(z / T) for raw features (n, d) → (n, k).
    public func probabilities(_ rawFeatures: Matrix, parallel: Parallel) -> Matrix {
        let z = logits(rawFeatures, parallel: parallel)
        let k = z.cols
        var q = Matrix(rows: z.rows, cols: k)
        var logq = [Float](repeating: 0, count: k)
        z.values.withUnsafeBufferPointer { zb in
            q.values.withUnsafeMutableBufferPointer { qb in
                logq.withUnsafeMutableBufferPointer { lb in
                    for i in 0..<z.rows {
                        Softmax.forward(z: zb.baseAddress! + i * k, k: k, q: qb.baseAddress! + i * k, logq: lb.baseAddress!)
                    }
                }
            }
        }
        return q
    }
}
