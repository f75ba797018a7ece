import Foundation

public enum ScheduleKind: String, Codable, CaseIterable, Sendable {
    case constant, step, cosine
}

/// The learning rate in force during each epoch (held constant within an epoch, so the per-epoch table
/// shows exactly the rate used).
public struct Schedule: Equatable, Sendable {
    public var kind: ScheduleKind
    public var baseRate: Float
    public var epochs: Int  // E, the planned number of epochs
    public var warmup: Int  // W epochs of linear warm-up
    public var stepEvery: Int
    public var stepGamma: Float

    public init(kind: ScheduleKind, baseRate: Float, epochs: Int, warmup: Int = 0, stepEvery: Int = 30,
                stepGamma: Float = 0.1) {
        self.kind = kind
        self.baseRate = baseRate
        self.epochs = epochs
        self.warmup = warmup
        self.stepEvery = stepEvery
        self.stepGamma = stepGamma
    }

    /// Learning rate for epoch e (1-based):
    ///   warm-up (e <= W):  lr · e / W
    ///   constant:          lr
    ///   step:              lr · γ^⌊(e - W - 1) / stepEvery⌋
    ///   cosine:            lr · ½ (1 + cos(π (e - W - 1) / (E - W)))   (from lr down towards 0)
    public func rate(epoch e: Int) -> Float {
        if e <= warmup { return baseRate * Float(e) / Float(warmup) }
        let after = e - warmup - 1
        switch kind {
        case .constant:
            return baseRate
        case .step:
            return baseRate * Float(pow(Double(stepGamma), Double(after / max(stepEvery, 1))))
        case .cosine:
            let span = max(epochs - warmup, 1)
            return Float(Double(baseRate) * 0.5 * (1 + cos(Double.pi * Double(after) / Double(span))))
        }
    }
}
