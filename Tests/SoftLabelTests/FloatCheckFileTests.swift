import Foundation
import Testing
@testable import SoftLabel

/// Runs only when SOFTLABEL_FLOAT_CHECK_FILE names a CSV file (no quotes, as the benchmark writes it): every
/// numeric cell must parse to exactly `Float(String(cell))`, both through `FloatParser.parse` and, for feature
/// columns, in the Dataset the full reader returns. Run it with
/// `SOFTLABEL_FLOAT_CHECK_FILE=big.csv swift test --filter everyNumericCellOfTheCheckFile`.
@Suite struct FloatCheckFileTests {
    static let path = ProcessInfo.processInfo.environment["SOFTLABEL_FLOAT_CHECK_FILE"]

    @Test(.enabled(if: path != nil)) func everyNumericCellOfTheCheckFile() throws {
        let path = Self.path!
        let data = try CSVReader.read(path: path, labels: .optional).dataset
        let d = data.featureCount
        let handle = try #require(FileHandle(forReadingAtPath: path))
        var header: [String]?
        var roles: [Int] = []  // per column: feature index, -1 for other numbers (labels), -2 for text (id, label)
        var row = 0
        var pending: [UInt8] = []
        var mismatches: [String] = []
        let lock = NSLock()
        while true {
            let block = handle.readData(ofLength: 64 << 20)
            pending += block
            guard let lastBreak = pending.lastIndex(of: 0x0A) ?? (block.isEmpty && !pending.isEmpty ? pending.count - 1 : nil)
            else { if block.isEmpty { break } else { continue } }
            var lines = pending[...lastBreak].split(separator: 0x0A).map { $0.last == 0x0D ? $0.dropLast() : $0 }
            pending = Array(pending[(lastBreak + 1)...])
            if header == nil {
                let names = String(decoding: lines.removeFirst(), as: UTF8.self).split(separator: ",").map(String.init)
                header = names
                var j = 0
                roles = names.map { n in
                    if n == "id" || n == "label" { return -2 }
                    if n.hasPrefix("label:") { return -1 }
                    j += 1
                    return j - 1
                }
                #expect(j == d)
            }
            let first = row
            let halves = [0..<(lines.count / 2), (lines.count / 2)..<lines.count]
            data.features.values.withUnsafeBufferPointer { x in
                DispatchQueue.concurrentPerform(iterations: 2) { h in
                    var bad: [String] = []
                    for li in halves[h] {
                        let cells = lines[li].split(separator: 0x2C, omittingEmptySubsequences: false)
                        for (c, cell) in cells.enumerated() where roles[c] != -2 {
                            let reference = Float(String(decoding: cell, as: UTF8.self))
                            let ours = Array(cell).withUnsafeBufferPointer { FloatParser.parse($0) }
                            if ours?.bitPattern != reference?.bitPattern {
                                bad.append("line \(first + li + 2) '\(String(decoding: cell, as: UTF8.self))'")
                            }
                            if roles[c] >= 0 && x[(first + li) * d + roles[c]].bitPattern != reference?.bitPattern {
                                bad.append("reader, line \(first + li + 2) '\(String(decoding: cell, as: UTF8.self))'")
                            }
                        }
                    }
                    lock.lock()
                    mismatches += bad
                    lock.unlock()
                }
            }
            row += lines.count
            if block.isEmpty { break }
        }
        #expect(row == data.count)
        #expect(mismatches.isEmpty, "\(mismatches.count) mismatches: \(mismatches.prefix(10))")
    }
}
