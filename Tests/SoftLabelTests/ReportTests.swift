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

    /// The kept epoch is a `^` under its column with a legend line saying why; L-BFGS says "iteration".
    @Test func terminalChartMarksTheKeptEpoch() {
        let lines = TerminalChart.losses(sampleHistory(), logScale: false, kept: KeptEpoch(epoch: 12, reason: .converged),
                                         iterations: true).text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "loss by iteration")
        #expect(lines[14].hasSuffix("+" + String(repeating: "-", count: 63) + "^"))
        #expect(lines[15].hasSuffix("iteration                          12"))
        #expect(lines[17] == "        ^ kept iteration 12 (converged)")
        // Epoch 4 of 12: column round(3 · 63 / 11) = 17.
        let early = TerminalChart.losses(sampleHistory(), logScale: false, kept: KeptEpoch(epoch: 4, reason: .stoppedEarly)).text
        let axis = early.split(separator: "\n")[14]
        let plus = axis.firstIndex(of: "+")!
        #expect(axis.distance(from: plus, to: axis.firstIndex(of: "^")!) == 18)
        #expect(early.hasSuffix("\n        ^ kept epoch 4 (early stop, best validation loss)\n"))
    }

    /// A taller terminal gets more rows (between 13 and 40); the chart keeps its shape otherwise.
    @Test func terminalChartHeight() {
        #expect(TerminalChart.rows(forTerminalHeight: 24) == 13 && TerminalChart.rows(forTerminalHeight: 50) == 36)
        #expect(TerminalChart.rows(forTerminalHeight: 200) == 40)
        var chart = TerminalChart.losses(sampleHistory(), logScale: false)
        chart.plotHeight = 30
        let lines = chart.text.split(separator: "\n").map(String.init)
        #expect(lines.count == 1 + 30 + 3)
        #expect(lines[1] == "     1 |*" && lines[8].hasPrefix("0.7919 |oo") && lines[30].hasPrefix(" 0.138 |"))
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
        // 450 of 1000 examples in 0.5 s: 900 ex/s; 550 left take 0.61 s (shown rounded up: 0:01); the 7 epochs
        // after this one take at most 7 × 1000 / 900 = 7.8 s more: 0:09 for the run.
        #expect(ProgressBar.line(epoch: 3, of: 10, done: 450, total: 1000, seconds: 0.5, loss: 0.412345) ==
                "\r  epoch 3/10 [#########...........]  45%  450/1,000  900 ex/s  loss 0.4123  left 0:01, run <= 0:09\u{1B}[K")
        #expect(ProgressBar.line(epoch: 10, of: 10, done: 1_000_000, total: 1_000_000, seconds: 4000, loss: nil) ==
                "\r  epoch 10/10 [####################] 100%  1,000,000/1,000,000  250 ex/s  left 0:00\u{1B}[K")
        // Streamed data: the read rate after the speed (300 MiB in 0.5 s).
        #expect(ProgressBar.line(epoch: 1, of: 2, done: 450, total: 1000, seconds: 0.5, loss: 0.5, readRate: 600 * 1_048_576) ==
                "\r  epoch 1/2 [#########...........]  45%  450/1,000  900 ex/s  read 600 MiB/s  loss 0.5000  left 0:01, run <= 0:02\u{1B}[K")
        // Nothing measured yet: no speed, no estimate.
        #expect(ProgressBar.line(epoch: 1, of: 5, done: 0, total: 10, seconds: 0, loss: .nan) ==
                "\r  epoch 1/5 [....................]   0%  0/10\u{1B}[K")
        #expect(ProgressBar.clock(3725) == "1:02:05" && ProgressBar.grouped(-1234) == "-1,234")
    }
}


