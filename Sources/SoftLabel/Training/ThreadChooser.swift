import Dispatch

/// How many threads each minibatch of a run uses, chosen from the minibatches' own times.
///
/// The threads of a batch step meet twice per minibatch, so one thread the system has set aside holds the
/// whole step up: with another program busy on one of 2 cores, 2 threads took 0.10-0.40 s per epoch of the
/// 100,000 x 512 linear workload where 1 thread took 0.05 (and 0.03 with 2 threads on a quiet machine); 16
/// threads on 2 cores took 0.14. The results do not depend on the thread count, so the count can change
/// between any two minibatches: this measures.
///
/// The policy: run at `threads` (at first all of them); every `interval` full batches, run `trial` batches at
/// a neighbouring count (half, or double when below the most: the other way from a probe that failed, the
/// same way as one that moved), and move there when their mean time beats the mean of the last `window` at
/// the current count by 10%. Means, not medians: the cost of a busy core is the few batches that wait for a
/// time slice (2-4 ms among batches of 0.1), which a median does not see. A probe that does not
/// move doubles the interval (up to `longest` batches), or sets it to `longest` at once when fewer threads
/// were more than 1.5 times as slow (a quiet machine then pays for 6 slower batches in the first 16 and 6
/// in every 4,096 after: the doubling alone cost the 2048 -> 100 workload about 1% of each early epoch); a
/// move sets it back to `shortest`, so a machine that changes is followed within a few dozen batches.
struct ThreadChooser {
    let most: Int
    /// The count used outside probes.
    private(set) var threads: Int
    private var recent: [Double] = []           // the last `window` times at `threads`
    private var probe: (threads: Int, times: [Double])?
    private var untilProbe: Int
    private var interval: Int
    private var upNext = false

    static let trial = 6
    static let window = 12
    static let shortest = 16
    static let longest = 4096
    /// A neighbour must be this much faster (ratio of mean times) to be moved to.
    static let margin = 0.9

    init(most: Int) {
        precondition(most >= 1)
        self.most = most
        threads = most
        interval = Self.shortest
        untilProbe = Self.shortest
    }

    /// The threads for the next batch.
    var next: Int { probe?.threads ?? threads }

    /// Runs `body` on `step` limited to the next batch's threads; records its time when `full` (batches of
    /// another size do not compare).
    mutating func run<R>(_ step: BatchStep, full: Bool, _ body: (BatchStep) -> R) -> R {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = body(step.limited(to: next))
        if full { record(seconds: Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9) }
        return result
    }

    /// Records the time of a full batch run at `next` threads.
    mutating func record(seconds: Double) {
        guard most > 1, seconds.isFinite else { return }
        if var p = probe {
            p.times.append(seconds)
            probe = p
            guard p.times.count == Self.trial else { return }
            probe = nil
            let up = p.threads > threads
            if Self.mean(p.times) < Self.margin * Self.mean(recent) {
                // Moved: the next probe goes on the same way.
                threads = p.threads
                recent = p.times
                interval = Self.shortest
                upNext = up
            } else {
                // Fewer threads a lot slower (a quiet machine): the next probe only after the longest wait. More
                // threads slower: the other program may stop any time, so the wait only doubles.
                let decisive = !up && Self.mean(p.times) > 1.5 * Self.mean(recent)
                interval = decisive ? Self.longest : min(2 * interval, Self.longest)
                upNext = !up
            }
            untilProbe = interval
            return
        }
        recent.append(seconds)
        if recent.count > Self.window { recent.removeFirst(recent.count - Self.window) }
        untilProbe -= 1
        guard untilProbe <= 0, recent.count >= Self.trial else { return }
        let down = threads > 1 ? threads / 2 : nil
        let up = threads < most ? min(most, 2 * threads) : nil
        if let pick = upNext ? (up ?? down) : (down ?? up) { probe = (pick, []) }
    }

    private static func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(max(v.count, 1)) }
}
