import Foundation

/// An SVG line chart of per-epoch curves (`softlabel train --plot`): white background, axes with ticks and
/// grid lines, axis titles, a title, and a legend in the top-right corner of the plot area. One `<polyline>`
/// per series with one point per epoch. Self-contained (no scripts, no external fonts or styles).
public struct SVGChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var color: String  // any SVG colour, e.g. "#1f77b4"
        public var points: [(x: Double, y: Double)]

        public init(name: String, color: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.color = color
            self.points = points
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Log10 y axis; points with y <= 0 cannot be shown there and are left out.
    public var logY: Bool
    public var width = 800.0
    public var height = 500.0

    public init(title: String, xLabel: String, yLabel: String, series: [Series], logY: Bool) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.logY = logY
    }

    /// Train loss and, where present, validation loss against epoch.
    public static func losses(_ history: [EpochRecord], title: String, logY: Bool) -> SVGChart {
        var series = [Series(name: "train loss", color: "#1f77b4",
                             points: history.map { (Double($0.epoch), $0.trainLoss) })]
        let val = history.compactMap { r in r.valLoss.map { (Double(r.epoch), $0) } }
        if !val.isEmpty { series.append(Series(name: "validation loss", color: "#ff7f0e", points: val)) }
        return SVGChart(title: title, xLabel: "epoch", yLabel: "loss" + (logY ? " (log scale)" : ""),
                        series: series, logY: logY)
    }

    /// The plot area inside the margins: left, right, top, bottom in SVG user units.
    private var area: (l: Double, r: Double, t: Double, b: Double) { (78, width - 24, 46, height - 58) }

    /// The document, starting with the XML declaration.
    public var svg: String {
        let shown = series.map { s in
            Series(name: s.name, color: s.color, points: s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) })
        }
        let xs = shown.flatMap { $0.points.map(\.x) }, ys = shown.flatMap { $0.points.map(\.y) }
        let xAxis = Axis.linear(min: 0, max: xs.max() ?? 1, integral: true)
        let yAxis = logY ? Axis.log(min: ys.min() ?? 0.1, max: ys.max() ?? 1)
                         : Axis.linear(min: ys.min() ?? 0, max: ys.max() ?? 1, integral: false)
        let a = area
        func px(_ x: Double) -> Double { a.l + (x - xAxis.lo) / (xAxis.hi - xAxis.lo) * (a.r - a.l) }
        func py(_ y: Double) -> Double {
            let t = logY ? (log10(y) - log10(yAxis.lo)) / (log10(yAxis.hi) - log10(yAxis.lo)) : (y - yAxis.lo) / (yAxis.hi - yAxis.lo)
            return a.b - t * (a.b - a.t)
        }
        func f(_ v: Double) -> String { String(format: "%.2f", v) }

        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" " +
            "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"Helvetica, Arial, sans-serif\">\n"
        s += "  <rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#ffffff\"/>\n"
        s += "  <text x=\"\(f(width / 2))\" y=\"26\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\" fill=\"#222222\">\(xml(title))</text>\n"

        // Grid lines and tick labels.
        s += "  <g stroke=\"#e6e6e6\" stroke-width=\"1\" shape-rendering=\"crispEdges\">\n"
        for t in yAxis.minor { s += "    <line x1=\"\(f(a.l))\" y1=\"\(f(py(t)))\" x2=\"\(f(a.r))\" y2=\"\(f(py(t)))\" stroke=\"#f3f3f3\"/>\n" }
        for t in yAxis.ticks { s += "    <line x1=\"\(f(a.l))\" y1=\"\(f(py(t.value)))\" x2=\"\(f(a.r))\" y2=\"\(f(py(t.value)))\"/>\n" }
        for t in xAxis.ticks { s += "    <line x1=\"\(f(px(t.value)))\" y1=\"\(f(a.t))\" x2=\"\(f(px(t.value)))\" y2=\"\(f(a.b))\"/>\n" }
        s += "  </g>\n"
        s += "  <g font-size=\"12\" fill=\"#444444\">\n"
        for t in yAxis.ticks {
            s += "    <text x=\"\(f(a.l - 8))\" y=\"\(f(py(t.value) + 4))\" text-anchor=\"end\">\(t.label)</text>\n"
        }
        for t in xAxis.ticks {
            s += "    <text x=\"\(f(px(t.value)))\" y=\"\(f(a.b + 18))\" text-anchor=\"middle\">\(t.label)</text>\n"
        }
        s += "  </g>\n"
        s += "  <g stroke=\"#444444\" stroke-width=\"1\" shape-rendering=\"crispEdges\">\n"
        s += "    <line x1=\"\(f(a.l))\" y1=\"\(f(a.b))\" x2=\"\(f(a.r))\" y2=\"\(f(a.b))\"/>\n"
        s += "    <line x1=\"\(f(a.l))\" y1=\"\(f(a.t))\" x2=\"\(f(a.l))\" y2=\"\(f(a.b))\"/>\n"
        for t in yAxis.ticks { s += "    <line x1=\"\(f(a.l - 5))\" y1=\"\(f(py(t.value)))\" x2=\"\(f(a.l))\" y2=\"\(f(py(t.value)))\"/>\n" }
        for t in xAxis.ticks { s += "    <line x1=\"\(f(px(t.value)))\" y1=\"\(f(a.b))\" x2=\"\(f(px(t.value)))\" y2=\"\(f(a.b + 5))\"/>\n" }
        s += "  </g>\n"
        s += "  <text x=\"\(f((a.l + a.r) / 2))\" y=\"\(f(height - 14))\" text-anchor=\"middle\" font-size=\"13\" fill=\"#222222\">\(xml(xLabel))</text>\n"
        s += "  <text transform=\"translate(18 \(f((a.t + a.b) / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\" fill=\"#222222\">\(xml(yLabel))</text>\n"

        // The curves.
        for ser in shown where !ser.points.isEmpty {
            let pts = ser.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            s += "  <polyline fill=\"none\" stroke=\"\(xml(ser.color))\" stroke-width=\"2\" stroke-linejoin=\"round\" " +
                "stroke-linecap=\"round\" points=\"\(pts)\"><title>\(xml(ser.name))</title></polyline>\n"
        }

        // Legend, top right inside the plot area.
        let rowH = 20.0
        let boxW = Double(shown.map(\.name.count).max() ?? 0) * 7 + 52, boxH = Double(shown.count) * rowH + 10
        let bx = a.r - boxW - 10, by = a.t + 10
        s += "  <g font-size=\"12\" fill=\"#222222\">\n"
        s += "    <rect x=\"\(f(bx))\" y=\"\(f(by))\" width=\"\(f(boxW))\" height=\"\(f(boxH))\" fill=\"#ffffff\" fill-opacity=\"0.9\" stroke=\"#cccccc\"/>\n"
        for (i, ser) in shown.enumerated() {
            let ly = by + 5 + rowH * (Double(i) + 0.5)
            s += "    <line x1=\"\(f(bx + 10))\" y1=\"\(f(ly))\" x2=\"\(f(bx + 34))\" y2=\"\(f(ly))\" stroke=\"\(xml(ser.color))\" stroke-width=\"2\"/>\n"
            s += "    <text x=\"\(f(bx + 42))\" y=\"\(f(ly + 4))\">\(xml(ser.name))</text>\n"
        }
        s += "  </g>\n"
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
    static func linear(min a: Double, max b: Double, integral: Bool) -> Axis {
        var lo = a, hi = b
        if hi - lo <= 1e-12 * Swift.max(1, abs(hi)) {
            let pad = Swift.max(abs(hi) * 0.1, integral ? 1 : 1e-3)
            lo -= pad
            hi += pad
        }
        var step = niceStep((hi - lo) / 5)
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
