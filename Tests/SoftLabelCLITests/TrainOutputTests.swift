import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import TestSupport

/// What `train` prints and writes besides the model: the table and chart, --quiet, --log, --plot.
@Suite struct TrainOutputTests {
    let train = packagePath("Data/catdog/train.csv")
    let test = packagePath("Data/catdog/test.csv")

    @Test func quietPrintsOnlyTheSummaryLine() throws {
        let dir = scratchFolder()
        let r = try runBinary(["train", train, "--model", dir + "/m.json", "--epochs", "5", "--quiet"])
        #expect(r.status == 0)
        #expect(r.stdout == "kept epoch 5 of 5 (not converged: reached --epochs 5); 480 training examples; 34 parameters; " +
                "model written to \(dir)/m.json\n")
        #expect(r.stderr.isEmpty)
    }

    /// The table, then the chart, then the summary; no progress bar when stderr is not a terminal.
    @Test func tableThenChartThenSummary() throws {
        let dir = scratchFolder()
        let r = try runBinary(["train", train, "--model", dir + "/m.json", "--epochs", "8", "--val", test, "--plot-log"])
        #expect(r.status == 0 && r.stderr.isEmpty)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "epoch  train_loss    val_loss      val_kl  val_acc          lr   seconds")
        #expect(lines[1].hasPrefix("    1    0.") && lines[8].hasPrefix("    8    0."))
        // L-BFGS (the default for a linear model) counts iterations.
        #expect(lines[9] == "" && lines[10] == "loss by iteration (log scale)")
        // The kept iteration (the last: no early stopping) is marked under its column.
        #expect(lines[24].hasSuffix(" +---------------------------------------------------------------^"))
        // The tick labels' width depends on the numbers; the rest does not.
        #expect(lines[25].trimmingCharacters(in: .whitespaces) == "1                          iteration                           8")
        #expect(lines[26].trimmingCharacters(in: .whitespaces).hasPrefix("* train loss   o validation loss"))
        #expect(lines[27].trimmingCharacters(in: .whitespaces) == "^ kept iteration 8 (last iteration, not converged)")
        #expect(lines[28] == "" && lines[29].hasPrefix("kept epoch 8 of 8 (not converged: reached --epochs 8); 480 training examples, 120 validation"))
        #expect(lines.count == 31 && lines[..<28].allSatisfy { $0.count <= 80 })
    }

    @Test func logHasOneRowPerEpochWithEmptyValidationCells() throws {
        let dir = scratchFolder()
        let r = try runBinary(["train", train, "--model", dir + "/m.json", "--epochs", "4", "--log", dir + "/log.csv"])
        #expect(r.status == 0)
        let rows = try String(contentsOfFile: dir + "/log.csv", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(rows.count == 5)
        #expect(rows[0] == "epoch,train_loss,val_loss,val_kl,val_accuracy,learning_rate,seconds")
        for (e, row) in rows.dropFirst().enumerated() {
            let cells = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            #expect(cells.count == 7 && cells[0] == String(e + 1))
            #expect(cells[2] == "" && cells[3] == "" && cells[4] == "")
            #expect(Double(cells[1])! > 0 && Float(cells[5])! > 0 && Double(cells[6])! >= 0)
        }
        // The printed table shows the same numbers, rounded.
        let tableRow = r.stdout.split(separator: "\n")[1]
        #expect(tableRow.contains(String(format: "%.6f", Double(rows[1].split(separator: ",")[1])!)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["log.csv", "m.json"])
    }

    @Test func logWithValidationFillsEveryCell() throws {
        let dir = scratchFolder()
        #expect(try runBinary(["train", train, "--model", dir + "/m.json", "--epochs", "3", "--val", test, "--quiet",
                               "--log", dir + "/log.csv"]).status == 0)
        let rows = try String(contentsOfFile: dir + "/log.csv", encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 4)
        for row in rows.dropFirst() {
            let cells = row.split(separator: ",", omittingEmptySubsequences: false)
            #expect(cells.count == 7 && cells.allSatisfy { Double($0) != nil })
            #expect(cells[2] == cells[3])  // the default loss is KL
        }
    }

    @Test func plotIsWellFormedSVGWithAPointPerEpoch() throws {
        let dir = scratchFolder()
        #expect(try runBinary(["train", train, "--model", dir + "/m.json", "--epochs", "23", "--optimizer", "adam", "--val", test, "--quiet",
                               "--plot", dir + "/curve.svg"]).status == 0)
        let data = try #require(FileManager.default.contents(atPath: dir + "/curve.svg"))
        final class Points: NSObject, XMLParserDelegate {
            var counts: [Int] = []
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) {
                if name == "polyline" { counts.append(attributes["points"]!.split(separator: " ").count) }
            }
        }
        let parser = XMLParser(data: data)
        let points = Points()
        parser.delegate = points
        #expect(parser.parse(), "\(String(describing: parser.parserError))")
        // Train loss, validation loss, validation accuracy.
        #expect(points.counts == [23, 23, 23])
    }

    /// A missing output folder is reported before any training, and nothing is written.
    @Test func missingLogFolderFailsBeforeTraining() throws {
        let dir = scratchFolder()
        let r = try runBinary(["train", train, "--model", dir + "/m.json", "--log", dir + "/no/log.csv"])
        #expect(r.status == 2 && r.stdout.isEmpty)
        #expect(r.stderr == "softlabel train: \(dir)/no/log.csv: cannot write: folder '\(dir)/no' does not exist\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
    }
}
