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
///
/// Idle workers: a participant spins briefly for the next job (minibatches follow each other within
/// microseconds), then sleeps on its own semaphore; a worker left out of a job sleeps at once. The caller
/// wakes only the sleeping workers its job needs, so a pool grown large once (a parse on every core, or a
/// `--threads 200` run) costs later small jobs nothing: the first version woke every worker for every job
/// and the ones left out spun for milliseconds, which on 2 cores with 200 workers stalled a test run.
final class WorkerPool: @unchecked Sendable {
    // @unchecked Sendable: `body`, `tasks` and `phases` are plain stored properties shared with the workers. They are
    // written only by the caller holding `inUse`, before the job word is published (release), read by a
    // participant only after it loaded that word (acquire), and not written again until every participant
    // has reported in `finished` (release/acquire). `idle` is read and grown only by the caller holding
    // `inUse` (each worker keeps its own reference to its entry). Everything else is atomic or behind a lock.
    static let shared = WorkerPool()

    /// Largest number of participants one job word can carry.
    static let maxParticipants = 0xFFFF

    private let job = Atomic<UInt64>(0)     // generation << 16 | participants of the current job
    private let finished = Atomic<Int>(0)   // participants (other than the caller) done with the current job
    private let arrived = Atomic<Int>(0)    // arrivals at the current job's phase barriers (all participants)
    private var idle: [Idle] = []  // idle[i - 1]: worker i's sleep flag and semaphore; grown only by the caller
    private let grow = NSLock()
    private let inUse = NSLock()  // one job at a time
    private var workers = 0       // behind `grow`
    private var body: ((Int, Int) -> Void)?  // (phase, task)
    private var tasks = 0
    private var phases = 1
    /// Sleeping workers woken by jobs so far (behind `inUse`; for the tests).
    private(set) var wakeUps = 0

    /// Runs body(t) for t in 0..<tasks on up to `threads` threads (the caller is one of them).
    func run(tasks: Int, threads: Int, _ body: (Int) -> Void) {
        run(tasks: tasks, threads: threads, phases: 1) { _, t in body(t) }
    }

    /// Runs body(phase, t) for every task t of phase 0, then of phase 1, ...: a phase begins only when the one
    /// before has finished on every thread (a barrier inside the job, so threads do not return to the caller
    /// between phases). Task t runs on participant t mod p in every phase.
    func run(tasks: Int, threads: Int, phases: Int, _ body: (Int, Int) -> Void) {
        // The caller computes in the workers' floating-point mode while the job runs (FloatEnvironment).
        FloatEnvironment.flushingSubnormals { runJob(tasks: tasks, threads: threads, phases: phases, body) }
    }

    private func runJob(tasks: Int, threads: Int, phases: Int, _ body: (Int, Int) -> Void) {
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
            // Wake the participants that sleep (only those: the rest of the pool sleeps on).
            for i in 1..<p where idle[i - 1].wakeIfSleeping() { wakeUps += 1 }
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
            let state = Idle()
            idle.append(state)
            let thread = Thread { [unowned self] in self.work(index: index, seen: start, idle: state) }
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

    private func work(index: Int, seen start: UInt64, idle: Idle) {
        FloatEnvironment.flushSubnormalsOnThisThread()
        var seen = start
        var spins = 0
        while true {
            let word = job.load(ordering: .acquiring)
            let participants = Int(word & 0xFFFF)
            if word >> 16 != seen && index < participants {
                seen = word >> 16
                runShare(index, participants: participants)
                finished.add(1, ordering: .releasing)
                spins = 0
                continue
            }
            // No job for this worker: spin a while after a job it took part in, then sleep until a job
            // that includes it (a worker left out of the current job sleeps at once).
            spins += 1
            if spins > 20_000 { sched_yield() }
            if spins > 100_000 || (word >> 16 != seen && index >= participants) {
                idle.sleep {
                    let w = self.job.load(ordering: .sequentiallyConsistent)
                    return w >> 16 != seen && index < Int(w & 0xFFFF)
                }
                spins = 0
            }
        }
    }
}

/// One worker's sleep: a flag the caller checks when it publishes a job, and a semaphore it signals.
private final class Idle: @unchecked Sendable {
    // @unchecked Sendable: both members are thread-safe (an atomic and a semaphore).
    private let sleeping = Atomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)

    /// Sleeps unless `hasWork()` already holds. The flag is raised before `hasWork` is read and the caller
    /// publishes the job before it reads the flag (both sequentially consistent): either the worker sees the
    /// job, or the caller sees the flag and signals.
    func sleep(unless hasWork: () -> Bool) {
        sleeping.store(true, ordering: .sequentiallyConsistent)
        if hasWork() {
            // Take the flag back; if the caller took it first, its signal is on the way: consume it.
            if !sleeping.exchange(false, ordering: .sequentiallyConsistent) { semaphore.wait() }
            return
        }
        semaphore.wait()
    }

    /// Called by the caller after publishing a job this worker takes part in. Whether it was asleep.
    func wakeIfSleeping() -> Bool {
        if sleeping.load(ordering: .sequentiallyConsistent) && sleeping.exchange(false, ordering: .sequentiallyConsistent) {
            semaphore.signal()
            return true
        }
        return false
    }
}
