import CParallelSupport
import Foundation
import ParallelCore
import Synchronization

/// Dedicated threads that run the threading backend's batches: an SE-0417 `TaskExecutor`.
///
/// Batches run as tasks that prefer this executor, so a task that blocks (I/O, a lock, a slow C
/// call) occupies one of these threads and never starves Swift's cooperative pool. The pool is
/// elastic and sized by demand: each running worker of a call (a task that runs its batches)
/// ``reserve()``s a thread, so a call gets as many threads as batches it runs at once (its
/// `nJobs`, also above the core count). An executor job (a piece of a Swift task between two
/// suspensions) wakes an idle thread if there is one, else starts a thread while fewer threads
/// exist than are reserved, else waits for a busy thread (only executor jobs beyond one per
/// worker — child tasks that inherit the executor preference — ever wait). A thread that idles for
/// `idleSeconds` ends while the pool has more threads than reserved workers. Threads start through
/// a checked `pthread_create`: a refused thread is an error for the call that needed it.
/// Threads are reused across calls, so back-to-back calls start no threads: a worker gives its
/// reservation back before it reports its last batch (`ThreadingCall`), so when a call ends
/// none of its workers is still counted.
///
/// A thread that runs out of executor jobs polls for the next one for ``spinNanoseconds`` before
/// it parks (at most ``maximumSpinners`` threads at once, yielding the CPU between polls): the
/// next batch of a call, or the next call's first batch, then starts without a futex wake-up,
/// which costs 5–40 µs on this project's 2-vCPU machines (Benchmarks/RESULTS.md, row 5d).
///
/// - Concurrency: `enqueue` from any thread. The queue and counters are guarded by `lock`, which
///   is what makes the `@unchecked Sendable` sound.
final class WorkerThreadPool: TaskExecutor, @unchecked Sendable {
    /// The pool every threading call shares.
    static let shared = WorkerThreadPool(name: "pk-threading")

    /// How long an idle thread waits for work before it ends (5 s for the shared pool).
    let idleSeconds: Int
    /// Stack size of each thread (as Foundation's `Thread` default on Linux).
    static let stackSize = 8 << 20

    private let name: String
    /// Tests: thread starts beyond this many live threads fail with EAGAIN, as at a system limit.
    private let threadLimitForTesting: Int?
    /// Tests: threads admitted under ``threadLimitForTesting`` that have not ended (guarded by
    /// `lock`). Checked and counted in one critical section, as the kernel counts threads that
    /// exist: `threadCount` also counts starts in flight that may yet be refused, and two
    /// concurrent starts below the limit would both have been refused by it.
    private var simulatedThreads = 0
    /// How long an idle thread of the shared pool polls for work before it parks: longer than
    /// the usual gap between a call's batches and between back-to-back calls (a continuation
    /// resume and the next submission), short enough to cost nothing noticeable when no work comes.
    static let spinNanoseconds: UInt64 = 50_000
    /// This pool's polling window (``spinNanoseconds`` unless a test sets another).
    let pollNanoseconds: UInt64
    /// At most this many threads poll at once: one per CPU this process may use (affinity and
    /// cgroup quota, read when the pool is made), as a call's batches start at once on all of
    /// them. Polling yields the CPU each round, so pollers never keep the caller whose next
    /// submission they wait for off a CPU.
    let maximumSpinners: Int

    private let lock = ConditionLock()
    /// Mirrors `executorJobs.count`, for polling threads that do not hold the lock.
    private let queuedJobs = Atomic<Int>(0)
    /// Set by ``stopPolling()``: idle threads park at once from then on.
    private let pollingStopped = Atomic<Bool>(false)
    // Guarded by `lock`.
    private var executorJobs = FIFOQueue<UnownedJob>()
    private var waiting = 0
    /// Threads polling for work outside the lock (each re-checks the queue under the lock before
    /// it parks, so a job enqueued for a poller is never missed).
    private var spinning = 0
    /// Executor jobs that needed a parked thread signalled or a thread started (for tests).
    private var wakeUpCount = 0
    /// Threads that really started (pthread_create succeeded) and have not ended.
    private var threadCount = 0
    private var reserved = 0

    init(
        name: String, idleSeconds: Int = 5, threadLimitForTesting: Int? = nil,
        pollNanoseconds: UInt64 = WorkerThreadPool.spinNanoseconds
    ) {
        self.name = name
        self.pollNanoseconds = pollNanoseconds
        self.idleSeconds = idleSeconds
        self.threadLimitForTesting = threadLimitForTesting
        self.maximumSpinners = cpuCount()
    }

    /// The number of live threads (for tests and diagnostics).
    var liveThreads: Int {
        lock.lock()
        defer { lock.unlock() }
        return threadCount
    }

    /// The number of threads polling for work now (for tests and diagnostics).
    var pollingThreads: Int {
        lock.lock()
        defer { lock.unlock() }
        return spinning
    }

