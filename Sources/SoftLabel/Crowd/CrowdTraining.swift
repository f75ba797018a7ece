import Foundation

/// How a model's training targets were made from crowd votes; saved in the model file (`targets`), absent
/// for models trained on label columns.
public struct TargetProvenance: Codable, Equatable, Sendable {
    /// "annotations": EM over a vote table with the classifier in the loop.
    public var source = "annotations"
    /// The vote table as named on the command line.
    public var file: String
    /// The worker model (`CrowdMethod` raw value).
    public var crowdModel: String
    /// The soft model's settings (nil for the other models).
    public var settings: SoftCrowd.Settings?
    /// `votes`: pseudo-votes per class (nil for the other models).
    public var votePrior: Double?
    /// Votes, tasks and workers used (after the join with the features).
    public var votes: Int
    public var tasks: Int
    public var workers: Int
    public var featureRowsWithoutVotes: Int
    public var votesWithoutFeatures: Int
    public var duplicatePairs: Int
    /// EM rounds run (each: crowd steps, then one training run), and whether the objective settled.
    public var rounds: Int
    public var converged: Bool
    /// The objective after each round, per vote (see `CrowdTraining`).
    public var objective: [Double]
    /// Workers with reliability < 0.5 at the end (nil for vote fractions).
    public var unreliableWorkers: Int?

    public init(file: String, crowdModel: String, settings: SoftCrowd.Settings?, votePrior: Double?, votes: Int, tasks: Int,
                workers: Int, featureRowsWithoutVotes: Int, votesWithoutFeatures: Int, duplicatePairs: Int, rounds: Int,
                converged: Bool, objective: [Double], unreliableWorkers: Int?) {
        self.file = file
        self.crowdModel = crowdModel
        self.settings = settings
        self.votePrior = votePrior
        self.votes = votes
        self.tasks = tasks
        self.workers = workers
        self.featureRowsWithoutVotes = featureRowsWithoutVotes
        self.votesWithoutFeatures = votesWithoutFeatures
        self.duplicatePairs = duplicatePairs
        self.rounds = rounds
        self.converged = converged
        self.objective = objective
        self.unreliableWorkers = unreliableWorkers
    }
}

/// One line of the EM table of `train --annotations`.
public struct CrowdRound: Sendable, Equatable {
    public var round: Int
    /// The EM objective per vote after the round (crowd steps, then the classifier): it never decreases.
    public var objective: Double
    /// objective minus the previous round's (nil for round 1).
    public var change: Double?
    /// The classifier's final training loss on this round's targets.
    public var trainLoss: Double
    public var valLoss: Double?
    public var valKL: Double?
    public var valAccuracy: Double?
    /// Workers with reliability < 0.5 after the round's crowd steps (nil for vote fractions).
    public var unreliable: Int?
    public var seconds: Double
}

/// Votes and features joined by id: the rows that have votes, and the votes of those rows (task i = row i).
public struct JoinedAnnotations: Sendable {
    public var data: Dataset            // (n rows with votes), targets (n, k) zero until training
    public var votes: VoteTable         // tasks = data.ids, in row order
    public var rowsWithoutVotes: Int
    public var firstRowsWithoutVotes: [String]
    public var votesWithoutFeatures: Int
    public var tasksWithoutFeatures: Int
    public var firstTasksWithoutFeatures: [String]

