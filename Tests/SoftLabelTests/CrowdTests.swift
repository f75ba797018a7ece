import Foundation
import Testing
import TestSupport
@testable import SoftLabel

/// A vote table file for one test.
private func votesFile(_ text: String, name: String = "votes.csv") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("softlabel-crowd-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent(name).path
    _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    return path
}

private func readError(_ text: String, columns: VoteColumns = VoteColumns()) -> String {
    let path = votesFile(text)
    do {
        _ = try VoteTable.read(path: path, columns: columns)
        return "no error"
    } catch let e as DataError {
        return e.description.replacingOccurrences(of: path, with: "V")
    } catch {
        return "\(error)"
    }
}

/// The tiny table the hand computations below use: task a: w1 x, w2 x; task b: w1 x, w2 y.
private func tinyTable() -> VoteTable {
    VoteTable(file: "tiny", tasks: ["a", "b"], workers: ["w1", "w2"], classes: ["x", "y"],
              task: [0, 0, 1, 1], worker: [0, 1, 0, 1], label: [0, 0, 0, 1])
}

/// A random crowd: `t` tasks with a true class each, `votesPerTask` votes from distinct workers of given
/// accuracies (wrong votes uniform over the other classes).
private func randomCrowd(tasks t: Int, workers: [Double], classes k: Int, votesPerTask: Int, seed: UInt64)
    -> (table: VoteTable, truth: [Int]) {
    var rng = SplitMix64(seed: seed)
    var task: [Int32] = [], worker: [Int32] = [], label: [Int32] = []
    var truth: [Int] = []
    for i in 0..<t {
        let c = rng.nextInt(below: k)
        truth.append(c)
        var ws = Array(0..<workers.count)
        rng.shuffle(&ws)
        for j in ws.prefix(votesPerTask) {
            let l = rng.nextUnit() < workers[j] ? c : (c + 1 + rng.nextInt(below: k - 1)) % k
            task.append(Int32(i)); worker.append(Int32(j)); label.append(Int32(l))
        }
    }
    let table = VoteTable(file: "random", tasks: (0..<t).map { "t\($0)" }, workers: workers.indices.map { "w\($0)" },
                          classes: (0..<k).map { "c\($0)" }, task: task, worker: worker, label: label)
    return (table, truth)
}

/// Share of rows whose most probable class is the true one.
private func accuracy(_ p: [Double], classes k: Int, truth: [Int]) -> Double {
    var right = 0
    for (i, c) in truth.enumerated() {
        var best = 0
        for j in 1..<k where p[i * k + j] > p[i * k + best] { best = j }
        if best == c { right += 1 }
    }
    return Double(right) / Double(truth.count)
}

@Suite struct VoteTableTests {
    @Test func readsInternsAndGroupsByTask() throws {
        let path = votesFile("\u{FEFF}id,task,worker,label,time\r\n1,img2,alice,10,3\r\n2,img1,bob,2,4\r\n3,img2,bob,\"2\",5\r\n" +
                             "4,\"img,1\",alice,10,6\r\n5,img1,alice,2,7\r\n")
        let v = try VoteTable.read(path: path)
        #expect(v.tasks == ["img2", "img1", "img,1"])          // first appearance
        #expect(v.workers == ["alice", "bob"])
        #expect(v.classes == ["2", "10"])                        // numeric order
        #expect(v.taskStart == [0, 2, 4, 5])
        #expect(v.task == [0, 0, 1, 1, 2])
        #expect(v.worker == [0, 1, 1, 0, 0])                     // file order within a task
        #expect(v.label == [1, 0, 0, 0, 1])
        #expect(v.duplicatePairs == 0 && v.firstDuplicate == nil)
        let byWorker = v.votesByWorker()
        #expect(byWorker.start == [0, 3, 5] && byWorker.votes == [0, 3, 4, 1, 2])
    }

    @Test func renamedColumnsAndTextClasses() throws {
        let path = votesFile("item,annotator,answer\nq1,u1,no\nq1,u2,yes\nq2,u1,maybe\n")
        let v = try VoteTable.read(path: path, columns: VoteColumns(task: "item", worker: "annotator", label: "answer"))
        #expect(v.classes == ["maybe", "no", "yes"] && v.voteCount == 3 && v.taskCount == 2)
    }

