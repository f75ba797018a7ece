import Foundation

/// Why a training run kept the weights of a given epoch (the summary line, the charts' marker).
public struct KeptEpoch: Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        /// L-BFGS: the objective stopped decreasing.
        case converged
        /// No better validation loss for `patience` epochs: the best validation epoch.
        case stoppedEarly
        /// The epochs ran out with early stopping on: the best validation epoch.
        case bestValidation
        /// The epochs ran out: the last one.
        case lastEpoch
        /// L-BFGS ran out of iterations before converging.
        case notConverged
        /// The loss became NaN or infinite: the last good epoch.
        case diverged
    }

    public var epoch: Int
    public var reason: Reason

    public init(epoch: Int, reason: Reason) {
        self.epoch = epoch
        self.reason = reason
    }

    /// How the run ended, read from its outcome and configuration.
    public init(outcome: TrainingOutcome, config: TrainConfig) {
        epoch = outcome.keptEpoch
        if outcome.divergence != nil {
            reason = .diverged
        } else if outcome.converged {
            reason = .converged
        } else if outcome.stoppedEarly {
            reason = .stoppedEarly
        } else if config.patience > 0 && outcome.history.contains(where: { $0.valLoss != nil }) {
            reason = .bestValidation
        } else {
            reason = config.optimizer == .lbfgs ? .notConverged : .lastEpoch
        }
    }

    /// "early stop, best validation loss", ... as the charts' legend says it.
    public var text: String {
        switch reason {
        case .converged: return "converged"
        case .stoppedEarly: return "early stop, best validation loss"
        case .bestValidation: return "best validation loss"
        case .lastEpoch: return "last epoch"
        case .notConverged: return "last iteration, not converged"
        case .diverged: return "last before divergence"
        }
    }
}

/// The SVG chart of a training run (`softlabel train --plot`): train and validation loss by epoch (L-BFGS:
/// iteration) on a y axis named with the loss and its unit, the kept epoch marked with the reason it was
/// kept, and validation accuracy on a second panel below when there is validation data. The loss axis is
/// logarithmic when the curves span more than a decade (or when forced). Self-contained: no scripts, no
/// external fonts or styles; one polyline point per epoch.
public struct SVGChart: Sendable {
    public var title: String
    public var history: [EpochRecord]
    public var loss: LossKind
    /// L-BFGS runs count iterations, not epochs.
    public var iterations: Bool
    public var kept: KeptEpoch?
    /// Log scale even when the curves span less than a decade (`--plot-log`).
    public var forceLog: Bool
    public var width = 900.0

    public init(title: String, history: [EpochRecord], loss: LossKind = .kl, iterations: Bool = false,
                kept: KeptEpoch? = nil, forceLog: Bool = false) {
        self.title = title
        self.history = history
        self.loss = loss
        self.iterations = iterations
        self.kept = kept
        self.forceLog = forceLog
    }

    /// Train loss and, where present, validation loss and accuracy against epoch.
    public static func losses(_ history: [EpochRecord], title: String, logY: Bool, loss: LossKind = .kl,
                              iterations: Bool = false, kept: KeptEpoch? = nil) -> SVGChart {
        SVGChart(title: title, history: history, loss: loss, iterations: iterations, kept: kept, forceLog: logY)
    }

    /// The loss axis's title: what the loss measures, in which unit.
    public static func axisTitle(_ loss: LossKind) -> String {
        switch loss {
        case .kl: return "KL divergence (nats)"
        case .ce: return "cross-entropy (nats)"
        case .reverseKL: return "reverse KL divergence (nats)"
        case .js: return "Jensen-Shannon divergence (nats)"
        }
    }

    /// Whether positive values span more than a factor of 10 (then a log axis shows them better).
    public static func spansMoreThanADecade(_ values: [Double]) -> Bool {
        let positive = values.filter { $0.isFinite && $0 > 0 }
        guard let lo = positive.min(), let hi = positive.max() else { return false }
        return hi > 10 * lo
    }

    private var lossValues: [Double] { history.map(\.trainLoss) + history.compactMap(\.valLoss) }

