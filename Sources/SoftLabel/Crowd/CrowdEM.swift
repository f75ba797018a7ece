import Foundation

/// How votes become soft labels.
public enum CrowdMethod: String, CaseIterable, Codable, Sendable {
    /// The soft-label crowd model (`SoftCrowd`): human distributions per task, honest/noisy workers.
    case soft
    /// Dawid & Skene (1979): one true class per task, one confusion matrix per worker.
    case dawidSkene = "dawid-skene"
    /// One accuracy per worker (one-coin Dawid-Skene).
    case oneCoin = "one-coin"
    /// Vote fractions, optionally with a Dirichlet pseudo-count per class.
    case votes
}

/// The state of one crowd model's EM over a vote table, advanced one round at a time: by `aggregate` with
/// the model's own class prior, or by `train --annotations` with the classifier's predictions as the prior
/// of each task (`center`). Every array is flat; see `DawidSkene` and `SoftCrowd` for the steps.
public struct CrowdEM: Sendable {
    public let method: CrowdMethod
    public let votes: VoteTable
    public let settings: SoftCrowd.Settings
    /// The soft labels the model gives now: (t, k), each row a distribution.
    public private(set) var targets: [Double]
    /// Class prior ρ (k): shared by all tasks when no per-task centre is given.
    public private(set) var classPrior: [Double]
    /// Dawid-Skene / one-coin: P_j(l | c) as (w, k, k), and which labels each worker uses (w, k).
    public private(set) var confusion: [Double] = []
    public private(set) var used: [Bool] = []
    /// One-coin: each worker's accuracy s_j.
    public private(set) var skills: [Double] = []
    /// Soft model: honest shares, noise distributions, the crowd's mean honest share.
    public private(set) var workers: SoftCrowd.Workers
    /// Soft model: r_v, the probability that each vote is an honest draw (v), from the last E-step.
    public private(set) var honestVotes: [Double]
    private let voteWeights: [Double]
    private let voteCounts: [Int]

    /// Starts from vote fractions (with `votePrior` pseudo-votes per class for `votes`), and for the EM models
    /// the worker parameters those fractions imply (crowd-kit's majority-vote initialisation).
    public init(method: CrowdMethod, votes: VoteTable, settings: SoftCrowd.Settings = SoftCrowd.Settings(),
                votePrior: Double = 0, parallel: Parallel = Parallel(threads: 1)) {
        self.method = method
        self.votes = votes
        self.settings = settings
        let k = votes.classCount
        voteCounts = votes.workerVoteCounts()
        var T = DawidSkene.voteFractions(votes)
        if method == .votes && votePrior > 0 {
            for i in 0..<votes.taskCount {
                let nVotes = Double(votes.taskStart[i + 1] - votes.taskStart[i])
                for c in 0..<k { T[i * k + c] = (T[i * k + c] * nVotes + votePrior) / (nVotes + Double(k) * votePrior) }
            }
        }
        targets = T
        classPrior = DawidSkene.classPrior(T, classes: k)
        workers = SoftCrowd.initialWorkers(workers: votes.workerCount, classes: k)
        honestVotes = [Double](repeating: 1, count: votes.voteCount)
        voteWeights = method == .soft ? SoftCrowd.voteWeights(votes) : []
        switch method {
        case .dawidSkene:
            used = DawidSkene.usedLabels(votes)
            let C = DawidSkene.counts(votes, posteriors: T, parallel: parallel)
            confusion = DawidSkene.confusion(counts: C, used: used, workers: votes.workerCount, classes: k)
        case .oneCoin:
            used = DawidSkene.usedLabels(votes)
            let C = DawidSkene.counts(votes, posteriors: T, parallel: parallel)
            skills = OneCoin.skills(counts: C, voteCounts: voteCounts, classes: k)
            confusion = OneCoin.confusion(skills: skills, used: used, classes: k)
        case .soft, .votes:
            break
        }
    }

