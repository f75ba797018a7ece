import Foundation

/// A crowd's votes in memory: task, worker and label names interned to dense Int32 codes and the votes as
/// three flat code arrays, grouped by task (the E-steps walk one task's votes at a time).
///
/// Tasks are numbered in order of first appearance in the file, workers too; classes are sorted (by number
/// when every label is an integer, else by text), so the same votes in any row order give the same classes.
public struct VoteTable: Sendable {
    public var file: String
    public var tasks: [String]       // (t)
    public var workers: [String]     // (w)
    public var classes: [String]     // (k)
    /// Votes sorted by task (stable: file order within a task).
    public var task: [Int32]         // (v)
    public var worker: [Int32]       // (v)
    public var label: [Int32]        // (v)
    /// Task i's votes are `taskStart[i]..<taskStart[i + 1]`; every task has at least one.
    public var taskStart: [Int]      // (t + 1)
    /// (task, worker) pairs that occur more than once: each occurrence counts as a vote.
    public var duplicatePairs: Int
    /// Where the first repeated pair is, for the note that says so.
    public var firstDuplicate: (line: Int, task: String, worker: String)?

    public var voteCount: Int { label.count }
    public var taskCount: Int { tasks.count }
    public var workerCount: Int { workers.count }
    public var classCount: Int { classes.count }

    /// Builds a table from votes given as codes in any order (tests, filters); groups them by task.
    /// Tasks without votes are dropped (and renumbered); `lines` (1-based, one per vote) locates duplicates
    /// (without it, a vote's line is taken to be its index + 2: a header, then one vote per line).
    public init(file: String, tasks: [String], workers: [String], classes: [String],
                task: [Int32], worker: [Int32], label: [Int32], lines: [Int]? = nil) {
        precondition(task.count == worker.count && task.count == label.count)
        self.file = file
        self.workers = workers
        self.classes = classes
        let v = task.count
        var counts = [Int](repeating: 0, count: tasks.count)
        for t in task { counts[Int(t)] += 1 }
        var newCode = [Int32](repeating: -1, count: tasks.count)
        var kept: [String] = []
        for (i, c) in counts.enumerated() where c > 0 {
            newCode[i] = Int32(kept.count)
            kept.append(tasks[i])
        }
        self.tasks = kept
        var start = [Int](repeating: 0, count: kept.count + 1)
        for (i, c) in counts.enumerated() where c > 0 { start[Int(newCode[i]) + 1] = c }
        for i in 0..<kept.count { start[i + 1] += start[i] }
        taskStart = start
        // Counting sort by task, stable.
        var next = Array(start.dropLast())
        var order = [Int](repeating: 0, count: v)
        for n in 0..<v {
            let t = Int(newCode[Int(task[n])])
            order[next[t]] = n
            next[t] += 1
        }
        self.task = order.map { newCode[Int(task[$0])] }
        self.worker = order.map { worker[$0] }
        self.label = order.map { label[$0] }
        // Duplicate (task, worker) pairs: a task's votes are few, so a sort of its workers finds them.
        var dups = 0
        var first: (line: Int, task: String, worker: String)?
        var ws: [(Int32, Int)] = []
        for t in 0..<kept.count {
            ws.removeAll(keepingCapacity: true)
            for n in start[t]..<start[t + 1] { ws.append((self.worker[n], n)) }
            if ws.count < 2 { continue }
            ws.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            for m in 1..<ws.count where ws[m].0 == ws[m - 1].0 {
                dups += 1
                let line = lines.map { $0[order[ws[m].1]] } ?? (order[ws[m].1] + 2)
                if first == nil || line < first!.line { first = (line, kept[t], workers[Int(ws[m].0)]) }
            }
        }
        duplicatePairs = dups
        firstDuplicate = first
    }