    /// Joins on `id` = task. Duplicate ids in the features are an error (a vote could not be placed);
    /// so is a join where nothing matches.
    public init(features: Dataset, featuresFile: String, votes: VoteTable) throws {
        var rowOf: [String: Int] = [:]
        rowOf.reserveCapacity(features.count)
        for (r, id) in features.ids.enumerated() {
            if let first = rowOf[id] {
                throw DataError(file: featuresFile, column: "id",
                                "id '\(id)' is on data rows \(first + 1) and \(r + 1): ids must be unique to join votes to features")
            }
            rowOf[id] = r
        }
        var taskOfRow = [Int](repeating: -1, count: features.count)
        var missingTasks: [String] = []
        var missingVotes = 0
        for (i, name) in votes.tasks.enumerated() {
            if let r = rowOf[name] {
                taskOfRow[r] = i
            } else {
                missingTasks.append(name)
                missingVotes += votes.taskStart[i + 1] - votes.taskStart[i]
            }
        }
        let rows = (0..<features.count).filter { taskOfRow[$0] >= 0 }
        if rows.isEmpty {
            let a = features.ids.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
            let b = votes.tasks.prefix(3).map { "'\($0)'" }.joined(separator: ", ")
            throw DataError(file: votes.file, "no task id matches a feature row id (features: \(a), ...; tasks: \(b), ...): " +
                            "the join is on the features' 'id' column (or --ids) = the votes' task column")
        }
        var data = features.subset(rows)
        data.classNames = votes.classes
        data.targets = Matrix(rows: rows.count, cols: votes.classCount)
        self.data = data
        self.votes = votes.selectingTasks(rows.map { taskOfRow[$0] })
        rowsWithoutVotes = features.count - rows.count
        firstRowsWithoutVotes = (0..<features.count).filter { taskOfRow[$0] < 0 }.prefix(5).map { features.ids[$0] }
        votesWithoutFeatures = missingVotes
        tasksWithoutFeatures = missingTasks.count
        firstTasksWithoutFeatures = Array(missingTasks.prefix(5))
    }
}

/// EM with the classifier in the loop (Raykar et al. 2010): the classifier's prediction q_i is the prior
/// (centre) of task i's distribution in the crowd model, the crowd model's E-step gives soft targets, and the
/// M-step for the classifier is our trainer on those targets.
///
/// Round 1 trains on the starting targets (vote fractions). Each later round runs crowd steps with the
/// current q (up to `innerRounds`, while they still gain) and then trains on the new targets. The objective
/// reported after every round is the crowd model's objective with q as the per-task prior, minus the
/// classifier's weight penalty on the same scale, per vote:
///
///     soft:        J = Σ_i (1/N_i) Σ_{v on i} log(a_j q_il + (1 - a_j) b_jl) + priors - n (l2/2) ΣW²   (per task)
///     DS/one-coin: L = Σ_i log Σ_c q_ic Π_v P_j(l_v | c) - n (l2/2) ΣW²                               (per vote)
///
/// The trainer minimises mean_i KL(target_i ‖ q_i) + (l2/2) ΣW²: for Dawid-Skene that is exactly the q-part
/// of L's EM bound divided by -n, for the soft model a minorise-maximise step of J (see `SoftCrowd`). So with
/// the default loss (kl or ce, no smoothing, temperature or class weights) and a trainer that reaches its
/// optimum (L-BFGS on a linear model), neither half of a round can lower the objective.
public enum CrowdTraining {
    public struct Options: Sendable {
        public var method: CrowdMethod
        public var settings: SoftCrowd.Settings
        public var votePrior: Double
        public var maxRounds: Int
        /// Stop when a round raises the objective by less than this per vote.
        public var tolerance: Double
        public var innerRounds: Int
        public init(method: CrowdMethod = .soft, settings: SoftCrowd.Settings = SoftCrowd.Settings(), votePrior: Double = 0,
                    maxRounds: Int = 20, tolerance: Double = 1e-5, innerRounds: Int = 20) {
            self.method = method
            self.settings = settings
            self.votePrior = votePrior
            self.maxRounds = maxRounds
            self.tolerance = tolerance
            self.innerRounds = innerRounds
        }
    }

    public struct Result {
        public var run: TrainingRun
        public var rounds: [CrowdRound]
        public var converged: Bool
        public var em: CrowdEM
    }