    @Test func duplicatePairsAreCountedAndLocated() throws {
        let path = votesFile("task,worker,label\nt1,w1,a\nt2,w1,b\nt1,w2,a\nt1,w1,b\nt1,w1,a\nt2,w2,a\n")
        let v = try VoteTable.read(path: path)
        #expect(v.voteCount == 6)                              // kept: each occurrence is a vote
        #expect(v.duplicatePairs == 2)
        #expect(v.firstDuplicate?.line == 5 && v.firstDuplicate?.task == "t1" && v.firstDuplicate?.worker == "w1")
    }

    @Test func badTablesNameFileLineAndColumn() {
        #expect(readError("task,worker,answer\nt,w,a\n") ==
            "V:1: no 'label' column (columns: 'task', 'worker', 'answer'); expected columns 'task', 'worker', 'label' (rename with --label-column)")
        #expect(readError("task,worker,label\nt1,w1,a\nt2,w2,\n") == "V:3: column 'label': empty label, expected text")
        #expect(readError("task,worker,label\nt1,w1,a\n,w2,b\n") == "V:3: column 'task': empty task id, expected text")
        #expect(readError("task,worker,label\nt1,w1\n") == "V:2: 2 cell(s), expected at least 3 (the header has 3 columns)")
        #expect(readError("task,worker,label\nt1,w1,a\nt2,w1,a\n") ==
            "V: column 'label': every vote is 'a': only one class, expected at least two")
        #expect(readError("task,worker,label\n") == "V:1: has a header but no votes")
        #expect(readError("") == "V: is empty, expected a header row and data rows")
        #expect(readError("task,worker,label,label\nt,w,a,b\n") == "V:1: column 'label': duplicate column name")
        #expect(readError("task,worker,label\nt1,w1,\"a\nt2,w1,b\n") == "V:2: unterminated quoted field (no closing '\"')")
        #expect(readError("task,worker,label\nt1,w1,caf\u{E9}\nt1,w2,th\u{E9}\n") == "no error")
        #expect(readError("a,b,c\nt,w,l\n", columns: VoteColumns(task: "a", worker: "a", label: "c")) ==
            "V:1: the task, worker and label columns must be three different columns")
        // Invalid UTF-8 in a label.
        let path = votesFile("")
        try! Data(Array("task,worker,label\nt1,w1,a\nt2,w1,".utf8) + [0xC3, 0x28] + Array("\n".utf8))
            .write(to: URL(fileURLWithPath: path))
        do {
            _ = try VoteTable.read(path: path)
            Issue.record("expected an error")
        } catch let e as DataError {
            #expect(e.line == 3 && e.column == "label" && e.message.hasPrefix("is not valid UTF-8 text"))
        } catch { Issue.record("\(error)") }
    }

    @Test func droppingWorkersReportsEmptiedTasks() {
        let v = VoteTable(file: "f", tasks: ["a", "b", "c"], workers: ["w1", "w2", "w3"], classes: ["x", "y"],
                          task: [0, 0, 1, 2, 2], worker: [0, 1, 2, 0, 1], label: [0, 1, 0, 0, 0])
        let (kept, emptied) = v.droppingWorkers(withFewerThan: 2)
        #expect(emptied == ["b"])
        #expect(kept.tasks == ["a", "c"] && kept.workers == ["w1", "w2"] && kept.voteCount == 4)
        #expect(kept.taskStart == [0, 2, 4])
    }
}