    /// For each worker, the indices of their votes: `votes[start[j]..<start[j + 1]]`.
    public func votesByWorker() -> (start: [Int], votes: [Int32]) {
        var start = [Int](repeating: 0, count: workerCount + 1)
        for w in worker { start[Int(w) + 1] += 1 }
        for j in 0..<workerCount { start[j + 1] += start[j] }
        var next = Array(start.dropLast())
        var votes = [Int32](repeating: 0, count: voteCount)
        for n in 0..<voteCount {
            let j = Int(worker[n])
            votes[next[j]] = Int32(n)
            next[j] += 1
        }
        return (start, votes)
    }

    /// Votes of each worker.
    public func workerVoteCounts() -> [Int] {
        var c = [Int](repeating: 0, count: workerCount)
        for w in worker { c[Int(w)] += 1 }
        return c
    }

    /// The table without the votes of workers with fewer than `minimum` votes; tasks left with no vote
    /// are dropped, and returned by name so the caller can say so.
    public func droppingWorkers(withFewerThan minimum: Int) -> (table: VoteTable, emptiedTasks: [String]) {
        let counts = workerVoteCounts()
        if counts.allSatisfy({ $0 >= minimum }) { return (self, []) }
        var keepWorker = [Int32](repeating: -1, count: workerCount)
        var names: [String] = []
        for j in 0..<workerCount where counts[j] >= minimum {
            keepWorker[j] = Int32(names.count)
            names.append(workers[j])
        }
        var t: [Int32] = [], w: [Int32] = [], l: [Int32] = []
        var hasVote = [Bool](repeating: false, count: taskCount)
        for n in 0..<voteCount where keepWorker[Int(worker[n])] >= 0 {
            t.append(task[n]); w.append(keepWorker[Int(worker[n])]); l.append(label[n])
            hasVote[Int(task[n])] = true
        }
        let emptied = (0..<taskCount).filter { !hasVote[$0] }.map { tasks[$0] }
        return (VoteTable(file: file, tasks: tasks, workers: names, classes: classes, task: t, worker: w, label: l), emptied)
    }

    /// The votes of the tasks listed (by code), renumbered in that order; workers and classes unchanged.
    public func selectingTasks(_ codes: [Int]) -> VoteTable {
        var t: [Int32] = [], w: [Int32] = [], l: [Int32] = []
        for (newCode, i) in codes.enumerated() {
            for n in taskStart[i]..<taskStart[i + 1] {
                t.append(Int32(newCode)); w.append(worker[n]); l.append(label[n])
            }
        }
        return VoteTable(file: file, tasks: codes.map { tasks[$0] }, workers: workers, classes: classes,
                         task: t, worker: w, label: l)
    }
}

/// Which columns of a vote table hold what.
public struct VoteColumns: Sendable, Equatable {
    public var task = "task"
    public var worker = "worker"
    public var label = "label"
    public init(task: String = "task", worker: String = "worker", label: String = "label") {
        self.task = task
        self.worker = worker
        self.label = label
    }
}

