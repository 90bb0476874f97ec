import ParallelCore

/// One `Parallel` call on ``ConcurrentPerformBackend``: at most `nJobs` batches run at once, each
/// as a task on the call's ``ConcurrentPerformExecutor``; the rest wait in a queue.
///
/// - Concurrency: `submit` and `abort` come from the engine's isolation, batch ends from worker
///   threads; the queue, the running count and the task handles are guarded by a `Locked` value.
final class ConcurrentPerformCall: BackendCall {
    private struct Pending: Sendable {
        var batch: TaskBatch
        var completion: @Sendable (BatchOutcome) -> Void
    }

    private struct State {
        var queue = FIFOQueue<Pending>()
        var running = 0
        var tasks: [Int: Task<Void, Never>] = [:]
        var aborted = false
    }

    private let nJobs: Int
    private let executor: ConcurrentPerformExecutor
    private let backend: ConcurrentPerformBackend
    private let state = Locked(State())

    init(nJobs: Int, backend: ConcurrentPerformBackend) {
        self.nJobs = nJobs
        self.backend = backend
        self.executor = ConcurrentPerformExecutor(nJobs: nJobs, onSessionStart: backend.recordSession)
    }

    /// Starts the batch if fewer than `nJobs` run, else queues it. Never blocks.
    func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
        let pending = Pending(batch: batch, completion: completion)
        let startNow = state.withLock { state -> Bool in
            guard !state.aborted else { return false }
            if state.running < nJobs {
                state.running += 1
                return true
            }
            state.queue.append(pending)
            return false
        }
        if startNow { launch(pending) }
    }

    /// Runs a batch as a task whose jobs run on the `concurrentPerform` iterations.
    private func launch(_ pending: Pending) {
        let key = pending.batch.firstIndex
        // Counted before the task exists, so the workers wait for its first job instead of leaving.
        executor.batchWillStart()
        let launched = state.withLock { state -> Bool in
            guard !state.aborted else { return false }
            state.tasks[key] = Task(executorPreference: executor) { [self] in
                let outcome = await pending.batch.run()
                backend.recordBatch(completedTasks: outcome.completedCount)
                pending.completion(outcome)
                batchEnded(key: key)
                executor.batchDidEnd()
            }
            return true
        }
        if !launched { executor.batchDidEnd() }
    }

    /// Frees the batch's slot and starts the next queued batch, if any.
    private func batchEnded(key: Int) {
        let next = state.withLock { state -> Pending? in
            state.tasks[key] = nil
            guard !state.aborted, let next = state.queue.popFirst() else {
                state.running -= 1
                return nil
            }
            return next
        }
        if let next { launch(next) }
    }

    /// Drops queued batches and cancels running ones. The engine has already asked them to stop
    /// before their next task; cancelling also ends their `Task.sleep`s and other cancellable
    /// waits. A task blocked in a synchronous call keeps its worker until it returns.
    func abort() {
        let tasks = state.withLock { state -> [Task<Void, Never>] in
            state.aborted = true
            state.queue.removeAll()
            defer { state.tasks.removeAll() }
            return Array(state.tasks.values)
        }
        for task in tasks { task.cancel() }
    }
}
