import Foundation

/// Exponential moving average of the parameters (Polyak averaging), zero-started and bias-corrected:
///   a ← β a + (1 - β) θ after every step;   θ̄ = a / (1 - β^t).
final class WeightAverage {
    let params: Parameters
    let decay: Float
    let sums: StateBuffers
    var steps = 0

    init(params: Parameters, decay: Double) {
        self.params = params
        self.decay = Float(decay)
        sums = StateBuffers(sizes: params.sizes)
    }

    func accumulate() {
        steps += 1
        let b = decay, c = 1 - decay
        for (t, n) in params.sizes.enumerated() {
            let a = sums[t], theta = params.tensors[t]
            for e in 0..<n { a[e] = flushSubnormal(b * a[e] + c * theta[e]) }  // see flushSubnormals
        }
    }

    var network: Network {
        guard steps > 0 else { return params.network }
        let correction = Float(1 - pow(Double(decay), Double(steps)))
        let corrected = params.sizes.enumerated().map { t, n in
            let out = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            for e in 0..<n { out[e] = sums[t][e] / correction }
            return out
        }
        defer { corrected.forEach { $0.deallocate() } }
        return params.network(from: corrected.map { UnsafePointer($0) })
    }
}
