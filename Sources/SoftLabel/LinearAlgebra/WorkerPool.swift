import Foundation
import Synchronization

/// Worker threads that stay awake between parallel regions (spinning briefly, then sleeping), so a
/// minibatch can fan out to every core twice per batch without a thread wake-up each time (Dispatch's
/// `concurrentPerform` wakes its threads per call, which cost more than it saved on small batches).
///
/// Tasks are assigned statically (task t runs on participant t mod p), and `run` returns only after every
/// participant has finished, so no job's state can be seen by a later job.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    private let generation = Atomic<Int>(0)  // bumped once per job
    private let finished = Atomic<Int>(0)    // workers done with the current job
    private let sleeping = Atomic<Int>(0)
    private let wake = NSCondition()
    private let grow = NSLock()
    private let inUse = NSLock()  // one job at a time
    private var workers = 0
    // The current job, written before `generation` is bumped (release) and read after (acquire).
    private var body: ((Int) -> Void)?
    private var tasks = 0
    private var participants = 0

    /// Runs body(t) for t in 0..<tasks on up to `threads` threads (the caller is one of them).
    func run(tasks: Int, threads: Int, _ body: (Int) -> Void) {
        let p = min(tasks, threads)
        // Another caller (a second trainer in the process, or a task that itself runs in parallel) has the
        // pool: run here, one task after another. Results are the same for any number of threads.
        if p <= 1 || !inUse.try() {
            for t in 0..<tasks { body(t) }
            return
        }
        defer { inUse.unlock() }
        ensureWorkers(p - 1)
        withoutActuallyEscaping(body) { escaping in
            self.body = escaping
            self.tasks = tasks
            self.participants = p
            finished.store(0, ordering: .relaxed)
            generation.add(1, ordering: .releasing)
            if sleeping.load(ordering: .acquiring) > 0 {
                wake.lock()
                wake.broadcast()
                wake.unlock()
            }
            var t = 0
            while t < tasks {
                escaping(t)
                t += p
            }
            // Spin (the other threads finish within microseconds), but yield the core if they seem to be
            // descheduled: on a busy machine spinning would only keep them from running.
            var spins = 0
            while finished.load(ordering: .acquiring) < p - 1 {
                spins += 1
                if spins > 2_000 { sched_yield() }
            }
            self.body = nil
        }
    }

    private func ensureWorkers(_ count: Int) {
        grow.lock()
        defer { grow.unlock() }
        while workers < count {
            let index = workers + 1  // participant number; the caller is 0
            let start = generation.load(ordering: .acquiring)
            let thread = Thread { [unowned self] in self.work(index: index, seen: start) }
            thread.stackSize = 1 << 20
            thread.start()
            workers += 1
        }
    }

    /// This worker's tasks of the current job. A function of its own so the reference to the job's closure
    /// ends here, before the worker reports itself finished (the caller requires the closure released).
    @inline(never)
    private func runShare(_ index: Int) {
        guard let body else { return }
        var t = index
        while t < tasks {
            body(t)
            t += participants
        }
    }

    private func work(index: Int, seen start: Int) {
        var seen = start
        while true {
            var spins = 0
            var current = generation.load(ordering: .acquiring)
            while current == seen {
                spins += 1
                if spins > 20_000 { sched_yield() }
                if spins > 100_000 {  // a few ms idle: sleep until the next job
                    wake.lock()
                    sleeping.add(1, ordering: .releasing)
                    while generation.load(ordering: .acquiring) == seen { wake.wait() }
                    sleeping.subtract(1, ordering: .releasing)
                    wake.unlock()
                    spins = 0
                }
                current = generation.load(ordering: .acquiring)
            }
            seen = current
            guard index < participants else { continue }
            runShare(index)
            finished.add(1, ordering: .releasing)
        }
    }
}
