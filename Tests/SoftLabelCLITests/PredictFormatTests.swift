import Foundation
import Testing
import TestSupport

/// `predict --format jsonl` and `--top K`, ids carried through.
@Suite struct PredictFormatTests {
    let model = packagePath("Tests/Fixtures/eval/digits_model.json")
    let data = packagePath("Data/digits/test_votes.csv")

    func fullCSV() throws -> [(id: String, q: [Double])] {
        let r = try runBinary(["predict", "--model", model, data])
        return r.stdout.split(separator: "\n").dropFirst().map { line in
            let cells = line.split(separator: ",")
            return (String(cells[0]), cells.dropFirst().map { Double($0)! })
        }
    }

    @Test func jsonLinesCarryIdsAndEveryClass() throws {
        let r = try runBinary(["predict", "--model", model, data, "--format", "jsonl"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        let csv = try fullCSV()
        #expect(lines.count == 397)
        #expect(lines[0].hasPrefix("{\"id\": \"digit1064\", \"p\": {\"0\": "))
        for (line, row) in zip(lines, csv) {
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            #expect(obj["id"] as? String == row.id)
            let p = obj["p"] as! [String: Double]
            #expect(p.count == 10)
            #expect((0..<10).allSatisfy { p[String($0)] == row.q[$0] })  // the same Float text as the CSV
        }
    }

    @Test func topKInCSV() throws {
        let r = try runBinary(["predict", "--model", model, data, "--top", "3"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines[0] == "id,class_1,p_1,class_2,p_2,class_3,p_3")
        let csv = try fullCSV()
        for (line, row) in zip(lines.dropFirst(), csv) {
            let cells = line.split(separator: ",").map(String.init)
            #expect(cells.count == 7 && cells[0] == row.id)
            let ranked = row.q.indices.sorted { row.q[$0] > row.q[$1] || (row.q[$0] == row.q[$1] && $0 < $1) }
            #expect([cells[1], cells[3], cells[5]] == ranked.prefix(3).map(String.init))
            #expect([Double(cells[2])!, Double(cells[4])!, Double(cells[6])!] == ranked.prefix(3).map { row.q[$0] })
        }
    }

    @Test func topKInJSONLines() throws {
        let r = try runBinary(["predict", "--model", model, data, "--top", "2", "--format", "jsonl"])
        let first = try JSONSerialization.jsonObject(with: Data(r.stdout.split(separator: "\n")[0].utf8)) as! [String: Any]
        #expect(first["id"] as? String == "digit1064")
        let top = first["top"] as! [[String: Any]]
        #expect(top.count == 2)
        #expect(top[0]["class"] as? String == "5")
        #expect((top[0]["p"] as! Double) >= (top[1]["p"] as! Double))
    }

    @Test func topMoreThanClassesIsAUsageError() throws {
        let r = try runBinary(["predict", "--model", model, data, "--top", "11"])
        #expect(r.status == 2)
        #expect(r.stderr == "softlabel predict: --top 11 is more than the model's 10 classes\n")
    }

    /// Ids that need quoting stay intact in both formats.
    @Test func awkwardIds() throws {
        let dir = scratchFolder()
        let lines = try String(contentsOfFile: data, encoding: .utf8).split(separator: "\n")
        let row = lines[1].split(separator: ",", maxSplits: 1)[1]
        write(String(lines[0]) + "\n\"a,\"\"b\"\"\"," + row + "\n", to: dir + "/odd.csv")
        let csv = try runBinary(["predict", "--model", model, dir + "/odd.csv", "--top", "1"])
        #expect(csv.stdout.split(separator: "\n")[1].hasPrefix("\"a,\"\"b\"\"\",5,"))
        let jsonl = try runBinary(["predict", "--model", model, dir + "/odd.csv", "--format", "jsonl"])
        #expect(jsonl.stdout.hasPrefix("{\"id\": \"a,\\\"b\\\"\", \"p\": {"))
    }
}