    /// One EM round; returns the model's objective after it.
    ///
    /// - `center` nil (aggregate): the task prior is the class prior ρ, re-estimated each round. Dawid-Skene
    ///   and one-coin return crowd-kit's evidence lower bound per vote (their stopping rule); the soft model
    ///   returns its objective J per vote.
    /// - `center` (t, k) (the classifier loop): the task prior of task i is row i, floored at 1e-10. Returns the
    ///   marginal log-likelihood (Dawid-Skene, one-coin; measured by the E-step, before the M-step) per vote,
    ///   or J (soft) per task, without the classifier's weight penalty.
    public mutating func round(center: [Double]? = nil, parallel: Parallel = Parallel(threads: 1)) -> Double {
        let k = votes.classCount, v = Double(votes.voteCount)
        switch method {
        case .votes:
            return 0
        case .dawidSkene, .oneCoin:
            let logPrior = center.map { $0.map { log(max($0, DawidSkene.eps)) } }
                ?? classPrior.map { log(max($0, DawidSkene.eps)) }
            var C: [Double] = []
            let e = DawidSkene.eStep(votes, logPrior: logPrior, perTask: center != nil,
                                     logConfusion: DawidSkene.logTable(confusion), into: &targets, counts: &C,
                                     parallel: parallel)
            classPrior = DawidSkene.classPrior(targets, classes: k)
            if method == .dawidSkene {
                confusion = DawidSkene.confusion(counts: C, used: used, workers: votes.workerCount, classes: k)
            } else {
                skills = OneCoin.skills(counts: C, voteCounts: voteCounts, classes: k)
                confusion = OneCoin.confusion(skills: skills, used: used, classes: k)
            }
            if center != nil { return e.logLikelihood / v }
            return DawidSkene.evidenceLowerBound(votes, counts: C, used: used, confusion: confusion, posteriors: targets,
                                                 classPrior: classPrior, entropy: e.entropy) / v
        case .soft:
            let centres = center.map { SoftCrowd.taskCentres(votes, q: $0.map { max($0, 1e-12) }) }
                ?? SoftCrowd.leaveOneOutCentres(votes, responsibilities: honestVotes, classPrior: classPrior,
                                                strength: settings.strength)
            let r = SoftCrowd.responsibilities(votes, centres: centres, workers: workers)
            targets = SoftCrowd.targets(votes, responsibilities: r, centres: centres)
            var w = SoftCrowd.workerStep(votes, responsibilities: r, weights: voteWeights, meanHonest: workers.meanHonest,
                                         settings: settings)
            w.meanHonest = SoftCrowd.meanHonestStep(w.honest, current: w.meanHonest, pseudoVotes: settings.honestPseudoVotes)
            workers = w
            honestVotes = r
            if center == nil { classPrior = DawidSkene.classPrior(targets, classes: k) }
            return SoftCrowd.objective(votes, centres: centres, weights: voteWeights, workers: workers, settings: settings)
                / Double(votes.taskCount)
        }
    }

    /// Runs rounds until the objective rises by less than `tolerance` per vote (crowd-kit's rule: 1e-5,
    /// at most 100 rounds, for Dawid-Skene and one-coin), or `maxRounds`. The soft model without a centre
    /// (aggregate) moves its leave-one-out centres between rounds, which is not a maximisation step, so its
    /// objective can fall: it stops instead when no soft label moves by more than `tolerance`.
    public mutating func fit(maxRounds: Int = 100, tolerance: Double = 1e-5, center: [Double]? = nil,
                             parallel: Parallel = Parallel(threads: 1)) -> (history: [Double], converged: Bool) {
        if method == .votes { return ([], true) }
        var history: [Double] = []
        var last = -Double.infinity
        for _ in 0..<maxRounds {
            let before = targets
            let value = round(center: center, parallel: parallel)
            history.append(value)
            if method == .soft && center == nil {
                var moved = 0.0
                for (a, b) in zip(before, targets) { moved = max(moved, abs(a - b)) }
                if moved < tolerance { return (history, true) }
            } else if value - last < tolerance {
                return (history, true)
            }
            last = value
        }
        return (history, false)
    }

    /// Each worker's reliability as a skill score: 0 = votes carry no information about the task, 1 = perfect.
    /// - soft: the honest share a_j;
    /// - one-coin: (s_j - 1/k) / (1 - 1/k);
    /// - Dawid-Skene: Cohen's-kappa form (acc - chance) / (1 - chance), acc = Σ_c ρ_c P_j(c | c), chance =
    ///   Σ_c ρ_c m_jc with m_j = Σ_c ρ_c P_j(· | c) the worker's overall vote distribution;
    /// - votes: none (nil).
    public func reliability() -> [Double]? {
        let k = votes.classCount, w = votes.workerCount
        switch method {
        case .votes: return nil
        case .soft: return workers.honest
        case .oneCoin: return skills.map { ($0 - 1 / Double(k)) / (1 - 1 / Double(k)) }
        case .dawidSkene:
            return (0..<w).map { j in
                var acc = 0.0, chance = 0.0
                for l in 0..<k {
                    var m = 0.0
                    for c in 0..<k { m += classPrior[c] * confusion[(j * k + l) * k + c] }
                    chance += classPrior[l] * m
                    acc += classPrior[l] * confusion[(j * k + l) * k + l]
                }
                return chance < 1 ? (acc - chance) / (1 - chance) : 0
            }
        }
    }

    /// Workers whose reliability is below this are reported as unreliable.
    public static let unreliableBelow = 0.5
}
