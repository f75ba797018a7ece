import Foundation

/// Sizes and line styles shared by the SVG charts. Text is sized for the chart to stay readable when shown
/// at half its size (tick labels 17 px at 900 px wide); series differ in dash and marker as well as in
/// colour, so a black-and-white print still tells them apart.
enum ChartStyle {
    static let font = "Helvetica, Arial, sans-serif"
    static let titleSize = 22.0
    static let labelSize = 19.0
    static let tickSize = 17.0
    static let legendSize = 17.0
    static let ink = "#222222"
    /// Colour, dash array ("" = solid) and marker of series i (cycling).
    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    static let dashes = ["", "10 6", "2 5", "14 5 3 5", "6 4", "1 3"]
    static let markers: [Marker] = [.circle, .square, .triangle, .diamond, .circle, .square]

    enum Marker { case circle, square, triangle, diamond }

    static func color(_ i: Int) -> String { colors[i % colors.count] }
    static func dash(_ i: Int) -> String { dashes[i % dashes.count] }
    static func marker(_ i: Int) -> Marker { markers[i % markers.count] }
}

/// One plot area of a chart: a rectangle (SVG user units) with a linear x axis and a linear or log10 y axis,
/// and the drawing of what goes in it. Every method returns SVG elements as text, one per line.
struct SVGPanel {
    var left: Double
    var top: Double
    var width: Double
    var height: Double
    var x: Axis
    var y: Axis
    var logY = false

    var right: Double { left + width }
    var bottom: Double { top + height }

    func px(_ v: Double) -> Double { left + (v - x.lo) / (x.hi - x.lo) * width }
    func py(_ v: Double) -> Double {
        let t = logY ? (log10(v) - log10(y.lo)) / (log10(y.hi) - log10(y.lo)) : (v - y.lo) / (y.hi - y.lo)
        return bottom - t * height
    }

    /// Grid lines, axes with ticks and tick labels, and the axis titles (nil: none, e.g. an x axis shared
    /// with the panel below). `xTickLabels` false hides the x tick labels.
    func frame(xLabel: String?, yLabel: String?, xTickLabels: Bool = true) -> String {
        var s = "  <g stroke=\"#e4e4e4\" stroke-width=\"1\" shape-rendering=\"crispEdges\">\n"
        for t in y.minor { s += "    " + line(left, py(t), right, py(t), extra: "stroke=\"#f2f2f2\"") }
        for t in y.ticks { s += "    " + line(left, py(t.value), right, py(t.value)) }
        for t in x.ticks { s += "    " + line(px(t.value), top, px(t.value), bottom) }
        s += "  </g>\n"
        s += "  <g font-size=\"\(n(ChartStyle.tickSize))\" fill=\"#333333\">\n"
        for t in y.ticks {
            s += "    <text x=\"\(n(left - 9))\" y=\"\(n(py(t.value) + ChartStyle.tickSize * 0.35))\" text-anchor=\"end\">\(t.label)</text>\n"
        }
        if xTickLabels {
            for t in x.ticks {
                s += "    <text x=\"\(n(px(t.value)))\" y=\"\(n(bottom + ChartStyle.tickSize + 8))\" text-anchor=\"middle\">\(t.label)</text>\n"
            }
        }
        s += "  </g>\n"
        s += "  <g stroke=\"#444444\" stroke-width=\"1.2\" shape-rendering=\"crispEdges\">\n"
        s += "    " + line(left, bottom, right, bottom)
        s += "    " + line(left, top, left, bottom)
        for t in y.ticks { s += "    " + line(left - 6, py(t.value), left, py(t.value)) }
        for t in x.ticks { s += "    " + line(px(t.value), bottom, px(t.value), bottom + 6) }
        s += "  </g>\n"
        if let xLabel {
            s += "  " + text(xLabel, x: left + width / 2, y: bottom + ChartStyle.tickSize + ChartStyle.labelSize + 20,
                             size: ChartStyle.labelSize, anchor: "middle")
        }
        if let yLabel {
            let cx = left - 70, cy = top + height / 2
            s += "  <text transform=\"translate(\(n(cx)) \(n(cy))) rotate(-90)\" text-anchor=\"middle\" " +
                "font-size=\"\(n(ChartStyle.labelSize))\" fill=\"\(ChartStyle.ink)\">\(xml(yLabel))</text>\n"
        }
        return s
    }

    /// A line through the points (in data units), points outside a log axis's domain left out.
    func polyline(_ points: [(x: Double, y: Double)], color: String, dash: String, width: Double = 2.5,
                  title: String) -> String {
        let shown = points.filter { $0.x.isFinite && $0.y.isFinite && (!logY || $0.y > 0) }
        guard !shown.isEmpty else { return "" }
        let pts = shown.map { "\(n(px($0.x))),\(n(py($0.y)))" }.joined(separator: " ")
        return "  <polyline fill=\"none\" stroke=\"\(xml(color))\" stroke-width=\"\(n(width))\"" + dashAttribute(dash) +
            " stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\"\(pts)\"><title>\(xml(title))</title></polyline>\n"
    }

