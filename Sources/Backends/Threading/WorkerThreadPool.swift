import CParallelSupport
import Foundation
import ParallelCore

/// Dedicated threads that run the threading backend's batches: an SE-0417 `TaskExecutor`.
///
/// Batches run as tasks that prefer this executor, so a task that blocks (I/O, a lock, a slow C
/// call) occupies one of these threads and never starves Swift's cooperative pool. The pool is
/// elastic and sized by demand: each running worker of a call (a task that runs its batches)
/// ``reserve()``s a thread, so a call gets as many threads as batches it runs at once (its
/// `nJobs`, also above the core count). An executor job (a piece of a Swift task between two
/// suspensions) wakes an idle thread if there is one, else starts a thread while fewer threads
/// exist than are reserved, else waits for a busy thread (only executor jobs beyond one per
/// worker — child tasks that inherit the executor preference — ever wait). A thread that idles for ``idleSeconds`` ends.
/// Threads are reused across calls, so back-to-back calls start no threads.
///
/// - Concurrency: `enqueue` from any thread. The queue and counters are guarded by `lock`, which
///   is what makes the `@unchecked Sendable` sound.
final class WorkerThreadPool: TaskExecutor, @unchecked Sendable {
    /// The pool every threading call shares.
    static let shared = WorkerThreadPool(name: "pk-threading")

    /// How long an idle thread waits for work before it ends.
    static let idleSeconds = 5

    private let name: String
    private let lock = ConditionLock()
    // Guarded by `lock`.
    private var executorJobs = FIFOQueue<UnownedJob>()
    private var waiting = 0
    private var threadCount = 0
    private var reserved = 0

    init(name: String) {
        self.name = name
    }

    /// The number of live threads (for tests and diagnostics).
    var liveThreads: Int {
        lock.lock()
        defer { lock.unlock() }
        return threadCount
    }

    /// Records one more worker that needs a thread of its own.
    func reserve() {
        lock.lock()
        reserved += 1
        lock.unlock()
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
        var spawn = false
        if waiting >= queued {
            lock.signal()
        } else if threadCount < max(reserved, 1) {
            threadCount += 1
            spawn = true
        } else if waiting > 0 {
            lock.signal()
        }
        lock.unlock()
        if spawn { startThread() }
    }

    private func startThread() {
        let thread = Thread { [self] in
            Platform.setCurrentThreadName(name)
            runLoop()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func runLoop() {
        let executor = asUnownedTaskExecutor()
        lock.lock()
        while true {
            if let job = executorJobs.popFirst() {
                lock.unlock()
                job.runSynchronously(on: executor)
                lock.lock()
                continue
            }
            waiting += 1
            let signalled = lock.wait(seconds: Self.idleSeconds)
            waiting -= 1
            if !signalled && executorJobs.isEmpty {
                threadCount -= 1
                lock.unlock()
                return
            }
        }
    }
}