    public static func run(_ joined: JoinedAnnotations, validation: Dataset?, config: TrainConfig, options: Options,
                           parallel: Parallel, onRound: (CrowdRound) -> Void = { _ in }) throws -> Result {
        var em = CrowdEM(method: options.method, votes: joined.votes, settings: options.settings,
                         votePrior: options.votePrior, parallel: parallel)
        // The objective is per vote (Dawid-Skene, one-coin) or per task (soft: each task counts once).
        let unit = Double(options.method == .soft ? joined.votes.taskCount : joined.votes.voteCount)
        var rounds: [CrowdRound] = []
        var last: (run: TrainingRun, q: [Double])?
        var converged = options.method == .votes
        let maxRounds = options.method == .votes ? 1 : options.maxRounds
        for r in 1...maxRounds {
            let start = DispatchTime.now().uptimeNanoseconds
            if let previous = last {
                var before = -Double.infinity
                for _ in 0..<options.innerRounds {
                    let value = em.round(center: previous.q, parallel: parallel)
                    if value - before < options.tolerance * 0.1 { break }
                    before = value
                }
            }
            let trained = try trainClassifier(joined.data, targets: em.targets, validation: validation, config: config,
                                          parallel: parallel)
            let penalty = Double(trained.run.trainCount) * Double(config.l2) / 2 * weightSquares(trained.run.model.network)
            let objective = options.method == .votes ? 0
                : em.objective(center: trained.q, parallel: parallel) - penalty / unit
            let kept = trained.run.outcome.history.first { $0.epoch == trained.run.outcome.keptEpoch }
                ?? trained.run.outcome.history.last
            let row = CrowdRound(round: r, objective: objective, change: rounds.last.map { objective - $0.objective },
                                 trainLoss: kept?.trainLoss ?? .nan, valLoss: kept?.valLoss,
                                 valKL: kept?.valKL, valAccuracy: kept?.valAccuracy,
                                 unreliable: CrowdReport.unreliableCount(em),
                                 seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            rounds.append(row)
            onRound(row)
            last = (trained.run, trained.q)
            if trained.run.outcome.divergence != nil { break }
            if rounds.count >= 2 && objective - rounds[rounds.count - 2].objective < options.tolerance {
                converged = true
                break
            }
        }
        return Result(run: last!.run, rounds: rounds, converged: converged, em: em)
    }

    /// The one place that calls the trainer: train on `targets` (n, k) as the soft labels of `data`'s rows,
    /// and predict every row with the result. (When the trainer's API changes, port this function.)
    static func trainClassifier(_ data: Dataset, targets: [Double], validation: Dataset?, config: TrainConfig,
                                parallel: Parallel) throws -> (run: TrainingRun, q: [Double]) {
        var train = data
        train.targets = Matrix(rows: data.count, cols: data.classCount, values: targets.map { Float($0) })
        let run = try TrainModel.run(data: train, validation: validation, config: config, parallel: parallel)
        let q = try run.model.probabilities(data.features, parallel: parallel)
        return (run, q.values.map { Double($0) })
    }

    /// Σ W² over the weights (not biases): the quantity the l2 penalty multiplies.
    static func weightSquares(_ network: Network) -> Double {
        var s = 0.0
        for layer in network.denseLayers { for w in layer.weight { s += Double(w) * Double(w) } }
        return s
    }
}

extension CrowdEM {
    /// The model's objective per vote with `center` as the per-task prior, without changing the state:
    /// soft J (see `SoftCrowd`); Dawid-Skene and one-coin the marginal log-likelihood.
    public func objective(center: [Double], parallel: Parallel = Parallel(threads: 1)) -> Double {
        let v = Double(votes.voteCount)
        switch method {
        case .votes:
            return 0
        case .soft:
            return SoftCrowd.objective(votes, centres: SoftCrowd.taskCentres(votes, q: center.map { max($0, 1e-12) }),
                                       weights: SoftCrowd.voteWeights(votes), workers: workers, settings: settings)
                / Double(votes.taskCount)
        case .dawidSkene, .oneCoin:
            var scratch = [Double](repeating: 0, count: targets.count)
            let e = DawidSkene.eStep(votes, logPrior: center.map { log(max($0, DawidSkene.eps)) }, perTask: true,
                                     logConfusion: DawidSkene.logTable(confusion), into: &scratch, parallel: parallel)
            return e.logLikelihood / v
        }
    }
}
