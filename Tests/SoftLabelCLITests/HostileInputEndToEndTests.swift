import Foundation
import Testing
import TestSupport
@testable import SoftLabel

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