    /// The loss axis is logarithmic: forced, or chosen because the curves span more than a decade.
    public var logY: Bool {
        (forceLog || Self.spansMoreThanADecade(lossValues)) && lossValues.contains { $0.isFinite && $0 > 0 }
    }

    /// The document, starting with the XML declaration.
    public var svg: String {
        let log = logY
        let train = history.map { (x: Double($0.epoch), y: $0.trainLoss) }
        let val = history.compactMap { r in r.valLoss.map { (x: Double(r.epoch), y: $0) } }
        let acc = history.compactMap { r in r.valAccuracy.map { (x: Double(r.epoch), y: $0) } }
        let shownLoss = lossValues.filter { $0.isFinite && (!log || $0 > 0) }
        let finiteAcc = acc.map(\.y).filter(\.isFinite)
        let xAxis = Axis.linear(min: 0, max: Double(history.map(\.epoch).max() ?? 1), integral: true)
        let yAxis = log ? Axis.log(min: shownLoss.min() ?? 0.1, max: shownLoss.max() ?? 1)
                        : Axis.linear(min: shownLoss.min() ?? 0, max: shownLoss.max() ?? 1, integral: false)
        let accPanel = !finiteAcc.isEmpty
        let keptRecord = kept.flatMap { k in history.first { $0.epoch == k.epoch } }

        var legend = [LegendEntry(name: "train loss", color: ChartStyle.color(0), dash: ChartStyle.dash(0), marker: nil)]
        if !val.isEmpty {
            legend.append(LegendEntry(name: "validation loss", color: ChartStyle.color(1), dash: ChartStyle.dash(1), marker: nil))
        }
        if accPanel {
            legend.append(LegendEntry(name: "validation accuracy", color: ChartStyle.color(2), dash: ChartStyle.dash(2), marker: nil))
        }
        let unit = iterations ? "iteration" : "epoch"
        if let kept, keptRecord != nil {
            legend.append(LegendEntry(name: "kept \(unit) \(kept.epoch): \(kept.text)", color: "#555555", dash: "4 3",
                                      marker: .circle, markerFill: "#ffffff"))
        }
        let left = 112.0, right = width - 30
        let (legendSVG, legendEnd) = legendRows(legend, left: left, right: right, y: 66)
        let lossPanel = SVGPanel(left: left, top: legendEnd - 4, width: right - left, height: accPanel ? 360 : 420,
                                 x: xAxis, y: yAxis, logY: log)
        var panels = [lossPanel]
        if accPanel {
            let accAxis = Axis.linear(min: finiteAcc.min()!, max: finiteAcc.max()!, integral: false, intervals: 3)
            panels.append(SVGPanel(left: left, top: lossPanel.bottom + 26, width: right - left, height: 160,
                                   x: xAxis, y: accAxis))
        }
        let last = panels[panels.count - 1]
        let height = last.bottom + ChartStyle.tickSize + ChartStyle.labelSize + 40

        var s = svgHeader(width: width, height: height, title: title)
        s += legendSVG
        s += lossPanel.frame(xLabel: accPanel ? nil : unit,
                             yLabel: Self.axisTitle(loss) + (log ? ", log scale" : ""), xTickLabels: !accPanel)
        if accPanel { s += panels[1].frame(xLabel: unit, yLabel: "val. accuracy") }
        if let kept, keptRecord != nil {
            let x = lossPanel.px(Double(kept.epoch))
            s += "  <line x1=\"\(n(x))\" y1=\"\(n(lossPanel.top))\" x2=\"\(n(x))\" y2=\"\(n(last.bottom))\" " +
                "stroke=\"#555555\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"><title>kept \(unit)</title></line>\n"
        }
        s += lossPanel.polyline(train, color: ChartStyle.color(0), dash: ChartStyle.dash(0), title: "train loss")
        s += lossPanel.polyline(val, color: ChartStyle.color(1), dash: ChartStyle.dash(1), title: "validation loss")
        if accPanel {
            s += panels[1].polyline(acc, color: ChartStyle.color(2), dash: ChartStyle.dash(2), title: "validation accuracy")
        }
        if let k = keptRecord {
            let e = Double(k.epoch)
            s += lossPanel.marker(.circle, at: (e, k.valLoss ?? k.trainLoss), color: "#222222", size: 7, fill: "#ffffff")
            if accPanel, let a = k.valAccuracy { s += panels[1].marker(.circle, at: (e, a), color: "#222222", size: 7, fill: "#ffffff") }
        }
        s += "</svg>\n"
        return s
    }
}

