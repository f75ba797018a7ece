import Foundation
import Testing
import TestSupport

/// `softlabel aggregate` and `softlabel train --annotations`, run in-process.
@Suite struct CrowdCommandTests {
    let fixtureVotes = fixture("crowd/small_votes.csv")

    /// The rows of a CSV written by a command (no quoting in these files).
    private func rows(_ path: String) throws -> [[String]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    }

    @Test func aggregateWritesSoftLabelsAndSummary() throws {
        let dir = scratchFolder()
        let out = dir + "/soft.csv"
        let r = runInProcess(["aggregate", fixtureVotes, "--out", out, "--method", "dawid-skene"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0] == "votes       139 in \(fixtureVotes)")
        #expect(lines[1] == "tasks       40 (votes per task: mean 3.48, min 2, max 5)")
        #expect(lines[2].hasPrefix("workers     8 (the busiest 10% cast "))
        #expect(lines[3] == "classes     3: bird cat dog")
        #expect(lines[4].hasPrefix("agreement   0.") && lines[4].hasSuffix(" (pairs of votes on a task that agree)"))
        #expect(lines[5] == "method      dawid-skene: 11 EM rounds (converged), evidence lower bound -1.529417 per vote")
        #expect(lines[6].hasPrefix("unreliable  ") && lines[6].hasSuffix(" of 8 workers (reliability < 0.5)"))
        #expect(lines[7] == "soft labels written to \(out) (40 rows)")
        let table = try rows(out)
        #expect(table[0] == ["id", "label:bird", "label:cat", "label:dog"])
        #expect(table.count == 41)
        for row in table.dropFirst() {
            let p = row.dropFirst().map { Double($0)! }
            #expect(abs(p.reduce(0, +) - 1) < 1e-12 && p.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
        // The same numbers as crowd-kit (the fixture).
        let ck = try rows(fixture("crowd/ds_posteriors.csv"))
        let ours = Dictionary(uniqueKeysWithValues: table.dropFirst().map { ($0[0], $0.dropFirst().map { Double($0)! }) })
        for row in ck.dropFirst() {
            for (a, b) in zip(row.dropFirst().map { Double($0)! }, ours[row[0]]!) { #expect(abs(a - b) < 1e-3) }
        }
    }

    @Test func everyMethodWritesLabelsThatTrainAccepts() throws {
        let dir = scratchFolder()
        // Features joined by id: three numbers per task.
        var features = "id,f0,f1,f2\n"
        for t in 0..<40 { features += String(format: "t%02d,%d,%d,%d\n", t, t % 3, (t * 7) % 5, t % 2) }
        for method in ["soft", "dawid-skene", "one-coin", "votes"] {
            let out = dir + "/\(method).csv"
            let r = runInProcess(["aggregate", fixtureVotes, "--out", out, "--method", method, "--workers", dir + "/w-\(method).csv"])
            #expect(r.status == 0, "\(method): \(r.stderr)")
            // Join with the features (both sorted by task id) and train on the result.
            let labels = try rows(out)
            var merged = "id,f0,f1,f2," + labels[0].dropFirst().joined(separator: ",") + "\n"
            let byId = Dictionary(uniqueKeysWithValues: labels.dropFirst().map { ($0[0], $0.dropFirst().joined(separator: ",")) })
            for line in features.split(separator: "\n").dropFirst() {
                let id = String(line.split(separator: ",")[0])
                merged += line + "," + byId[id]! + "\n"
            }
            write(merged, to: dir + "/train-\(method).csv")
            let t = runInProcess(["train", dir + "/train-\(method).csv", "--model", dir + "/m.json", "--quiet"])
            #expect(t.status == 0, "\(method): \(t.stderr)")
        }
        let ds = try rows(dir + "/w-dawid-skene.csv")
        #expect(ds[0].prefix(6) == ["worker", "votes", "agreement", "reliability", "unreliable", "p(bird|bird)"])
        #expect(ds[0].count == 5 + 9 && ds.count == 9)
        #expect(try rows(dir + "/w-soft.csv")[0] == ["worker", "votes", "agreement", "reliability", "unreliable", "honest",
                                                      "noise:bird", "noise:cat", "noise:dog"])
        #expect(try rows(dir + "/w-one-coin.csv")[0].last == "accuracy")
        #expect(try rows(dir + "/w-votes.csv")[1][3] == "")  // no reliability without a model
    }

