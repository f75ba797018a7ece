import Foundation
import Testing
import TestSupport

/// Bad command lines: one line on stderr naming the flag, exit status 2, nothing written.
@Suite struct UsageTests {
    @Test(arguments: [
        (["train", "x.csv"], "softlabel train: --model FILE is required (where to save the model)\n"),
        (["train", "x.csv", "--model", "m.json", "--epochs", "abc"], "softlabel train: --epochs expects an integer >= 1, got 'abc'\n"),
        (["train", "x.csv", "--model", "m.json", "--lr", "-1"], "softlabel train: --lr expects a number > 0, got '-1'\n"),
        (["train", "x.csv", "--model", "m.json", "--loss", "mse"], "softlabel train: --loss expects one of kl|ce|reverse-kl|js, got 'mse'\n"),
        (["train", "x.csv", "--model", "m.json", "--bogus"], "softlabel train: unknown option '--bogus' (see 'softlabel train --help')\n"),
        (["train", "x.csv", "--model"], "softlabel train: option '--model' needs a value (FILE)\n"),
        (["train", "--model", "m.json"], "softlabel train: missing DATA.csv (see 'softlabel train --help')\n"),
        (["train", "a.csv", "b.csv", "--model", "m.json"], "softlabel train: unexpected argument 'b.csv'\n"),
        (["train", "x.csv", "--model", "m.json", "--hidden", "64,,2"], "softlabel train: --hidden expects comma-separated positive integers like 128,64, got '64,,2'\n"),
        (["eval", "d.csv"], "softlabel eval: --model FILE is required\n"),
        (["frobnicate"], "softlabel: unknown command 'frobnicate' (commands: train, eval, predict, inspect, aggregate, calibrate, compare, gradcheck, export, convert)\n"),
        (["train", "x.csv", "--features", "x.npy", "--labels", "y.npy", "--model", "m.json"], "softlabel train: give DATA.csv or --features X.npy, not both (unexpected argument 'x.csv')\n"),
        (["train", "--features", "x.npy", "--model", "m.json"], "softlabel train: --labels Y.npy (or --teacher-logits Z.npy) is required with --features (train needs labels)\n"),
        (["eval", "d.csv", "--labels", "y.npy", "--model", "m.json"], "softlabel eval: --labels is for NPY input and needs --features X.npy\n"),
        (["predict", "d.csv", "--classes", "c.txt", "--model", "m.json"], "softlabel predict: --classes is for NPY input and needs --features X.npy\n"),
        (["train", "d.csv", "--model", "m.json", "--val", "v.csv", "--val-features", "v.npy"], "softlabel train: --val and --val-features/--val-labels/--val-teacher-logits cannot be used together\n"),
        (["train", "d.csv", "--model", "m.json", "--val-features", "v.npy"], "softlabel train: --val-features needs --val-labels Y.npy or --val-teacher-logits Z.npy (validation needs labels)\n"),
        (["train", "d.csv", "--model", "m.json", "--val-teacher-logits", "v.npy"], "softlabel train: --val-teacher-logits needs --val-features X.npy\n"),
        (["inspect"], "softlabel inspect: missing DATA.csv (see 'softlabel inspect --help')\n"),
        (["predict", "d.csv", "--model", "m.json", "--format", "xml"], "softlabel predict: --format expects one of csv|jsonl, got 'xml'\n"),
        (["predict", "d.csv", "--model", "m.json", "--top", "0"], "softlabel predict: --top expects an integer >= 1, got '0'\n"),
        (["calibrate", "d.csv", "--model", "m.json"], "softlabel calibrate: --out FILE is required (where to save the calibrated model)\n"),
        (["calibrate", "--model", "m.json", "--out", "o.json"], "softlabel calibrate: missing VAL_DATA.csv (see 'softlabel calibrate --help')\n"),
        (["compare", "d.csv", "--model", "a.json"], "softlabel compare: give two or more models to compare (--model A.json --model B.json), got 1\n"),
        (["train", "x.csv", "--model", "m.json", "--quiet=yes"], "softlabel train: option '--quiet' takes no value\n"),
        (["train", "x.csv", "--modle", "m.json"], "softlabel train: unknown option '--modle' (did you mean --model? see 'softlabel train --help')\n"),
        (["eval", "x.csv", "--model", "m.json", "--jsno"], "softlabel eval: unknown option '--jsno' (did you mean --json? see 'softlabel eval --help')\n"),
        (["train", "x.csv", "--model", "m.json", "--optimizer", "adma"], "softlabel train: --optimizer expects one of sgd|adam|adamw|lbfgs, got 'adma' (did you mean 'adam'?)\n"),
        (["trian", "x.csv"], "softlabel: unknown command 'trian' (did you mean 'train'? commands: train, eval, predict, inspect, aggregate, calibrate, compare, gradcheck, export, convert)\n"),
        (["train", "x.csv", "--model", "m.json", "--hidden", "8", "--dropout", "0.99"], "softlabel train: --dropout expects a number >= 0 and <= 0.95, got '0.99'\n"),
        (["train", "x.csv", "--model", "m.json", "--dropout", "0.2"], "softlabel train: --dropout needs hidden layers (--hidden); a linear model has no hidden units to drop\n"),
        (["train", "x.csv", "--model", "m.json", "--hidden", "8", "--optimizer", "lbfgs", "--dropout", "0.2"], "softlabel train: --dropout needs a minibatch optimizer (sgd, adam or adamw): lbfgs needs a deterministic objective\n"),
    ])
    func badArgumentsGiveOneLineAndStatus2(_ args: [String], _ expected: String) {
        let r = runInProcess(args)
        #expect(r.status == 2)
        #expect(r.stderr == expected)
        #expect(r.stdout.isEmpty)
    }

