@_spi(Locking) import ParallelCore

/// One call on the threading backend: up to `nJobs` workers, each a task on the pool that runs
/// queued batches one after another.
///
/// A worker starts when a batch arrives and fewer than `nJobs` workers run, and ends when it
/// finds the queue empty. Running the next batch in the same task (rather than a task per batch)
/// saves a task creation per batch and never enqueues work from a thread that is about to become
/// free, so the pool does not start threads it will not need.
///
/// - Concurrency: the queue, the worker count and the worker tasks are guarded by a `LockedValue`;
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
        /// Which worker runs which batch (by the batch's progress object), for `abandon`; only
        /// batches of calls with a timeout (the only ones the engine abandons).
        var running: [ObjectIdentifier: Int] = [:]
        var nextWorkerID = 0
        /// Workers whose thread is being started (counted against `nJobs`).
        var startingWorkers = 0
        var aborted = false
    }

    private let pool: WorkerThreadPool
    private let nJobs: Int
    private let state = LockedValue(State())

    init(pool: WorkerThreadPool, nJobs: Int) {
        self.pool = pool
        self.nJobs = nJobs
    }

    func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
        let pending = Pending(batch: batch, completion: completion)
        let needsWorker = state.withLock { state -> Bool in
            guard !state.aborted else { return false }
            guard state.workers.count + state.startingWorkers < nJobs else {
                state.queue.append(pending)
                return false
            }
            state.startingWorkers += 1
            return true
        }
        if needsWorker { startWorker(first: pending) }
    }

    /// Queues every batch with one lock round trip and starts the workers they need.
    func submit(_ submissions: [BatchSubmission]) {
        let firsts = state.withLock { state -> [Pending] in
            guard !state.aborted else { return [] }
            var firsts: [Pending] = []
            for submission in submissions {
                let pending = Pending(batch: submission.batch, completion: submission.completion)
                if state.workers.count + state.startingWorkers < nJobs {
                    state.startingWorkers += 1
                    firsts.append(pending)
                } else {
                    state.queue.append(pending)
                }
            }
            return firsts
        }
        for first in firsts { startWorker(first: first) }
    }

    /// Starts a worker for `first` (counted in `startingWorkers` by the caller). Its thread is
    /// reserved outside the lock, because a refusal completes the batch with the error, and the
    /// completion may call back into the engine, which may submit again.
    private func startWorker(first: Pending) {
        do {
            try pool.reserve()
        } catch {
            state.withLock { $0.startingWorkers -= 1 }
            first.completion(BatchOutcome(failure: error))
            return
        }
        state.withLock { state in
            state.startingWorkers -= 1
            guard !state.aborted else {
                pool.release()
                return
            }
            let workerID = state.nextWorkerID
            state.nextWorkerID += 1
            if first.batch.tracksEachTask { state.running[ObjectIdentifier(first.batch.progress)] = workerID }
            // Created under the lock, so the worker cannot retire before it is recorded.
            state.workers[workerID] = Task(executorPreference: pool) { [self] in
                await runWorker(workerID, first: first)
            }
        }
    }

    /// Runs `first`, then queued batches, until the queue is empty.
    ///
    /// The worker picks its next batch (or retires) *before* it reports the one it ran, and a
    /// retiring worker gives its thread's reservation back before that last report: the engine
    /// ends the call on its last completion, and the next call may reserve threads at once, so a
    /// reservation still held then counted this worker beside the next call's and made the pool
    /// start a thread beyond both (one more than the calls need; at a thread limit, refused).
    private func runWorker(_ workerID: Int, first: Pending) async {
        var current: Pending? = first
        while let pending = current {
            let outcome = await pending.batch.run()
            current = state.withLock { state -> Pending? in
                // Only a call with a timeout abandons batches, and only its batches are recorded
                // by worker: the lock is held as briefly as possible on this per-batch path.
                if pending.batch.tracksEachTask { state.running[ObjectIdentifier(pending.batch.progress)] = nil }
                // An abandoned worker was already replaced: it only retires.
                guard state.workers[workerID] != nil else { return nil }
                if !state.aborted, let next = state.queue.popFirst() {
                    if next.batch.tracksEachTask { state.running[ObjectIdentifier(next.batch.progress)] = workerID }
                    return next
                }
                state.workers[workerID] = nil
                return nil
            }
            if current == nil { pool.release() }
            pending.completion(outcome)
        }
    }

    /// A thread cannot be killed: the stuck batch's task is cancelled (cooperative code sees
    /// `Task.isCancelled`) and left to end on its own, and a new worker takes its place so the call
    /// keeps `nJobs` workers. Whatever the abandoned batch returns later is ignored by the engine.
    func abandon(_ batch: TaskBatch) {
        batch.progress.requestAbort()
        let (stuck, next) = state.withLock { state -> (Task<Void, Never>?, Pending?) in
            guard let workerID = state.running.removeValue(forKey: ObjectIdentifier(batch.progress)),
                let worker = state.workers.removeValue(forKey: workerID)
            else { return (nil, nil) }
            guard !state.aborted, let next = state.queue.popFirst() else { return (worker, nil) }
            state.startingWorkers += 1
            return (worker, next)
        }
        stuck?.cancel()
        if let next { startWorker(first: next) }
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