@Suite struct DawidSkeneTests {
    /// Hand computation on the tiny table (classes x, y):
    /// vote fractions T_a = (1, 0), T_b = (1/2, 1/2); ρ = (3/4, 1/4);
    /// counts: w1 label x: T_a + T_b = (3/2, 1/2); w2 label x: (1, 0), label y: (1/2, 1/2); w1 never votes y.
    /// Confusion (clip at ε = 1e-10, normalise over the labels each worker uses): w1: P(x | ·) = 1;
    /// w2: P(x | x) = 2/3, P(y | x) = 1/3, P(x | y) = ε / (1/2 + ε), P(y | y) = (1/2) / (1/2 + ε).
    /// E-step: a: x ∝ 3/4 · 1 · 2/3 = 1/2, y ∝ 1/4 · 1 · 2ε → T_a ≈ (1 - ε, ε);
    ///         b: x ∝ 3/4 · 1 · 1/3 = 1/4, y ∝ 1/4 · 1 · 1 = 1/4 → T_b = (1/2, 1/2).
    @Test func stepsMatchHandComputation() {
        let v = tinyTable()
        let T0 = DawidSkene.voteFractions(v)
        #expect(T0 == [1, 0, 0.5, 0.5])
        #expect(DawidSkene.classPrior(T0, classes: 2) == [0.75, 0.25])
        let C = DawidSkene.counts(v, posteriors: T0)
        // (w, l, c): w1 x = (1.5, 0.5); w1 y = 0; w2 x = (1, 0); w2 y = (0.5, 0.5)
        #expect(C == [1.5, 0.5, 0, 0, 1, 0, 0.5, 0.5])
        let used = DawidSkene.usedLabels(v)
        #expect(used == [true, false, true, true])
        let P = DawidSkene.confusion(counts: C, used: used, workers: 2, classes: 2)
        let eps = 1e-10
        #expect(P[0] == 1 && P[1] == 1 && P[2] == 0 && P[3] == 0)
        #expect(abs(P[4] - 2.0 / 3) < 1e-15 && abs(P[5] - eps / (0.5 + eps)) < 1e-24)
        #expect(abs(P[6] - 1.0 / 3) < 1e-15 && abs(P[7] - 0.5 / (0.5 + eps)) < 1e-15)

        var T = [Double](repeating: 0, count: 4)
        var counts: [Double] = []
        let e = DawidSkene.eStep(v, logPrior: [log(0.75), log(0.25)], perTask: false, logConfusion: DawidSkene.logTable(P),
                                 into: &T, counts: &counts)
        let ya = 0.25 * P[5], xa = 0.75 * P[4]
        #expect(abs(T[0] - xa / (xa + ya)) < 1e-15 && abs(T[1] - ya / (xa + ya)) < 1e-15)
        let xb = 0.75 * P[6], yb = 0.25 * P[7]
        #expect(abs(T[2] - xb / (xb + yb)) < 1e-12 && abs(T[3] - yb / (xb + yb)) < 1e-12)
        #expect(abs(e.logLikelihood - (log(xa + ya) + log(xb + yb))) < 1e-12)
        // The fused counts are the counts of the new posteriors.
        #expect(zip(counts, DawidSkene.counts(v, posteriors: T)).allSatisfy { abs($0 - $1) < 1e-15 })
    }

    @Test func oneCoinSkillsMatchHandComputation() {
        let v = tinyTable()
        let C = DawidSkene.counts(v, posteriors: DawidSkene.voteFractions(v))
        // w1: votes x on a (T = 1) and x on b (1/2) → 3/4; w2: x on a (1), y on b (1/2) → 3/4.
        let s = OneCoin.skills(counts: C, voteCounts: v.workerVoteCounts(), classes: 2)
        #expect(s == [0.75, 0.75])
        let P = OneCoin.confusion(skills: s, used: DawidSkene.usedLabels(v), classes: 2)
        #expect(P == [0.75, 0.25, 0, 0, 0.75, 0.25, 0.25, 0.75])
    }

    @Test func matchesCrowdKitFixture() throws {
        let votes = try VoteTable.read(path: fixture("crowd/small_votes.csv"))
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture("crowd/crowdkit.json"))))
            as! [String: [String: Double]]
        for (method, name) in [(CrowdMethod.dawidSkene, "ds"), (.oneCoin, "onecoin")] {
            var em = CrowdEM(method: method, votes: votes)
            let (history, converged) = em.fit()
            #expect(converged && history.count == Int(info[name]!["rounds"]!), "\(name): \(history.count) rounds")
            #expect(abs(history.last! - info[name]!["final_loss"]!) < 1e-9)
            let text = try String(contentsOfFile: fixture("crowd/\(name)_posteriors.csv"), encoding: .utf8)
            var rows = text.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
            let header = rows.removeFirst()
            #expect(header == ["task"] + votes.classes.map { "label:" + $0 })
            #expect(rows.count == votes.taskCount)
            var worst = 0.0
            for row in rows {
                let i = votes.tasks.firstIndex(of: row[0])!
                for c in 0..<votes.classCount { worst = max(worst, abs(Double(row[c + 1])! - em.targets[i * 3 + c])) }
            }
            #expect(worst < 1e-3, "\(name): largest difference \(worst)")
            #expect(worst < 1e-9)  // in fact the same numbers, but for crowd-kit clipping its output at 1e-10
        }
    }

    @Test func logLikelihoodNeverDecreases() {
        let (v, truth) = randomCrowd(tasks: 300, workers: [0.9, 0.8, 0.7, 0.5, 0.3, 0.2, 0.85], classes: 4,
                                     votesPerTask: 3, seed: 5)
        for method in [CrowdMethod.dawidSkene, .oneCoin] {
            var em = CrowdEM(method: method, votes: v)
            var previous = -Double.infinity
            for _ in 0..<40 {
                // The E-step measures the marginal log-likelihood of the state the last M-step left.
                var T = em.targets
                let ll = DawidSkene.eStep(v, logPrior: em.classPrior.map { log(max($0, 1e-10)) }, perTask: false,
                                          logConfusion: DawidSkene.logTable(em.confusion), into: &T).logLikelihood
                #expect(ll >= previous - 1e-9 * abs(previous), "\(method): \(ll) after \(previous)")
                previous = ll
                _ = em.round()
            }
            #expect(accuracy(em.targets, classes: 4, truth: truth) > 0.75)
        }
    }

    @Test func resultsDoNotDependOnThreads() {
        let (v, _) = randomCrowd(tasks: 20_000, workers: (0..<50).map { 0.3 + 0.6 * Double($0) / 50 }, classes: 5,
                                 votesPerTask: 4, seed: 9)
        var a = CrowdEM(method: .dawidSkene, votes: v), b = CrowdEM(method: .dawidSkene, votes: v, parallel: Parallel(threads: 16))
        let ha = a.fit(maxRounds: 5).history, hb = b.fit(maxRounds: 5, parallel: Parallel(threads: 16)).history
        #expect(ha == hb && a.targets == b.targets && a.confusion == b.confusion)
    }
}

