import Foundation
import Synchronization

/// Worker threads that stay awake between parallel regions (spinning briefly, then sleeping), so a
/// minibatch can fan out to every core twice per batch without a thread wake-up each time (Dispatch's
/// `concurrentPerform` wakes its threads per call, which cost more than it saved on small batches).
///
/// Tasks are assigned statically (task t runs on participant t mod p), and `run` returns only after every
/// participant has finished, so no job's state can be seen by a later job.
///
/// The hand-off: a job is published as ONE atomic word, `generation << 16 | participants`. A worker reads
/// that word once per job, so it can never pair one job's generation with another job's participant count
/// (the race of the first version, where a worker that skipped job N could read job N+1's count, run its
/// share of N+1, report, and run it again). A worker whose index is below the count it read is a
/// participant, and the caller waits for every participant's report before it changes `body` or `tasks`;
/// a worker at or above the count touches nothing of the job.
final class WorkerPool: @unchecked Sendable {
    // @unchecked Sendable: `body`, `tasks` and `phases` are plain stored properties shared with the workers. They are
    // written only by the caller holding `inUse`, before the job word is published (release), read by a
    // participant only after it loaded that word (acquire), and not written again until every participant
    // has reported in `finished` (release/acquire). Everything else is atomic or behind a lock.
    static let shared = WorkerPool()

    /// Largest number of participants one job word can carry.
    static let maxParticipants = 0xFFFF

    private let job = Atomic<UInt64>(0)     // generation << 16 | participants of the current job
    private let finished = Atomic<Int>(0)   // participants (other than the caller) done with the current job
    private let arrived = Atomic<Int>(0)    // arrivals at the current job's phase barriers (all participants)
    private let sleeping = Atomic<Int>(0)
    private let wake = NSCondition()
    private let grow = NSLock()
    private let inUse = NSLock()  // one job at a time
    private var workers = 0       // behind `grow`
    private var body: ((Int, Int) -> Void)?  // (phase, task)
    private var tasks = 0
    private var phases = 1

    /// Runs body(t) for t in 0..<tasks on up to `threads` threads (the caller is one of them).
    func run(tasks: Int, threads: Int, _ body: (Int) -> Void) {
        run(tasks: tasks, threads: threads, phases: 1) { _, t in body(t) }
    }

    /// Runs body(phase, t) for every task t of phase 0, then of phase 1, ...: a phase begins only when the one
    /// before has finished on every thread (a barrier inside the job, so threads do not return to the caller
    /// between phases). Task t runs on participant t mod p in every phase.
    func run(tasks: Int, threads: Int, phases: Int, _ body: (Int, Int) -> Void) {
        let p = min(tasks, threads, WorkerPool.maxParticipants)
        // Another caller (a second trainer in the process, or a task that itself runs in parallel) has the
        // pool: run here, phase after phase. Results are the same for any number of threads.
        if p <= 1 || !inUse.try() {
            for phase in 0..<phases { for t in 0..<tasks { body(phase, t) } }
            return
        }
        defer { inUse.unlock() }
        ensureWorkers(p - 1)
        withoutActuallyEscaping(body) { escaping in
            self.body = escaping
            self.tasks = tasks
            self.phases = phases
            finished.store(0, ordering: .relaxed)
            arrived.store(0, ordering: .relaxed)
            let generation = (job.load(ordering: .relaxed) >> 16) &+ 1
            // Sequentially consistent with the `sleeping` check below and the workers' own pair (increment
            // `sleeping`, then re-read the job): at least one side sees the other, so no worker sleeps
            // through a job it is part of.
            job.store(generation << 16 | UInt64(p), ordering: .sequentiallyConsistent)
            if sleeping.load(ordering: .sequentiallyConsistent) > 0 {
                wake.lock()
                wake.broadcast()
                wake.unlock()
            }
            share(0, participants: p, body: escaping)
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

    /// Participant `index`'s tasks of every phase of the current job, with the barrier after each phase but
    /// the last. Every participant runs this, so the barrier counts p arrivals per phase.
    @inline(__always)
    private func share(_ index: Int, participants p: Int, body: (Int, Int) -> Void) {
        for phase in 0..<phases {
            var t = index
            while t < tasks {
                body(phase, t)
                t += p
            }
            if phase < phases - 1 {
                // Release: this phase's writes are seen by every participant once it passes the barrier.
                arrived.add(1, ordering: .acquiringAndReleasing)
                var spins = 0
                while arrived.load(ordering: .acquiring) < p * (phase + 1) {
                    spins += 1
                    if spins > 2_000 { sched_yield() }
                }
            }
        }
    }

    private func ensureWorkers(_ count: Int) {
        grow.lock()
        defer { grow.unlock() }
        while workers < count {
            let index = workers + 1  // participant number; the caller is 0
            // Called before the next job is published, so a new worker starts out having "seen" the last one.
            let start = job.load(ordering: .acquiring) >> 16
            let thread = Thread { [unowned self] in self.work(index: index, seen: start) }
            thread.stackSize = 1 << 20
            thread.start()
            workers += 1
        }
    }

    /// This worker's tasks of the current job. A function of its own so the reference to the job's closure
    /// ends here, before the worker reports itself finished (the caller requires the closure released).
    @inline(never)
    private func runShare(_ index: Int, participants: Int) {
        guard let body else { return }
        share(index, participants: participants, body: body)
    }

    private func work(index: Int, seen start: UInt64) {
        var seen = start
        while true {
            var spins = 0
            var word = job.load(ordering: .acquiring)
            while word >> 16 == seen {
                spins += 1
                if spins > 20_000 { sched_yield() }
                if spins > 100_000 {  // a few ms idle: sleep until the next job
                    wake.lock()
                    sleeping.add(1, ordering: .sequentiallyConsistent)
                    while job.load(ordering: .sequentiallyConsistent) >> 16 == seen { wake.wait() }
                    sleeping.subtract(1, ordering: .relaxed)
                    wake.unlock()
                    spins = 0
                }
                word = job.load(ordering: .acquiring)
            }
            seen = word >> 16
            let participants = Int(word & 0xFFFF)
            guard index < participants else { continue }  // not part of this job: touch nothing of it
            runShare(index, participants: participants)
            finished.add(1, ordering: .releasing)
        }
    }
}