/// An axis range with its labelled ticks (and, on a log axis, unlabelled minor ticks).
struct Axis {
    var lo: Double
    var hi: Double
    var ticks: [(value: Double, label: String)]
    var minor: [Double] = []

    /// Five to eight ticks at multiples of 1, 2 or 5 × 10^e, with the range widened to whole steps.
    /// `intervals`: about how many steps to aim for (fewer for a short panel).
    static func linear(min a: Double, max b: Double, integral: Bool, intervals: Double = 5) -> Axis {
        var lo = a, hi = b
        if hi - lo <= 1e-12 * Swift.max(1, abs(hi)) {
            let pad = Swift.max(abs(hi) * 0.1, integral ? 1 : 1e-3)
            lo -= pad
            hi += pad
        }
        var step = niceStep((hi - lo) / intervals)
        if integral { step = Swift.max(step, 1) }
        lo = (lo / step).rounded(.down) * step
        hi = (hi / step).rounded(.up) * step
        let decimals = Swift.max(0, Int(-log10(step).rounded(.down)))
        var ticks: [(Double, String)] = []
        var i = 0
        while true {
            let v = lo + Double(i) * step
            if v > hi + step * 1e-9 { break }
            ticks.append((v, String(format: "%.\(decimals)f", v)))
            i += 1
        }
        return Axis(lo: lo, hi: hi, ticks: ticks)
    }

    /// The range widened to the nearest 1, 2 or 5 × 10^d outside the data. Labelled ticks: every m × 10^d
    /// (m = 1...9) within one decade, 1, 2 and 5 × 10^d within three, whole decades beyond; the other
    /// m × 10^d are minor (unlabelled) grid lines, up to six decades.
    static func log(min a: Double, max b: Double) -> Axis {
        let mantissas: [Double] = [1, 2, 5]
        func below(_ v: Double) -> Double {
            let d = Foundation.log10(v).rounded(.down), base = pow(10, d)
            return mantissas.reversed().map { $0 * base }.first { $0 <= v * (1 + 1e-12) } ?? base
        }
        func above(_ v: Double) -> Double {
            let d = Foundation.log10(v).rounded(.down), base = pow(10, d)
            return (mantissas + [10]).map { $0 * base }.first { $0 >= v * (1 - 1e-12) }!
        }
        let lo = below(a)
        var hi = above(b)
        if hi <= lo { hi = above(lo * 1.5) }
        let span = Foundation.log10(hi / lo)
        var ticks: [(Double, String)] = []
        var minor: [Double] = []
        for d in Int(Foundation.log10(lo).rounded(.down))...Int(Foundation.log10(hi).rounded(.up)) {
            for m in 1...9 {
                let v = Double(m) * pow(10, Double(d))
                guard v >= lo * (1 - 1e-12) && v <= hi * (1 + 1e-12) else { continue }
                if m == 1 || span <= 1 || (span <= 3 && (m == 2 || m == 5)) {
                    ticks.append((v, label(v)))
                } else if span <= 6 {
                    minor.append(v)
                }
            }
        }
        return Axis(lo: lo, hi: hi, ticks: ticks, minor: minor)
    }

    /// The 1, 2 or 5 × 10^e nearest to `raw` (on a log scale, roughly).
    static func niceStep(_ raw: Double) -> Double {
        let e = raw > 0 ? Foundation.log10(raw).rounded(.down) : 0
        let f = raw / pow(10, e)
        let n: Double = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10
        return n * pow(10, e)
    }

    /// 0.01, 0.2, 5, 100, 1e-05: %g with its exponent only for very large or small values.
    static func label(_ v: Double) -> String { String(format: "%g", v) }
}

/// Text with the five XML special characters escaped.
func xml(_ s: String) -> String {
    var out = ""
    for ch in s {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default: out.append(ch)
        }
    }
    return out
}
