import Foundation

/// The soft-label crowd model: each task i has a human distribution π_i (what an honest annotator's vote is
/// drawn from); worker j draws a vote from π_i with probability a_j (their honest share) and otherwise from
/// their own noise distribution b_j:
///
///     P(vote l | task i, worker j) = a_j π_il + (1 - a_j) b_jl
///
/// An honest worker has a_j ≈ 1; a careless one a_j ≈ 0 with b_j ≈ uniform; a biased one mixes the two with
/// b_j peaked on their favourite classes. π_i is pulled towards a prior centre q_i (the classifier's
/// prediction for task i in `train --annotations`, or one class distribution ρ shared by all tasks in
/// `aggregate`) with strength s. Few votes cannot pin down a worker, so a_j has a Beta prior around the crowd's
/// mean honest share ā (itself estimated) worth `honestPseudoVotes` votes, and b_j a Dirichlet prior that
/// spreads `noisePseudoVotes` votes evenly over the classes. The objective, maximised by EM, is
///
///     J = Σ_v log(a_j π_il + (1 - a_j) b_jl) - s Σ_i KL(π_i ‖ q_i)
///         + Σ_j log Beta(a_j; m_a ā + 1, m_a (1 - ā) + 1) + Σ_j Σ_c (m_b / k) log b_jc
///
/// E-step: r_v = a_j π_il / (a_j π_il + (1 - a_j) b_jl), the probability that vote v is an honest draw.
/// M-steps (each maximises the EM bound in one block of parameters, so J never decreases):
///   π_i = argmax Σ_c n_ic log π_ic - s KL(π_i ‖ q_i),  n_ic = Σ_{v on i, l_v = c} r_v   (`taskDistribution`)
///   a_j = (R_j + m_a ā) / (N_j + m_a),  R_j = Σ_{v of j} r_v
///   b_jc = (Σ_{v of j, l_v = c} (1 - r_v) + m_b / k) / (N_j - R_j + m_b)
///   ā = argmax Σ_j log Beta(a_j; m_a ā + 1, m_a (1 - ā) + 1)                           (golden section)
///   ρ = mean_i π_i (aggregate), or the classifier trained on targets π (the trainer minimises
///   mean_i KL(π_i ‖ q_i) + l2 term: the q-part of J up to the factor s n).
public enum SoftCrowd {
    /// Hyperparameters; the defaults are documented in the README.
    public struct Settings: Codable, Equatable, Sendable {
        /// s: how many votes' worth the prior centre q_i counts for in π_i.
        public var strength = 2.0
        /// m_a: pseudo-votes of the Beta prior on each worker's honest share.
        public var honestPseudoVotes = 4.0
        /// m_b: pseudo-votes of the Dirichlet prior on each worker's noise distribution (spread evenly).
        public var noisePseudoVotes = 2.0
        public init() {}
    }

    /// Worker parameters.
    public struct Workers: Sendable, Equatable {
        public var honest: [Double]        // (w) a_j
        public var noise: [Double]         // (w, k) b_j
        public var meanHonest: Double      // ā
    }

    /// E-step: r_v = a π_il / (a π_il + (1 - a) b_jl) for every vote.
    public static func responsibilities(_ votes: VoteTable, pi: [Double], workers: Workers) -> [Double] {
        let k = votes.classCount
        var r = [Double](repeating: 0, count: votes.voteCount)
        for n in 0..<votes.voteCount {
            let i = Int(votes.task[n]), j = Int(votes.worker[n]), l = Int(votes.label[n])
            let h = workers.honest[j] * pi[i * k + l], e = (1 - workers.honest[j]) * workers.noise[j * k + l]
            r[n] = h + e > 0 ? h / (h + e) : 0
        }
        return r
    }

    /// n_ic = Σ_{votes v on task i with label c} r_v: (t, k).
    public static func honestCounts(_ votes: VoteTable, responsibilities r: [Double]) -> [Double] {
        let k = votes.classCount
        var n = [Double](repeating: 0, count: votes.taskCount * k)
        for v in 0..<votes.voteCount { n[Int(votes.task[v]) * k + Int(votes.label[v])] += r[v] }
        return n
    }

