import Foundation

/// The soft-label crowd model. Each task i has a human distribution: what an honest annotator's vote on it is
/// drawn from. Worker j casts an honest draw with probability a_j (their honest share) and otherwise a vote
/// from their own noise distribution b_j:
///
///     P(vote v = l | task i, worker j) = a_j c_vl + (1 - a_j) b_jl
///
/// where c_v, the vote's *centre*, is the prior guess of the task's human distribution that the vote is judged
/// against: the classifier's prediction q_i in `train --annotations` (Raykar et al. 2010: the classifier is the
/// prior of every task), or in `aggregate`, where there is no classifier, the task's other votes: the honest
/// share of them plus `strength` pseudo-votes of the crowd's class distribution ρ (leave-one-out, so a vote
/// never vouches for itself). An honest worker has a_j ≈ 1; a careless one a_j ≈ 0 with b_j ≈ uniform; a
/// biased one mixes the two with b_j peaked on their favourite classes.
///
/// Each task counts once, whatever its number of votes (as in vote fractions): vote v has weight
/// w_v = 1 / N_i. Few votes cannot pin a worker down, so a_j has a Beta prior around the crowd's mean honest
/// share ā (estimated too) worth m_a votes, and b_j a Dirichlet prior spreading m_b votes evenly. EM maximises
///
///     J = Σ_v w_v log(a_j c_vl + (1 - a_j) b_jl) + Σ_j log Beta(a_j; m_a ā + 1, m_a (1 - ā) + 1)
///         + Σ_j Σ_c (m_b / k) log b_jc  [ - (l2/2) n ΣW² in the classifier loop ]
///
/// E-step:  r_v = a_j c_vl / (a_j c_vl + (1 - a_j) b_jl), the probability that vote v is an honest draw.
/// M-steps (closed form, each maximising the EM bound in its own parameters):
///     a_j = (Σ_{v of j} w_v r_v + m_a ā) / (Σ_{v of j} w_v + m_a)
///     b_jc = (Σ_{v of j, l_v = c} w_v (1 - r_v) + m_b / k) / (Σ_{v of j} w_v (1 - r_v) + m_b)
///     ā = argmax Σ_j log Beta(a_j; m_a ā + 1, m_a (1 - ā) + 1)       (concave in ā: golden section)
/// The task's distribution (the soft target) is what its votes say once noise is taken out: each honest vote
/// counts as its label, each noise vote as the centre it was judged against,
///
///     t_i = Σ_{v on i} (r_v e_{l_v} + (1 - r_v) c_v) / N_i.
///
/// In the classifier loop this makes the trainer a valid M-step (a minorise-maximise step): the trainer
/// maximises Σ_i Σ_c t_ic log q_ic - (l2/2) n ΣW², which is the EM bound's q-part
/// Σ_v w_v r_v log q_{i l_v} plus Σ_i ((N_i - N'_i)/N_i) Σ_c q°_ic log q_ic, and that second term is largest at
/// the current prediction q° (Gibbs' inequality); so the new classifier cannot lower J.
public enum SoftCrowd {
    /// Hyperparameters; the defaults are documented in the README.
    public struct Settings: Codable, Equatable, Sendable {
        /// aggregate: pseudo-votes of the crowd's class distribution in each vote's leave-one-out centre. Small:
        /// a noise vote's share of the soft label goes to its centre, and a centre near the class distribution
        /// makes every label broad (measured: a classifier trained on the soft labels of a simulated 3-vote
        /// crowd reached held-out KL 0.43 with 1, 0.30 with 0.1).
        public var strength = 0.1
        /// m_a: pseudo-votes (tasks) of the Beta prior on each worker's honest share. Deliberately weak: a
        /// prior around the crowd's mean pulls careless workers with a handful of votes up to that mean and
        /// their votes then leak into the targets (measured on simulated crowds: m_a = 2 gave held-out KL up to
        /// 40% above the honest-only oracle, 0.1 within 1% of it); it keeps a_j off 0 and 1.
        public var honestPseudoVotes = 0.1
        /// m_b: pseudo-votes (tasks) of the Dirichlet prior on each worker's noise distribution.
        public var noisePseudoVotes = 1.0
        public init() {}
    }

