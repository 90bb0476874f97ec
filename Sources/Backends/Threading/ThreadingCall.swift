import ParallelCore
import Synchronization

/// One call on the threading backend: runs at most `width` batches at once on the pool and
/// queues the rest.
///
/// - Concurrency: the queue, the running count and the task handles are guarded by a `Mutex`;
///   completions arrive on pool threads.
final class ThreadingCall: BackendCall {
    private struct Pending {
        var batch: TaskBatch
        var completion: @Sendable (BatchOutcome) -> Void
    }

    private struct State {
        var queue: [Pending] = []
        var queueHead = 0
        var running = 0
        var tasks: [Int: Task<Void, Never>] = [:]
        var aborted = false
    }

    private let pool: WorkerThreadPool
    private let width: Int
    private let state = Mutex(State())

    init(pool: WorkerThreadPool, width: Int) {
        self.pool = pool
        self.width = width
    }

    func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
        let startNow = state.withLock { state -> Bool in
            guard !state.aborted else { return false }
            if state.running < width {
                state.running += 1
                return true
            }
            state.queue.append(Pending(batch: batch, completion: completion))
            return false
        }
        if startNow { launch(Pending(batch: batch, completion: completion)) }
    }

    private func launch(_ pending: Pending) {
        let key = pending.batch.firstIndex
        state.withLock { state in
            guard !state.aborted else { return }
            let task = Task(executorPreference: pool) { [self] in
                let outcome = await pending.batch.run()
                pending.completion(outcome)
                batchEnded(key: key)
            }
            state.tasks[key] = task
        }
    }

    private func batchEnded(key: Int) {
        let next = state.withLock { state -> Pending? in
            state.tasks[key] = nil
            guard !state.aborted, state.queueHead < state.queue.count else {
                state.running -= 1
                return nil
            }
            let next = state.queue[state.queueHead]
            state.queueHead += 1
            if state.queueHead == state.queue.count {
                state.queue.removeAll(keepingCapacity: true)
                state.queueHead = 0
            }
            return next
        }
        if let next { launch(next) }
    }

    func abort() {
        let tasks = state.withLock { state -> [Task<Void, Never>] in
            state.aborted = true
            state.queue.removeAll()
            state.queueHead = 0
            defer { state.tasks.removeAll() }
            return Array(state.tasks.values)
        }
        for task in tasks { task.cancel() }
    }
}
