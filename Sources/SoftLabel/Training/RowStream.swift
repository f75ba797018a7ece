import Foundation
import Synchronization

/// Counters a caller can read while a streamed run goes (from any thread): for the read rate in progress.
public final class StreamingMonitor: Sendable {
    private let bytes = Atomic<Int>(0)

    public init() {}

    /// Bytes of the data files read so far (as stored: float16 counts 2 bytes a value).
    public var bytesRead: Int { bytes.load(ordering: .relaxed) }

    func add(_ n: Int) { bytes.add(n, ordering: .relaxed) }
}

/// A thread that runs one job at a time beside the caller: the next window is read and prepared while the
/// current one trains, so the disk and the cores work at the same time.
final class ReadAhead: @unchecked Sendable {
    // @unchecked Sendable: `job`, `finished`, `failure` and `stopping` are only touched with `condition` held.
    private let condition = NSCondition()
    private var job: (() throws -> Void)?
    private var finished = true
    private var failure: Error?
    private var stopping = false

    init() {
        // The thread keeps the object alive until `stop` ends its loop.
        let thread = Thread { self.loop() }
        thread.name = "softlabel read-ahead"
        thread.start()
    }

    private func loop() {
        condition.lock()
        while true {
            while job == nil && !stopping { condition.wait() }
            if stopping { break }
            let work = job!
            condition.unlock()
            var error: Error?
            do { try work() } catch let e { error = e }
            condition.lock()
            job = nil
            failure = error
            finished = true
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Starts `work` on the thread; the previous job must have been waited for.
    func start(_ work: @escaping () throws -> Void) {
        condition.lock()
        precondition(finished)
        finished = false
        failure = nil
        job = work
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the job started last; rethrows its error.
    func wait() throws {
        condition.lock()
        while !finished { condition.wait() }
        let e = failure
        failure = nil
        condition.unlock()
        if let e { throw e }
    }

    /// Keeps a value computed from touched pages alive (so the loads that touched them are not optimised away).
    static func sink(_ value: UInt8) { sunk.store(value, ordering: .relaxed) }
    private static let sunk = Atomic<UInt8>(0)

    /// Ends the thread (after the job in flight).
    func stop() {
        try? wait()
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }
}

/// The next window's rows in training order, made by the read-ahead job (`RowStream.windowRows`): read by the
/// trainer only after it waited for that job.
private final class PreparedWindow: @unchecked Sendable {
    // @unchecked Sendable: written by the read-ahead job, read by the trainer after `ReadAhead.wait`.
    var window = -1
    var rows: [Int] = []
    /// The first window of the pass `RowStream.expect` announced, not of the current one.
    var nextPass = false
}

/// A run of rows delivered by `RowStream`: consecutive in the pass's order and contiguous in memory.
struct StreamRun {
    var x: Rows
    var targets: LossTargets
    var rows: Int
    /// Place of the first row in the pass (0-based): the example number dropout keys on.
    var position: Int
}

/// One pass over streamed rows in a given order, a batch at a time: the next `align` rows of the order (the
/// last batch of the pass may be shorter), gathered from the mapped files into one small buffer, standardised
/// and with their targets prepared, on every core.
///
/// The order: `order` (blocks) cut into windows of `windowBlocks` blocks; the rows of window w in the order
/// `StreamShuffle.places(window: w)` gives (or as stored). Batches run on across window boundaries. Only the
/// current window's row numbers are held (and a batch's worth of rows), whatever the size of the data.
///
/// Read-ahead: when a window's rows are taken up, the `ReadAhead` thread reads the pages of the next window
/// (and of this one, at the start of a pass, where they are not mapped), so the disk works (and the pages get
/// mapped) while the cores train; the pages of the windows before the one before are released from this
/// process (the page cache keeps them as memory allows), which keeps the resident set at about three windows
/// of pages. Blocks still mapped are not read again: a data set of at most two windows is read ahead once,
/// in the first pass, and never released.
final class RowStream {
    struct Window {
        var blocks: Range<Int>  // positions in `order`
        var rows: Int
        var start: Int          // the place of its first row in the pass
    }

    let parallel: Parallel
    let windowBlocks: Int
    let monitor: StreamingMonitor?
    private let buffer: WindowBuffer
    private let scratch: [FillScratch]
    private let readAhead: ReadAhead?
    /// A raw pass (`begin(raw:)`): its features unstandardised; where each row of the last run lies (Floats from
    /// `inPlaceBase`) when read in place; and the rows' numbers, for the error naming a bad one.
    private var raw = false
    private var inPlaceBase: UnsafePointer<Float>?
    private let offsets: UnsafeMutablePointer<Int>
    private let runIDs: UnsafeMutablePointer<Int>

    private var set: StreamedSet?
    private var order: [Int] = []
    private var shuffle: StreamShuffle?
    private var align = 1
    private var windows: [Window] = []
    private var nextWindow = 0
    private var pending: [Int] = []   // row numbers of the pass not yet delivered, from `cursor` on
    private var cursor = 0
    private var position = 0          // the place of pending[cursor]
    private var ahead = false
    /// Blocks of `mappedSource` whose pages were asked for (read ahead) and not released since: they need no
    /// second read.
    private var mapped = Set<Int>()
    private var mappedSource: ObjectIdentifier?
    private let prepared = PreparedWindow()
    /// The pass announced to follow the current one (`expect`).
    private var upcoming: (source: ObjectIdentifier, order: [Int], shuffle: StreamShuffle?)?

    /// - Parameters:
    ///   - sources: every source the stream will read (training, validation): their files are mapped.
    ///   - maxAlign: the largest batch any pass will use.
    ///   - readAhead: touch the next window's pages on a thread of its own.
    init(sources: [StreamingSource], d: Int, k: Int, windowBlocks: Int, maxAlign: Int, weights: Bool, hard: Bool,
         parallel: Parallel, readAhead: Bool, monitor: StreamingMonitor?) throws {
        self.parallel = parallel
        self.monitor = monitor
        self.windowBlocks = windowBlocks
        for s in sources { try s.mapFiles() }
        // Room for a few batches at once (about 2 MiB of features: still in cache when trained on), so the
        // gather's parallel region is shared by several minibatches.
        buffer = WindowBuffer(capacity: max(maxAlign, (2 << 20) / (4 * max(d, 1))), d: d, kp: paddedWidth(k),
                              weights: weights, hard: hard)
        let widest = sources.max { $0.features.columnCount < $1.features.columnCount }!
        scratch = (0..<parallel.threads).map { _ in FillScratch(source: widest) }
        self.readAhead = readAhead ? ReadAhead() : nil
        offsets = .allocate(capacity: buffer.capacity)
        runIDs = .allocate(capacity: buffer.capacity)
    }

    deinit {
        readAhead?.stop()
        offsets.deallocate()
        runIDs.deallocate()
    }

    /// Whether this pass delivers rows where they lie in the files (a raw pass over float32 files).
    var readsInPlace: Bool { inPlaceBase != nil }

    /// The error for the non-finite standardised feature `column` of row `row` of the last run (raw passes).
    func featureError(row: Int, column: Int) -> Error {
        set!.source.featureError(row: runIDs[row], column: column, scratch: scratch[0].source)
    }

    /// Starts a pass over `order` (blocks of `set`), rows shuffled within windows by `shuffle` (nil: in
    /// order), in batches of `align` rows, from place `start`. `raw`: deliver the features unstandardised, for a
    /// batch step that folds the standardisation into its first layer (`InputFolding`): where they lie when
    /// every row can be read in place (`StreamingSource.featureBase`; see `readsInPlace`), else gathered as stored.
    func begin(_ set: StreamedSet, order: [Int], shuffle: StreamShuffle?, align: Int, start: Int,
               raw: Bool = false) throws {
        end()
        // The first window's rows, made at the end of the pass before when this is the pass it announced.
        let announced = upcoming.map {
            $0.source == ObjectIdentifier(set.source) && $0.order == order && $0.shuffle?.base.state == shuffle?.base.state
        } ?? false
        if !(announced && prepared.nextPass) { prepared.window = -1 }
        prepared.nextPass = false
        upcoming = nil
        self.set = set
        if mappedSource != ObjectIdentifier(set.source) {
            // Another source's pass (validation) came between: what is mapped of this one is not known.
            mapped = []
            mappedSource = ObjectIdentifier(set.source)
        }
        self.raw = raw
        inPlaceBase = raw ? set.source.featureBase() : nil
        self.order = order
        self.shuffle = shuffle
        self.align = align
        windows = []
        var s = 0, i = 0
        while i < order.count {
            let blocks = i..<min(order.count, i + windowBlocks)
            let rows = blocks.reduce(0) { $0 + set.rows(ofBlock: order[$1]).count }
            windows.append(Window(blocks: blocks, rows: rows, start: s))
            s += rows
            i = blocks.upperBound
        }
        pending = []
        cursor = 0
        nextWindow = windows.firstIndex { $0.start + $0.rows > start } ?? windows.count
        position = nextWindow < windows.count ? windows[nextWindow].start : s
        if nextWindow < windows.count {
            try take()
            cursor = start - position
            position = start
        }
    }

    /// The next batches (as many whole ones as the buffer holds; the last of the pass may be short), or nil
    /// at the end of the pass; gathered on at most `threads` threads (nil: all; the same rows on any number).
    func next(threads: Int? = nil) throws -> StreamRun? {
        let most = buffer.capacity / align * align
        while pending.count - cursor < most && nextWindow < windows.count { try take() }
        var m = min(most, pending.count - cursor)
        if m < pending.count - cursor || nextWindow < windows.count { m = m / align * align }
        guard m > 0, let set else { return nil }
        try pending.withUnsafeBufferPointer { ids in
            let run = UnsafeBufferPointer(rebasing: ids[cursor..<(cursor + m)])
            try set.gather(run, into: buffer, scratch: scratch, parallel: parallel.limited(to: threads), batch: align,
                           raw: raw, offsets: inPlaceBase.map { ($0, offsets) })
            if raw { runIDs.update(from: run.baseAddress!, count: m) }
        }
        var (x, t) = buffer.rows(from: 0, position: position, preparer: set.preparer)
        if let inPlaceBase { x = Rows(base: inPlaceBase, stride: 1, index: offsets) }
        let run = StreamRun(x: x, targets: t, rows: m, position: position)
        cursor += m
        position += m
        return run
    }

    /// Announces the pass that will follow the current one (the next epoch's order), so the read-ahead can
    /// make its first window's rows in order at the end of this one instead of `begin` making them while
    /// every training thread waits.
    func expect(_ set: StreamedSet, order: [Int], shuffle: StreamShuffle?) {
        upcoming = (ObjectIdentifier(set.source), order, shuffle)
    }

    /// Waits for the read-ahead in flight.
    func end() {
        if ahead {
            ahead = false
            try? readAhead!.wait()
        }
    }

    /// Takes up the next window: its rows join the pending ones in their order; the window before it is
    /// checked (its files unchanged) and released; the window after it is read ahead.
    private func take() throws {
        let set = self.set!, v = nextWindow, win = windows[v]
        if cursor > 0 {
            pending.removeFirst(cursor)
            cursor = 0
        }
        // The window's rows in order: made by the read-ahead job that read its pages, or here (the first window of
        // a pass). Made here every time, they held up every training thread for 0.3-0.8 ms per window of 64
        // blocks (w1 streamed: 5% of an epoch).
        end()
        if prepared.window == v && !prepared.nextPass {
            pending.append(contentsOf: prepared.rows)
        } else {
            pending.append(contentsOf: Self.windowRows(set, blocks: order[win.blocks], count: win.rows, shuffle: shuffle, window: v))
        }
        prepared.window = -1
        prepared.rows = []
        if v > 0 { for b in order[windows[v - 1].blocks] { try set.source.checkFiles(set.rows(ofBlock: b)) } }
        // Kept mapped: this window, the next one (read ahead now), and the one before, whose last rows are still
        // pending (up to a buffer's worth, spread over all its blocks: released now, they were read back by page
        // faults on the training threads). Every other page is released from this process (a fault maps the
        // pages around it too, large folios whole, so releasing only the window before would leave strays) when
        // a block outside these was read ahead; a data set of two windows is never released at all.
        var keep = Set(order[win.blocks])
        if v > 0 { keep.formUnion(order[windows[v - 1].blocks]) }
        if v + 1 < windows.count { keep.formUnion(order[windows[v + 1].blocks]) }
        var release: [Range<Int>] = []
        if !mapped.isSubset(of: keep) {
            let total = StreamLayout.blockCount(set.source.rows)
            var b = 0
            while b < total {
                if keep.contains(b) {
                    b += 1
                    continue
                }
                var e = b
                while e < total && !keep.contains(e) { e += 1 }
                release.append(set.rows(ofBlock: b).lowerBound..<set.rows(ofBlock: e - 1).upperBound)
                b = e
            }
            mapped.formIntersection(keep)
        }
        // Read ahead: this window's blocks not yet read (the first window of a pass), then the next window's.
        var read = order[win.blocks].filter { !mapped.contains($0) }
        if v + 1 < windows.count { read += order[windows[v + 1].blocks].filter { !mapped.contains($0) } }
        mapped.formUnion(read)
        monitor?.add(Int(Double(set.source.bytesPerPass) * Double(win.rows) / Double(set.source.rows)))
        nextWindow += 1
        startAhead(releasing: release, reading: read)
    }

    /// Releases the pages of rows `release` and reads those of the window after the one just taken, on the
    /// read-ahead thread (without one, only releases them, here). Releasing a window's pages takes a few
    /// milliseconds (every page-table entry of 128 MiB cleared); done here, between batches, it held up every
    /// training thread: w1 streamed, 0.053-0.054 s/epoch against 0.036-0.045 with nothing released.
    private func startAhead(releasing release: [Range<Int>], reading blocks: [Int]) {
        guard let set else { return }
        let source = set.source
        guard let readAhead else {
            for r in release { source.advise(r, willNeed: false) }
            return
        }
        // (`take` has waited for the job before: `prepared` is this one's to fill.)
        let ranges = blocks.map { set.rows(ofBlock: $0) }
        // The next window's rows in order, for its `take`; after the last one, the announced pass's first window's.
        var v = nextWindow, next = v < windows.count ? (order[windows[v].blocks], windows[v].rows) : nil
        var shuffle = self.shuffle, nextPass = false
        if next == nil, let upcoming, upcoming.source == ObjectIdentifier(source) {
            let blocks = upcoming.order[0..<min(windowBlocks, upcoming.order.count)]
            (v, next, shuffle, nextPass) = (0, (blocks, blocks.reduce(0) { $0 + set.rows(ofBlock: $1).count }), upcoming.shuffle, true)
        }
        let prepared = self.prepared
        ahead = true
        readAhead.start {
            for r in release { source.advise(r, willNeed: false) }
            var sum: UInt8 = 0
            for r in ranges {
                source.advise(r, willNeed: true)
                sum &+= source.touch(r)
            }
            ReadAhead.sink(sum)
            if let (blocks, count) = next {
                prepared.rows = RowStream.windowRows(set, blocks: blocks, count: count, shuffle: shuffle, window: v)
                prepared.window = v
                prepared.nextPass = nextPass
            }
        }
    }

    /// The rows of window `v` (its `blocks` of `set`, `count` rows) in training order: shuffled by `shuffle`'s
    /// places for the window, or as stored.
    private static func windowRows(_ set: StreamedSet, blocks: ArraySlice<Int>, count: Int, shuffle: StreamShuffle?,
                                   window v: Int) -> [Int] {
        var rows: [Int] = []
        rows.reserveCapacity(count)
        for b in blocks { rows.append(contentsOf: set.rows(ofBlock: b)) }
        guard let places = shuffle?.places(window: v, count: count) else { return rows }
        return [Int](unsafeUninitializedCapacity: count) { ordered, initialized in
            rows.withUnsafeBufferPointer { rows in
                places.withUnsafeBufferPointer { places in
                    for i in 0..<count { ordered[places[i]] = rows[i] }
                }
            }
            initialized = count
        }
    }
}
