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
///
/// Saved with Swift's synthesised coding (each key is the property's name); a model file from an older
/// version that lacks a newer key decodes with today's default for it (`DecodingDefaults`).
public struct TrainConfig: Codable, Equatable, Sendable {
    /// Passes over the training data, at most (early stopping or L-BFGS convergence may end sooner).
    /// One L-BFGS iteration counts as one epoch.
    public var epochs = 1000
    /// Examples per minibatch; the last batch of an epoch may be smaller (not used by lbfgs).
    public var batchSize = 128
    /// Full-batch L-BFGS for a linear model: its objective is convex and L-BFGS reaches the optimum itself,
    /// with no learning rate to tune. See `defaults(hidden:optimizer:)` for networks.
    public var optimizer = OptimizerKind.lbfgs
    /// Base learning rate of the minibatch optimizers (the schedule scales it per epoch).
    public var learningRate: Float = 0.01
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
    /// Hidden layer widths (Dense + activation each); empty = linear softmax model.
    public var hidden: [Int] = []
    /// The activation after each hidden layer.
    public var activation = Activation.relu
    /// Dropout probability after each hidden activation (inverted dropout, training only); 0 = none.
    public var dropout: Float = 0
    /// Training loss.
    public var loss = LossKind.kl
    /// Targets mixed with uniform: (1 - ε) p + ε / k.
    public var labelSmoothing: Float = 0
    /// Targets raised to 1/T and renormalised: T < 1 sharpens, T > 1 softens.
    public var targetTemperature: Float = 1
    /// Distillation temperature T (Hinton et al. 2015): targets are the teacher's distribution at T
    /// (softmax(v / T) of teacher logits v; p^(1/T) renormalised for label probabilities p, whose log p act as
    /// logits), the student's logits are divided by T inside the loss, and that term is multiplied by T² so
    /// its gradient keeps its size for any T (`Distillation`). 1 = plain training. (`train` takes 0.01...1000.)
    public var distillTemperature: Float = 1
    /// Weight A of cross-entropy to a hard class at T = 1 (a `label` column beside teacher logits, `--labels`
    /// class indices, else the teacher's argmax): the loss is (1 - A) T² ℓ_soft + A ℓ_hard. 0 = no hard term.
    public var hardWeight: Float = 0
    /// Example weighting by class.
    public var classWeight = ClassWeighting.none
    /// Fraction of the training file held out for validation when no validation file is given.
    public var valFraction: Double = 0
    /// Stop after this many epochs without a lower validation loss, keeping the best epoch (0 = off).
    public var patience = 0
    /// Minibatch optimizers: validate, early-stop and save an exponential moving average of the weights
    /// over about this many epochs (Polyak averaging: it smooths out minibatch noise). 0 = off.
    public var averageEpochs: Double = 0
    /// Seed of every random draw (shuffling, splitting, initialisation).
    public var seed: UInt64 = 1
    /// z-score the features with the training data's mean and std.
    public var standardize = true

    public init() {}

    /// The defaults for a model shape and optimizer choice:
    /// - no hidden layers: L-BFGS (exact optimum of the convex objective), up to 1000 iterations, all data;
    /// - hidden layers: Adam at 0.002 for 200 epochs, holding out 10% of the data
    ///   and stopping after 10 epochs without a better validation loss (a network can overfit), judging
    ///   (and saving) the weights averaged over the last epoch so minibatch noise does not stop it early;
    /// - an explicitly chosen minibatch optimizer: 200 epochs; SGD at 0.1, Adam/AdamW at 0.01 for a
    ///   linear model (few weights per output, larger steps are stable) and 0.002 for a network.
    public static func defaults(hidden: [Int], optimizer: OptimizerKind? = nil) -> TrainConfig {
        var c = TrainConfig()
        c.hidden = hidden
        let network = !hidden.isEmpty
        c.optimizer = optimizer ?? (network ? .adam : .lbfgs)
        switch c.optimizer {
        case .lbfgs:
            c.epochs = 1000
        case .sgd:
            c.epochs = 200
            c.learningRate = 0.1
        case .adam, .adamw:
            c.epochs = 200
            c.learningRate = network ? 0.002 : 0.01
        }
        if network {
            c.valFraction = 0.1
            c.patience = 10
            c.averageEpochs = 1
        }
        return c
    }
}