    @Test func aggregateJSON() throws {
        let dir = scratchFolder()
        let r = runInProcess(["aggregate", fixtureVotes, "--out", dir + "/s.csv", "--method", "one-coin", "--json"])
        #expect(r.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        #expect(json["votes"] as? Int == 139 && json["tasks"] as? Int == 40 && json["workers"] as? Int == 8)
        #expect(json["method"] as? String == "one-coin" && json["rounds"] as? Int == 21 && json["converged"] as? Bool == true)
    }

    /// Bad vote tables and flags: one line naming the file, line, column (or flag), exit 2, no output file.
    @Test func badInputIsOneLineAndStatus2() {
        let dir = scratchFolder()
        let out = dir + "/out.csv"
        func check(_ votes: String?, _ extra: [String], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
            var args = ["aggregate"]
            if let votes {
                write(votes, to: dir + "/v.csv")
                args.append(dir + "/v.csv")
            }
            let r = runInProcess(args + ["--out", out] + extra)
            #expect(r.status == 2, sourceLocation: sourceLocation)
            #expect(r.stderr == "softlabel aggregate: " + message.replacingOccurrences(of: "V:", with: dir + "/v.csv:") + "\n",
                    sourceLocation: sourceLocation)
            #expect(!FileManager.default.fileExists(atPath: out), sourceLocation: sourceLocation)
        }
        check("task,worker\nt,w\n", [],
              "V:1: no 'label' column (columns: 'task', 'worker'); expected columns 'task', 'worker', 'label' (rename with --label-column)")
        check("task,worker,label\nt1,w1,a\nt1,w2,\n", [], "V:3: column 'label': empty label, expected text")
        check("task,worker,label\nt1,w1,a\nt2,w2,a\n", [], "V: column 'label': every vote is 'a': only one class, expected at least two")
        check("task,worker,label\nt1,w1,a\nt2,w1,b\n", [],
              "V: column 'worker': every vote is by one worker ('w1'): a worker model needs several workers to compare " +
              "(use --method votes for vote fractions)")
        check("task,worker,label\nt1,w1,a\nt2,w2,b\n", ["--min-worker-votes", "2"],
              "V: no votes left after --min-worker-votes 2: every worker has fewer")
        check("task,worker,label\nt1,w1,a\nt2,w2,b\n", ["--method", "dawid-skene", "--prior", "1"],
              "--prior is for --method votes (the EM methods estimate their own prior)")
        check("task,worker,label\nt1,w1,a\nt2,w2,b\n", ["--method", "majority"],
              "--method expects one of soft|dawid-skene|one-coin|votes, got 'majority'")
        check("task,worker,label\nt1,w1,a\nt2,w2,b\n", ["--method", "votes", "--strength", "2"],
              "--strength is a setting of the soft model, not of votes")
        check(nil, [], "missing VOTES.csv (see 'softlabel aggregate --help')")
        let r = runInProcess(["aggregate", fixtureVotes])
        #expect(r.status == 2 && r.stderr == "softlabel aggregate: --out FILE is required (where to write the soft labels)\n")
        let noDir = runInProcess(["aggregate", fixtureVotes, "--out", dir + "/missing/out.csv"])
        #expect(noDir.status == 2 && noDir.stderr.contains("cannot write: folder"))
    }

    @Test func oneWorkerIsFineForVoteFractions() throws {
        let dir = scratchFolder()
        write("task,worker,label\nt1,w1,a\nt2,w1,b\nt2,w1,a\n", to: dir + "/v.csv")
        let r = runInProcess(["aggregate", dir + "/v.csv", "--out", dir + "/o.csv", "--method", "votes", "--prior", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        // The repeated pair (t2, w1) is kept, with one note naming its line.
        #expect(r.stderr == "softlabel: note: \(dir)/v.csv: 1 repeated (task, worker) pair(s), each counted as a vote " +
                "(first: line 4, task 't2', worker 'w1')\n")
        #expect(try rows(dir + "/o.csv") == [["id", "label:a", "label:b"], ["t1", "\(2.0 / 3)", "\(1.0 / 3)"], ["t2", "0.5", "0.5"]])
    }

    @Test func tasksLeftWithoutVotesAreReported() throws {
        let dir = scratchFolder()
        write("task,worker,label\nt1,w1,a\nt1,w2,a\nt2,w3,b\nt3,w1,b\nt3,w2,b\nt4,w1,a\n", to: dir + "/v.csv")
        let r = runInProcess(["aggregate", dir + "/v.csv", "--out", dir + "/o.csv", "--min-worker-votes", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr == "softlabel: note: --min-worker-votes 2 dropped 1 worker(s) and 1 vote(s)\n" +
                "softlabel: note: 1 task(s) have no votes left and get no soft label: 't2'\n")
        #expect(try rows(dir + "/o.csv").map { $0[0] } == ["id", "t1", "t3", "t4"])
    }

    /// Features for `train --annotations`: rows t00..t39 of the fixture's tasks plus two without votes.
    private func featureFile(_ dir: String) -> String {
        var text = "id,f0,f1,label:bird,label:cat\n"
        for t in 0..<42 { text += String(format: "t%02d,%d.5,%d,0.5,0.5\n", t, t % 3, (t * 7) % 5) }
        write(text, to: dir + "/features.csv")
        return dir + "/features.csv"
    }

    @Test func trainWithAnnotations() throws {
        let dir = scratchFolder()
        let features = featureFile(dir)
        let model = dir + "/m.json"
        let r = runInProcess(["train", features, "--annotations", fixtureVotes, "--model", model, "--em-rounds", "3",
                              "--log", dir + "/rounds.csv"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr == "softlabel: note: \(features): ignoring its label columns (the targets come from --annotations)\n" +
                "softlabel: note: 2 of 42 feature rows have no votes and are not used (first: 't40', 't41')\n")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "round     objective      change  train_loss      val_kl  val_acc  unreliable   seconds")
        #expect(lines[1].hasPrefix("    1 ") && lines[2].hasPrefix("    2 ") && lines[4] == "")
        #expect(lines[5].hasPrefix("3 EM round(s) of soft (round limit); 139 votes by 8 workers on 40 training examples; "))
        #expect(lines[5].contains(" worker(s) judged unreliable; 9 parameters; model written to \(model)"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: model))) as! [String: Any]
        let targets = json["targets"] as! [String: Any]
        #expect(targets["crowdModel"] as? String == "soft" && targets["votes"] as? Int == 139)
        #expect(targets["featureRowsWithoutVotes"] as? Int == 2 && targets["rounds"] as? Int == 3)
        #expect((targets["objective"] as! [Double]).count == 3)
        #expect(json["classes"] as? [String] == ["bird", "cat", "dog"])
        #expect(try String(contentsOfFile: dir + "/rounds.csv", encoding: .utf8)
            .hasPrefix("round,objective,train_loss,val_loss,val_kl,val_accuracy,unreliable_workers,seconds\n1,"))
        // The model predicts like any other.
        let p = runInProcess(["predict", "--model", model, features])
        #expect(p.status == 0 && p.stdout.hasPrefix("id,p:bird,p:cat,p:dog\n"))
        // Same command, same bytes.
        let again = runInProcess(["train", features, "--annotations", fixtureVotes, "--model", dir + "/m2.json", "--em-rounds", "3",
                                  "--quiet", "--threads", "1"])
        #expect(again.status == 0)
        #expect(FileManager.default.contents(atPath: model) == FileManager.default.contents(atPath: dir + "/m2.json"))
    }

    @Test func trainWithAnnotationsFromNPY() throws {
        let dir = scratchFolder()
        let values: [Float] = (0..<40).flatMap { t in [Float(t % 3), Float((t * 7) % 5)] }
        try writeNPY(values, shape: [40, 2], to: dir + "/x.npy")
        write((0..<40).map { String(format: "t%02d", $0) }.joined(separator: "\n") + "\n", to: dir + "/ids.txt")
        let r = runInProcess(["train", "--features", dir + "/x.npy", "--ids", dir + "/ids.txt", "--annotations", fixtureVotes,
                              "--model", dir + "/m.json", "--crowd-model", "dawid-skene", "--em-rounds", "2", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("2 EM round(s) of dawid-skene") && r.stderr.isEmpty)
        let missing = runInProcess(["train", "--features", dir + "/x.npy", "--annotations", fixtureVotes, "--model", dir + "/m.json"])
        #expect(missing.status == 2 && missing.stderr ==
            "softlabel train: --ids FILE is required with --features X.npy and --annotations (one task id per row)\n")
        write("t00\nt01\n", to: dir + "/short.txt")
        let short = runInProcess(["train", "--features", dir + "/x.npy", "--ids", dir + "/short.txt", "--annotations", fixtureVotes,
                                  "--model", dir + "/m.json"])
        #expect(short.status == 2 && short.stderr == "softlabel train: \(dir)/short.txt: has 2 ids, but \(dir)/x.npy has 40 rows\n")
    }

    @Test func trainWithAnnotationsRefusesWhatCannotWork() {
        let dir = scratchFolder()
        let features = featureFile(dir)
        write("task,worker,label\nz1,w1,a\nz2,w2,b\n", to: dir + "/other.csv")
        let none = runInProcess(["train", features, "--annotations", dir + "/other.csv", "--model", dir + "/m.json"])
        #expect(none.status == 2)
        #expect(none.stderr.contains("\(dir)/other.csv: no task id matches a feature row id (features: 't00', 't01', 't02', ...; " +
                                     "tasks: 'z1', 'z2', ...)"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/m.json"))
        let flag = runInProcess(["train", features, "--crowd-model", "soft", "--model", dir + "/m.json"])
        #expect(flag.status == 2 && flag.stderr == "softlabel train: --crowd-model needs --annotations VOTES.csv\n")
        let labels = runInProcess(["train", "--features", dir + "/x.npy", "--labels", dir + "/y.npy", "--annotations",
                                   fixtureVotes, "--model", dir + "/m.json"])
        #expect(labels.status == 2 && labels.stderr ==
            "softlabel train: --labels and --annotations cannot be used together (the votes make the targets)\n")
        write("task,worker,label\nt01,w1,a\nt02,w2,b\nt03,w1,a\n", to: dir + "/part.csv")
        let partial = runInProcess(["train", features, "--annotations", dir + "/part.csv", "--model", dir + "/m.json", "--quiet"])
        #expect(partial.status == 0, "\(partial.stderr)")
        #expect(partial.stderr.contains("39 of 42 feature rows have no votes and are not used (first: 't00', 't04', 't05', 't06', 't07')"))
        write("task,worker,label\nt01,w1,a\nt02,w2,b\nzz,w2,a\nzz,w1,b\n", to: dir + "/extra.csv")
        let extra = runInProcess(["train", features, "--annotations", dir + "/extra.csv", "--model", dir + "/m.json", "--quiet"])
        #expect(extra.status == 0 && extra.stderr.contains("2 votes on 1 task(s) with no feature row are not used (first: 'zz')"))
    }

    @Test func aggregateHelp() {
        let help = runInProcess(["aggregate", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.hasPrefix("""
        Usage:
          softlabel aggregate VOTES.csv --out SOFT.csv [--method soft|dawid-skene|one-coin|votes] [--workers WORKERS.csv]

        Turn crowd votes (task, worker, label) into soft labels, learning worker reliability.

        """))
        for flag in ["--out FILE", "--method NAME", "--prior A", "--workers FILE", "--task-column NAME", "--worker-column NAME",
                     "--label-column NAME", "--min-worker-votes N", "--json", "--strength S"] {
            #expect(help.stdout.contains("\n  \(flag) "), "\(flag)")
        }
        #expect(runInProcess(["--help"]).stdout.contains("\n  aggregate  Turn crowd votes"))
    }
}