/// The SVG chart parses as XML and holds one polyline point per epoch and series.
@Suite struct SVGChartTests {
    final class Collector: NSObject, XMLParserDelegate {
        var elements: [String: Int] = [:]
        var polylines: [String] = []  // their points attributes
        var polylineDashes: [String] = []  // their stroke-dasharray ("" when solid)
        var circles: [Double] = []  // their cx
        var keptLine: (x1: Double, x2: Double)?
        var barCounts: [Int] = []  // histogram bars, from their "<model>: <count>" titles
        private var inRect = false
        var texts: [String] = []  // each element's text, entities decoded
        var root: String?
        private var buffer = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if root == nil { root = name }
            elements[name, default: 0] += 1
            if name == "polyline" {
                polylines.append(attributes["points"] ?? "")
                polylineDashes.append(attributes["stroke-dasharray"] ?? "")
            }
            if name == "circle" { circles.append(Double(attributes["cx"]!)!) }
            if name == "rect" { inRect = true }
            if name == "line" && attributes["stroke-dasharray"] == "4 3" {
                keptLine = (Double(attributes["x1"]!)!, Double(attributes["x2"]!)!)
            }
            buffer = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { buffer += string }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            let t = buffer.trimmingCharacters(in: .whitespacesAndNewlines)
            if !t.isEmpty { texts.append(t) }
            if name == "title" && inRect, let count = t.split(separator: " ").last.flatMap({ Int($0) }) { barCounts.append(count) }
            if name == "rect" { inRect = false }
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
        // Train loss, validation loss, validation accuracy (second panel).
        #expect(c.polylines.count == 3)
        for points in c.polylines {
            let pairs = points.split(separator: " ")
            #expect(pairs.count == 37)
            for pair in pairs {
                let xy = pair.split(separator: ",").map { Double($0)! }
                #expect(xy.count == 2 && xy[0] >= 112 && xy[0] <= 870 && xy[1] >= 80)
            }
        }
        // Title (escaped), axis titles with the loss's name and unit, legend entries, tick labels.
        #expect(c.texts.contains("Loss <by> epoch & more"))
        #expect(c.texts.contains("epoch") && !c.texts.contains("iteration"))
        #expect(c.texts.contains(logY ? "KL divergence (nats), log scale" : "KL divergence (nats)"))
        #expect(c.texts.contains("val. accuracy"))
        #expect(c.texts.contains("train loss") && c.texts.contains("validation loss") && c.texts.contains("validation accuracy"))
        #expect(c.texts.contains("10") && c.texts.contains("30"))  // epoch ticks
        #expect(c.texts.contains(logY ? "0.2" : "0.4"))
    }

    /// The three series differ in dash pattern, not only in colour.
    @Test func seriesDifferInDash() throws {
        let c = try #require(parse(SVGChart.losses(sampleHistory(epochs: 20), title: "t", logY: false).svg))
        #expect(c.polylineDashes.count == 3 && Set(c.polylineDashes).count == 3)
    }

    @Test func trainOnlyHasOneCurveAndNoAccuracyPanel() throws {
        let c = try #require(parse(SVGChart.losses(sampleHistory(validation: false, epochs: 5), title: "t", logY: false).svg))
        #expect(c.polylines.count == 1 && c.polylines[0].split(separator: " ").count == 5)
        #expect(!c.texts.contains("validation loss") && !c.texts.contains("val. accuracy"))
    }

    /// The kept epoch is a vertical line at its x with a marker on the validation curve, and the legend says why;
    /// an L-BFGS run counts iterations.
    @Test func keptEpochIsMarkedWithItsReason() throws {
        let history = sampleHistory(epochs: 30)
        let chart = SVGChart.losses(history, title: "t", logY: false, loss: .js, iterations: true,
                                    kept: KeptEpoch(epoch: 12, reason: .stoppedEarly))
        let c = try #require(parse(chart.svg))
        #expect(c.texts.contains("kept iteration 12: early stop, best validation loss"))
        #expect(c.texts.contains("iteration") && c.texts.contains("Jensen-Shannon divergence (nats)"))
        let line = try #require(c.keptLine)
        #expect(line.x1 == line.x2)
        // The line stands at epoch 12 of an axis from 0 to 30 across the 758 units from x = 112.
        #expect(abs(line.x1 - (112 + 12.0 / 30 * 758)) < 0.01)
        // Markers at the kept epoch: on the validation loss and on the accuracy, at the line's x.
        #expect(c.circles.filter { abs($0 - line.x1) < 0.01 }.count == 2)
        // No kept epoch: no line.
        #expect(try #require(parse(SVGChart.losses(history, title: "t", logY: false).svg)).keptLine == nil)
    }

