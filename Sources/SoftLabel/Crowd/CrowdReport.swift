import Foundation

/// Descriptive statistics of a vote table, and the CSV files `aggregate` writes.
public enum CrowdReport {
    /// Sizes and agreement of a vote table.
    public struct Summary: Sendable {
        public var votes: Int
        public var tasks: Int
        public var workers: Int
        public var classes: Int
        public var votesPerTaskMean: Double
        public var votesPerTaskMin: Int
        public var votesPerTaskMax: Int
        /// Mean over tasks with 2+ votes of the share of pairs of votes that agree, Σ_c n_c (n_c - 1) / (N (N - 1));
        /// nil when no task has two votes.
        public var agreement: Double?
        /// Share of all votes cast by the busiest 10% of workers (the workload skew).
        public var topDecileShare: Double
    }

    public static func summary(_ votes: VoteTable) -> Summary {
        let k = votes.classCount
        var minV = Int.max, maxV = 0
        var agreeSum = 0.0, agreeTasks = 0
        var n = [Int](repeating: 0, count: k)
        for i in 0..<votes.taskCount {
            let lo = votes.taskStart[i], hi = votes.taskStart[i + 1]
            minV = min(minV, hi - lo)
            maxV = max(maxV, hi - lo)
            guard hi - lo >= 2 else { continue }
            for c in 0..<k { n[c] = 0 }
            for v in lo..<hi { n[Int(votes.label[v])] += 1 }
            var pairs = 0
            for c in 0..<k { pairs += n[c] * (n[c] - 1) }
            agreeSum += Double(pairs) / Double((hi - lo) * (hi - lo - 1))
            agreeTasks += 1
        }
        let counts = votes.workerVoteCounts().sorted(by: >)
        let top = counts.prefix(max(1, (counts.count + 9) / 10)).reduce(0, +)
        return Summary(votes: votes.voteCount, tasks: votes.taskCount, workers: votes.workerCount, classes: k,
                       votesPerTaskMean: Double(votes.voteCount) / Double(votes.taskCount),
                       votesPerTaskMin: minV, votesPerTaskMax: maxV,
                       agreement: agreeTasks > 0 ? agreeSum / Double(agreeTasks) : nil,
                       topDecileShare: Double(top) / Double(votes.voteCount))
    }

    /// Per worker: the mean, over their votes on tasks with other votes, of the share of those other votes
    /// that agree with theirs; nil for a worker who never shares a task.
    public static func workerAgreement(_ votes: VoteTable) -> [Double?] {
        let k = votes.classCount
        var sum = [Double](repeating: 0, count: votes.workerCount), count = [Int](repeating: 0, count: votes.workerCount)
        var n = [Int](repeating: 0, count: k)
        for i in 0..<votes.taskCount {
            let lo = votes.taskStart[i], hi = votes.taskStart[i + 1]
            guard hi - lo >= 2 else { continue }
            for c in 0..<k { n[c] = 0 }
            for v in lo..<hi { n[Int(votes.label[v])] += 1 }
            for v in lo..<hi {
                let j = Int(votes.worker[v])
                sum[j] += Double(n[Int(votes.label[v])] - 1) / Double(hi - lo - 1)
                count[j] += 1
            }
        }
        return (0..<votes.workerCount).map { count[$0] > 0 ? sum[$0] / Double(count[$0]) : nil }
    }

    /// One CSV cell: quoted (RFC 4180) when it holds a comma, quote or line break.
    public static func cell(_ s: String) -> String {
        if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }

    /// The soft labels as the data format's label columns: `id,label:<class>,...`, one row per task, numbers
    /// in shortest round-trip form (each row sums to 1).
    public static func softLabelsCSV(tasks: [String], classes: [String], targets: [Double]) -> Data {
        let k = classes.count
        var out = [UInt8]()
        out.reserveCapacity(tasks.count * (k * 20 + 16))
        out += Array(("id," + classes.map { cell("label:" + $0) }.joined(separator: ",") + "\n").utf8)
        for (i, task) in tasks.enumerated() {
            out += cell(task).utf8
            for c in 0..<k {
                out.append(UInt8(ascii: ","))
                out += targets[i * k + c].description.utf8
            }
            out.append(UInt8(ascii: "\n"))
        }
        return Data(out)
    }

    /// `--workers`: one row per worker: `worker,votes,agreement,reliability,unreliable`, then the model's
    /// parameters: Dawid-Skene `p(<vote>|<true>)` for every pair, one-coin `accuracy`, soft `honest` and
    /// `noise:<class>`. Empty cells where a value does not exist.
    public static func workersCSV(_ em: CrowdEM) -> String {
        let votes = em.votes, k = votes.classCount
        let counts = votes.workerVoteCounts()
        let agreement = workerAgreement(votes)
        let reliability = em.reliability()
        var header = ["worker", "votes", "agreement", "reliability", "unreliable"]
        switch em.method {
        case .dawidSkene:
            for c in 0..<k { for l in 0..<k { header.append("p(\(votes.classes[l])|\(votes.classes[c]))") } }
        case .oneCoin: header.append("accuracy")
        case .soft: header.append("honest"); header += votes.classes.map { "noise:" + $0 }
        case .votes: break
        }
        var out = header.map(cell).joined(separator: ",") + "\n"
        for j in 0..<votes.workerCount {
            var row = [cell(votes.workers[j]), "\(counts[j])", agreement[j].map { "\($0)" } ?? ""]
            if let r = reliability?[j] {
                row += ["\(r)", r < CrowdEM.unreliableBelow ? "yes" : "no"]
            } else {
                row += ["", ""]
            }
            switch em.method {
            case .dawidSkene:
                for c in 0..<k { for l in 0..<k { row.append("\(em.confusion[(j * k + l) * k + c])") } }
            case .oneCoin: row.append("\(em.skills[j])")
            case .soft:
                row.append("\(em.workers.honest[j])")
                for c in 0..<k { row.append("\(em.workers.noise[j * k + c])") }
            case .votes: break
            }
            out += row.joined(separator: ",") + "\n"
        }
        return out
    }

    /// How many workers the model judges unreliable (nil for vote fractions).
    public static func unreliableCount(_ em: CrowdEM) -> Int? {
        em.reliability().map { $0.filter { $0 < CrowdEM.unreliableBelow }.count }
    }
}
