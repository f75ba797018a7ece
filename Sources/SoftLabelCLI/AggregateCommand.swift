import Foundation
import SoftLabel

/// `softlabel aggregate`: turn a crowd's vote table into soft labels (`id,label:<class>,...`).
enum AggregateCommand: Command {
    static let spec = CommandSpec(
        name: "aggregate",
        usage: ["aggregate VOTES.csv --out SOFT.csv [--method soft|dawid-skene|one-coin|votes] [--workers WORKERS.csv]"],
        summary: "Turn crowd votes (task, worker, label) into soft labels, learning worker reliability.",
        positionals: [("VOTES.csv", "one row per vote, columns 'task', 'worker', 'label' (others are ignored)")],
        options: [
            OptionSpec(name: "--out", value: "FILE", help: "Where to write the soft labels (id,label:<class>,...). Required."),
            OptionSpec(name: "--method", value: "NAME", help: "soft|dawid-skene|one-coin|votes. Default soft (see the README)."),
            OptionSpec(name: "--prior", value: "A", help: "votes: add A pseudo-votes to every class of every task. Default 0."),
            OptionSpec(name: "--workers", value: "FILE", help: "Write one row per worker: votes, agreement, reliability, model parameters."),
            OptionSpec(name: "--max-rounds", value: "N", help: "EM rounds at most. Default 100."),
            Common.threads,
            OptionSpec(name: "--json", value: nil, help: "Print the summary as one JSON object."),
        ] + CrowdOptions.tableOptions + CrowdOptions.softOptions + [CrowdOptions.strengthOption],
        notes: [
            "Prints a summary (tasks, workers, votes per task, agreement, EM rounds, workers judged unreliable).",
            "A (task, worker) pair that occurs more than once counts once per occurrence, with one note.",
        ])

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        try Common.checkOutputs(a, ["--out", "--workers"])
        let path = try a.positionals(["VOTES.csv"])[0]
        guard let out = a.string("--out") else { throw UsageError("--out FILE is required (where to write the soft labels)") }
        let method = try a.choice("--method", CrowdMethod.self) ?? .soft
        let prior = try a.float("--prior", min: 0) ?? 0
        if a.string("--prior") != nil && method != .votes {
            throw UsageError("--prior is for --method votes (the EM methods estimate their own prior)")
        }
        let maxRounds = try a.int("--max-rounds", min: 1) ?? 100
        let settings = try CrowdOptions.softSettings(a, method: method)

        let votes = try CrowdOptions.readVotes(path, a, method: method, console: console)
        let parallel = try Common.parallel(a, console)
        var em = CrowdEM(method: method, votes: votes, settings: settings, votePrior: prior, parallel: parallel)
        let (history, converged) = em.fit(maxRounds: maxRounds, parallel: parallel)
        guard em.targets.allSatisfy({ $0.isFinite }) else {
            throw RuntimeFailure(message: "the \(method.rawValue) EM produced non-finite soft labels; nothing written")
        }
        try AtomicFile.write(CrowdReport.softLabelsCSV(tasks: votes.tasks, classes: votes.classes, targets: em.targets), to: out)
        if let file = a.string("--workers") {
            try AtomicFile.write(Data(CrowdReport.workersCSV(em).utf8), to: file)
        }

        let s = CrowdReport.summary(votes)
        let unreliable = CrowdReport.unreliableCount(em)
        if a.flag("--json") {
            var fields: [(String, String)] = [
                ("votes", "\(s.votes)"), ("tasks", "\(s.tasks)"), ("workers", "\(s.workers)"), ("classes", "\(s.classes)"),
                ("votes_per_task", "\(s.votesPerTaskMean)"), ("min_votes_per_task", "\(s.votesPerTaskMin)"),
                ("max_votes_per_task", "\(s.votesPerTaskMax)"), ("agreement", s.agreement.map { "\($0)" } ?? "null"),
                ("top_decile_share", "\(s.topDecileShare)"), ("duplicate_pairs", "\(votes.duplicatePairs)"),
                ("method", "\"\(method.rawValue)\""), ("rounds", "\(history.count)"), ("converged", "\(converged)"),
                ("objective", history.last.map { "\($0)" } ?? "null"),
                ("unreliable_workers", unreliable.map { "\($0)" } ?? "null"),
            ]
            fields.append(("out", jsonString(out)))
            console.out("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}\n")
            return
        }
        var lines = [
            "votes       \(s.votes) in \(path)",
            "tasks       \(s.tasks) (votes per task: mean \(String(format: "%.2f", s.votesPerTaskMean)), min \(s.votesPerTaskMin), max \(s.votesPerTaskMax))",
            "workers     \(s.workers) (the busiest 10% cast \(String(format: "%.1f", 100 * s.topDecileShare))% of the votes)",
            "classes     \(s.classes): " + shownList(votes.classes),
            "agreement   " + (s.agreement.map { String(format: "%.4f", $0) + " (pairs of votes on a task that agree)" } ?? "- (no task has two votes)"),
        ]
        switch method {
        case .votes:
            lines.append("method      votes" + (prior > 0 ? " with \(prior) pseudo-votes per class" : " (fractions)"))
        default:
            let value = history.last.map { String(format: "%.6f", $0) } ?? "-"
            let what = method == .soft ? "objective" : "evidence lower bound"
            lines.append("method      \(method.rawValue): \(history.count) EM rounds" + (converged ? " (converged)" : " (round limit)") +
                         ", \(what) \(value) per \(method == .soft ? "task" : "vote")")
        }
        if let unreliable {
            lines.append("unreliable  \(unreliable) of \(s.workers) workers (reliability < \(CrowdEM.unreliableBelow))")
        }
        lines.append("soft labels written to \(out) (\(s.tasks) rows)")
        if let file = a.string("--workers") { lines.append("workers written to \(file)") }
        console.out(lines.joined(separator: "\n") + "\n")
    }

    private static func shownList(_ names: [String]) -> String {
        names.prefix(12).joined(separator: " ") + (names.count > 12 ? " ..." : "")
    }

    private static func jsonString(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.fragmentsAllowed])
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}

