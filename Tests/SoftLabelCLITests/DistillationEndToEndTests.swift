import Foundation
import Testing
import TestSupport

/// Distillation through the built binary: a teacher's logits from `predict --logits`, joined to the features,
/// train a student (`logit:<class>` columns, `--teacher-logits`, `--distill-temperature`, `--hard-weight`).
@Suite struct DistillationEndToEndTests {
    let train = packagePath("Data/catdog/train.csv")
    let test = packagePath("Data/catdog/test.csv")

    /// A CSV's columns up to the first `label:` one (id and features) joined, row by row, to the logit columns of
    /// `predict --logits` output (its id column dropped): a teacher-logit file.
    func join(_ data: String, _ logits: String) throws -> String {
        let rows = try String(contentsOfFile: data, encoding: .utf8).split(separator: "\n")
        let z = logits.split(separator: "\n")
        #expect(rows.count == z.count)
        let keep = rows[0].split(separator: ",").firstIndex { $0.hasPrefix("label:") }!
        return zip(rows, z).map { r, l in
            (r.split(separator: ",").prefix(keep) + l.split(separator: ",").dropFirst()).joined(separator: ",")
        }.joined(separator: "\n") + "\n"
    }

    @Test func studentFromTeacherLogits() throws {
        let dir = scratchFolder()
        let teacher = dir + "/teacher.json", student = dir + "/student.json"
        #expect(try runBinary(["train", train, "--model", teacher, "--hidden", "16", "--epochs", "30", "--quiet"]).status == 0)
        let logits = try runBinary(["predict", "--model", teacher, train, "--logits"])
        #expect(logits.status == 0 && logits.stdout.hasPrefix("id,logit:cat,logit:dog\nimg0000,"))
        // The logits are the predictions' logits: softmax of each row is predict's row, to Float precision.
        let probabilities = try runBinary(["predict", "--model", teacher, train]).stdout.split(separator: "\n")
        for (l, p) in zip(logits.stdout.split(separator: "\n"), probabilities).dropFirst() {
            let z = l.split(separator: ",").dropFirst().map { Double($0)! }, q = p.split(separator: ",").dropFirst().map { Double($0)! }
            let s = z.map { exp($0 - z.max()!) }.reduce(0, +)
            for j in 0..<2 { #expect(abs(exp(z[j] - z.max()!) / s - q[j]) < 1e-6) }
        }
        write(try join(train, logits.stdout), to: dir + "/teach.csv")
        write(try join(test, try runBinary(["predict", "--model", teacher, test, "--logits"]).stdout), to: dir + "/teach_test.csv")

        let t = try runBinary(["train", dir + "/teach.csv", "--model", student, "--distill-temperature", "4",
                               "--hard-weight", "0.1", "--quiet"])
        #expect(t.status == 0, "\(t.stderr)")
        #expect(t.stdout.hasSuffix("; 480 training examples; 34 parameters; model written to \(student)\n"))
        // The model file records how its targets were made.
        let model = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: student))) as! [String: Any]
        let config = model["config"] as! [String: Any]
        #expect(config["distillTemperature"] as? Double == 4 && config["hardWeight"] as? Double == 0.1)
        // eval of a logit file compares with the teacher's softmax(z) at T = 1.
        let e = try runBinary(["eval", "--model", student, dir + "/teach_test.csv", "--json"])
        #expect(e.status == 0, "\(e.stderr)")
        let kl = (try JSONSerialization.jsonObject(with: Data(e.stdout.utf8)) as! [String: Any])["kl"] as! Double
        #expect(kl > 0 && kl < 0.1, "student KL to the teacher on test rows: \(kl)")
    }

    @Test func npyTeacherLogitsAndGradcheck() throws {
        let dir = scratchFolder()
        // Four rows, two features, three classes; the teacher's logits and hard classes.
        try writeNPY([0, 1, 1, 0, 2, 2, -1, 0.5], shape: [4, 2], to: dir + "/x.npy")
        try writeNPY([2, 0, -1, 0, 3, 0, -1, 0, 4, 1, 1, 1], shape: [4, 3], to: dir + "/z.npy")
        try writeNPY([0, 1, 2, 2], shape: [4], to: dir + "/y.npy")
        let t = try runBinary(["train", "--features", dir + "/x.npy", "--teacher-logits", dir + "/z.npy", "--labels", dir + "/y.npy",
                               "--model", dir + "/m.json", "--distill-temperature", "2", "--hard-weight", "0.5", "--quiet"])
        #expect(t.status == 0, "\(t.stderr)")
        #expect(t.stdout.hasPrefix("kept epoch ") && t.stdout.contains("; 4 training examples; 9 parameters;"))
        let g = try runBinary(["gradcheck", "--features", dir + "/x.npy", "--teacher-logits", dir + "/z.npy",
                               "--distill-temperature", "3", "--hard-weight", "0.3", "--hidden", "3"])
        #expect(g.status == 0, "\(g.stdout)\(g.stderr)")
        #expect(g.stdout.hasPrefix("gradcheck: 4 rows, loss kl, hidden 3 relu, l2 0.001, distill T 3, hard weight 0.3, step 1e-05\n"))
        #expect(g.stdout.hasSuffix("passed: every tensor within relative error 0.001\n"))
        let eval = try runBinary(["eval", "--model", dir + "/m.json", "--features", dir + "/x.npy", "--teacher-logits", dir + "/z.npy"])
        #expect(eval.status == 0 && eval.stdout.hasPrefix("examples             4\n"), "\(eval.stderr)")
    }

    @Test func badInputAndUsage() throws {
        let dir = scratchFolder()
        write("f,logit:a,logit:b\n1,0.5,2\n2,nan,1\n", to: dir + "/bad.csv")
        let bad = try runBinary(["train", dir + "/bad.csv", "--model", dir + "/m.json"])
        #expect(bad.status == 2 && bad.stderr == "softlabel train: \(dir)/bad.csv:3: column 'logit:a': NaN, expected a finite number\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/m.json"))
        let cases: [([String], String)] = [
            (["train", train, "--model", dir + "/m.json", "--hard-weight", "1.5"], "--hard-weight expects a number >= 0 and <= 1, got '1.5'"),
            (["train", train, "--model", dir + "/m.json", "--distill-temperature", "0"], "--distill-temperature expects a number >= 0.01 and <= 1000, got '0'"),
            (["train", train, "--model", dir + "/m.json", "--teacher-logits", "z.npy"], "--teacher-logits is for NPY input and needs --features X.npy"),
            (["predict", "--model", dir + "/m.json", test, "--logits", "--top", "1"], "--logits writes every class's logit; it cannot be used with --top"),
        ]
        for (args, message) in cases {
            let r = try runBinary(args)
            #expect(r.status == 2 && r.stderr.contains(message), "\(args): \(r.stderr)")
        }
    }
}
