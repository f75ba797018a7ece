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
    /// to Float; when it is, says so on stderr. Data of one block (1,024 rows) or less always stays in memory.
    static func shouldStream(_ source: NPYSource, others: [NPYSource] = [], budget: MemoryBudget, console: Console) throws -> Bool {
        let main = try StreamingSource.dimensions(source)
        var need = MemoryBudget.need(rows: main.rows, features: main.features, classes: main.classes)
        for o in others {
            let dims = try StreamingSource.dimensions(o)
            need = need.addingReportingOverflow(MemoryBudget.need(rows: dims.rows, features: dims.features,
                                                                  classes: dims.classes)).partialValue
        }
        if budget.fits(need) || main.rows <= StreamLayout.blockRows { return false }
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

/// The chunked readers of `predict` and `eval`, and what they share.
extension Streaming {
    static let ids = OptionSpec(name: "--ids", value: "FILE",
                                help: "NPY: row ids, one per line (or a glob or @list of such files). Default: row numbers from 0.")

    /// How a command reads its data: whole (`opened`: the CSV file, already opened) or in chunks.
    enum Reading {
        case whole(opened: CSVFile?)
        case chunks(ChunkedReader)
    }

    /// Whole when the data fits the budget, else in chunks (with the note that says so). CSV: the file's size
    /// stands for its Float size (text is the larger); standard input is spooled first, then measured.
    static func reading(_ source: DataInput.Source, _ a: ParsedArguments, model: ModelFile, labels: LabelMode,
                        classes: [String]?, parallel: Parallel, console: Console) throws -> Reading {
        let budget = try budget(a)
        switch source {
        case .csv(let path, let delimiter):
            let file = try CSVFile(path: path)
            guard !budget.fits(file.size) else { return .whole(opened: file) }
            console.err("softlabel: note: streaming \(file.name): its \(MemoryBudget.format(file.size)) of text are more than the " +
                        "memory budget of \(MemoryBudget.format(budget.bytes)) (\(budget.origin)); reading it in chunks " +
                        "(--memory SIZE sets the budget)\n")
            return .chunks(try CSVChunkedReader(file: file, classes: classes, labels: labels, threads: parallel.threads,
                                                delimiter: delimiter))
        case .npy(let s):
            guard try shouldStream(s, budget: budget, console: console) else { return .whole(opened: nil) }
            let source = try StreamingSource(s, classes: classes, labels: labels, featureOrder: model.features)
            return .chunks(try NPYChunkedReader(source, ids: try a.string(ids.name).map { try IdList(spec: $0) }, parallel: parallel))
        }
    }

    /// Where the model's features are among the reader's columns (nil: the same order), with the note about
    /// columns the model does not use; a missing one is an error as for data read whole.
    static func columns(for model: ModelFile, _ reader: ChunkedReader, console: Console) throws -> [Int]? {
        let have = reader.featureNames
        if have == model.features { return nil }
        let position = Dictionary(have.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let missing = model.features.filter { position[$0] == nil }
        if !missing.isEmpty {
            let shown = missing.prefix(10).map { "'\($0)'" }.joined(separator: ", ")
            throw DataError(file: reader.name, line: 1, "missing \(missing.count) feature column(s) of the model: \(shown)" +
                            (missing.count > 10 ? ", ..." : ""))
        }
        let used = Set(model.features)
        let ignored = have.filter { !used.contains($0) }
        if !ignored.isEmpty {
            let shown = ignored.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            console.err("softlabel: note: \(reader.name): ignoring \(ignored.count) column(s) the model does not use: \(shown)" +
                        (ignored.count > 5 ? ", ..." : "") + "\n")
        }
        return model.features.map { position[$0]! }
    }

    /// A chunk's features in the model's order.
    static func features(_ chunk: DataChunk, columns: [Int]?) -> Matrix {
        guard let columns else { return chunk.features }
        var x = Matrix(rows: chunk.count, cols: columns.count)
        let d = chunk.features.cols
        chunk.features.values.withUnsafeBufferPointer { src in
            x.values.withUnsafeMutableBufferPointer { dst in
                for i in 0..<chunk.count { for (j, c) in columns.enumerated() { dst[i * columns.count + j] = src[i * d + c] } }
            }
        }
        return x
    }

    /// A prediction on a chunk, a non-finite one an error naming the row as `DataInput.predicting` does.
    static func predicting<T>(_ chunk: DataChunk, reader: ChunkedReader, model: String, csv: Bool,
                              _ body: () throws(NonFinitePrediction) -> T) throws -> T {
        do {
            return try body()
        } catch {
            let row = chunk.firstRow + error.row, id = chunk.ids[error.row]
            let number = csv ? row + 1 : row
            throw DataError(file: reader.name, "row \(number)" + (id == String(number) ? "" : " (id '\(id)')") +
                            ": the prediction of \(model) is not finite (NaN or infinite logits): a feature value far " +
                            "outside the training data's range, or a model whose numbers overflow")
        }
    }
}

/// Standard output for a streamed result: the text goes to an unlinked temporary file (in $TMPDIR) and is
/// copied to stdout only when the whole input has been read without error, so nothing is printed for bad
/// input, as when the data is read whole.
final class StdoutSpool {
    private let fd: Int32
    private var buffer: [UInt8] = []

    init() throws {
        let dir = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((dir + "/softlabel-out-XXXXXX").utf8CString)
        fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw DataError(file: dir, "cannot hold the output in a temporary file: \(String(cString: strerror(errno)))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    }

    deinit { close(fd) }

    func write(_ text: String) throws {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws {
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DataError(file: "<stdout>", "cannot hold the output in a temporary file: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Copies everything written to `console.out`, in pieces that end at line breaks.
    func finish(_ console: Console) throws {
        try flush()
        var offset = 0
        var carry: [UInt8] = []
        var block = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(offset)) }
            if n < 0 { if errno == EINTR { continue }; throw DataError(file: "<stdout>", "cannot read back the output") }
            if n == 0 { break }
            offset += n
            carry.append(contentsOf: block[..<n])
            if let last = carry.lastIndex(of: 0x0A) {
                console.out(String(decoding: carry[...last], as: UTF8.self))
                carry.removeFirst(last + 1)
            }
        }
        if !carry.isEmpty { console.out(String(decoding: carry, as: UTF8.self)) }
    }
}
