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

    /// Ends the thread (after the job in flight).
    func stop() {
        try? wait()
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }
}

/// A run of rows delivered by `RowStream`: consecutive in the pass's order and contiguous in memory.
struct StreamRun {
    var x: Rows
    var targets: LossTargets
    var rows: Int
    /// Place of the first row in the pass (0-based): the example number dropout keys on.
    var position: Int
}

/// One pass over streamed rows in a given order, delivered in runs a whole number of `align` rows long (the
/// last of the pass may be shorter) that start at multiples of `align`: minibatches (or fixed chunks) never
/// straddle two buffers.
///
/// Two window buffers take turns. Window w holds the pass's rows S_w ..< S_w + R_w at slots c_w ..< c_w + R_w,
/// where c_w = S_w mod align; slots 0 ..< c_w receive the previous window's last c_w rows (the part of a batch
/// it could not complete), copied when the trainer moves on. With read-ahead, window w + 1 is filled by the
/// `ReadAhead` thread while window w trains; without, each window is filled on every core when it is needed.
/// Either way every slot is written by one deterministic fill, so the rows are the same bits for any thread
/// count and any timing.
final class RowStream {
    struct Window {
        var blocks: Range<Int>  // positions in `order`
        var rows: Int
        var start: Int          // S_w
    }

    let parallel: Parallel
    let windowBlocks: Int
    let monitor: StreamingMonitor?
    private let buffers: [WindowBuffer]
    private let poolScratch: [FillScratch]
    private let aheadScratch: [FillScratch]
    private let readAhead: ReadAhead?

    private var set: StreamedSet?
    private var order: [Int] = []
    private var shuffle: StreamShuffle?
    private var align = 1
    private var windows: [Window] = []
    private var w = 0
    private var cur = 0
    private var ahead = false
    private var firstRun = false
    private var start = 0

    /// - Parameters:
    ///   - sources: every source the stream will read (training, validation), for their scratch space.
    ///   - maxAlign: the largest `align` any pass will use.
    ///   - readAhead: fill the next window on a thread of its own while the current one is used.
    init(sources: [StreamingSource], d: Int, k: Int, windowBlocks: Int, maxAlign: Int, weights: Bool, hard: Bool,
         parallel: Parallel, readAhead: Bool, monitor: StreamingMonitor?) {
        self.parallel = parallel
        self.monitor = monitor
        self.windowBlocks = windowBlocks
        let capacity = windowBlocks * StreamLayout.blockRows + maxAlign
        buffers = (0..<2).map { _ in WindowBuffer(capacity: capacity, d: d, kp: paddedWidth(k), weights: weights, hard: hard) }
        // Scratch sized for the widest source (a validation file may differ in stored columns).
        let widest = sources.max { $0.features.columnCount < $1.features.columnCount }!
        poolScratch = (0..<parallel.threads).map { _ in FillScratch(source: widest) }
        aheadScratch = readAhead ? [FillScratch(source: widest)] : []
        self.readAhead = readAhead ? ReadAhead() : nil
    }

    deinit { readAhead?.stop() }

    /// The largest run alignment a window can serve.
    var windowRows: Int { windowBlocks * StreamLayout.blockRows }

    /// Starts a pass over `order` (blocks of `set`), rows shuffled within windows by `shuffle` (nil: in
    /// order), from place `start` (a multiple of `align`). The windows before the one holding `start` are
    /// read again only as far as needed to rebuild its first rows.
    func begin(_ set: StreamedSet, order: [Int], shuffle: StreamShuffle?, align: Int, start: Int) throws {
        end()
        self.set = set
        self.order = order
        self.shuffle = shuffle
        self.align = align
        self.start = start
        windows = []
        var s = 0
        var i = 0
        while i < order.count {
            let blocks = i..<min(order.count, i + windowBlocks)
            let rows = blocks.reduce(0) { $0 + set.rows(ofBlock: order[$1]).count }
            windows.append(Window(blocks: blocks, rows: rows, start: s))
            s += rows
            i = blocks.upperBound
        }
        guard let w0 = windows.indices.first(where: { runEnd($0) > max(start, runStart($0)) }) else {
            w = windows.count
            firstRun = false
            return
        }
        // The earliest window whose own rows reach back to the first row window w0's buffer holds.
        var ws = w0
        while ws > 0 && windows[ws].start > runStart(w0) { ws -= 1 }
        cur = 0
        try load(ws, into: cur)
        for v in (ws + 1)..<(w0 + 1) {
            try load(v, into: 1 - cur)
            carry(from: v - 1)
            cur = 1 - cur
        }
        w = w0
        firstRun = true
        startAhead()
    }

    /// The next run, or nil at the end of the pass.
    func next() throws -> StreamRun? {
        if firstRun {
            firstRun = false
            return run(w)
        }
        while w + 1 < windows.count {
            w += 1
            if ahead {
                ahead = false
                try readAhead!.wait()
            } else {
                try load(w, into: 1 - cur)
            }
            carry(from: w - 1)
            cur = 1 - cur
            startAhead()
            if runEnd(w) > runStart(w) { return run(w) }
        }
        w = windows.count
        return nil
    }

    /// Waits for a read-ahead in flight (its error, if any, no longer matters).
    func end() {
        if ahead {
            ahead = false
            try? readAhead!.wait()
        }
    }

    // MARK: - Windows

    private func carrySize(_ v: Int) -> Int { windows[v].start % align }
    /// The first place window v's buffer holds.
    private func runStart(_ v: Int) -> Int { windows[v].start - carrySize(v) }
    /// The place after the last row window v delivers (its unfinished batch goes on to the next window).
    private func runEnd(_ v: Int) -> Int {
        let end = windows[v].start + windows[v].rows
        return v == windows.count - 1 ? end : end - end % align
    }

    private func run(_ v: Int) -> StreamRun {
        let first = max(runStart(v), start)
        let (x, t) = buffers[cur].rows(from: first - runStart(v), position: first, preparer: set!.preparer)
        return StreamRun(x: x, targets: t, rows: runEnd(v) - first, position: first)
    }

    /// Copies the rows window `v` (in buffer `cur`) could not deliver to the front of the other buffer.
    private func carry(from v: Int) {
        let count = carrySize(v + 1)
        let from = runEnd(v) - runStart(v)
        buffers[1 - cur].copyRows(from: buffers[cur], from, to: 0, count: count)
    }

    /// Fills window v into buffer b now, on every core.
    private func load(_ v: Int, into b: Int) throws {
        let win = windows[v]
        let places = shuffle?.places(window: v, count: win.rows)
        _ = try set!.fill(blocks: order[win.blocks], places: places, into: buffers[b], at: carrySize(v),
                          scratch: poolScratch, parallel: parallel)
        monitor?.add(bytes(win))
    }

    /// Starts filling the window after `w` into the other buffer, on the read-ahead thread.
    private func startAhead() {
        guard let readAhead, w + 1 < windows.count else { return }
        let v = w + 1, win = windows[v], set = self.set!, blocks = order[win.blocks], buffer = buffers[1 - cur]
        let offset = carrySize(v), scratch = aheadScratch, monitor = self.monitor, size = bytes(win)
        let places = shuffle?.places(window: v, count: win.rows)
        ahead = true
        readAhead.start {
            _ = try set.fill(blocks: blocks, places: places, into: buffer, at: offset, scratch: scratch, parallel: nil)
            monitor?.add(size)
        }
    }

    private func bytes(_ win: Window) -> Int {
        guard let set else { return 0 }
        return Int(Double(set.source.bytesPerPass) * Double(win.rows) / Double(set.source.rows))
    }
}
