import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import SoftLabel

/// A fixed training curve: decaying train and validation loss (none without `validation`).
func sampleHistory(validation: Bool = true, epochs: Int = 12) -> [EpochRecord] {
    (1...epochs).map { e in
        let val = 0.6 * pow(0.8, Double(e - 1)) + 0.2
        return EpochRecord(epoch: e, trainLoss: 0.9 * pow(0.75, Double(e - 1)) + 0.1, valLoss: validation ? val : nil,
                           valKL: validation ? val - 0.05 : nil, valAccuracy: validation ? 0.5 + 0.03 * Double(e) : nil,
                           learningRate: 0.02 / Float(e), seconds: 0.001 * Double(e))
    }
}

/// The training output's pieces, against their exact text.
@Suite struct TrainingOutputTests {
    @Test func epochTable() {
        let table = EpochTable()
        let rows = sampleHistory().prefix(3).map(table.row).joined()
        #expect(table.header + rows ==         """
        epoch  train_loss    val_loss      val_kl  val_acc          lr   seconds
            1    1.000000    0.800000    0.750000   0.5300   2.000e-02     0.001
            2    0.775000    0.680000    0.630000   0.5600   1.000e-02     0.002
            3    0.606250    0.584000    0.534000   0.5900   6.667e-03     0.003

        """)
        let bare = sampleHistory(validation: false)[0]
        #expect(table.row(bare) == "    1    1.000000           -           -        -   2.000e-02     0.001\n")
    }

    @Test func terminalChartOfTrainAndValidationLoss() {
        let text = TerminalChart.losses(sampleHistory(), logScale: false).text
        #expect(text ==         """
        loss by epoch
             1 |**
               | ***
               |   ***
        0.7845 |ooo  ***
               |  ooooo***
               |      ooo##**
         0.569 |          oo####
               |               ####ooo
               |                  ***###ooooooo
        0.3535 |                       ****** ooooooooooooo
               |                            *********     oooooooooooooooooooooo
               |                                    ***************
         0.138 |                                                  **************
               +----------------------------------------------------------------
                1                            epoch                            12
                * train loss   o validation loss   # both

        """)
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 80 })
    }

    /// More epochs than columns, log scale, train loss only.
    @Test func terminalChartLogScaleWithoutValidation() {
        #expect(TerminalChart.losses(sampleHistory(validation: false, epochs: 150), logScale: true).text ==         """
        loss by epoch (log scale)
             1 |*
               |*
               |**
        0.5623 | *
               | **
               |  *
        0.3162 |  *
               |  **
               |   *
        0.1778 |   **
               |    **
               |     ***
           0.1 |       *********************************************************
               +----------------------------------------------------------------
                1                            epoch                           150
                * train loss

        """)
    }

    /// One epoch is one point per curve in the first column; no epochs, no chart.
    @Test func terminalChartOfOneEpochOrNone() {
        #expect(TerminalChart.losses(sampleHistory(epochs: 1), logScale: false).text ==         """
        loss by epoch
           1 |*
             |
             |
        0.95 |
             |
             |
         0.9 |
             |
             |
        0.85 |
             |
             |
         0.8 |o
             +----------------------------------------------------------------
              1                            epoch
              * train loss   o validation loss

        """)
        #expect(TerminalChart.losses([], logScale: false).text == "")
    }

    @Test func csvLog() {
        #expect(EpochLog.csv(Array(sampleHistory().prefix(2))) + EpochLog.csv(Array(sampleHistory(validation: false).prefix(2))) ==         """
        epoch,train_loss,val_loss,val_kl,val_accuracy,learning_rate,seconds
        1,1.0,0.8,0.75,0.53,0.02,0.001
        2,0.775,0.6799999999999999,0.6299999999999999,0.56,0.01,0.002
        epoch,train_loss,val_loss,val_kl,val_accuracy,learning_rate,seconds
        1,1.0,,,,0.02,0.001
        2,0.775,,,,0.01,0.002

        """)
    }

    @Test func progressBar() {
        #expect(ProgressBar.line(epoch: 3, done: 450, total: 1000) == "\r  epoch 3 [#########...........]  45%  450/1000\u{1B}[K")
        #expect(ProgressBar.line(epoch: 10, done: 1000, total: 1000) == "\r  epoch 10 [####################] 100%  1000/1000\u{1B}[K")
    }
}


/// The SVG chart parses as XML and holds one polyline point per epoch and series.
@Suite struct SVGChartTests {
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [String: Int] = [:]
        var polylines: [String] = []  // their points attributes
        var texts: [String] = []  // each element's text, entities decoded
        var root: String?
        private var buffer = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if root == nil { root = name }
            elements[name, default: 0] += 1
            if name == "polyline" { polylines.append(attributes["points"] ?? "") }
            buffer = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { buffer += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            let t = buffer.trimmingCharacters(in: .whitespacesAndNewlines)
            if !t.isEmpty { texts.append(t) }
            buffer = ""
        }
    }

    func parse(_ svg: String) -> Collector? {
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = Collector()
        parser.delegate = collector
        return parser.parse() ? collector : nil
    }

    @Test(arguments: [false, true])
    func wellFormedWithAPointPerEpoch(_ logY: Bool) throws {
        let svg = SVGChart.losses(sampleHistory(epochs: 37), title: "Loss <by> epoch & more", logY: logY).svg
        let c = try #require(parse(svg))
        #expect(c.root == "svg")
        #expect(c.polylines.count == 2)
        for points in c.polylines {
            let pairs = points.split(separator: " ")
            #expect(pairs.count == 37)
            for pair in pairs {
                let xy = pair.split(separator: ",").map { Double($0)! }
                // Inside the plot area.
                #expect(xy.count == 2 && xy[0] >= 78 && xy[0] <= 776 && xy[1] >= 46 && xy[1] <= 442)
            }
        }
        // Title (escaped), axis titles, legend entries, tick labels.
        #expect(c.texts.contains("Loss <by> epoch & more"))
        #expect(c.texts.contains("epoch"))
        #expect(c.texts.contains(logY ? "loss (log scale)" : "loss"))
        #expect(c.texts.contains("train loss") && c.texts.contains("validation loss"))
        #expect(c.texts.contains("10") && c.texts.contains("30"))  // epoch ticks
        #expect(c.texts.contains(logY ? "0.2" : "0.4"))
    }

    @Test func trainOnlyHasOneCurve() throws {
        let c = try #require(parse(SVGChart.losses(sampleHistory(validation: false, epochs: 5), title: "t", logY: false).svg))
        #expect(c.polylines.count == 1 && c.polylines[0].split(separator: " ").count == 5)
        #expect(!c.texts.contains("validation loss"))
    }

    /// Ticks are round numbers covering the data.
    @Test func axisTicks() {
        let lin = Axis.linear(min: 0.0445, max: 0.985, integral: false)
        #expect(lin.lo == 0 && abs(lin.hi - 1) < 1e-12)
        #expect(lin.ticks.map(\.label) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        let epochs = Axis.linear(min: 0, max: 60, integral: true)
        #expect(epochs.ticks.map(\.label) == ["0", "10", "20", "30", "40", "50", "60"])
        let log = Axis.log(min: 0.0125, max: 1.03)
        #expect(log.lo == 0.01 && log.hi == 2)
        #expect(log.ticks.map(\.label) == ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2"])
        let narrow = Axis.log(min: 0.127, max: 0.249)
        #expect(narrow.ticks.map(\.label) == ["0.1", "0.2", "0.3", "0.4", "0.5"])
    }
}
