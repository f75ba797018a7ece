/// One line of the training curve.
public struct EpochRecord: Codable, Equatable, Sendable {
    public var epoch: Int
    /// Mean training loss over the epoch's minibatches (each measured before its update).
    public var trainLoss: Double
    /// Validation loss (the training loss kind, on the raw validation targets), KL(p‖q) and accuracy
    /// against the majority class; nil without validation data.
    public var valLoss: Double?
    public var valKL: Double?
    public var valAccuracy: Double?
    public var learningRate: Float
    /// Wall time of the epoch (not saved in model files: it would make them differ run to run).
    public var seconds: Double

    public init(epoch: Int, trainLoss: Double, valLoss: Double?, valKL: Double?, valAccuracy: Double?,
                learningRate: Float, seconds: Double) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.valLoss = valLoss
        self.valKL = valKL
        self.valAccuracy = valAccuracy
        self.learningRate = learningRate
        self.seconds = seconds
    }

    // Model files keep the curve but not the timings, so the same run always writes the same bytes.
    private enum CodingKeys: String, CodingKey {
        case epoch, trainLoss, valLoss, valKL, valAccuracy, learningRate
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epoch = try c.decode(Int.self, forKey: .epoch)
        trainLoss = try c.decode(Double.self, forKey: .trainLoss)
        valLoss = try c.decodeIfPresent(Double.self, forKey: .valLoss)
        valKL = try c.decodeIfPresent(Double.self, forKey: .valKL)
        valAccuracy = try c.decodeIfPresent(Double.self, forKey: .valAccuracy)
        learningRate = try c.decode(Float.self, forKey: .learningRate)
        seconds = 0
    }
}
