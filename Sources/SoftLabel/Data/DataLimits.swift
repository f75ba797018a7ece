import Foundation

/// What a data file may make us allocate, checked before allocating: a file of a few bytes must not be able
/// to ask for gigabytes (an integer label of 1e8 means a one-hot target row of 1e8 classes).
public enum DataLimits {
    /// The most classes a data set may have: 100,000. A dense softmax over more classes is not what
    /// softlabel is built for (ImageNet-21k has 21,841), and the likelier cause of more is a wrong column
    /// read as labels (an id column as `label`, a regression target as integer class indices).
    public static let maxClasses = 100_000

    /// The most bytes one-hot targets built from hard labels may take: half of this machine's memory.
    /// (Soft-label targets are read from the file, so their size is bounded by it; one-hot targets are not.)
    public static var oneHotBudget: Int { Int(clamping: ProcessInfo.processInfo.physicalMemory / 2) }

    /// Throws unless one-hot targets of `rows` x `classes` Floats fit in `budget` bytes.
    static func checkOneHot(rows: Int, classes: Int, file: String, column: String? = nil,
                            budget: Int = oneHotBudget) throws {
        let (cells, overflow) = rows.multipliedReportingOverflow(by: classes)
        if overflow || cells > budget / MemoryLayout<Float>.size {
            let gb = Double(rows) * Double(classes) * Double(MemoryLayout<Float>.size) / 1e9
            throw DataError(file: file, column: column,
                            "\(rows) rows x \(classes) classes of one-hot targets need \(String(format: "%.1f", gb)) GB, " +
                            "more than half of this machine's memory (\(String(format: "%.1f", Double(budget) * 2 / 1e9)) GB)")
        }
    }

    /// "more than 100000 classes, the most softlabel supports", for messages.
    static var classLimitText: String { "more than \(maxClasses) classes, the most softlabel supports" }
}