    /// Option values are case-insensitive where that names one choice; --version answers everywhere.
    @Test func caseInsensitiveValuesAndVersion() throws {
        let dir = scratchFolder()
        let r = runInProcess(["train", packagePath("Data/catdog/train.csv"), "--model", dir + "/m.json", "--optimizer", "Adam",
                              "--Loss".lowercased(), "KL", "--epochs", "2", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let model = try String(contentsOfFile: dir + "/m.json", encoding: .utf8)
        #expect(model.contains("\"optimizer\":\"adam\"") && model.contains("\"loss\":\"kl\""))
        for args in [["--version"], ["train", "--version"]] {
            let v = runInProcess(args)
            #expect(v.status == 0 && v.stdout.hasPrefix("softlabel ") && v.stdout.contains("model file format 2"))
        }
    }

    /// A prediction that is not finite is an error naming the row, never a NaN in the output.
    @Test func nonFinitePredictionNamesTheRow() throws {
        let dir = scratchFolder()
        // f0 spreads over ±0.01 in training, so a value of 3e38 standardises past Float's range.
        var train = "id,f0,f1,label:a,label:b\n"
        for i in 0..<20 { train += "r\(i),\(Double(i % 5 - 2) * 0.005),\(i % 3),\(i % 2),\(1 - i % 2)\n" }
        write(train, to: dir + "/train.csv")
        #expect(runInProcess(["train", dir + "/train.csv", "--model", dir + "/m.json", "--quiet"]).status == 0)
        write("id,f0,f1,label:a,label:b\nok,0.001,1,1,0\nhuge,3e38,1,0,1\n", to: dir + "/bad.csv")
        let cells = ["huge"]
        for command in ["predict", "eval"] {
            let r = runInProcess([command, "--model", dir + "/m.json", dir + "/bad.csv", "--out", dir + "/p.csv"]
                                 .filter { command == "predict" || ($0 != "--out" && !$0.hasSuffix("p.csv")) })
            #expect(r.status == 2)
            #expect(r.stderr.hasPrefix("softlabel \(command): \(dir)/bad.csv: row 2 (id '\(cells[0])'): the prediction of \(dir)/m.json is not finite"), "\(r.stderr)")
            #expect(r.stderr.filter { $0 == "\n" }.count == 1)
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/p.csv"))
    }

    @Test func missingDataFileIsAnInputError() throws {
        let dir = scratchFolder()
        let r = try runBinary(["train", dir + "/nope.csv", "--model", dir + "/m.json"])
        #expect(r.status == 2)
        #expect(r.stderr == "softlabel train: \(dir)/nope.csv: no such file\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/m.json"))
    }

    /// Validation data is checked against the training data, and the message says so.
    @Test func validationClassesMustBeTheTrainingClasses() throws {
        let dir = scratchFolder()
        let r = try runBinary(["train", packagePath("Data/digits/train_votes.csv"), "--model", dir + "/m.json",
                               "--val", packagePath("Data/catdog/test.csv")])
        #expect(r.status == 2)
        #expect(r.stderr.contains("label classes differ from the training data's: missing '0'"))
        #expect(r.stderr.contains("not in the training data 'cat', 'dog'"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/m.json"))
        // Missing feature columns too.
        write("a,label:x,label:y\n1,1,0\n2,0,1\n", to: dir + "/train.csv")
        write("b,label:x,label:y\n1,1,0\n", to: dir + "/val.csv")
        let f = try runBinary(["train", dir + "/train.csv", "--model", dir + "/m.json", "--val", dir + "/val.csv"])
        #expect(f.status == 2)
        #expect(f.stderr == "softlabel train: \(dir)/val.csv:1: missing 1 feature column(s) of the training data: 'a'\n")
    }

    @Test func badCellNamesFileLineAndColumn() throws {
        let dir = scratchFolder()
        write("id,a,b,label:x,label:y\nr1,1,2,1,0\nr2,1,oops,0,1\n", to: dir + "/bad.csv")
        let r = try runBinary(["train", dir + "/bad.csv", "--model", dir + "/m.json"])
        #expect(r.status == 2)
        #expect(r.stderr == "softlabel train: \(dir)/bad.csv:3: column 'b': 'oops' is not a number\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["bad.csv"])
    }

    @Test func everySubcommandAnswersHelp() {
        for command in ["train", "eval", "predict", "inspect", "calibrate", "compare", "gradcheck", "export", "convert"] {
            let r = runInProcess([command, "--help"])
            #expect(r.status == 0)
            #expect(r.stdout.hasPrefix("Usage:\n  softlabel \(command) "))
            #expect(r.stdout.contains("  --help "))
        }
        let top = runInProcess(["--help"])
        #expect(top.status == 0 && top.stdout.contains("Commands:\n  train "))
    }
}