@Suite struct SoftCrowdTests {
    /// Hand computation: the tiny table with centres q_a = (0.9, 0.1), q_b = (0.6, 0.4), workers a = (0.8, 0.5),
    /// b_1 = (0.5, 0.5), b_2 = (0.2, 0.8). Votes (task, worker, label): (a,1,x) (a,2,x) (b,1,x) (b,2,y).
    @Test func stepsMatchHandComputation() {
        let v = tinyTable()
        let q = [0.9, 0.1, 0.6, 0.4]
        let centres = SoftCrowd.taskCentres(v, q: q)
        #expect(centres == [0.9, 0.1, 0.9, 0.1, 0.6, 0.4, 0.6, 0.4])
        let workers = SoftCrowd.Workers(honest: [0.8, 0.5], noise: [0.5, 0.5, 0.2, 0.8], meanHonest: 0.6)
        let r = SoftCrowd.responsibilities(v, centres: centres, workers: workers)
        let expected = [0.8 * 0.9 / (0.8 * 0.9 + 0.2 * 0.5), 0.5 * 0.9 / (0.5 * 0.9 + 0.5 * 0.2),
                        0.8 * 0.6 / (0.8 * 0.6 + 0.2 * 0.5), 0.5 * 0.4 / (0.5 * 0.4 + 0.5 * 0.8)]
        #expect(zip(r, expected).allSatisfy { abs($0 - $1) < 1e-15 })
        // Targets: honest votes count as their label, noise votes as the centre; mean over the task's votes.
        let t = SoftCrowd.targets(v, responsibilities: r, centres: centres)
        let ta0 = (r[0] + (1 - r[0]) * 0.9 + r[1] + (1 - r[1]) * 0.9) / 2
        let tb0 = (r[2] + (1 - r[2]) * 0.6 + (1 - r[3]) * 0.6) / 2
        #expect(abs(t[0] - ta0) < 1e-15 && abs(t[1] - (1 - ta0)) < 1e-15)
        #expect(abs(t[2] - tb0) < 1e-15 && abs(t[3] - (1 - tb0)) < 1e-15)
        // Workers: weights 1/2 per vote (two votes per task); m_a = 2, m_b = 1.
        var settings = SoftCrowd.Settings()
        settings.honestPseudoVotes = 2
        settings.noisePseudoVotes = 1
        let w = SoftCrowd.workerStep(v, responsibilities: r, weights: SoftCrowd.voteWeights(v), meanHonest: 0.6, settings: settings)
        #expect(abs(w.honest[0] - ((r[0] + r[2]) / 2 + 2 * 0.6) / (1 + 2)) < 1e-15)
        #expect(abs(w.honest[1] - ((r[1] + r[3]) / 2 + 2 * 0.6) / (1 + 2)) < 1e-15)
        let noise2 = ((1 - r[1]) / 2 + 0.5) / ((1 - r[1]) / 2 + (1 - r[3]) / 2 + 1)
        #expect(abs(w.noise[2] - noise2) < 1e-15 && abs(w.noise[2] + w.noise[3] - 1) < 1e-15)
    }

