import Testing
@testable import SoftLabel

/// `ThreadChooser` against simulated machines: a batch's time as a function of its thread count.
@Suite struct ThreadChooserTests {
    /// Runs `batches` batches, each taking `time(threads)`; returns the chooser and the count of each batch.
    private func simulate(most: Int, batches: Int, _ time: (Int, Int) -> Double) -> (ThreadChooser, [Int]) {
        var c = ThreadChooser(most: most)
        var used: [Int] = []
        for b in 0..<batches {
            let t = c.next
            #expect(t >= 1 && t <= most)
            used.append(t)
            c.record(seconds: time(b, t))
        }
        return (c, used)
    }

    /// A quiet 2-core machine (2 threads 1.7x as fast as 1): it stays at 2, and after the first probe at 1
    /// thread the next one waits the longest interval: 6 batches in the first 16, then 6 in 4,096.
    @Test func aQuietMachineKeepsEveryThread() {
        let (c, used) = simulate(most: 2, batches: 20_000) { _, t in t == 2 ? 1.0 : 1.7 }
        #expect(c.threads == 2)
        let probes = used.filter { $0 == 1 }.count
        #expect(probes > 0 && probes <= (1 + 20_000 / ThreadChooser.longest) * ThreadChooser.trial, "\(probes)")
        #expect(used[ThreadChooser.shortest + ThreadChooser.trial..<ThreadChooser.longest].allSatisfy { $0 == 2 })
    }

    /// When fewer threads are only a little slower, the probes back off by doubling instead.
    @Test func aCloseCallProbesAgainSooner() {
        let (c, used) = simulate(most: 2, batches: 2_000) { _, t in t == 2 ? 1.0 : 1.2 }
        #expect(c.threads == 2)
        // Probes after 16, 32, 64, ... batches: more than one in the first 2,000.
        #expect(used.filter { $0 == 1 }.count >= 3 * ThreadChooser.trial)
    }

    /// Another program busy on one of 2 cores (every batch at 2 threads waits for a time slice): it moves to
    /// 1 thread within the first probes, and stays there while the other program runs.
    @Test func aBusyCoreMovesToOneThread() {
        let (c, used) = simulate(most: 2, batches: 5_000) { b, t in t == 2 ? 20.0 + Double(b % 7) : 1.7 }
        #expect(c.threads == 1)
        let firstAtOne = used.firstIndex(of: 1)!
        #expect(firstAtOne <= ThreadChooser.shortest, "\(firstAtOne)")
        // Probes at 2 threads after the move, backing off: 16, 32, ... 2048 batches apart (at most 10 of them).
        #expect(used[firstAtOne...].filter { $0 == 2 }.count <= 10 * ThreadChooser.trial)
    }

    /// A busy core as it shows on a real machine: most batches at 2 threads as fast as ever, one in four waiting
    /// 30 times as long for a time slice. The mean sees it (a median would not): it moves to 1 thread.
    @Test func aFewSlowBatchesCount() {
        let (c, _) = simulate(most: 2, batches: 2_000) { b, t in t == 2 ? (b % 4 == 0 ? 3.0 : 0.09) : 0.13 }
        #expect(c.threads == 1)
    }

    /// 16 threads on a 2-core machine (the more threads past 2, the slower): it climbs down to 2 and stays.
    @Test func moreThreadsThanCoresClimbDown() {
        let (c, used) = simulate(most: 16, batches: 3_000) { _, t in t <= 2 ? 2.0 / Double(t) : Double(t) / 2 }
        #expect(c.threads == 2)
        #expect(used.suffix(1_000).filter { $0 == 2 }.count >= 1_000 - 2 * ThreadChooser.trial)
    }

    /// When the other program stops, the probes upward find the cores again.
    @Test func itClimbsBackWhenTheMachineIsQuietAgain() {
        let (c, _) = simulate(most: 8, batches: 12_000) { b, t in
            b < 2_000 ? (t == 1 ? 1.0 : 10.0) : 8.0 / Double(t)
        }
        #expect(c.threads == 8)
    }

    /// One thread: nothing to choose; non-finite times are ignored.
    @Test func oneThreadAndBadTimes() {
        var c = ThreadChooser(most: 1)
        for _ in 0..<100 { c.record(seconds: 1) }
        #expect(c.next == 1)
        var d = ThreadChooser(most: 4)
        for _ in 0..<1_000 { d.record(seconds: .nan) }
        #expect(d.next == 4 && d.threads == 4)
    }
}