extension VoteTable {
    /// Reads a CSV vote table: a header row naming at least the task, worker and label columns (other
    /// columns are ignored), then one vote per row. RFC 4180 quoting, LF/CRLF/CR line ends and a UTF-8 BOM
    /// are handled by the same streaming reader as the data files; nothing but the codes is kept per vote.
    ///
    /// Errors name the file, line and column: a missing column, an empty cell, a row with too few cells,
    /// text that is not UTF-8, a table with no votes, or with a single class.
    public static func read(path: String, columns: VoteColumns = VoteColumns()) throws -> VoteTable {
        let input = try InputFile(path: path)
        let head = try input.prefix(4096)
        if let e = sniffNonCSV(head, whole: head.count == input.size, file: path) { throw e }
        let bom = head.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        let reader = CSVRecordReader(input: input, from: bom, line: 1, blockSize: min(1 << 20, input.size + 1))
        guard try reader.next() else { throw DataError(file: path, "is empty, expected a header row and vote rows") }
        var header: [String] = []
        for (c, cell) in reader.cells.enumerated() {
            guard let name = reader.string(cell) else {
                let problem = reader.withBytes(of: cell) { textProblem($0) } ?? "is not valid text"
                throw DataError(file: path, line: reader.recordLine, "header cell \(c + 1) \(problem)")
            }
            header.append(name)
        }
        func column(_ name: String, _ flag: String) throws -> Int {
            let found = header.indices.filter { header[$0] == name }
            if found.count > 1 { throw DataError(file: path, line: 1, column: name, "duplicate column name") }
            guard let c = found.first else {
                let shown = header.prefix(8).map { "'\($0)'" }.joined(separator: ", ") + (header.count > 8 ? ", ..." : "")
                throw DataError(file: path, line: 1, "no '\(name)' column (columns: \(shown)); expected columns " +
                                "'\(columns.task)', '\(columns.worker)', '\(columns.label)' (rename with \(flag))")
            }
            return c
        }
        let roles = [try column(columns.task, "--task-column"), try column(columns.worker, "--worker-column"),
                     try column(columns.label, "--label-column")]
        if Set(roles).count < 3 {
            throw DataError(file: path, line: 1, "the task, worker and label columns must be three different columns")
        }
        let what = ["task id", "worker id", "label"]
        let needed = roles.max()! + 1

        var taskNames = Interner(capacity: 1 << 16), workerNames = Interner(capacity: 1 << 12), labelNames = Interner(capacity: 64)
        var taskCodes: [Int32] = [], workerCodes: [Int32] = [], labelCodes: [Int32] = []
        var lines: [Int] = []
        let estimate = max(16, input.size / 16)
        taskCodes.reserveCapacity(estimate); workerCodes.reserveCapacity(estimate); labelCodes.reserveCapacity(estimate)
        lines.reserveCapacity(estimate)
        // One cell's code; text is checked once per distinct value (when it is first seen).
        func intern(_ names: inout Interner, _ r: Int) throws -> Int32 {
            try reader.withBytes(of: reader.cells[roles[r]]) { bytes in
                if bytes.isEmpty {
                    throw DataError(file: path, line: reader.recordLine, column: header[roles[r]], "empty \(what[r]), expected text")
                }
                let (code, new) = names.code(of: bytes)
                if new, let problem = textProblem(bytes) {
                    throw DataError(file: path, line: reader.recordLine, column: header[roles[r]], problem)
                }
                return code
            }
        }
        while try reader.next() {
            let count = reader.cells.count
            if count < needed {
                throw DataError(file: path, line: reader.recordLine,
                                "\(count) cell(s), expected at least \(needed) (the header has \(header.count) columns)")
            }
            taskCodes.append(try intern(&taskNames, 0))
            workerCodes.append(try intern(&workerNames, 1))
            labelCodes.append(try intern(&labelNames, 2))
            lines.append(reader.recordLine)
            if lines.count == Int(Int32.max) {
                throw DataError(file: path, line: reader.recordLine, "more than \(Int32.max) votes; split the file")
            }
        }
        if lines.isEmpty { throw DataError(file: path, line: 1, "has a header but no votes") }
        var classNames = labelNames.strings()
        let order = classOrder(classNames)
        if classNames.count < 2 {
            throw DataError(file: path, column: columns.label,
                            "every vote is '\(classNames[0])': only one class, expected at least two")
        }
        var recode = [Int32](repeating: 0, count: classNames.count)
        for (newCode, old) in order.enumerated() { recode[old] = Int32(newCode) }
        classNames = order.map { classNames[$0] }
        for n in labelCodes.indices { labelCodes[n] = recode[Int(labelCodes[n])] }
        return VoteTable(file: path, tasks: taskNames.strings(), workers: workerNames.strings(), classes: classNames,
                         task: taskCodes, worker: workerCodes, label: labelCodes, lines: lines)
    }

    /// Class order: numeric when every name is an integer ("2" before "10"), else by text.
    static func classOrder(_ names: [String]) -> [Int] {
        let numbers = names.map { Int($0) }
        if numbers.allSatisfy({ $0 != nil }) {
            return names.indices.sorted { numbers[$0]! != numbers[$1]! ? numbers[$0]! < numbers[$1]! : names[$0] < names[$1] }
        }
        return names.indices.sorted { names[$0] < names[$1] }
    }
}