    /// Worker parameters.
    public struct Workers: Sendable, Equatable {
        public var honest: [Double]        // (w) a_j
        public var noise: [Double]         // (w, k) b_j
        public var meanHonest: Double      // ā
    }

    /// w_v = 1 / N_i for each vote (v).
    public static func voteWeights(_ votes: VoteTable) -> [Double] {
        var w = [Double](repeating: 0, count: votes.voteCount)
        for i in 0..<votes.taskCount {
            let lo = votes.taskStart[i], hi = votes.taskStart[i + 1]
            for v in lo..<hi { w[v] = 1 / Double(hi - lo) }
        }
        return w
    }

    /// The centre of each vote when it is the task's: row i of `q` (t, k) repeated for each vote: (v, k).
    public static func taskCentres(_ votes: VoteTable, q: [Double]) -> [Double] {
        let k = votes.classCount
        var c = [Double](repeating: 0, count: votes.voteCount * k)
        for v in 0..<votes.voteCount {
            let i = Int(votes.task[v])
            for cl in 0..<k { c[v * k + cl] = q[i * k + cl] }
        }
        return c
    }

    /// Leave-one-out centres for `aggregate`: c_v = (Σ_{v' on i, v' ≠ v} r_v' e_{l_v'} + s ρ) / (Σ_{v' ≠ v} r_v' + s).
    public static func leaveOneOutCentres(_ votes: VoteTable, responsibilities r: [Double], classPrior rho: [Double],
                                          strength s: Double) -> [Double] {
        let k = votes.classCount
        var c = [Double](repeating: 0, count: votes.voteCount * k)
        var n = [Double](repeating: 0, count: k)
        for i in 0..<votes.taskCount {
            let lo = votes.taskStart[i], hi = votes.taskStart[i + 1]
            var total = 0.0
            for cl in 0..<k { n[cl] = 0 }
            for v in lo..<hi {
                n[Int(votes.label[v])] += r[v]
                total += r[v]
            }
            for v in lo..<hi {
                let l = Int(votes.label[v])
                let denominator = total - r[v] + s
                for cl in 0..<k { c[v * k + cl] = (n[cl] - (cl == l ? r[v] : 0) + s * rho[cl]) / denominator }
            }
        }
        return c
    }

    /// E-step: r_v = a c_vl / (a c_vl + (1 - a) b_jl) for every vote; centres (v, k).
    public static func responsibilities(_ votes: VoteTable, centres: [Double], workers: Workers) -> [Double] {
        let k = votes.classCount
        var r = [Double](repeating: 0, count: votes.voteCount)
        for v in 0..<votes.voteCount {
            let j = Int(votes.worker[v]), l = Int(votes.label[v])
            let h = workers.honest[j] * centres[v * k + l], e = (1 - workers.honest[j]) * workers.noise[j * k + l]
            r[v] = h + e > 0 ? h / (h + e) : 0
        }
        return r
    }

    /// t_i = Σ_{v on i} (r_v e_{l_v} + (1 - r_v) c_v) / N_i: (t, k), each row a distribution.
    public static func targets(_ votes: VoteTable, responsibilities r: [Double], centres: [Double]) -> [Double] {
        let k = votes.classCount
        var t = [Double](repeating: 0, count: votes.taskCount * k)
        for i in 0..<votes.taskCount {
            let lo = votes.taskStart[i], hi = votes.taskStart[i + 1]
            let row = i * k
            for v in lo..<hi {
                t[row + Int(votes.label[v])] += r[v]
                for c in 0..<k { t[row + c] += (1 - r[v]) * centres[v * k + c] }
            }
            let n = Double(hi - lo)
            for c in 0..<k { t[row + c] /= n }
        }
        return t
    }

