import Foundation

/// A plain-text line chart of per-epoch values (the loss curves at the end of `softlabel train`), at most
/// 76 columns wide: y tick labels, a `|` axis, 64 plot columns.
///
/// Each plot column covers an equal share of the epochs; it marks every row between the lowest and highest
/// value of the curve over that share (linearly interpolated at the share's ends), so curves stay connected
/// whether there are fewer or more epochs than columns.
public struct TerminalChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var symbol: Character
        public var values: [Double]  // (epochs) the value at epoch e is values[e - 1]

        public init(name: String, symbol: Character, values: [Double]) {
            self.name = name
            self.symbol = symbol
            self.values = values
        }
    }

    public var title: String
    public var series: [Series]
    /// Plot log10 of the values (non-positive values are raised to the smallest positive one).
    public var logScale: Bool
    public var plotWidth = 64
    /// Rows of the plot; `rows(forTerminalHeight:)` picks more for a taller terminal.
    public var plotHeight = 13
    /// The kept epoch, marked `^` under its column, and why it was kept.
    public var kept: KeptEpoch?
    /// "epoch", or "iteration" for L-BFGS.
    public var unit = "epoch"

    /// Plot rows for a terminal of `lines` lines: what leaves room for the axis, legend, summary and a few
    /// table rows, between the default 13 and 40.
    public static func rows(forTerminalHeight lines: Int) -> Int { min(max(lines - 14, 13), 40) }

    public init(title: String, series: [Series], logScale: Bool) {
        self.title = title
        self.series = series
        self.logScale = logScale
    }

    /// Train loss (`*`) and, when every epoch has one, validation loss (`o`); L-BFGS counts `iterations`.
    public static func losses(_ history: [EpochRecord], logScale: Bool, kept: KeptEpoch? = nil,
                              iterations: Bool = false) -> TerminalChart {
        var series = [Series(name: "train loss", symbol: "*", values: history.map(\.trainLoss))]
        let val = history.compactMap(\.valLoss)
        if !history.isEmpty && val.count == history.count {
            series.append(Series(name: "validation loss", symbol: "o", values: val))
        }
        let unit = iterations ? "iteration" : "epoch"
        var chart = TerminalChart(title: "loss by \(unit)" + (logScale ? " (log scale)" : ""), series: series,
                                  logScale: logScale)
        chart.unit = unit
        chart.kept = kept.flatMap { k in history.indices.contains(k.epoch - 1) ? k : nil }
        return chart
    }

    /// The chart, every line ending in a newline; empty when there is nothing to plot.
    public var text: String {
        let epochs = series.map(\.values.count).max() ?? 0
        guard epochs > 0 else { return "" }
        let all = series.flatMap(\.values).filter(\.isFinite)
        guard !all.isEmpty else { return "" }
        let floor = all.filter { $0 > 0 }.min()
        let useLog = logScale && floor != nil
        func y(_ v: Double) -> Double { useLog ? log10(max(v, floor!)) : v }
        var lo = all.map(y).min()!, hi = all.map(y).max()!
        if hi - lo <= 1e-12 * max(1, abs(hi)) {
            let pad = max(abs(hi) * 0.05, 1e-6)
            lo -= pad
            hi += pad
        }
        let W = plotWidth, H = plotHeight
        func row(_ v: Double) -> Int { min(max(Int(((hi - y(v)) / (hi - lo) * Double(H - 1)).rounded()), 0), H - 1) }

        var grid = [[Character]](repeating: [Character](repeating: " ", count: W), count: H)  // (H, W)
        var overlap = false
        for s in series {
            let v = s.values
            func mark(_ rows: ClosedRange<Int>, _ c: Int) {
                for r in rows {
                    if grid[r][c] == " " || grid[r][c] == s.symbol { grid[r][c] = s.symbol } else { grid[r][c] = "#"; overlap = true }
                }
            }
            if v.count == 1 {
                mark(row(v[0])...row(v[0]), 0)
                continue
            }
            // Column c is centred on epoch index c·δ (0-based) and spans ±δ/2 of it.
            let delta = Double(v.count - 1) / Double(W - 1)
            func at(_ x: Double) -> Double {
                let i = min(Int(x), v.count - 2)
                return v[i] + (x - Double(i)) * (v[i + 1] - v[i])
            }
            for c in 0..<W {
                let a = max(Double(c) * delta - delta / 2, 0), b = min(Double(c) * delta + delta / 2, Double(v.count - 1))
                var values = [at(a), at(b)]
                var i = Int(a.rounded(.up))
                while Double(i) <= b { values.append(v[i]); i += 1 }
                let rows = values.map(row)
                mark(rows.min()!...rows.max()!, c)
            }
        }

        let tickRows = (0..<5).map { Int((Double($0) * Double(H - 1) / 4).rounded()) }
        func label(_ r: Int) -> String {
            let t = hi - Double(r) * (hi - lo) / Double(H - 1)
            return String(format: "%.4g", useLog ? pow(10, t) : t)
        }
        let labels = Dictionary(uniqueKeysWithValues: tickRows.map { ($0, label($0)) })
        let lw = labels.values.map(\.count).max()!
        func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        let margin = String(repeating: " ", count: lw + 2)

        var out = title + "\n"
        for r in 0..<H {
            var line = pad(labels[r] ?? "", lw) + " |" + String(grid[r])
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        var axisLine = [Character](repeating: "-", count: W)
        if let kept {
            // Column c is centred on epoch index c·δ, δ = (epochs - 1) / (W - 1).
            let c = epochs > 1 ? Int((Double(kept.epoch - 1) * Double(W - 1) / Double(epochs - 1)).rounded()) : 0
            axisLine[min(max(c, 0), W - 1)] = "^"
        }
        out += String(repeating: " ", count: lw) + " +" + String(axisLine) + "\n"
        let first = "1", last = String(epochs), middle = unit
        var axis = [Character](repeating: " ", count: W)
        func put(_ s: String, at start: Int) { for (o, ch) in s.enumerated() where start + o < W { axis[start + o] = ch } }
        put(middle, at: (W - middle.count) / 2)
        put(first, at: 0)
        if epochs > 1 { put(last, at: W - last.count) }
        out += margin + String(axis).replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression) + "\n"
        var legend = series.map { "\($0.symbol) \($0.name)" }
        if overlap { legend.append("# both") }
        out += margin + legend.joined(separator: "   ") + "\n"
        if let kept { out += margin + "^ kept \(unit) \(kept.epoch) (\(kept.text))\n" }
        return out
    }
}