    @Test func leaveOneOutCentresExcludeTheVoteItself() {
        let v = tinyTable()
        let c = SoftCrowd.leaveOneOutCentres(v, responsibilities: [1, 0.5, 1, 1], classPrior: [0.7, 0.3], strength: 1)
        // Vote 0 (task a, x): the other vote is x with r = 0.5 → ((0.5, 0) + (0.7, 0.3)) / 1.5.
        #expect(abs(c[0] - 1.2 / 1.5) < 1e-15 && abs(c[1] - 0.3 / 1.5) < 1e-15)
        // Vote 3 (task b, y): the other vote is x with r = 1 → ((1, 0) + (0.7, 0.3)) / 2.
        #expect(abs(c[6] - 1.7 / 2) < 1e-15 && abs(c[7] - 0.3 / 2) < 1e-15)
    }

    @Test func meanHonestStepFindsTheMaximum() {
        let honest = [0.9, 0.95, 0.2, 0.7, 0.85]
        let best = SoftCrowd.meanHonestStep(honest, current: 0.5, pseudoVotes: 3)
        let f = { SoftCrowd.honestPriorLogDensity(honest, meanHonest: $0, pseudoVotes: 3) }
        for x in stride(from: 0.01, through: 0.99, by: 0.001) { #expect(f(best) >= f(x) - 1e-9) }
    }

    @Test func objectiveNeverDecreasesWithFixedCentres() {
        let (v, _) = randomCrowd(tasks: 400, workers: [0.9, 0.85, 0.8, 0.3, 0.1, 0.75, 0.6], classes: 4, votesPerTask: 3, seed: 3)
        var rng = SplitMix64(seed: 4)
        let q = (0..<(v.taskCount * 4)).map { _ in rng.nextUnit() + 0.05 }
        var centre = q
        for i in 0..<v.taskCount {
            let s = (0..<4).reduce(0.0) { $0 + q[i * 4 + $1] }
            for c in 0..<4 { centre[i * 4 + c] = q[i * 4 + c] / s }
        }
        var em = CrowdEM(method: .soft, votes: v)
        var previous = -Double.infinity
        for _ in 0..<30 {
            let value = em.round(center: centre)
            #expect(value >= previous - 1e-12, "\(value) after \(previous)")
            previous = value
        }
    }

    @Test func carelessWorkersAreFound() {
        // Workers 3 and 4 vote at random; the classifier-free model must see it from agreement alone.
        let (v, _) = randomCrowd(tasks: 600, workers: [0.9, 0.85, 0.9, 0.25, 0.25, 0.8], classes: 4, votesPerTask: 3, seed: 8)
        var em = CrowdEM(method: .soft, votes: v)
        _ = em.fit(maxRounds: 100, tolerance: 1e-7)
        let a = em.workers.honest
        #expect(a[3] < 0.5 && a[4] < 0.5, "\(a)")
        #expect(a[0] > 0.8 && a[1] > 0.8 && a[2] > 0.8 && a[5] > 0.7, "\(a)")
        #expect(CrowdReport.unreliableCount(em) == 2)
        for i in 0..<v.taskCount {
            let row = em.targets[(i * 4)..<(i * 4 + 4)]
            #expect(abs(row.reduce(0, +) - 1) < 1e-12 && row.allSatisfy { $0 >= 0 })
        }
    }
}

@Suite struct CrowdTrainingTests {
    /// Features that predict the class, votes from a crowd with careless workers.
    private func problem(seed: UInt64) -> (JoinedAnnotations, truth: [Int]) {
        let k = 3, d = 4, t = 240
        let (votes, truth) = randomCrowd(tasks: t, workers: [0.9, 0.85, 0.8, 0.3, 0.3, 0.75], classes: k,
                                         votesPerTask: 3, seed: seed)
        var rng = SplitMix64(seed: seed + 100)
        var x = Matrix(rows: t + 5, cols: d)
        for i in 0..<(t + 5) {
            for j in 0..<d { x[i, j] = Float(rng.nextGaussian()) }
            if i < t { x[i, truth[i]] += 2 }
        }
        // Five extra rows have no votes; ids in reverse so the join must reorder.
        let ids = (0..<(t + 5)).map { $0 < t ? "t\($0)" : "extra\($0)" }
        let data = Dataset(ids: ids.reversed(), featureNames: (0..<d).map { "f\($0)" }, classNames: [],
                           features: x.gatherRows(Array((0..<(t + 5)).reversed())), targets: Matrix(rows: t + 5, cols: 0))
        return (try! JoinedAnnotations(features: data, featuresFile: "features.csv", votes: votes), truth)
    }