    /// A marker at a data point.
    func marker(_ shape: ChartStyle.Marker, at p: (x: Double, y: Double), color: String, size: Double = 5.5,
                fill: String? = nil) -> String {
        guard p.x.isFinite && p.y.isFinite && (!logY || p.y > 0) else { return "" }
        return SVGPanel.marker(shape, cx: px(p.x), cy: py(p.y), color: color, size: size, fill: fill)
    }

    /// A marker at SVG coordinates (legends use this).
    static func marker(_ shape: ChartStyle.Marker, cx: Double, cy: Double, color: String, size: Double = 5.5,
                       fill: String? = nil) -> String {
        let style = "fill=\"\(xml(fill ?? color))\" stroke=\"\(xml(color))\" stroke-width=\"1.5\""
        switch shape {
        case .circle:
            return "  <circle cx=\"\(n(cx))\" cy=\"\(n(cy))\" r=\"\(n(size))\" \(style)/>\n"
        case .square:
            let h = size * 0.9
            return "  <rect x=\"\(n(cx - h))\" y=\"\(n(cy - h))\" width=\"\(n(2 * h))\" height=\"\(n(2 * h))\" \(style)/>\n"
        case .triangle:
            let h = size * 1.15
            return "  <polygon points=\"\(n(cx)),\(n(cy - h)) \(n(cx + h)),\(n(cy + h * 0.8)) \(n(cx - h)),\(n(cy + h * 0.8))\" \(style)/>\n"
        case .diamond:
            let h = size * 1.2
            return "  <polygon points=\"\(n(cx)),\(n(cy - h)) \(n(cx + h)),\(n(cy)) \(n(cx)),\(n(cy + h)) \(n(cx - h)),\(n(cy))\" \(style)/>\n"
        }
    }

    func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, extra: String = "") -> String {
        "<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\"" + (extra.isEmpty ? "" : " " + extra) + "/>\n"
    }
}

/// ` stroke-dasharray="..."`, or nothing for a solid line.
func dashAttribute(_ dash: String) -> String { dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"" }

/// A number for an SVG attribute: two decimals.
func n(_ v: Double) -> String { String(format: "%.2f", v) }

/// A `<text>` element.
func text(_ s: String, x: Double, y: Double, size: Double, anchor: String = "start", weight: String? = nil,
          color: String = ChartStyle.ink) -> String {
    "<text x=\"\(n(x))\" y=\"\(n(y))\" text-anchor=\"\(anchor)\" font-size=\"\(n(size))\" fill=\"\(color)\"" +
        (weight.map { " font-weight=\"\($0)\"" } ?? "") + ">\(xml(s))</text>\n"
}

/// One entry of a legend row: a line sample (with its dash and optional marker) and the name.
struct LegendEntry {
    var name: String
    var color: String
    var dash: String
    var marker: ChartStyle.Marker?
    var markerFill: String? = nil
}

/// The legend as rows of entries between `left` and `right`, starting at baseline `y`; wraps when an entry
/// does not fit. Returns the SVG and the baseline after the last row.
func legendRows(_ entries: [LegendEntry], left: Double, right: Double, y: Double) -> (svg: String, nextY: Double) {
    let size = ChartStyle.legendSize, rowH = size + 12
    var s = "  <g font-size=\"\(n(size))\" fill=\"\(ChartStyle.ink)\">\n"
    var x = left, baseline = y
    for e in entries {
        // About 0.55 em per character in Helvetica; the line sample is 40 wide.
        let w = 40 + 8 + Double(e.name.count) * size * 0.55 + 28
        if x + w > right && x > left {
            x = left
            baseline += rowH
        }
        let cy = baseline - size * 0.35
        s += "    <line x1=\"\(n(x))\" y1=\"\(n(cy))\" x2=\"\(n(x + 40))\" y2=\"\(n(cy))\" stroke=\"\(xml(e.color))\" " +
            "stroke-width=\"2.5\" stroke-linecap=\"round\"" + dashAttribute(e.dash) + "/>\n"
        if let m = e.marker { s += "  " + SVGPanel.marker(m, cx: x + 20, cy: cy, color: e.color, fill: e.markerFill) }
        s += "    " + text(e.name, x: x + 48, y: baseline, size: size)
        x += w
    }
    s += "  </g>\n"
    return (s, baseline + rowH)
}

/// The SVG document's opening (XML declaration, root element with its size, white background) and title.
func svgHeader(width: Double, height: Double, title: String) -> String {
    var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" " +
        "viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"\(ChartStyle.font)\">\n"
    s += "  <rect x=\"0\" y=\"0\" width=\"\(Int(width))\" height=\"\(Int(height))\" fill=\"#ffffff\"/>\n"
    s += "  " + text(title, x: width / 2, y: 32, size: ChartStyle.titleSize, anchor: "middle", weight: "bold")
    return s
}
