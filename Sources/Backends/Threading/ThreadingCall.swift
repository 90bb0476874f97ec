import ParallelCore
import Synchronization

/// One call on the threading backend: up to `nJobs` workers, each a task on the pool that runs
/// queued batches one after another.
///
/// A worker starts when a batch arrives and fewer than `nJobs` workers run, and ends when it
/// finds the queue empty. Running the next batch in the same task (rather than a task per batch)
/// saves a task creation per batch and never enqueues work from a thread that is about to become
/// free, so the pool does not start threads it will not need.
///
/// - Concurrency: the queue, the worker count and the worker tasks are guarded by a `Mutex`;
///   completions are called on pool threads.
final class ThreadingCall: BackendCall {
    private struct Pending {
        var batch: TaskBatch
        var completion: @Sendable (BatchOutcome) -> Void
    }

    private struct State {
        var queue = FIFOQueue<Pending>()
        /// The running workers by id: each is a task that runs batches until the queue is empty.
        var workers: [Int: Task<Void, Never>] = [:]
        /// Which worker runs which batch (by the batch's progress object), for `abandon`.
        var running: [ObjectIdentifier: Int] = [:]
        var nextWorkerID = 0
        var aborted = false
    }

    private let pool: WorkerThreadPool
    private let nJobs: Int
    private let state = Mutex(State())

    init(pool: WorkerThreadPool, nJobs: Int) {
        self.pool = pool
        self.nJobs = nJobs
    }

    func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
        let pending = Pending(batch: batch, completion: completion)
        state.withLock { state in
            guard !state.aborted else { return }
            guard state.workers.count < nJobs else {
                state.queue.append(pending)
                return
            }
            startWorker(first: pending, in: &state)
        }
    }

    /// Starts a worker for `first`; called with the lock held, so the worker cannot retire before
    /// it is recorded.
    private func startWorker(first: Pending, in state: inout State) {
        let workerID = state.nextWorkerID
        state.nextWorkerID += 1
        pool.reserve()
        state.running[ObjectIdentifier(first.batch.progress)] = workerID
        state.workers[workerID] = Task(executorPreference: pool) { [self] in
            await runWorker(workerID, first: first)
        }
    }

    private func runWorker(_ workerID: Int, first: Pending) async {
        defer { pool.release() }
        var current: Pending? = first
        while let pending = current {
            pending.completion(await pending.batch.run())
            current = state.withLock { state -> Pending? in
                state.running[ObjectIdentifier(pending.batch.progress)] = nil
                // An abandoned worker was already replaced: it only retires.
                guard state.workers[workerID] != nil else { return nil }
                if !state.aborted, let next = state.queue.popFirst() {
                    state.running[ObjectIdentifier(next.batch.progress)] = workerID
                    return next
                }
                state.workers[workerID] = nil
                return nil
            }
        }
    }

    /// A thread cannot be killed: the stuck batch's task is cancelled (cooperative code sees
    /// `Task.isCancelled`) and left to end on its own, and a new worker takes its place so the call
    /// keeps `nJobs` workers. Whatever the abandoned batch returns later is ignored by the engine.
    func abandon(_ batch: TaskBatch) {
        batch.progress.requestAbort()
        let stuck = state.withLock { state -> Task<Void, Never>? in
            guard let workerID = state.running.removeValue(forKey: ObjectIdentifier(batch.progress)),
                let worker = state.workers.removeValue(forKey: workerID)
            else { return nil }
            if !state.aborted, let next = state.queue.popFirst() {
                startWorker(first: next, in: &state)
            }
            return worker
        }
        stuck?.cancel()
    }

    func abort() {
        let workers = state.withLock { state -> [Task<Void, Never>] in
            state.aborted = true
            state.queue.removeAll()
            state.running.removeAll()
            defer { state.workers.removeAll() }
            return Array(state.workers.values)
        }
        for worker in workers { worker.cancel() }
    }
}
