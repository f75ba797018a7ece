import Foundation
import SoftLabel

/// When a command streams its data instead of reading it into memory, and the note that says so.
enum Streaming {
    static let memory = OptionSpec(
        name: "--memory", value: "SIZE",
        help: "Memory budget for the data, e.g. 2G or 512M: larger data is streamed. Default: half of RAM or the cgroup limit.")

    /// The budget: `--memory SIZE`, else half of the physical memory or of the memory cgroup's limit.
    static func budget(_ a: ParsedArguments) throws -> MemoryBudget {
        guard let text = a.string(memory.name) else { return MemoryBudget.automatic() }
        guard let bytes = MemoryBudget.parse(text) else {
            throw UsageError("--memory expects a size such as 2G, 512M or 1.5G (K, M, G, T: powers of 1024), got '\(text)'")
        }
        return MemoryBudget(bytes: bytes, origin: "--memory \(text)")
    }

    /// Whether the NPY data of `source` (and `others`, read beside it) is too large for `budget` once widened
    /// to Float; when it is, says so on stderr. Data of fewer than two blocks always stays in memory.
    static func shouldStream(_ source: NPYSource, others: [NPYSource] = [], budget: MemoryBudget, console: Console) throws -> Bool {
        let main = try StreamingSource.dimensions(source)
        var need = MemoryBudget.need(rows: main.rows, features: main.features, classes: main.classes)
        for o in others {
            let dims = try StreamingSource.dimensions(o)
            need = need.addingReportingOverflow(MemoryBudget.need(rows: dims.rows, features: dims.features,
                                                                  classes: dims.classes)).partialValue
        }
        if budget.fits(need) || main.rows < 2 * StreamLayout.blockRows { return false }
        console.err("softlabel: note: streaming \(source.features): \(main.rows) rows x \(main.features) features as Float " +
                    "need \(MemoryBudget.format(need)), more than the memory budget of \(MemoryBudget.format(budget.bytes)) " +
                    "(\(budget.origin)); reading it in blocks of \(StreamLayout.blockRows) rows instead (--memory SIZE sets the budget)\n")
        return true
    }

    /// A CSV file too large for the budget (its text size stands in for its Float size: text is the larger).
    static func csvTooLarge(_ path: String, budget: MemoryBudget) -> Bool {
        guard path != "-", let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else { return false }
        return !budget.fits(size)
    }
}

extension Streaming {
    /// Whether the next window is read by a thread of its own while the current one trains
    /// (SOFTLABEL_READ_AHEAD=0 fills each window on every core when it is needed instead).
    static var readAhead: Bool { ProcessInfo.processInfo.environment["SOFTLABEL_READ_AHEAD"] != "0" }
}
