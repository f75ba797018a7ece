import Foundation

/// Reliability diagrams as one SVG (`eval --plot`, `compare --plot`), two columns:
/// - left, the top class: per confidence bin (max q, 15 equal bins), accuracy against the majority label
///   versus mean confidence, with ECE;
/// - right, the soft labels: every class probability q_ij binned, the mean label probability p_ij versus
///   the mean q_ij, with the class-wise calibration error Σ_b (n_b/N)|mean p - mean q|.
/// The diagonal is perfect calibration. Under each, the bin counts as a histogram (grouped bars, one per
/// model). Several models are overlaid, each with its own colour, dash and marker.
public struct ReliabilityChart: Sendable {
    public var models: [(name: String, evaluation: Evaluation)]
    public var width = 1040.0
    /// Bins with fewer examples than this get hollow markers: their accuracy is noise.
    public static let fewExamples = 10

    public init(models: [(name: String, evaluation: Evaluation)]) {
        precondition(!models.isEmpty)
        self.models = models
    }

    public var title: String {
        models.count == 1
            ? "Reliability: \(models[0].name), ECE \(fixed(models[0].evaluation.ece, 4))"
            : "Reliability of \(models.count) models"
    }

    public var svg: String {
        let single = models.count == 1
        var legend = models.enumerated().map { i, m in
            LegendEntry(name: single ? m.name : "\(m.name) (ECE \(fixed(m.evaluation.ece, 4)), soft \(fixed(m.evaluation.softReliability.error, 4)))",
                        color: ChartStyle.color(i), dash: ChartStyle.dash(i), marker: ChartStyle.marker(i))
        }
        legend.append(LegendEntry(name: "perfect calibration", color: "#999999", dash: "3 4", marker: nil))
        legend.append(LegendEntry(name: "hollow: bin of fewer than \(Self.fewExamples)", color: "#555555", dash: "",
                                  marker: .circle, markerFill: "#ffffff"))
        let (legendSVG, legendEnd) = legendRows(legend, left: 110, right: width - 30, y: 66)

        let side = 370.0, gap = 150.0
        let top = legendEnd + 34  // room for the panel titles
        let unit = Axis.linear(min: 0, max: 1, integral: false)
        let columns: [(title: String, x: String, y: String, bins: (Evaluation) -> [ReliabilityBin])] = [
            ("top class" + (single ? ": ECE \(fixed(models[0].evaluation.ece, 4))" : ""),
             "confidence (max q)", "accuracy (argmax q = majority)", { $0.reliability.bins }),
            ("soft labels" + (single ? ": error \(fixed(models[0].evaluation.softReliability.error, 4))" : ""),
             "predicted probability q", "mean label probability p", { $0.softReliability.bins }),
        ]
        var s = ""
        var bottom = 0.0
        for (c, col) in columns.enumerated() {
            let left = 110 + Double(c) * (side + gap)
            let main = SVGPanel(left: left, top: top, width: side, height: side, x: unit, y: unit)
            let binsByModel = models.map { col.bins($0.evaluation) }
            let maxCount = binsByModel.flatMap { $0.map(\.count) }.max() ?? 0
            let hist = SVGPanel(left: left, top: main.bottom + 22, width: side, height: 120, x: unit,
                                y: Axis.linear(min: 0, max: Double(max(maxCount, 1)) * 1.12, integral: true, intervals: 3))
            bottom = hist.bottom
            s += "  " + text(col.title, x: left + side / 2, y: top - 14, size: ChartStyle.labelSize, anchor: "middle", weight: "bold")
            s += main.frame(xLabel: nil, yLabel: col.y, xTickLabels: false)
            s += main.polyline([(0, 0), (1, 1)], color: "#999999", dash: "3 4", width: 1.8, title: "perfect calibration")
            for (i, bins) in binsByModel.enumerated() {
                let shown = bins.filter { $0.count > 0 }
                let pts = shown.map { (x: $0.meanConfidence!, y: $0.accuracy!) }
                s += main.polyline(pts, color: ChartStyle.color(i), dash: ChartStyle.dash(i), title: models[i].name)
                for (b, p) in zip(shown, pts) {
                    s += main.marker(ChartStyle.marker(i), at: p, color: ChartStyle.color(i),
                                     fill: b.count < Self.fewExamples ? "#ffffff" : nil)
                }
            }
            s += hist.frame(xLabel: col.x, yLabel: "count")
            // Grouped bars: bin b is split into one bar per model; counts printed above the bars of one model.
            let binWidth = 1.0 / Double(Reliability.binCount)
            for (i, bins) in binsByModel.enumerated() {
                let w = binWidth * 0.84 / Double(models.count)
                for (b, bin) in bins.enumerated() where bin.count > 0 {
                    let x0 = Double(b) * binWidth + binWidth * 0.08 + Double(i) * w
                    let y0 = hist.py(Double(bin.count)), y1 = hist.py(0)
                    s += "  <rect x=\"\(n(hist.px(x0)))\" y=\"\(n(y0))\" width=\"\(n(hist.px(x0 + w) - hist.px(x0)))\" " +
                        "height=\"\(n(y1 - y0))\" fill=\"\(ChartStyle.color(i))\" fill-opacity=\"\(i == 0 ? "0.55" : "0.3")\" " +
                        "stroke=\"\(ChartStyle.color(i))\" stroke-width=\"1\"><title>\(xml(models[i].name)): \(bin.count)</title></rect>\n"
                    if single {
                        s += "  " + text(String(bin.count), x: max(hist.px(x0 + w / 2), hist.left + 20), y: y0 - 4, size: 13, anchor: "middle",
                                         color: "#333333")
                    }
                }
            }
        }
        let height = bottom + ChartStyle.tickSize + ChartStyle.labelSize + 40
        return svgHeader(width: width, height: height, title: title) + legendSVG + s + "</svg>\n"
    }
}
