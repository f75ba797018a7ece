import Foundation
import Testing
import TestSupport

/// The commands when the data does not fit the memory budget (`--memory` set tiny): the same output as
/// when it is read whole; `convert` round trips; the notes and errors.
@Suite struct StreamingCommandsTests {
    static let digitsTrain = packagePath("Data/digits/train_votes.csv")
    static let digitsTest = packagePath("Data/digits/test_votes.csv")

    @Test func predictEvalAndInspectStreamedPrintWhatTheyPrintInMemory() throws {
        let dir = scratchFolder()
        let model = dir + "/m.json"
        #expect(try runBinary(["train", Self.digitsTrain, "--model", model, "--quiet", "--epochs", "20"]).status == 0)
        for extra in [["--format", "csv"], ["--format", "jsonl", "--top", "3"], ["--logits"]] {
            let whole = try runBinary(["predict", "--model", model, Self.digitsTest] + extra)
            let streamed = try runBinary(["predict", "--model", model, Self.digitsTest, "--memory", "1K"] + extra)
            #expect(whole.status == 0 && streamed.status == 0 && streamed.stdout == whole.stdout, "\(extra)")
            #expect(streamed.stderr.hasPrefix("softlabel: note: streaming ") && whole.stderr.isEmpty)
        }
        let toFile = try runBinary(["predict", "--model", model, Self.digitsTest, "--memory", "1K", "--out", dir + "/p.csv"])
        #expect(toFile.status == 0 && toFile.stdout.isEmpty)
        #expect(try String(contentsOfFile: dir + "/p.csv", encoding: .utf8) == runBinary(["predict", "--model", model, Self.digitsTest]).stdout)
        let evalWhole = try runBinary(["eval", "--model", model, Self.digitsTest, "--json"])
        let evalStreamed = try runBinary(["eval", "--model", model, Self.digitsTest, "--json", "--memory", "1K"])
        #expect(evalWhole.status == 0 && evalStreamed.stdout == evalWhole.stdout)
        func withoutTime(_ s: String) -> String { s.replacingOccurrences(of: #""parse_seconds": [0-9.e-]+"#, with: "", options: .regularExpression) }
        let inspectWhole = try runBinary(["inspect", Self.digitsTrain, "--json"])
        let inspectStreamed = try runBinary(["inspect", Self.digitsTrain, "--json", "--memory", "1K"])
        #expect(withoutTime(inspectStreamed.stdout) == withoutTime(inspectWhole.stdout))

        // The same rows as float16 NPY (the digits' pixel counts are exact there) with their ids.
        let converted = try runBinary(["convert", Self.digitsTest, "--out", dir + "/npy", "--float16"])
        #expect(converted.status == 0 && converted.stdout.contains("397 rows"), "\(converted.stderr)")
        for memory in [[], ["--memory", "1K"]] {
            let npy = try runBinary(["predict", "--model", model, "--features", dir + "/npy/features.npy", "--feature-names",
                                     dir + "/npy/feature_names.txt", "--ids", dir + "/npy/ids.txt"] + memory)
            #expect(npy.status == 0 && npy.stdout == whole(model), "\(memory) \(npy.stderr)")
        }
        func whole(_ model: String) -> String { (try? runBinary(["predict", "--model", model, Self.digitsTest]).stdout) ?? "" }
    }

    /// A bad row late in a streamed file: the error names its line and nothing reaches stdout.
    @Test func aBadRowInAStreamedFilePrintsNothing() throws {
        let dir = scratchFolder()
        let model = dir + "/m.json"
        #expect(try runBinary(["train", Self.digitsTrain, "--model", model, "--quiet", "--epochs", "5"]).status == 0)
        var lines = try String(contentsOfFile: Self.digitsTest, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[300] = lines[300].replacingOccurrences(of: ",", with: ",x", options: [], range: lines[300].range(of: ","))
        write(lines.joined(separator: "\n") + "\n", to: dir + "/bad.csv")
        let r = try runBinary(["predict", "--model", model, dir + "/bad.csv", "--memory", "1K"])
        #expect(r.status == 2 && r.stdout.isEmpty && r.stderr.contains("bad.csv:301: column 'px0_0': 'x"), "\(r.stderr)")
        let e = try runBinary(["predict", "--model", model, Self.digitsTest, "--memory", "lots"])
        #expect(e.status == 2 && e.stderr == "softlabel predict: --memory expects a size such as 2G, 512M or 1.5G (K, M, G, T: powers of 1024), got 'lots'\n")
        let i = try runBinary(["predict", "--model", model, Self.digitsTest, "--ids", dir + "/ids.txt"])
        #expect(i.status == 2 && i.stderr.contains("--ids is for NPY input"))
    }

    /// Training streams NPY data over the budget (and says so), records how in the model file, and gives the
    /// same bytes for any thread count; CSV converted to NPY trains the CSV file's model, byte for byte.
    @Test func trainStreamsAndConvertRoundTrips() throws {
        let dir = scratchFolder()
        let catdog = packagePath("Data/catdog/train.csv")
        let c = try runBinary(["convert", catdog, "--out", dir + "/cd"])
        #expect(c.status == 0 && c.stdout.contains("train on it with: softlabel train --features"), "\(c.stderr)")
        #expect(try String(contentsOfFile: dir + "/cd/classes.txt", encoding: .utf8) == "cat\ndog\n")
        let npy = ["--features", dir + "/cd/features.npy", "--labels", dir + "/cd/labels.npy", "--classes", dir + "/cd/classes.txt",
                   "--feature-names", dir + "/cd/feature_names.txt"]
        #expect(try runBinary(["train", catdog, "--model", dir + "/csv.json", "--quiet"]).status == 0)
        #expect(try runBinary(["train"] + npy + ["--model", dir + "/npy.json", "--quiet"]).status == 0)
        #expect(FileManager.default.contents(atPath: dir + "/csv.json") == FileManager.default.contents(atPath: dir + "/npy.json"))

        // 480 rows: under two blocks of 1,024, so even a tiny budget keeps them in memory; the digits (1,400
        // rows) convert and stream.
        #expect(try runBinary(["convert", Self.digitsTrain, "--out", dir + "/dg"]).status == 0)
        let dg = ["--features", dir + "/dg/features.npy", "--labels", dir + "/dg/labels.npy", "--classes", dir + "/dg/classes.txt",
                  "--feature-names", dir + "/dg/feature_names.txt", "--hidden", "16", "--epochs", "3", "--memory", "1K", "--quiet"]
        let a = try runBinary(["train"] + dg + ["--model", dir + "/s1.json", "--threads", "1", "--val-fraction", "0", "--patience", "0"])
        let b = try runBinary(["train"] + dg + ["--model", dir + "/s3.json", "--threads", "3", "--val-fraction", "0", "--patience", "0"])
        #expect(a.status == 0 && b.status == 0, "\(a.stderr)")
        #expect(a.stderr.contains("note: streaming ") && a.stderr.contains("reading it in blocks of 1024 rows"))
        #expect(a.stdout.contains("kept epoch 3 of 3; 1400 training examples"), "\(a.stdout)")
        let bytes = try #require(FileManager.default.contents(atPath: dir + "/s1.json"))
        #expect(bytes == FileManager.default.contents(atPath: dir + "/s3.json"))
        let json = try JSONSerialization.jsonObject(with: bytes) as! [String: Any]
        let training = json["training"] as! [String: Any]
        #expect((training["streaming"] as? [String: Int]) == ["blockRows": 1024, "windowBlocks": 64])
        // The validation split holds out whole blocks (a tenth of 2 blocks rounds to 1 of them).
        let v = try runBinary(["train"] + dg.filter { $0 != "--quiet" } + ["--model", dir + "/v.json", "--val-fraction", "0.1", "--quiet"])
        #expect(v.stdout.contains("1024 training examples, 376 validation") || v.stdout.contains("376 training examples, 1024 validation"),
                "\(v.stdout) \(v.stderr)")
    }

    /// Hard labels convert to indices in the order the CSV reader gives the classes; float16 refuses what
    /// it cannot hold.
    @Test func convertHardLabelsAndFloat16Limits() throws {
        let dir = scratchFolder()
        var text = "id,a,b,label\n"
        for i in 0..<50 { text += "x\(i),\(i),\(Float(i) / 3),\(["10", "2", "9"][i % 3])\n" }
        write(text, to: dir + "/h.csv")
        let c = try runBinary(["convert", dir + "/h.csv", "--out", dir + "/h"])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(try String(contentsOfFile: dir + "/h/classes.txt", encoding: .utf8) == "2\n9\n10\n")
        #expect(try String(contentsOfFile: dir + "/h/ids.txt", encoding: .utf8).hasPrefix("x0\nx1\n"))
        let npy = ["--features", dir + "/h/features.npy", "--labels", dir + "/h/labels.npy", "--classes", dir + "/h/classes.txt",
                   "--feature-names", dir + "/h/feature_names.txt"]
        #expect(try runBinary(["train", dir + "/h.csv", "--model", dir + "/csv.json", "--quiet"]).status == 0)
        #expect(try runBinary(["train"] + npy + ["--model", dir + "/npy.json", "--quiet"]).status == 0)
        #expect(FileManager.default.contents(atPath: dir + "/csv.json") == FileManager.default.contents(atPath: dir + "/npy.json"))

        write("a,label:p,label:q\n1,1,0\n70000,0,1\n", to: dir + "/big.csv")
        let f = try runBinary(["convert", dir + "/big.csv", "--out", dir + "/big", "--float16"])
        #expect(f.status == 2 && f.stderr.contains("data row 2, column 'a': 70000.0 does not fit float16"), "\(f.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/big/features.npy"))
        #expect(try runBinary(["convert", dir + "/big.csv", "--out", dir + "/big"]).status == 0)
    }
}
