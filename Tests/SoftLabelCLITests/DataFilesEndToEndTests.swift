import Foundation
import Testing
import TestSupport
@testable import SoftLabel


/// The built binary on the fixture corpus (Tests/Fixtures, from Scripts/make_fixtures.py): malformed input
/// never crashes, always says what is wrong in one line, exits 2 and writes nothing; odd but valid input trains.
@Suite struct DataFilesEndToEndTests {
    /// A model with features a, b and classes x, y: the schema of every CSV fixture.
    static let model: String = {
        let path = scratchFolder() + "/ab-xy.json"
        _ = try? runBinary(["train", fixture("csv/good/crlf.csv"), "--model", path, "--epochs", "2"])
        return path
    }()

    func expectOneLineFailure(_ r: RunResult, _ command: String, _ file: String, _ context: String) {
        #expect(r.status == 2, "\(context): status \(r.status) \(r.stderr)")
        #expect(r.stderr.hasPrefix("softlabel \(command): \(file)"), "\(context): \(r.stderr)")
        #expect(isOneLine(r.stderr), "\(context): \(r.stderr.debugDescription)")
    }

    @Test func malformedCSVFailsTrainEvalAndPredict() throws {
        #expect(FileManager.default.fileExists(atPath: Self.model))
        let dir = scratchFolder()
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture("csv/bad")).sorted() {
            let file = fixture("csv/bad/" + name)
            expectOneLineFailure(try runBinary(["train", file, "--model", dir + "/m.json"]), "train", file, name)
            let e = try runBinary(["eval", "--model", Self.model, file])
            if name == "one-class-hard.csv" {
                // For a model, hard labels may name any subset of its classes (CSVReaderTests pins this).
                #expect(e.status == 0, "\(e.stderr)")
            } else {
                expectOneLineFailure(e, "eval", file, name)
            }
            let p = try runBinary(["predict", "--model", Self.model, file, "--out", dir + "/p.csv"])
            if name == "no-label-columns.csv" {
                #expect(p.status == 0, "unlabelled data is what predict is for")  // not malformed for predict
                try FileManager.default.removeItem(atPath: dir + "/p.csv")
            } else {
                expectOneLineFailure(p, "predict", file, name)
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func malformedNPYFailsTrainEvalAndPredict() throws {
        let dir = scratchFolder()
        let x = fixture("npy/good/x_f4.npy"), y = fixture("npy/good/y_prob_f4.npy")
        var cases: [[String]] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture("npy/bad")).sorted() where name.hasPrefix("x_") || name.hasPrefix("bad") || name.hasPrefix("trunc") || name.hasPrefix("extra") {
            cases.append(["--features", fixture("npy/bad/" + name), "--labels", y])
        }
        for name in ["y_negative", "y_nan", "y_sum_zero", "y_one_class", "y_index_negative", "y_index_fraction", "y_rows3", "y_3d",
                     "y_index_1e19_u8", "y_index_u8_max", "y_index_minus_1e19", "y_index_1e8"] {
            cases.append(["--features", x, "--labels", fixture("npy/bad/\(name).npy")])
        }
        cases.append(["--features", x, "--labels", fixture("npy/bad/y_index_big.npy"), "--classes", fixture("npy/good/classes3.txt")])
        cases.append(["--features", x, "--labels", y, "--feature-names", fixture("npy/bad/features2.txt")])
        for names in ["classes_tsv.txt", "classes_vt.txt", "classes_duplicate.txt", "classes_blank_line.txt"] {
            cases.append(["--features", x, "--labels", fixture("npy/good/y_index_i8.npy"), "--classes", fixture("npy/bad/" + names)])
        }
        for args in cases {
            let r = try runBinary(["train"] + args + ["--model", dir + "/m.json"])
            #expect(r.status == 2 && isOneLine(r.stderr), "\(args): \(r.stderr.debugDescription)")
            #expect(r.stderr.hasPrefix("softlabel train: /"), "\(args): \(r.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }

    @Test func everyOddButValidCSVTrains() throws {
        let dir = scratchFolder()
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture("csv/good")).sorted() {
            let r = try runBinary(["train", fixture("csv/good/" + name), "--model", dir + "/m.json", "--epochs", "3"])
            #expect(r.status == 0, "\(name): \(r.stderr)")
        }
    }

    /// The same float32 data as CSV and as NPY trains bit-identical model files; eval and predict agree too.
    @Test func npyAndCSVTrainIdenticalModels() throws {
        let dir = scratchFolder()
        var rng = SplitMix64(seed: 21)
        let n = 300, d = 5, k = 3
        var x: [Float] = [], y: [Float] = []
        var csv = "f0,f1,f2,f3,f4,label:0,label:1,label:2\n"
        for _ in 0..<n {
            let row = (0..<d).map { _ in Float(rng.nextGaussian()) }
            let p = (0..<k).map { _ in Float(rng.nextUnit()) }
            x += row
            y += p
            csv += (row + p).map { "\($0)" }.joined(separator: ",") + "\n"
        }
        write(csv, to: dir + "/data.csv")
        try writeNPY(x, shape: [n, d], to: dir + "/x.npy")
        try writeNPY(y, shape: [n, k], to: dir + "/y.npy")
        let a = try runBinary(["train", dir + "/data.csv", "--model", dir + "/a.json", "--epochs", "5", "--hidden", "8"])
        let b = try runBinary(["train", "--features", dir + "/x.npy", "--labels", dir + "/y.npy", "--model", dir + "/b.json",
                               "--epochs", "5", "--hidden", "8"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr) \(b.stderr)")
        #expect(FileManager.default.contents(atPath: dir + "/a.json") == FileManager.default.contents(atPath: dir + "/b.json"))
        let ea = try runBinary(["eval", "--model", dir + "/a.json", dir + "/data.csv"])
        let eb = try runBinary(["eval", "--model", dir + "/a.json", "--features", dir + "/x.npy", "--labels", dir + "/y.npy"])
        #expect(ea.status == 0 && ea.stdout == eb.stdout, "\(eb.stderr)")
        let pa = try runBinary(["predict", "--model", dir + "/a.json", dir + "/data.csv"])
        let pb = try runBinary(["predict", "--model", dir + "/a.json", "--features", dir + "/x.npy"])
        // The same probabilities; ids differ by design: CSV rows are numbered from 1 (the data row), NPY rows
        // from 0 (as NPY errors and numpy's X[i] number them).
        func cells(_ text: String) -> [[Substring]] { text.split(separator: "\n").map { Array($0.split(separator: ",")) } }
        let ca = cells(pa.stdout), cb = cells(pb.stdout)
        #expect(pa.status == 0 && pb.status == 0 && ca.count == cb.count, "\(pb.stderr)")
        #expect(zip(ca, cb).allSatisfy { $0.dropFirst() == $1.dropFirst() })
        #expect(ca[1][0] == "1" && cb[1][0] == "0" && cb.last![0] == String(cb.count - 2))
        // NPY validation data instead of --val.
        let v = try runBinary(["train", dir + "/data.csv", "--model", dir + "/v.json", "--epochs", "2",
                               "--val-features", dir + "/x.npy", "--val-labels", dir + "/y.npy"])
        #expect(v.status == 0 && v.stdout.contains("300 validation"), "\(v.stderr)")
    }

    @Test func inspectReportsTheData() throws {
        let r = try runBinary(["inspect", fixture("csv/good/counts-and-offsum.csv")])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0].hasSuffix("csv/good/counts-and-offsum.csv") && lines[1] == "rows      3")
        #expect(lines[2] == "features  2" && lines[3] == "classes   2" && lines[4].hasPrefix("parsed    "))
        #expect(Array(lines[5...]) == [
            "", "class    mean_p  majority",
            "x      0.579620         2",
            "y      0.420380         1",
            "", "mean entropy  0.634517 nats",
            "split labels  100.00% of rows (max p < 1)",
            "", "feature           min          mean           std           max",
            "a                   1             3       1.63299             5",
            "b                   2             4       1.63299             6",
            "", "constant features: 0", ""])
        #expect(r.stderr.contains("warning: ") && r.stderr.contains("2 label row(s)"))
        let j = try runBinary(["inspect", "--features", fixture("npy/good/x_u1.npy"), "--labels",
                               fixture("npy/good/y_index_i8.npy"), "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as! [String: Any]
        #expect(json["rows"] as? Int == 4 && json["features"] as? Int == 3 && json["classes"] as? Int == 3)
        let classes = json["class_stats"] as! [[String: Any]]
        #expect(classes.map { $0["majority_rows"] as! Int } == [1, 2, 1])
        let features = json["feature_stats"] as! [[String: Any]]
        #expect(features[0]["min"] as? Double == 0 && features[0]["max"] as? Double == 9)
        #expect(json["split_share"] as? Double == 0 && json["parse_seconds"] is Double)
    }
}

/// One line on stderr: a single line break, at the end, and no other control character (a CR or a VT from
/// a cell would break the line on a terminal; Swift counts "\r\n" as one Character, so count scalars).
func isOneLine(_ text: String) -> Bool {
    let controls = text.unicodeScalars.filter { $0.properties.generalCategory == .control }
    return controls.count == 1 && controls.first == "\n" && text.hasSuffix("\n")
}
