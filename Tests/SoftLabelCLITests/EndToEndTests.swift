import Foundation
import Testing
import TestSupport

/// The built binary on the digits data in Data/: train, evaluate held-out rows, predict.
@Suite struct EndToEndTests {
    let train = packagePath("Data/digits/train_votes.csv")
    let test = packagePath("Data/digits/test_votes.csv")

    @Test func trainThenEvalOnHeldOutDigits() throws {
        let dir = scratchFolder()
        let model = dir + "/m.json"
        let t = try runBinary(["train", train, "--model", model, "--epochs", "60", "--val", test])
        #expect(t.status == 0, "\(t.stderr)")
        let lines = t.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.first == "epoch  train_loss    val_loss      val_kl  val_acc          lr   seconds")
        // header, 60 epochs, a blank line, the 18-line chart, a blank line, the summary
        #expect(lines.count == 83 && lines[82] == "")
        #expect(lines[60].hasPrefix("   60 ") && lines[61] == "" && lines[62] == "loss by iteration")
        #expect(lines[78].hasPrefix("         * train loss") && lines[80] == "")
        #expect(lines[79] == "         ^ kept iteration 60 (last iteration, not converged)")
        #expect(lines[81].hasPrefix("kept epoch 60 of 60 (not converged: reached --epochs 60); 1400 training examples, 397 validation"))

        let e = try runBinary(["eval", "--model", model, test, "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        #expect(json["examples"] as? Int == 397)
        let kl = json["kl"] as! Double, acc = json["accuracy"] as! Double, ce = json["cross_entropy"] as! Double
        // The reference L-BFGS optimum of the same objective: KL 0.0939, accuracy 0.965.
        #expect(kl < 0.10, "kl \(kl)")
        #expect(acc >= 0.95, "accuracy \(acc)")
        #expect(ce > kl)

        let text = try runBinary(["eval", "--model", model, test])
        #expect(text.stdout.hasPrefix("examples             397\nkl                   "))
        #expect(text.stdout.contains("\nconfusion (rows: majority label, columns: predicted class)\n"))
    }

    @Test func predictWritesOneDistributionPerRow() throws {
        let dir = scratchFolder()
        let model = dir + "/m.json", out = dir + "/pred.csv"
        #expect(try runBinary(["train", train, "--model", model, "--epochs", "5"]).status == 0)
        let p = try runBinary(["predict", "--model", model, test, "--out", out])
        #expect(p.status == 0 && p.stdout.isEmpty)
        let rows = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 398)
        #expect(rows[0] == "id,p:0,p:1,p:2,p:3,p:4,p:5,p:6,p:7,p:8,p:9")
        #expect(rows[1].hasPrefix("digit"))
        for row in rows.dropFirst() {
            let q = row.split(separator: ",").dropFirst().map { Double($0)! }
            #expect(q.count == 10 && abs(q.reduce(0, +) - 1) < 1e-5)
        }
        // Without --out, the same CSV goes to stdout.
        let stdout = try runBinary(["predict", "--model", model, test])
        #expect(stdout.stdout == (try String(contentsOfFile: out, encoding: .utf8)))
    }

    @Test func sameSeedGivesIdenticalModelFiles() throws {
        let dir = scratchFolder()
        var files: [Data] = []
        for (i, threads) in ["1", "2", "2"].enumerated() {
            let path = dir + "/m\(i).json"
            let r = try runBinary(["train", train, "--model", path, "--epochs", "4", "--hidden", "16", "--seed", "7",
                                   "--threads", threads])
            #expect(r.status == 0)
            files.append(FileManager.default.contents(atPath: path)!)
        }
        #expect(files[0] == files[1] && files[1] == files[2])
    }

    /// More threads than cores work, give the same model, and say once that they run slower.
    @Test func moreThreadsThanCoresWarns() throws {
        let dir = scratchFolder()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var files: [Data] = []
        for threads in [1, cores + 1] {
            let path = dir + "/t\(threads).json"
            let r = try runBinary(["train", train, "--model", path, "--epochs", "2", "--seed", "3", "--quiet",
                                   "--threads", String(threads)])
            #expect(r.status == 0, "\(r.stderr)")
            let warning = "softlabel: warning: --threads \(threads) is more than the \(cores) core"
            #expect(r.stderr.components(separatedBy: warning).count == (threads > cores ? 2 : 1), "\(r.stderr)")
            files.append(try #require(FileManager.default.contents(atPath: path)))
        }
        #expect(files[0] == files[1])
    }

    @Test func hardLabelsTrainToo() throws {
        let dir = scratchFolder()
        let r = try runBinary(["train", packagePath("Data/digits/train_hard.csv"), "--model", dir + "/m.json",
                               "--epochs", "20"])
        #expect(r.status == 0, "\(r.stderr)")
        let e = try runBinary(["eval", "--model", dir + "/m.json", packagePath("Data/digits/test_hard.csv"), "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any]
        #expect((json["accuracy"] as! Double) > 0.93)
    }
}
