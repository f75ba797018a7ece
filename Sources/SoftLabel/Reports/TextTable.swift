import Foundation

/// A plain-text table: columns separated by two spaces, each as wide as its widest cell; text columns
/// left-aligned, number columns right-aligned.
public struct TextTable {
    public enum Alignment: Sendable { case left, right }

    public var headers: [String]
    public var alignments: [Alignment]
    public var rows: [[String]] = []
    /// Put before every line (e.g. two spaces to indent a table under a heading).
    public var indent = ""

    /// The first column is left-aligned (names), the rest right-aligned (numbers).
    public init(headers: [String], alignments: [Alignment]? = nil, indent: String = "") {
        self.headers = headers
        self.alignments = alignments ?? [.left] + Array(repeating: .right, count: max(headers.count - 1, 0))
        self.indent = indent
    }

    public mutating func add(_ row: [String]) {
        precondition(row.count == headers.count, "table row has \(row.count) cells, expected \(headers.count)")
        rows.append(row)
    }

    /// The table, one line per row with the header first, each line ending in a newline; no trailing spaces.
    public var text: String {
        let all = [headers] + rows
        let widths = headers.indices.map { c in all.map { $0[c].count }.max()! }
        var out = ""
        for row in all {
            var line = indent
            for c in row.indices {
                let pad = String(repeating: " ", count: widths[c] - row[c].count)
                line += (c > 0 ? "  " : "") + (alignments[c] == .left ? row[c] + pad : pad + row[c])
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }
}

/// `value` with `decimals` digits after the point, or `missing` when nil or not finite.
public func fixed(_ value: Double?, _ decimals: Int, missing: String = "-") -> String {
    guard let value, value.isFinite else { return missing }
    return String(format: "%.\(decimals)f", value)
}
