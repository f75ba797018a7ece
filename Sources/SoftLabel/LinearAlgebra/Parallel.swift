
/// Runs independent tasks on up to `threads` cores. Work is always split so that every output element is
/// owned by exactly one task (no shared accumulators), hence results never depend on the thread count.
public struct Parallel: Sendable {
    public let threads: Int

    public init(threads: Int) {
        precondition(threads >= 1)
        self.threads = threads
    }

    /// At most `threads` of these threads (nil: all of them).
    func limited(to threads: Int?) -> Parallel {
        guard let threads, threads < self.threads else { return self }
        return Parallel(threads: max(1, threads))
    }

    /// The most threads a command accepts (`--threads`).
    public static let maxThreads = 1024

    /// All cores of this machine.
    public static var allCores: Int { max(1, ProcessInfo.activeCores) }

    /// Calls `body(t)` for t in 0..<tasks, concurrently when there is more than one thread.
    public func run(tasks: Int, _ body: (Int) -> Void) {
        WorkerPool.shared.run(tasks: tasks, threads: threads, body)
    }

    /// Calls `body(phase, t)` for t in 0..<tasks, phase after phase: every task of a phase has finished before
    /// any task of the next begins (a barrier inside one parallel region: cheaper than one region per phase).
    public func run(tasks: Int, phases: Int, _ body: (_ phase: Int, _ task: Int) -> Void) {
        WorkerPool.shared.run(tasks: tasks, threads: threads, phases: phases, body)
    }

    /// Splits 0..<count into at most `parts` contiguous ranges whose bounds are multiples of `align`
    /// (but the end), as even as that allows. Empty ranges are dropped.
    public static func split(_ count: Int, parts: Int, align: Int = 1) -> [Range<Int>] {
        (0..<partCount(count, parts: parts, align: align)).map { part($0, of: parts, count: count, align: align) }
    }

    /// How many non-empty ranges `split` makes.
    @inline(__always)
    public static func partCount(_ count: Int, parts: Int, align: Int = 1) -> Int {
        min(parts, (count + align - 1) / align)
    }

    /// Range `index` of `split(count, parts:, align:)`, computed without building the array (the
    /// minibatch step asks for its ranges every batch); empty when index >= partCount.
    @inline(__always)
    public static func part(_ index: Int, of parts: Int, count: Int, align: Int = 1) -> Range<Int> {
        let blocks = (count + align - 1) / align
        let p = max(1, min(parts, blocks))
        guard index < p else { return count..<count }
        return min(count, blocks * index / p * align)..<min(count, blocks * (index + 1) / p * align)
    }
}

import Foundation

extension ProcessInfo {
    static var activeCores: Int { ProcessInfo.processInfo.activeProcessorCount }
}