    /// The π-step for one task: argmax over the simplex of f(π) = Σ_c n_c log π_c - s Σ_c π_c log(π_c / q_c).
    ///
    /// f is strictly concave; setting its gradient against a multiplier μ = s ν gives, per class,
    /// n_c / π_c - s log(π_c / q_c) - s = s ν. With n_c = 0 this is π_c = q_c e^{-1-ν}; with n_c > 0 it is
    /// π_c = n_c / (s W_c), W_c = W(z_c) the Lambert W of z_c = (n_c / s) e^{1 + ν} / q_c (substitute
    /// y = log π_c + 1 + ν - log q_c: then y e^y = z_c and π_c = n_c / (s y)). Σ_c π_c(ν) falls strictly as ν
    /// grows, with dπ_c/dν = -π_c / (1 + W_c); Newton on ν, kept inside a bracket, finds Σ_c π_c = 1.
    ///
    /// - Parameters: n, q, out: (k); q_c > 0 (floored by the caller), s > 0.
    public static func taskDistribution(n: UnsafePointer<Double>, q: UnsafePointer<Double>, strength s: Double,
                                        k: Int, out pi: UnsafeMutablePointer<Double>) {
        var w = [Double](repeating: 0, count: k)
        var logBase = [Double](repeating: 0, count: k)   // log z_c - ν = log(n_c / s) + 1 - log q_c
        var total = 0.0
        for c in 0..<k {
            total += n[c]
            logBase[c] = n[c] > 0 ? log(n[c] / s) + 1 - log(q[c]) : 0
        }
        if total <= 0 {
            for c in 0..<k { pi[c] = q[c] }
            return
        }
        // Σ π(ν) - 1 at ν, filling pi and w; returns (value, derivative).
        func evaluate(_ nu: Double) -> (Double, Double) {
            var sum = 0.0, d = 0.0
            for c in 0..<k {
                if n[c] > 0 {
                    w[c] = lambertW(logZ: logBase[c] + nu)
                    pi[c] = n[c] / (s * w[c])
                    d -= pi[c] / (1 + w[c])
                } else {
                    pi[c] = q[c] * exp(-1 - nu)
                    d -= pi[c]
                }
                sum += pi[c]
            }
            return (sum - 1, d)
        }
        // Bracket: F(lo) > 0 > F(hi). At ν = -1 the empty classes alone give Σ q_c over them, and each voted
        // class at least its share; widen until the signs are right.
        var lo = -1.0, hi = -1.0
        var step = 1.0
        while evaluate(lo).0 < 0 { lo -= step; step *= 2 }
        step = 1
        while evaluate(hi).0 > 0 { hi += step; step *= 2 }
        var nu = (lo + hi) / 2
        for _ in 0..<100 {
            let (f, d) = evaluate(nu)
            if abs(f) < 1e-14 { break }
            if f > 0 { lo = nu } else { hi = nu }
            var next = nu - f / d
            if !(next > lo && next < hi) { next = (lo + hi) / 2 }
            if abs(next - nu) < 1e-15 * max(1, abs(nu)) { nu = next; break }
            nu = next
        }
        _ = evaluate(nu)
        var sum = 0.0
        for c in 0..<k { sum += pi[c] }
        for c in 0..<k { pi[c] /= sum }  // the last ulps, so each row sums to 1 exactly as targets must
    }

    /// Lambert W (principal branch) of z = e^{logZ}, z > 0: the w > 0 with w + log w = logZ, by Newton from
    /// an asymptotic start (a few steps reach full precision; logZ may be large, where z itself overflows).
    static func lambertW(logZ L: Double) -> Double {
        var w: Double
        if L < -1 {
            let z = exp(L)
            w = z * (1 - z)  // W(z) = z - z² + ... for small z
            if w <= 0 { return z }
        } else if L < 2 {
            w = 0.5 + 0.3 * L
        } else {
            w = L - log(L)
        }
        for _ in 0..<50 {
            let f = w + log(w) - L
            let next = w - f / (1 + 1 / w)
            let newW = next > 0 ? next : w / 2
            if abs(newW - w) <= 1e-15 * newW { w = newW; break }
            w = newW
        }
        return w
    }

    /// The π-step for every task: (t, k). `center` is (t, k) per task, or (k) shared (`perTask` false).
    public static func taskDistributions(honestCounts n: [Double], center q: [Double], perTask: Bool,
                                         strength s: Double, tasks t: Int, classes k: Int,
                                         parallel: Parallel = Parallel(threads: 1)) -> [Double] {
        var pi = [Double](repeating: 0, count: t * k)
        let floored = q.map { max($0, 1e-12) }
        let chunk = 1024
        let chunks = (t + chunk - 1) / chunk
        pi.withUnsafeMutableBufferPointer { pb in
            n.withUnsafeBufferPointer { nb in
                floored.withUnsafeBufferPointer { qb in
                    let out = pb.baseAddress!
                    parallel.run(tasks: chunks) { ch in
                        for i in (ch * chunk)..<min(t, (ch + 1) * chunk) {
                            taskDistribution(n: nb.baseAddress! + i * k, q: qb.baseAddress! + (perTask ? i * k : 0),
                                             strength: s, k: k, out: out + i * k)
                        }
                    }
                }
            }
        }
        return pi
    }

