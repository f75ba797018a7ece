import Foundation

/// NPY data (shards and all) read in chunks through `StreamingSource`, on every core: features in the order
/// asked for, targets (when read) in the classes' order, ids from a list of ids (`IdList`) or the 0-based
/// row numbers.
public final class NPYChunkedReader: ChunkedReader {
    public let source: StreamingSource
    public var name: String { source.name }
    public var featureNames: [String] { source.featureNames }
    public var classNames: [String] { source.classNames }
    public let rowsPerChunk: Int
    let parallel: Parallel
    let ids: IdList?
    private var row = 0
    private var stats = LabelSumStats()
    private let scratch: [FillScratch]

    /// `rowsPerChunk`: about 8 MiB of features a chunk by default (few page faults, still many rows).
    public init(_ source: StreamingSource, ids: IdList? = nil, parallel: Parallel, rowsPerChunk: Int? = nil) throws {
        self.source = source
        self.parallel = parallel
        self.ids = ids
        if let ids, ids.count != source.rows {
            throw DataError(file: ids.name, "has \(ids.count) ids, but \(source.name) has \(source.rows) rows")
        }
        self.rowsPerChunk = rowsPerChunk ?? max(FillScratch.rowsPerRead, (8 << 20) / (4 * max(source.featureCount, 1)))
        scratch = (0..<parallel.threads).map { _ in FillScratch(source: source) }
    }

    public var warnings: [String] {
        row < source.rows ? [] : stats.warning(file: source.labels?.path ?? source.name).map { [$0] } ?? []
    }

    /// Every row read and checked in one parallel pass, each task through its own small scratch (the rows go
    /// nowhere: no buffer of the data's size is touched, so no page faults either).
    public func checkAll() throws -> Int {
        let n = source.rows - row, first = row
        let pieces = (n + FillScratch.rowsPerRead - 1) / FillScratch.rowsPerRead
        let tasks = min(scratch.count, max(pieces, 1))
        var failures = [(Int, Error)?](repeating: nil, count: tasks)
        var partStats = [LabelSumStats](repeating: LabelSumStats(), count: tasks)
        let logits = { if case .logits = source.targets { return true } else { return false } }()
        let hardGiven = source.targets == .logits(hardIndices: true)
        let reading = source, scratch = self.scratch
        failures.withUnsafeMutableBufferPointer { failed in
            partStats.withUnsafeMutableBufferPointer { st in
                parallel.run(tasks: tasks) { task in
                    let s = scratch[task]
                    for p in Parallel.part(task, of: tasks, count: pieces) {
                        let lo = first + p * FillScratch.rowsPerRead, hi = min(first + n, lo + FillScratch.rowsPerRead)
                        do {
                            try reading.read(lo..<hi, x: s.x, t: reading.hasTargets ? s.t : nil, z: logits ? s.z : nil,
                                             hard: hardGiven ? s.hard : nil, scratch: s.source, stats: &st[task])
                        } catch {
                            failed[task] = (p, error)
                            return
                        }
                    }
                }
            }
        }
        if let (_, e) = failures.compactMap({ $0 }).min(by: { $0.0 < $1.0 }) { throw e }
        for s in partStats { stats.merge(s) }
        row = source.rows
        return n
    }

    // The chunk buffers, kept from chunk to chunk: once the caller has let go of a chunk, its storage is
    // written again in place (a fresh allocation for every chunk would pay its page faults every time).
    private var xs: [Float] = []
    private var ts: [Float] = []
    private var zs: [Float] = []
    private var hs: [Int32] = []

    /// `values` holding exactly `count` elements, reusing its storage when it is not shared.
    private static func sized<T: Numeric>(_ values: inout [T], _ count: Int) {
        if values.count > count { values.removeLast(values.count - count) }
        if values.count < count { values = [T](repeating: 0, count: count) }
    }

