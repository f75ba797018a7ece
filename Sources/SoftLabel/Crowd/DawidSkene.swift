import Foundation

/// Dawid & Skene (1979): each task has one true class c, drawn from a class prior ρ; worker j votes l with
/// probability P_j(l | c), one confusion matrix per worker. EM alternates
///
///     E:  T_ic ∝ ρ_c · Π_{votes v on i} P_{j(v)}(l_v | c)                      (posterior of the true class)
///     M:  P_j(l | c) = Σ_{votes of j labelled l} T_ic / Σ_{votes of j} T_ic,   ρ_c = mean_i T_ic
///
/// written to match crowd-kit's `DawidSkene` (default settings) step for step: majority-vote start (vote
/// fractions), counts clipped at 1e-10 for the labels a worker uses, at most 100 rounds, stop when its
/// evidence lower bound per vote rises by less than 1e-5. In the classifier loop (`priorPerTask`), the class
/// prior of task i is the classifier's prediction q_i instead of ρ (Raykar et al. 2010).
///
/// The steps are functions on flat arrays: `T` is (t, k) row-major, the confusion tables (w, k, k) with
/// `[(j * k + l) * k + c]` = P_j(l | c), so the k true-class values for one observed vote sit together.
public enum DawidSkene {
    /// crowd-kit's `_EPS`: counts, priors and posteriors are clipped here before logs are taken.
    public static let eps = 1e-10

    /// The fitted model.
    public struct Model: Sendable {
        public var classPrior: [Double]   // (k) ρ
        public var confusion: [Double]    // (w, k, k) P_j(l | c); 0 for labels j never uses
        public var used: [Bool]           // (w, k) whether worker j ever votes l
    }

    /// Expected counts C_j(l, c) = Σ_{votes of j labelled l} T_ic, laid out like the confusion table (w, k, k).
    public static func counts(_ votes: VoteTable, posteriors T: [Double], parallel: Parallel = Parallel(threads: 1)) -> [Double] {
        let parts = countParts(votes)
        var partial = [Double](repeating: 0, count: parts * votes.workerCount * votes.classCount * votes.classCount)
        let size = votes.workerCount * votes.classCount * votes.classCount
        partial.withUnsafeMutableBufferPointer { pb in
            T.withUnsafeBufferPointer { tb in
                let out = pb.baseAddress!, rows = tb.baseAddress!
                parallel.run(tasks: parts) { p in
                    accumulate(votes, tasks: Parallel.part(p, of: parts, count: votes.taskCount), T: rows, into: out + p * size)
                }
            }
        }
        return reduce(partial, parts: parts)
    }

    /// How many partial count tables the tasks are split into: a function of the table's size only (never of
    /// the thread count, so sums run in the same order on any machine), at most 8 and at most 256 MB in all.
    static func countParts(_ votes: VoteTable) -> Int {
        let bytes = votes.workerCount * votes.classCount * votes.classCount * 8
        return max(1, min(8, (256 << 20) / max(bytes, 1), votes.taskCount / 4096))
    }

    /// Adds T_i into C_j(l_v, ·) for every vote v of the tasks in `range`: the votes are walked in task order,
    /// so T is read once, sequentially (a walk by worker reads its rows at random: in a profile of 2,000,000
    /// votes that walk took over half of the run's time).
    @inline(__always)
    static func accumulate(_ votes: VoteTable, tasks range: Range<Int>, T: UnsafePointer<Double>, into C: UnsafeMutablePointer<Double>) {
        let k = votes.classCount
        votes.worker.withUnsafeBufferPointer { worker in
            votes.label.withUnsafeBufferPointer { label in
                votes.taskStart.withUnsafeBufferPointer { start in
                    for i in range {
                        let row = T + i * k
                        for n in start[i]..<start[i + 1] {
                            let dst = C + (Int(worker[n]) * k + Int(label[n])) * k
                            for c in 0..<k { dst[c] += row[c] }
                        }
                    }
                }
            }
        }
    }

    /// Sums the partial tables in part order.
    static func reduce(_ partial: [Double], parts: Int) -> [Double] {
        if parts == 1 { return partial }
        let size = partial.count / parts
        var out = Array(partial[0..<size])
        for p in 1..<parts { for e in 0..<size { out[e] += partial[p * size + e] } }
        return out
    }

    /// Which labels each worker uses: (w, k).
    public static func usedLabels(_ votes: VoteTable) -> [Bool] {
        let k = votes.classCount
        var used = [Bool](repeating: false, count: votes.workerCount * k)
        for n in 0..<votes.voteCount { used[Int(votes.worker[n]) * k + Int(votes.label[n])] = true }
        return used
    }