    /// How many executor jobs so far needed a parked thread signalled or a new thread (for tests
    /// and diagnostics); a job a polling thread takes counts nothing.
    var wakeUps: Int {
        lock.lock()
        defer { lock.unlock() }
        return wakeUpCount
    }

    /// Makes idle threads park at once from now on, ending any polling window in progress (tests
    /// whose pools poll for long windows call it when they are done).
    func stopPolling() {
        pollingStopped.store(true, ordering: .relaxed)
    }

    /// The number of workers holding a reservation (for tests and diagnostics).
    var reservedWorkers: Int {
        lock.lock()
        defer { lock.unlock() }
        return reserved
    }

    /// Records one more worker that needs a thread of its own, and starts that thread now when
    /// the pool has fewer threads than workers.
    ///
    /// A thread that cannot be created is an error here, for the call that needed it, with the
    /// counts left as they were (`Thread.start()` failed silently, the phantom
    /// thread was counted, and the pool never started or woke a thread again).
    /// - Throws: `ParallelError(.workerCrashed)` naming the limits that can refuse a thread.
    func reserve() throws {
        lock.lock()
        reserved += 1
        let needsThread = threadCount < reserved
        if needsThread { threadCount += 1 }
        lock.unlock()
        guard needsThread else { return }
        let result = startThread()
        guard result != 0 else { return }
        lock.lock()
        threadCount -= 1
        reserved -= 1
        lock.unlock()
        throw SystemLimits.refused(.thread, for: "a worker of the threading backend", code: result)
    }

    /// Records that a worker ended.
    func release() {
        lock.lock()
        reserved -= 1
        lock.unlock()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        lock.lock()
        executorJobs.append(job)
        let queued = executorJobs.count
        queuedJobs.store(queued, ordering: .releasing)
        var spawn = false
        if spinning >= queued {
            // A polling thread takes it: no wake-up.
        } else if waiting + spinning >= queued {
            wakeUpCount += 1
            lock.signal()
        } else if threadCount < max(reserved, 1) {
            threadCount += 1
            wakeUpCount += 1
            spawn = true
        } else if waiting > 0 {
            wakeUpCount += 1
            lock.signal()
        }
        lock.unlock()
        guard spawn, startThread() != 0 else { return }
        // No thread for this executor job: undo the count. A live thread will take it; with none
        // at all (no worker holds a thread, and the system refuses one), the queued jobs run on a
        // Dispatch thread rather than wait for ever.
        lock.lock()
        threadCount -= 1
        var stranded: [UnownedJob] = []
        if threadCount == 0 {
            while let queued = executorJobs.popFirst() { stranded.append(queued) }
            queuedJobs.store(0, ordering: .relaxed)
        }
        lock.unlock()
        guard !stranded.isEmpty else { return }
        let executor = asUnownedTaskExecutor()
        let orphans = stranded
        DispatchQueue.global().async {
            for queued in orphans { queued.runSynchronously(on: executor) }
        }
    }

    /// Starts one thread with a checked `pthread_create` (Foundation's `Thread.start()` ignores
    /// its result). Returns 0 or the error code.
    private func startThread() -> Int32 {
        if let limit = threadLimitForTesting {
            lock.lock()
            let admitted = simulatedThreads < limit
            if admitted { simulatedThreads += 1 }
            lock.unlock()
            guard admitted else { return EAGAIN }
        }
        let result = CheckedThread.start(name: name, stackSize: Self.stackSize) { [self] in runLoop() }
        if result != 0 && threadLimitForTesting != nil {
            lock.lock()
            simulatedThreads -= 1
            lock.unlock()
        }
        return result
    }

    private func runLoop() {
        let executor = asUnownedTaskExecutor()
        lock.lock()
        while true {
            if let job = executorJobs.popFirst() {
                queuedJobs.store(executorJobs.count, ordering: .relaxed)
                lock.unlock()
                job.runSynchronously(on: executor)
                lock.lock()
                continue
            }
            if spinning < maximumSpinners && !pollingStopped.load(ordering: .relaxed) {
                spinning += 1
                lock.unlock()
                pollForJob()
                lock.lock()
                spinning -= 1
                if !executorJobs.isEmpty { continue }
            }
            waiting += 1
            let signalled = lock.wait(seconds: idleSeconds)
            waiting -= 1
            // A thread ends only while the pool has more threads than reserved workers: each
            // worker's thread was started for it in `reserve()`, and its executor jobs need one.
            if !signalled && executorJobs.isEmpty && threadCount > reserved {
                threadCount -= 1
                if threadLimitForTesting != nil { simulatedThreads -= 1 }
                lock.unlock()
                return
            }
        }
    }

    /// Returns when an executor job is queued or ``pollNanoseconds`` have passed. Yields the CPU
    /// between polls, so on a busy machine the threads that will submit the work get to run.
    private func pollForJob() {
        let deadline = MonotonicClock.now() &+ pollNanoseconds
        while queuedJobs.load(ordering: .acquiring) == 0 {
            if MonotonicClock.now() >= deadline || pollingStopped.load(ordering: .relaxed) { return }
            sched_yield()
        }
    }
}
