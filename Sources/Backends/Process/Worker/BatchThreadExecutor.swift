import Foundation
import ParallelCore

// Where a worker runs a batch while the parent sees a process or thread limit. On the cooperative
// pool, a batch needed a pool thread the worker did not have yet (they end after a few idle
// seconds); under a pids limit full of workers the system refused it, libdispatch retried once a
// second for ever, and the worker never answered. So such a batch (its request says
// `runsOnWorkerThread`) runs as a task whose executor preference is this executor, served by
// the worker's own request-loop thread, which waits here until the batch is done: a worker needs
// no thread beyond those it had when it said hello. A job's child tasks (`async let`, task
// groups) inherit the preference; when more than one is runnable, helper threads are started to
// run them in parallel, up to the CPU count, each only if the system grants it (a refused helper
// means less parallelism, never a wait). Helpers end after a few idle seconds.

/// Runs batch tasks on the request-loop thread, plus helper threads when a job's child tasks can
/// run in parallel.
///
/// - Concurrency: `@unchecked Sendable`: every mutable property is guarded by `condition`.
final class BatchThreadExecutor: TaskExecutor, @unchecked Sendable {
    /// Helper threads end after this long without a job.
    static let helperIdleTime: TimeInterval = 5

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var jobsStart = 0
    /// Threads running jobs now (the loop thread while it serves a batch, and helpers).
    private var running = 0
    private var helpers = 0
    private var idleHelpers = 0
    private let maximumHelpers: Int

    init(maximumHelpers: Int = max(ProcessInfo.processInfo.activeProcessorCount - 1, 0)) {
        self.maximumHelpers = maximumHelpers
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        let startHelper =
            idleHelpers == 0 && helpers < maximumHelpers && running > 0 && jobs.count - jobsStart > 0
        if startHelper { helpers += 1 }
        condition.signal()
        condition.unlock()
        // More runnable work than threads running it: a child task that could run in parallel.
        if startHelper && CheckedThread.start(name: "pk-worker-job", { [self] in serveAsHelper() }) != 0 {
            condition.lock()
            helpers -= 1
            condition.unlock()
        }
    }

    /// Runs `body` as a task on this executor and serves jobs on the calling thread until it
    /// returns. Call it from the request-loop thread only.
    func runBlocking<R: Sendable>(_ body: @escaping @Sendable () async -> R) -> R {
        let box = ResultBox<R>()
        Task(executorPreference: self) {
            self.finish(box, with: await body())
        }
        condition.lock()
        while box.value == nil {
            if let job = takeJob() {
                runOutsideTheLock(job)
            } else {
                condition.wait()
            }
        }
        // The loop above ends only once the value is set.
        let value = box.value!
        condition.unlock()
        return value
    }

    /// Stores the batch's result and wakes the thread waiting in `runBlocking`.
    private func finish<R>(_ box: ResultBox<R>, with value: R) {
        condition.lock()
        box.value = value
        condition.broadcast()
        condition.unlock()
    }

    /// Runs `job` on this thread with `condition` released, counted in `running`; `condition`
    /// must be held on entry, and is held again on return.
    private func runOutsideTheLock(_ job: UnownedJob) {
        running += 1
        condition.unlock()
        job.runSynchronously(on: asUnownedTaskExecutor())
        condition.lock()
        running -= 1
    }

    /// The next job, or nil; `condition` must be held.
    private func takeJob() -> UnownedJob? {
        guard jobsStart < jobs.count else { return nil }
        let job = jobs[jobsStart]
        jobsStart += 1
        if jobsStart == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            jobsStart = 0
        }
        return job
    }

    private func serveAsHelper() {
        condition.lock()
        while true {
            if let job = takeJob() {
                runOutsideTheLock(job)
                continue
            }
            idleHelpers += 1
            let woken = condition.wait(until: Date(timeIntervalSinceNow: Self.helperIdleTime))
            idleHelpers -= 1
            if !woken && jobsStart == jobs.count { break }
        }
        helpers -= 1
        condition.unlock()
    }

    /// The batch's result, written by its task under `condition`.
    private final class ResultBox<R>: @unchecked Sendable {
        var value: R?
    }
}
