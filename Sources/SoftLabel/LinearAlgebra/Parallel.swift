
/// Runs independent tasks on up to `threads` cores. Work is always split so that every output element is
/// owned by exactly one task (no shared accumulators), hence results never depend on the thread count.
public struct Parallel: Sendable {
    public let threads: Int

    public init(threads: Int) {
        precondition(threads >= 1)
        self.threads = threads
    }

    /// All cores of this machine.
    public static var allCores: Int { max(1, ProcessInfo.activeCores) }

    /// Calls `body(t)` for t in 0..<tasks, concurrently when there is more than one thread.
    public func run(tasks: Int, _ body: (Int) -> Void) {
        WorkerPool.shared.run(tasks: tasks, threads: threads, body)
    }

    /// Splits 0..<count into at most `parts` contiguous ranges whose bounds are multiples of `align`
    /// (but the end), as even as that allows. Empty ranges are dropped.
    public static func split(_ count: Int, parts: Int, align: Int = 1) -> [Range<Int>] {
        let blocks = (count + align - 1) / align
        let p = max(1, min(parts, blocks))
        var out: [Range<Int>] = []
        var start = 0
        for i in 0..<p {
            let endBlock = blocks * (i + 1) / p
            let end = min(count, endBlock * align)
            if end > start { out.append(start..<end) }
            start = end
        }
        return out
    }
}

import Foundation

extension ProcessInfo {
    static var activeCores: Int { ProcessInfo.processInfo.activeProcessorCount }
}