/// The options and checks `aggregate` and `train --annotations` share, declared once.
enum CrowdOptions {
    static let tableOptions: [OptionSpec] = [
        OptionSpec(name: "--task-column", value: "NAME", help: "Vote table column holding the task id. Default task."),
        OptionSpec(name: "--worker-column", value: "NAME", help: "Vote table column holding the worker id. Default worker."),
        OptionSpec(name: "--label-column", value: "NAME", help: "Vote table column holding the class name. Default label."),
        OptionSpec(name: "--min-worker-votes", value: "N", help: "Drop the votes of workers with fewer than N votes. Default 1 (keep all)."),
    ]

    private static let D = SoftCrowd.Settings()
    static let softOptions: [OptionSpec] = [
        OptionSpec(name: "--honest-prior", value: "M", help: "soft: tasks' worth of the prior on a worker's honest share. Default \(fmt(D.honestPseudoVotes))."),
        OptionSpec(name: "--noise-prior", value: "M", help: "soft: tasks' worth of the uniform prior on a worker's noise votes. Default \(fmt(D.noisePseudoVotes))."),
    ]
    /// aggregate only: the classifier gives the centres in `train --annotations`.
    static let strengthOption = OptionSpec(
        name: "--strength", value: "S",
        help: "soft: pseudo-votes of the crowd's class distribution in each vote's leave-one-out centre. Default \(fmt(D.strength)).")

    private static func fmt(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }

    static func softSettings(_ a: ParsedArguments, method: CrowdMethod) throws -> SoftCrowd.Settings {
        var s = SoftCrowd.Settings()
        if let v = try a.float("--strength", min: 0, exclusiveMin: true) { s.strength = v }
        if let v = try a.float("--honest-prior", min: 0, exclusiveMin: true) { s.honestPseudoVotes = v }
        if let v = try a.float("--noise-prior", min: 0, exclusiveMin: true) { s.noisePseudoVotes = v }
        if method != .soft, let flag = ["--strength", "--honest-prior", "--noise-prior"].first(where: { a.string($0) != nil }) {
            throw UsageError("\(flag) is a setting of the soft model, not of \(method.rawValue)")
        }
        return s
    }

    /// Reads and filters the vote table, with notes on stderr for duplicates and emptied tasks; a table that a
    /// worker model cannot be fitted to (one worker) is an error naming the way out.
    static func readVotes(_ path: String, _ a: ParsedArguments, method: CrowdMethod, console: Console) throws -> VoteTable {
        var columns = VoteColumns()
        if let v = a.string("--task-column") { columns.task = v }
        if let v = a.string("--worker-column") { columns.worker = v }
        if let v = a.string("--label-column") { columns.label = v }
        for flag in ["--task-column", "--worker-column", "--label-column"] where a.string(flag)?.isEmpty == true {
            throw UsageError("\(flag) expects a column name, got ''")
        }
        let minVotes = try a.int("--min-worker-votes", min: 1) ?? 1
        var votes = try VoteTable.read(path: path, columns: columns)
        if votes.duplicatePairs > 0, let d = votes.firstDuplicate {
            console.err("softlabel: note: \(path): \(votes.duplicatePairs) repeated (task, worker) pair(s), each counted as a vote " +
                        "(first: line \(d.line), task '\(d.task)', worker '\(d.worker)')\n")
        }
        if minVotes > 1 {
            let before = votes.workerCount
            let (kept, emptied) = votes.droppingWorkers(withFewerThan: minVotes)
            if kept.voteCount == 0 {
                throw DataError(file: path, "no votes left after --min-worker-votes \(minVotes): every worker has fewer")
            }
            console.err("softlabel: note: --min-worker-votes \(minVotes) dropped \(before - kept.workerCount) worker(s) and " +
                        "\(votes.voteCount - kept.voteCount) vote(s)\n")
            if !emptied.isEmpty {
                console.err("softlabel: note: \(emptied.count) task(s) have no votes left and get no soft label: " +
                            emptied.prefix(5).map { "'\($0)'" }.joined(separator: ", ") + (emptied.count > 5 ? ", ..." : "") + "\n")
            }
            votes = kept
        }
        if votes.workerCount == 1 && method != .votes {
            throw DataError(file: path, column: columns.worker,
                            "every vote is by one worker ('\(votes.workers[0])'): a worker model needs several workers " +
                            "to compare (use --method votes for vote fractions)")
        }
        return votes
    }
}
