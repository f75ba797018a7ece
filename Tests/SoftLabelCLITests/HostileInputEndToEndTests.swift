import Foundation
import Testing
import TestSupport
@testable import SoftLabel
@testable import SoftLabelCLI

/// The built binary on inputs that trapped before (issue 9): a result or a one-line error, never a crash.
@Suite struct HostileInputEndToEndTests {
    @Test func inspectDataWithoutLabels() throws {
        for args in [[fixture("csv/bad/no-label-columns.csv")], ["--features", fixture("npy/good/x_f4.npy")]] {
            let r = try runBinary(["inspect"] + args)
            #expect(r.status == 0, "\(args): \(r.stderr)")
            #expect(r.stdout.contains("\nclasses   0\n") && r.stdout.contains("\nno labels\n"), "\(r.stdout)")
            let j = try runBinary(["inspect", "--json"] + args)
            let json = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
            #expect(json?["classes"] as? Int == 0 && json?["class_stats"] == nil, "\(j.stdout)")
        }
    }

    /// A column of 0 and 1e-40 (a subnormal std) trained as "diverged"; it is a constant feature.
    @Test func trainOnADenormalSpread() throws {
        let dir = scratchFolder()
        var csv = "a,b,label:x,label:y\n"
        for i in 0..<40 { csv += "\(i % 2 == 0 ? "0" : "1e-40"),\(Double(i % 7) - 3),\(i % 3 == 0 ? "1,0" : "0.2,0.8")\n" }
        write(csv, to: dir + "/d.csv")
        let r = try runBinary(["train", dir + "/d.csv", "--model", dir + "/m.json", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let model = try ModelFile.load(path: dir + "/m.json")
        #expect(model.standardization?.std[0] == 0 && model.standardization!.std[1] > 0)
        let p = try runBinary(["predict", "--model", dir + "/m.json", dir + "/d.csv"])
        #expect(p.status == 0 && !p.stdout.lowercased().contains("nan"), "\(p.stderr)")
    }

    /// A model whose temperature is 1e-45 turns finite logits into infinities: eval and compare must say so
    /// in one line, not trap in the reliability table (Int(NaN)) nor print NaN.
    @Test func evalOfANonFinitePrediction() throws {
        let dir = scratchFolder()
        let data = fixture("csv/good/crlf.csv")
        let t = try runBinary(["train", data, "--model", dir + "/m.json", "--epochs", "3"])
        #expect(t.status == 0, "\(t.stderr)")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/m.json"))) as! [String: Any]
        json["temperature"] = 1e-45
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: dir + "/hot.json"))
        for args in [["eval", "--model", dir + "/hot.json", data], ["eval", "--model", dir + "/hot.json", data, "--json"],
                     ["compare", "--model", dir + "/m.json", "--model", dir + "/hot.json", data]] {
            let r = try runBinary(args)
            #expect(r.status == 1 || r.status == 2, "\(args): \(r.status) \(r.stderr)")
            #expect(isOneLine(r.stderr) && r.stdout.isEmpty, "\(args): \(r.stderr.debugDescription) \(r.stdout)")
        }
    }

    /// Hidden layers too large for the memory (25.6 GB aborted an allocation): a usage error before the data is
    /// read (the file does not even exist), and with the data's own shape when only that makes it too large.
    @Test func hiddenLayersTooLargeForMemory() throws {
        let r = try runBinary(["train", "/nonexistent.csv", "--model", scratchFolder() + "/m.json", "--hidden", "100000000"])
        #expect(r.status == 2 && isOneLine(r.stderr), "\(r.status) \(r.stderr)")
        #expect(r.stderr.hasPrefix("softlabel train: --hidden 100000000: training this network even with 1 feature and 2 classes needs at least "),
                "\(r.stderr)")
        var config = TrainConfig.defaults(hidden: [1000], optimizer: .adam)
        config.batchSize = 128
        config.averageEpochs = 0
        // 64 -> 1000 -> 10: 75,010 parameters, 2,048 rows of 1,088 padded widths; fits in 1 GiB, not in 16 MiB.
        try TrainCommand.checkNetworkFits(inputs: 64, classes: 10, config: config, available: 1 << 30)
        #expect(throws: UsageError.self) {
            try TrainCommand.checkNetworkFits(inputs: 64, classes: 10, config: config, available: 16 << 20)
        }
        let need = try #require(TrainingMemory.bytes(inputs: 64, hidden: [1000], classes: 10, config: config))
        // weights etc: 75,010 x (5 + 2 Adam moments); rows: 2,048 x (64 + 1,008 + 16) x 2; partial dW of the
        // 10-output layer: 32 chunks x 10,010.
        #expect(need == 4 * (75_010 * 7 + 2_048 * 1_088 * 2 + 32 * 10_010))
        #expect(TrainingMemory.bytes(inputs: 1 << 40, hidden: [1 << 40], classes: 2, config: config) == nil)
    }

    /// Usage errors quote the command line: a control character in an argument is escaped too.
    @Test func usageErrorsStayOneLine() throws {
        let r = try runBinary(["inspect", "a\rb.csv", "c\u{1B}[2J.csv"])
        #expect(r.status == 2 && isOneLine(r.stderr), "\(r.stderr.debugDescription)")
        let u = try runBinary(["in\u{0B}spect"])
        #expect(u.status == 2 && isOneLine(u.stderr) && u.stderr.contains("in\\u{0B}spect"), "\(u.stderr.debugDescription)")
    }
}

/// A header name with a CR (quoted, valid RFC 4180) stays one table row in inspect's text report.
@Suite struct InspectNamesTests {
    @Test func controlCharactersInNamesAreEscapedInTheTable() throws {
        let dir = scratchFolder()
        write("\"a\rb\",\"label:x\ty\",label:z\n1,0.5,0.5\n2,1,0\n", to: dir + "/d.csv")
        let r = try runBinary(["inspect", dir + "/d.csv"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stdout.contains("\r") && !r.stdout.contains("\t"), "\(r.stdout.debugDescription)")
        #expect(r.stdout.contains("\nx\\ty   0.750000         2\n") && r.stdout.contains("\na\\rb                1"), "\(r.stdout)")
    }
}