    /// M-step for the confusion tables (crowd-kit's `_m_step`): for each worker and true class c,
    /// P_j(l | c) = max(C_j(l, c), ε) / Σ_{l' used by j} max(C_j(l', c), ε) over the labels j uses; 0 elsewhere.
    public static func confusion(counts C: [Double], used: [Bool], workers w: Int, classes k: Int) -> [Double] {
        var P = [Double](repeating: 0, count: w * k * k)
        var total = [Double](repeating: 0, count: k)
        for j in 0..<w {
            for c in 0..<k { total[c] = 0 }
            for l in 0..<k where used[j * k + l] {
                for c in 0..<k { total[c] += max(C[(j * k + l) * k + c], eps) }
            }
            for l in 0..<k where used[j * k + l] {
                for c in 0..<k { P[(j * k + l) * k + c] = max(C[(j * k + l) * k + c], eps) / total[c] }
            }
        }
        return P
    }

    /// ρ_c = mean_i T_ic (summed in task order).
    public static func classPrior(_ T: [Double], classes k: Int) -> [Double] {
        let t = T.count / k
        var rho = [Double](repeating: 0, count: k)
        for i in 0..<t { for c in 0..<k { rho[c] += T[i * k + c] } }
        return rho.map { $0 / Double(t) }
    }

    /// What an E-step measures besides the posteriors.
    public struct EStepResult: Sendable {
        /// Σ_i log Σ_c prior_ic Π_v P(l_v | c): the marginal log-likelihood EM never decreases.
        public var logLikelihood: Double
        /// Σ_i Σ_c -T̃ log T̃ with T̃ = max(T, ε) (crowd-kit's entropy term).
        public var entropy: Double
    }