    @Test func joinCountsWhatDoesNotMatch() throws {
        let (joined, _) = problem(seed: 1)
        #expect(joined.rowsWithoutVotes == 5 && joined.votesWithoutFeatures == 0)
        #expect(joined.data.count == 240 && joined.votes.taskCount == 240)
        #expect(joined.votes.tasks == joined.data.ids)
        let votes = VoteTable(file: "v.csv", tasks: ["a", "zz"], workers: ["w"], classes: ["x", "y"],
                              task: [0, 1, 1], worker: [0, 0, 0], label: [0, 1, 0])
        let data = Dataset(ids: ["a", "b"], featureNames: ["f"], classNames: [], features: Matrix(rows: 2, cols: 1),
                           targets: Matrix(rows: 2, cols: 0))
        let j = try JoinedAnnotations(features: data, featuresFile: "f.csv", votes: votes)
        #expect(j.rowsWithoutVotes == 1 && j.votesWithoutFeatures == 2 && j.tasksWithoutFeatures == 1)
        #expect(j.firstTasksWithoutFeatures == ["zz"] && j.firstRowsWithoutVotes == ["b"])
        var dup = data
        dup.ids = ["a", "a"]
        #expect(throws: DataError(file: "f.csv", column: "id",
                                  "id 'a' is on data rows 1 and 2: ids must be unique to join votes to features")) {
            try JoinedAnnotations(features: dup, featuresFile: "f.csv", votes: votes)
        }
        var none = data
        none.ids = ["p", "q"]
        #expect(throws: DataError.self) { try JoinedAnnotations(features: none, featuresFile: "f.csv", votes: votes) }
    }

    @Test func objectiveNeverDecreasesAcrossRounds() throws {
        let (joined, truth) = problem(seed: 2)
        for method in [CrowdMethod.soft, .dawidSkene, .oneCoin] {
            let result = try CrowdTraining.run(joined, validation: nil, config: TrainConfig(),
                                           options: CrowdTraining.Options(method: method, maxRounds: 12, tolerance: 0),
                                           parallel: Parallel(threads: 1))
            let objective = result.rounds.map(\.objective)
            #expect(objective.count == 12)
            for (a, b) in zip(objective, objective.dropFirst()) {
                // L-BFGS stops at a relative decrease of 2.2e-9: the classifier half is exact to about that.
                #expect(b >= a - 1e-7 * abs(a), "\(method): \(objective)")
            }
            // The classifier recovers the true classes of the training rows.
            let q = try result.run.model.probabilities(joined.data.features, parallel: Parallel(threads: 1))
            let rowTruth = joined.votes.tasks.map { truth[Int($0.dropFirst())!] }
            let acc = accuracy(q.values.map(Double.init), classes: 3, truth: rowTruth)
            #expect(acc > 0.8, "\(method): accuracy \(acc)")
        }
        let soft = try CrowdTraining.run(joined, validation: nil, config: TrainConfig(), options: CrowdTraining.Options(),
                                     parallel: Parallel(threads: 1))
        #expect(soft.em.workers.honest[3] < 0.5 && soft.em.workers.honest[4] < 0.5 && soft.em.workers.honest[0] > 0.8,
                "\(soft.em.workers.honest)")
    }

    @Test func provenanceRoundTripsAndOlderFilesDecode() throws {
        let old = try ModelFile.load(path: fixture("eval/digits_model.json"))
        #expect(old.targets == nil)
        #expect(!String(decoding: try old.encoded(), as: UTF8.self).contains("\"targets\""))
        var m = old
        m.targets = TargetProvenance(file: "v.csv", crowdModel: "soft", settings: SoftCrowd.Settings(), votePrior: nil,
                                     votes: 10, tasks: 4, workers: 3, featureRowsWithoutVotes: 1, votesWithoutFeatures: 2,
                                     duplicatePairs: 0, rounds: 3, converged: true, objective: [-2, -1.5, -1.4],
                                     unreliableWorkers: 1)
        let back = try ModelFile.decode(try m.encoded(), file: "m.json")
        m.version = ModelFile.currentVersion  // the fixture is a version-1 file; it is written back as the current one
        #expect(back == m)
    }
}