    public func next() throws -> DataChunk? {
        guard row < source.rows else { return nil }
        let m = min(rowsPerChunk, source.rows - row), first = row
        let d = source.featureCount, k = source.classCount
        let logits = { if case .logits = source.targets { return true } else { return false } }()
        let hardGiven = source.targets == .logits(hardIndices: true)
        Self.sized(&xs, m * d)
        Self.sized(&ts, source.hasTargets ? m * k : 0)
        Self.sized(&zs, logits ? m * k : 0)
        Self.sized(&hs, hardGiven ? m : 0)
        let pieces = (m + FillScratch.rowsPerRead - 1) / FillScratch.rowsPerRead
        let tasks = min(scratch.count, pieces)
        var failures = [(Int, Error)?](repeating: nil, count: tasks)
        var partStats = [LabelSumStats](repeating: LabelSumStats(), count: tasks)
        let hasTargets = source.hasTargets, reading = self.source, scratch = self.scratch
        xs.withUnsafeMutableBufferPointer { xb in
            ts.withUnsafeMutableBufferPointer { tb in
                zs.withUnsafeMutableBufferPointer { zb in
                    hs.withUnsafeMutableBufferPointer { hb in
                        failures.withUnsafeMutableBufferPointer { failed in
                            partStats.withUnsafeMutableBufferPointer { st in
                                parallel.run(tasks: tasks) { task in
                                    for p in Parallel.part(task, of: tasks, count: pieces) {
                                        let lo = p * FillScratch.rowsPerRead, hi = min(m, lo + FillScratch.rowsPerRead)
                                        do {
                                            try reading.read((first + lo)..<(first + hi), x: xb.baseAddress! + lo * d,
                                                            t: hasTargets ? tb.baseAddress! + lo * k : nil,
                                                            z: logits ? zb.baseAddress! + lo * k : nil,
                                                            hard: hardGiven ? hb.baseAddress! + lo : nil,
                                                            scratch: scratch[task].source, stats: &st[task])
                                        } catch {
                                            failed[task] = (p, error)
                                            return
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if let (_, e) = failures.compactMap({ $0 }).min(by: { $0.0 < $1.0 }) { throw e }
        for s in partStats { stats.merge(s) }
        row += m
        let names = try ids?.next(m) ?? (first..<(first + m)).map { String($0) }
        var out = DataChunk(firstRow: first, ids: names, features: Matrix(rows: m, cols: d, values: xs))
        if hasTargets { out.targets = Matrix(rows: m, cols: k, values: ts) }
        if logits { out.logits = Matrix(rows: m, cols: k, values: zs) }
        if hardGiven { out.hard = hs.map { Int($0) } }
        return out
    }
}

/// Ids for NPY rows, one per line of one or more text files (`--ids FILE`, a glob or @list as for NPY
/// shards), read as they are needed: the files are counted first (one pass over their bytes), then read
/// line by line in order. A CRLF ends a line like an LF; the last line needs no line break.
public final class IdList {
    public let name: String
    public let count: Int
    private let files: [InputFile]
    private var file = 0
    private var offset = 0
    private var pending: [UInt8] = []
    private var start = 0  // the first unread byte of `pending`

    public init(spec: String) throws {
        name = spec
        files = try ShardPattern.expand(spec, flag: "--ids").map { try InputFile(path: $0) }
        var n = 0
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        for f in files {
            var at = 0, last: UInt8 = 0x0A
            while at < f.size {
                let got = try f.read(into: buffer, count: min(1 << 20, f.size - at), at: at)
                if got == 0 { break }
                let bytes = buffer.assumingMemoryBound(to: UInt8.self)
                if memchr(bytes, 0, got) != nil { throw DataError(file: f.path, "contains NUL bytes: binary data, expected one id per line") }
                for i in 0..<got where bytes[i] == 0x0A { n += 1 }
                last = bytes[got - 1]
                at += got
            }
            if last != 0x0A { n += 1 }
        }
        count = n
    }

    /// The next `m` ids.
    public func next(_ m: Int) throws -> [String] {
        var out: [String] = []
        out.reserveCapacity(m)
        while out.count < m {
            guard file < files.count else { throw DataError(file: name, "ended early (it changed while being read)") }
            let f = files[file]
            if let lf = pending[start...].firstIndex(of: 0x0A) {
                var line = pending[start..<lf]
                if line.last == 0x0D { line = line.dropLast() }
                guard let s = String(validating: line, as: UTF8.self) else {
                    throw DataError(file: f.path, "has an id that is not UTF-8 text")
                }
                out.append(s)
                start = lf + 1
                continue
            }
            if start > 0 {
                pending.removeFirst(start)
                start = 0
            }
            if offset >= f.size {
                if !pending.isEmpty {
                    pending.append(0x0A)  // the last line of a file without a line break
                    continue
                }
                file += 1
                offset = 0
                continue
            }
            var block = [UInt8](repeating: 0, count: min(1 << 16, f.size - offset))
            let got = try block.withUnsafeMutableBytes { try f.read(into: $0.baseAddress!, count: $0.count, at: offset) }
            if got == 0 { throw DataError(file: f.path, "changed while being read (it is shorter now)") }
            pending.append(contentsOf: block[..<got])
            offset += got
        }
        return out
    }
}