    /// A log axis is chosen when the curves span more than a decade, and only then (unless forced).
    @Test func logScaleChosenWhenTheCurvesSpanADecade() {
        let flat = sampleHistory(epochs: 10)  // 0.1 ... 1.0: less than a decade
        #expect(!SVGChart.losses(flat, title: "t", logY: false).logY)
        #expect(SVGChart.losses(flat, title: "t", logY: true).logY)
        var steep = flat
        steep[9].trainLoss = 0.01
        #expect(SVGChart.losses(steep, title: "t", logY: false).logY)
        #expect(SVGChart.losses(steep, title: "t", logY: false).svg.contains("KL divergence (nats), log scale"))
        #expect(SVGChart.spansMoreThanADecade([0.5, 0.051]) == false && SVGChart.spansMoreThanADecade([0.5, 0.049]))
        // Zero and negative losses are not on a log axis; nothing positive means linear.
        #expect(!SVGChart.spansMoreThanADecade([0, -1, 0.3]))
    }

    /// The axis title names each loss with its unit.
    @Test func lossAxisTitles() {
        #expect(LossKind.allCases.map(SVGChart.axisTitle) == ["KL divergence (nats)", "cross-entropy (nats)",
                                                               "reverse KL divergence (nats)", "Jensen-Shannon divergence (nats)"])
    }

    /// Tick labels are at least 17 px (readable at half size).
    @Test func tickLabelsAreLarge() throws {
        let svg = SVGChart.losses(sampleHistory(), title: "t", logY: false).svg
        let sizes = svg.matches(of: #/font-size="([0-9.]+)"/#).map { Double($0.1)! }
        #expect(!sizes.isEmpty && sizes.min()! >= 17)
    }

    /// Why the kept epoch was kept, from the run's outcome.
    @Test func keptEpochReasons() {
        var config = TrainConfig()
        var rng = SplitMix64(seed: 1)
        let net = Network.make(inputs: 2, hidden: [], classes: 2, rng: &rng)
        func outcome(kept: Int, stopped: Bool = false, converged: Bool = false, diverged: Bool = false,
                     validation: Bool = true) -> TrainingOutcome {
            TrainingOutcome(network: net, history: sampleHistory(validation: validation, epochs: 20), keptEpoch: kept,
                            stoppedEarly: stopped, converged: converged, divergence: diverged ? "x" : nil)
        }
        config.optimizer = .lbfgs
        #expect(KeptEpoch(outcome: outcome(kept: 20, converged: true), config: config).reason == .converged)
        #expect(KeptEpoch(outcome: outcome(kept: 20), config: config).reason == .notConverged)
        config.optimizer = .adam
        #expect(KeptEpoch(outcome: outcome(kept: 20), config: config).reason == .lastEpoch)
        config.patience = 5
        #expect(KeptEpoch(outcome: outcome(kept: 9, stopped: true), config: config) == KeptEpoch(epoch: 9, reason: .stoppedEarly))
        #expect(KeptEpoch(outcome: outcome(kept: 14), config: config).reason == .bestValidation)
        #expect(KeptEpoch(outcome: outcome(kept: 7, diverged: true), config: config).reason == .diverged)
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

/// The reliability diagrams: structure of the SVG for one model and for an overlay.
@Suite struct ReliabilityChartTests {
    func parse(_ svg: String) -> SVGChartTests.Collector? { SVGChartTests().parse(svg) }

    @Test func oneModelHasECEInTheTitleAndCountsUnderEachPanel() throws {
        let f = try MetricFixture.load()
        let e = Evaluation(logits: f.logits, targets: f.targets)
        let c = try #require(parse(ReliabilityChart(models: [("m.json", e)]).svg))
        #expect(c.texts.contains("Reliability: m.json, ECE \(String(format: "%.4f", e.ece))"))
        #expect(c.texts.contains("top class: ECE \(String(format: "%.4f", e.ece))"))
        #expect(c.texts.contains("soft labels: error \(String(format: "%.4f", e.softReliability.error))"))
        #expect(c.texts.contains("confidence (max q)") && c.texts.contains("predicted probability q"))
        // Two diagonals and one curve per panel; the curve has one point per non-empty bin.
        #expect(c.polylines.count == 4)
        let nonEmpty = e.reliability.bins.filter { $0.count > 0 }.count
        let softNonEmpty = e.softReliability.bins.filter { $0.count > 0 }.count
        #expect(c.polylines[1].split(separator: " ").count == nonEmpty)
        #expect(c.polylines[3].split(separator: " ").count == softNonEmpty)
        // Histogram bars carry their counts: one bar per non-empty bin, counts summing to n and n·k.
        let bars = c.barCounts
        #expect(bars.count == nonEmpty + softNonEmpty)
        #expect(bars.prefix(nonEmpty).reduce(0, +) == e.count && bars.suffix(softNonEmpty).reduce(0, +) == e.count * f.classes.count)
    }

    @Test func overlayGivesEachModelItsOwnDashAndLegend() throws {
        let f = try MetricFixture.load()
        let a = Evaluation(logits: f.logits, targets: f.targets)
        let b = Evaluation(logits: f.logits, targets: f.targets, temperature: 2)
        let c = try #require(parse(ReliabilityChart(models: [("a.json", a), ("b.json", b)]).svg))
        #expect(c.texts.contains("Reliability of 2 models"))
        #expect(c.texts.contains("a.json (ECE \(String(format: "%.4f", a.ece)), soft \(String(format: "%.4f", a.softReliability.error)))"))
        #expect(c.texts.contains { $0.hasPrefix("b.json (ECE ") })
        // Per panel: the diagonal, then a's and b's curves, with different dashes.
        #expect(c.polylines.count == 6)
        #expect(c.polylineDashes[1] != c.polylineDashes[2] && c.polylineDashes[4] != c.polylineDashes[5])
    }

    /// Soft reliability by hand: q = (0.9, 0.1) with p = (0.6, 0.4) twice puts 2 pairs in bin 13,
    /// [13/15, 14/15) (mean q 0.9, mean p 0.6) and 2 in the second (mean q 0.1, mean p 0.4).
    @Test func softReliabilityByHand() {
        let z = Float(log(9.0))
        let e = Evaluation(logits: Matrix(rows: 2, cols: 2, values: [z, 0, z, 0]),
                           targets: Matrix(rows: 2, cols: 2, values: [0.6, 0.4, 0.6, 0.4]))
        let bins = e.softReliability.bins
        #expect(bins[13].count == 2 && abs(bins[13].meanConfidence! - 0.9) < 1e-7 && abs(bins[13].accuracy! - 0.6) < 1e-7)
        #expect(bins[1].count == 2 && abs(bins[1].meanConfidence! - 0.1) < 1e-7 && abs(bins[1].accuracy! - 0.4) < 1e-7)
        #expect(abs(e.softReliability.error - 0.3) < 1e-7)
    }
}

@Suite struct EvaluationReportTests {
    /// Beyond 20 classes the text report lists the largest confusions instead of a k x k table; the JSON keeps
    /// the whole matrix.
    @Test func largeConfusionMatricesAreSummarised() {
        var g = TestData(seed: 12)
        for k in [20, 21, 300] {
            let e = Evaluation(logits: g.matrix(400, k, scale: 3), targets: g.distributions(400, k))
            let report = EvaluationReport(e, classes: (0..<k).map { "c\($0)" })
            let summarised = report.text.contains("too many to print")
            #expect(summarised == (k > 20))
            // The whole matrix is in the JSON: k rows of k counts summing to the examples.
            let json = report.json.text
            #expect(json.contains("\"counts\""))
            #expect(e.confusion.counts.reduce(0, +) == 400)
            if k == 300 { #expect(report.text.utf8.count < 200_000) }
        }
    }
}