    /// E-step: T_ic = softmax_c(log prior_ic + Σ_v log P_{j(v)}(l_v | c)), one task at a time (the row max is
    /// subtracted before exp so long vote lists cannot underflow every class to 0). With `counts`, also the
    /// next M-step's expected counts C_j(l, c) of the new T, added while each row is still in cache.
    ///
    /// - Parameters:
    ///   - logPrior: (k) log ρ shared by every task, or (t, k) one log prior per task (`perTask`).
    ///   - logConfusion: (w, k, k) log P_j(l | c).
    ///   - T: (t, k) output.
    ///   - counts: (w, k, k) output, or nil.
    public static func eStep(_ votes: VoteTable, logPrior: [Double], perTask: Bool, logConfusion: [Double],
                             into T: inout [Double], counts: UnsafeMutablePointer<[Double]>? = nil,
                             parallel: Parallel = Parallel(threads: 1)) -> EStepResult {
        let k = votes.classCount, t = votes.taskCount, w = votes.workerCount
        precondition(logPrior.count == (perTask ? t * k : k) && T.count == t * k)
        // Fixed parts (a function of the data's size), each one range of tasks with its own count table.
        let parts = counts == nil ? Parallel.partCount(t, parts: 64, align: 1024) : countParts(votes)
        var partial = [Double](repeating: 0, count: parts * 2)   // (parts, 2): log-likelihood, entropy
        var partialCounts = [Double](repeating: 0, count: counts == nil ? 0 : parts * w * k * k)
        let logEps = log(eps)
        T.withUnsafeMutableBufferPointer { tb in
            partial.withUnsafeMutableBufferPointer { pb in
                partialCounts.withUnsafeMutableBufferPointer { cb in
                    logPrior.withUnsafeBufferPointer { lp in
                        logConfusion.withUnsafeBufferPointer { lc in
                            votes.worker.withUnsafeBufferPointer { worker in
                                votes.label.withUnsafeBufferPointer { label in
                                    votes.taskStart.withUnsafeBufferPointer { start in
                                        let tOut = tb.baseAddress!, partials = pb.baseAddress!
                                        parallel.run(tasks: parts) { p in
                                            let range = Parallel.part(p, of: parts, count: t, align: counts == nil ? 1024 : 1)
                                            withUnsafeTemporaryAllocation(of: Double.self, capacity: k) { xb in
                                                let x = xb.baseAddress!
                                                var ll = 0.0, h = 0.0
                                                for i in range {
                                                    let prior = lp.baseAddress! + (perTask ? i * k : 0)
                                                    for c in 0..<k { x[c] = prior[c] }
                                                    for n in start[i]..<start[i + 1] {
                                                        let src = lc.baseAddress! + (Int(worker[n]) * k + Int(label[n])) * k
                                                        for c in 0..<k { x[c] += src[c] }
                                                    }
                                                    var m = -Double.infinity
                                                    for c in 0..<k { m = max(m, x[c]) }
                                                    let row = tOut + i * k
                                                    var s = 0.0
                                                    for c in 0..<k {
                                                        x[c] -= m
                                                        row[c] = exp(x[c])
                                                        s += row[c]
                                                    }
                                                    let logS = log(s)
                                                    ll += m + logS
                                                    // log T_c = x_c - log s: no log per class.
                                                    let inv = 1 / s
                                                    for c in 0..<k {
                                                        let v = row[c] * inv
                                                        let logV = x[c] - logS
                                                        h -= logV < logEps ? eps * logEps : v * logV
                                                        row[c] = v
                                                    }
                                                    if counts != nil {
                                                        let C = cb.baseAddress! + p * w * k * k
                                                        for n in start[i]..<start[i + 1] {
                                                            let dst = C + (Int(worker[n]) * k + Int(label[n])) * k
                                                            for c in 0..<k { dst[c] += row[c] }
                                                        }
                                                    }
                                                }
                                                partials[p * 2] = ll
                                                partials[p * 2 + 1] = h
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if let counts { counts.pointee = reduce(partialCounts, parts: parts) }
        var r = EStepResult(logLikelihood: 0, entropy: 0)
        for p in 0..<parts {
            r.logLikelihood += partial[p * 2]
            r.entropy += partial[p * 2 + 1]
        }
        return r
    }

    /// log of the confusion table; labels a worker never uses stay -inf (never read).
    public static func logTable(_ P: [Double]) -> [Double] { P.map { $0 > 0 ? log($0) : -Double.infinity } }

    /// crowd-kit's `_evidence_lower_bound` (its stopping rule): Σ_v Σ_c T_ic (log P_j(l_v | c) + log ρ̃_c) + H,
    /// with ρ̃ = max(ρ, ε) (the prior term counted once per vote, as crowd-kit does) and H the clipped entropy.
    /// Σ_v Σ_c T_ic log P_j(l_v | c) is computed from the counts: Σ_{j,l used,c} C_j(l, c) log P_j(l | c).
    public static func evidenceLowerBound(_ votes: VoteTable, counts C: [Double], used: [Bool], confusion P: [Double],
                                          posteriors T: [Double], classPrior rho: [Double], entropy: Double) -> Double {
        let k = votes.classCount
        var joint = 0.0
        for j in 0..<votes.workerCount {
            for l in 0..<k where used[j * k + l] {
                for c in 0..<k { joint += C[(j * k + l) * k + c] * log(P[(j * k + l) * k + c]) }
            }
        }
        let logRho = rho.map { log(max($0, eps)) }
        for i in 0..<votes.taskCount {
            let votesOnTask = Double(votes.taskStart[i + 1] - votes.taskStart[i])
            var s = 0.0
            for c in 0..<k { s += T[i * k + c] * logRho[c] }
            joint += votesOnTask * s
        }
        return joint + entropy
    }

    /// Vote fractions (crowd-kit's majority-vote probabilities): T_ic = (votes for c on i) / (votes on i).
    public static func voteFractions(_ votes: VoteTable) -> [Double] {
        let k = votes.classCount
        var T = [Double](repeating: 0, count: votes.taskCount * k)
        for i in 0..<votes.taskCount {
            let lo = votes.taskStart[i], hi = votes.taskStart[i + 1]
            for n in lo..<hi { T[i * k + Int(votes.label[n])] += 1 }
            for c in 0..<k { T[i * k + c] /= Double(hi - lo) }
        }
        return T
    }
}

/// One-coin Dawid-Skene (Zhang et al. 2016, as crowd-kit's `OneCoinDawidSkene`): worker j is right with
/// probability s_j and otherwise picks one of the other k - 1 classes uniformly:
/// P_j(l | c) = s_j if l = c, else (1 - s_j) / (k - 1), clipped to [ε, 1 - ε]. The M-step sets s_j to the
/// posterior probability that j's votes are right, mean over j's votes of T_{i, l_v} = Σ_l C_j(l, l) / N_j.
public enum OneCoin {
    /// s_j = Σ_l C_j(l, l) / N_j.
    public static func skills(counts C: [Double], voteCounts: [Int], classes k: Int) -> [Double] {
        (0..<voteCounts.count).map { j in
            var s = 0.0
            for l in 0..<k { s += C[(j * k + l) * k + l] }
            return s / Double(voteCounts[j])
        }
    }

    /// The confusion table of the skills, for the labels each worker uses (others 0, never read).
    public static func confusion(skills: [Double], used: [Bool], classes k: Int) -> [Double] {
        var P = [Double](repeating: 0, count: skills.count * k * k)
        let lo = DawidSkene.eps, hi = 1 - DawidSkene.eps
        for (j, s) in skills.enumerated() {
            let right = min(max(s, lo), hi), wrong = min(max((1 - s) / Double(k - 1), lo), hi)
            for l in 0..<k where used[j * k + l] {
                for c in 0..<k { P[(j * k + l) * k + c] = l == c ? right : wrong }
            }
        }
        return P
    }
}
