/// Class weighting of the loss.
public enum ClassWeighting: String, Codable, CaseIterable, Sendable {
    /// Every example counts once.
    case none
    /// Class c gets w_c = N / (k M_c), M_c = Σ_i p_ic its total target mass; example i gets ω_i = Σ_c w_c p_ic
    /// (its target's expected class weight). Σ_i ω_i = N, so the mean loss keeps its scale.
    case balanced
}

/// Everything that decides what training computes; saved inside the model file. (`--threads` is not here:
/// it changes speed, never results.)
public struct TrainConfig: Codable, Equatable, Sendable {
    /// Passes over the training data (the most; early stopping may end sooner).
    public var epochs = 200
    /// Examples per minibatch; the last batch of an epoch may be smaller.
    public var batchSize = 128
    /// Adam adapts a per-weight step size, so one default rate suits most feature scales.
    public var optimizer = OptimizerKind.adam
    /// Base learning rate (the schedule scales it per epoch).
    public var learningRate: Float = 0.02
    /// SGD momentum μ.
    public var momentum: Float = 0.9
    /// SGD: use Nesterov momentum.
    public var nesterov = false
    /// Adam's β1 (first-moment decay), β2 (second-moment decay) and ε, the values of Kingma & Ba.
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    /// AdamW's decoupled weight decay λ (weights only; ignored by sgd and adam).
    public var weightDecay: Float = 0.01
    /// Coupled L2 penalty: the objective is mean loss + (l2/2) Σ W² over weights (not biases).
    public var l2: Float = 1e-3
    /// Learning-rate schedule; cosine anneals towards 0 so the last epochs settle near the optimum.
    public var schedule = ScheduleKind.cosine
    /// Epochs of linear warm-up before the schedule.
    public var warmup = 0
    /// Step schedule: multiply the rate by `stepGamma` every `stepEvery` epochs.
    public var stepEvery = 30
    public var stepGamma: Float = 0.1
    /// Hidden layer widths (Dense + ReLU each); empty = linear softmax model.
    public var hidden: [Int] = []
    /// Training loss.
    public var loss = LossKind.kl
    /// Targets mixed with uniform: (1 - ε) p + ε / k.
    public var labelSmoothing: Float = 0
    /// Targets raised to 1/T and renormalised: T < 1 sharpens, T > 1 softens.
    public var targetTemperature: Float = 1
    /// Example weighting by class.
    public var classWeight = ClassWeighting.none
    /// Fraction of the training file held out for validation when no validation file is given.
    public var valFraction: Double = 0
    /// Stop after this many epochs without a lower validation loss, keeping the best epoch (0 = off).
    public var patience = 0
    /// Seed of every random draw (shuffling, splitting, initialisation).
    public var seed: UInt64 = 1
    /// z-score the features with the training data's mean and std.
    public var standardize = true

    public init() {}
}