    /// The worker M-step: a_j and b_j at their MAP values given the responsibilities and ā.
    public static func workerStep(_ votes: VoteTable, responsibilities r: [Double], weights w: [Double], meanHonest abar: Double,
                                  settings: Settings) -> Workers {
        let k = votes.classCount, nw = votes.workerCount
        var R = [Double](repeating: 0, count: nw), N = [Double](repeating: 0, count: nw)
        var noiseCounts = [Double](repeating: 0, count: nw * k)
        for v in 0..<votes.voteCount {
            let j = Int(votes.worker[v])
            R[j] += w[v] * r[v]
            N[j] += w[v]
            noiseCounts[j * k + Int(votes.label[v])] += w[v] * (1 - r[v])
        }
        let ma = settings.honestPseudoVotes, mb = settings.noisePseudoVotes
        var honest = [Double](repeating: 0, count: nw), noise = [Double](repeating: 0, count: nw * k)
        for j in 0..<nw {
            honest[j] = (R[j] + ma * abar) / (N[j] + ma)
            let denominator = N[j] - R[j] + mb
            for c in 0..<k { noise[j * k + c] = (noiseCounts[j * k + c] + mb / Double(k)) / denominator }
        }
        return Workers(honest: honest, noise: noise, meanHonest: abar)
    }

    /// Σ_j log Beta(a_j; α, β), α = m ā + 1, β = m (1 - ā) + 1.
    static func honestPriorLogDensity(_ honest: [Double], meanHonest abar: Double, pseudoVotes m: Double) -> Double {
        var sumLogA = 0.0, sumLog1mA = 0.0
        for a in honest {
            sumLogA += log(a)
            sumLog1mA += log(1 - a)
        }
        let alpha = m * abar + 1, beta = m * (1 - abar) + 1
        let logB = lgamma(alpha) + lgamma(beta) - lgamma(alpha + beta)
        return (alpha - 1) * sumLogA + (beta - 1) * sumLog1mA - Double(honest.count) * logB
    }

    /// ā-step: the ā in [0.001, 0.999] maximising Σ_j log Beta(a_j; m ā + 1, m (1 - ā) + 1); concave in ā
    /// (-log B is concave, the rest linear), so golden-section search finds the maximum. Never returns a
    /// value worse than `current`.
    public static func meanHonestStep(_ honest: [Double], current: Double, pseudoVotes m: Double) -> Double {
        if m == 0 { return current }
        func f(_ x: Double) -> Double { honestPriorLogDensity(honest, meanHonest: x, pseudoVotes: m) }
        var lo = 0.001, hi = 0.999
        let g = (5.0.squareRoot() - 1) / 2
        var x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo)
        var f1 = f(x1), f2 = f(x2)
        for _ in 0..<80 {
            if f1 < f2 {
                lo = x1; x1 = x2; f1 = f2
                x2 = lo + g * (hi - lo); f2 = f(x2)
            } else {
                hi = x2; x2 = x1; f2 = f1
                x1 = hi - g * (hi - lo); f1 = f(x1)
            }
        }
        let best = (lo + hi) / 2
        return f(best) >= f(current) ? best : current
    }

    /// J (see above) without the classifier's weight penalty; centres (v, k).
    public static func objective(_ votes: VoteTable, centres: [Double], weights w: [Double], workers: Workers,
                                 settings: Settings) -> Double {
        let k = votes.classCount
        var ll = 0.0
        for v in 0..<votes.voteCount {
            let j = Int(votes.worker[v]), l = Int(votes.label[v])
            ll += w[v] * log(workers.honest[j] * centres[v * k + l] + (1 - workers.honest[j]) * workers.noise[j * k + l])
        }
        var noisePrior = 0.0
        for b in workers.noise { noisePrior += log(b) }
        return ll + honestPriorLogDensity(workers.honest, meanHonest: workers.meanHonest, pseudoVotes: settings.honestPseudoVotes)
            + settings.noisePseudoVotes / Double(k) * noisePrior
    }

    /// Starting workers: everyone honest with the share `start`, noise uniform.
    public static func initialWorkers(workers w: Int, classes k: Int, start: Double = 0.7) -> Workers {
        Workers(honest: [Double](repeating: start, count: w), noise: [Double](repeating: 1 / Double(k), count: w * k),
                meanHonest: start)
    }
}