    /// The worker M-step: a_j and b_j at their MAP values given the responsibilities and ā.
    public static func workerStep(_ votes: VoteTable, responsibilities r: [Double], meanHonest abar: Double,
                                  settings: Settings) -> Workers {
        let k = votes.classCount, w = votes.workerCount
        var R = [Double](repeating: 0, count: w), N = [Double](repeating: 0, count: w)
        var noiseCounts = [Double](repeating: 0, count: w * k)
        for v in 0..<votes.voteCount {
            let j = Int(votes.worker[v])
            R[j] += r[v]
            N[j] += 1
            noiseCounts[j * k + Int(votes.label[v])] += 1 - r[v]
        }
        let ma = settings.honestPseudoVotes, mb = settings.noisePseudoVotes
        var honest = [Double](repeating: 0, count: w), noise = [Double](repeating: 0, count: w * k)
        for j in 0..<w {
            honest[j] = (R[j] + ma * abar) / (N[j] + ma)
            let denominator = N[j] - R[j] + mb
            for c in 0..<k { noise[j * k + c] = (noiseCounts[j * k + c] + mb / Double(k)) / denominator }
        }
        return Workers(honest: honest, noise: noise, meanHonest: abar)
    }

    /// log Beta(a; α, β) summed over workers, as a function of ā with α = m ā + 1, β = m (1 - ā) + 1.
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

    /// ā-step: the ā in [0.001, 0.999] maximising Σ_j log Beta(a_j; m ā + 1, m (1 - ā) + 1); the function is
    /// concave in ā (-log B is concave, the rest linear), so golden-section search finds the maximum.
    public static func meanHonestStep(_ honest: [Double], current: Double, pseudoVotes m: Double) -> Double {
        if m == 0 { return current }
        var lo = 0.001, hi = 0.999
        let g = (5.0.squareRoot() - 1) / 2
        var x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo)
        var f1 = honestPriorLogDensity(honest, meanHonest: x1, pseudoVotes: m)
        var f2 = honestPriorLogDensity(honest, meanHonest: x2, pseudoVotes: m)
        for _ in 0..<80 {
            if f1 < f2 {
                lo = x1; x1 = x2; f1 = f2
                x2 = lo + g * (hi - lo)
                f2 = honestPriorLogDensity(honest, meanHonest: x2, pseudoVotes: m)
            } else {
                hi = x2; x2 = x1; f2 = f1
                x1 = hi - g * (hi - lo)
                f1 = honestPriorLogDensity(honest, meanHonest: x1, pseudoVotes: m)
            }
        }
        let best = (lo + hi) / 2
        // Never step to a worse value than the current one (the objective must not fall).
        return honestPriorLogDensity(honest, meanHonest: best, pseudoVotes: m)
            >= honestPriorLogDensity(honest, meanHonest: current, pseudoVotes: m) ? best : current
    }

    /// Σ_i KL(π_i ‖ q_i) (0 log 0 = 0); q floored like the π-step's.
    public static func divergence(_ pi: [Double], center q: [Double], perTask: Bool, classes k: Int) -> Double {
        let t = pi.count / k
        var s = 0.0
        for i in 0..<t {
            for c in 0..<k {
                let p = pi[i * k + c]
                if p > 0 { s += p * log(p / max(q[(perTask ? i * k : 0) + c], 1e-12)) }
            }
        }
        return s
    }

    /// The objective J above (without the classifier's weight penalty).
    public static func objective(_ votes: VoteTable, pi: [Double], workers: Workers, center q: [Double], perTask: Bool,
                                 settings: Settings) -> Double {
        let k = votes.classCount
        var ll = 0.0
        for n in 0..<votes.voteCount {
            let i = Int(votes.task[n]), j = Int(votes.worker[n]), l = Int(votes.label[n])
            ll += log(workers.honest[j] * pi[i * k + l] + (1 - workers.honest[j]) * workers.noise[j * k + l])
        }
        let kl = divergence(pi, center: q, perTask: perTask, classes: k)
        var noisePrior = 0.0
        for b in workers.noise { noisePrior += log(b) }
        return ll - settings.strength * kl
            + honestPriorLogDensity(workers.honest, meanHonest: workers.meanHonest, pseudoVotes: settings.honestPseudoVotes)
            + settings.noisePseudoVotes / Double(k) * noisePrior
    }

    /// Starting workers: everyone honest with the share `start`, noise uniform.
    public static func initialWorkers(workers w: Int, classes k: Int, start: Double = 0.7) -> Workers {
        Workers(honest: [Double](repeating: start, count: w), noise: [Double](repeating: 1 / Double(k), count: w * k),
                meanHonest: start)
    }
}
