import ParallelCore
import Synchronization

/// One call on the threading backend: up to `width` lanes, each a task on the pool that runs
/// queued batches one after another.
///
/// A lane starts when a batch arrives and fewer than `width` lanes run, and ends when it finds the
/// queue empty. Running the next batch in the same task (rather than a task per batch) saves a
/// task creation per batch and never enqueues work from a thread that is about to become free,
/// so the pool does not start threads it will not need.
///
/// - Concurrency: the queue, the lane count and the lane tasks are guarded by a `Mutex`;
///   completions are called on pool threads.
final class ThreadingCall: BackendCall {
    private struct Pending {
        var batch: TaskBatch
        var completion: @Sendable (BatchOutcome) -> Void
    }

    private struct State {
        var queue: [Pending] = []
        var queueHead = 0
        var lanes: [Int: Task<Void, Never>] = [:]
        var nextLaneID = 0
        var aborted = false

        mutating func popFirst() -> Pending? {
            guard queueHead < queue.count else { return nil }
            let next = queue[queueHead]
            queueHead += 1
            if queueHead == queue.count {
                queue.removeAll(keepingCapacity: true)
                queueHead = 0
            }
            return next
        }
    }

    private let pool: WorkerThreadPool
    private let width: Int
    private let state = Mutex(State())

    init(pool: WorkerThreadPool, width: Int) {
        self.pool = pool
        self.width = width
    }

    func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
        let pending = Pending(batch: batch, completion: completion)
        state.withLock { state in
            guard !state.aborted else { return }
            guard state.lanes.count < width else {
                state.queue.append(pending)
                return
            }
            let laneID = state.nextLaneID
            state.nextLaneID += 1
            pool.reserve()
            // Created under the lock so the lane cannot retire before it is recorded.
            state.lanes[laneID] = Task(executorPreference: pool) { [self] in
                await runLane(laneID, first: pending)
            }
        }
    }

    private func runLane(_ laneID: Int, first: Pending) async {
        defer { pool.release() }
        var current: Pending? = first
        while let pending = current {
            pending.completion(await pending.batch.run())
            current = state.withLock { state -> Pending? in
                if !state.aborted, let next = state.popFirst() { return next }
                state.lanes[laneID] = nil
                return nil
            }
        }
    }

    func abort() {
        let lanes = state.withLock { state -> [Task<Void, Never>] in
            state.aborted = true
            state.queue.removeAll()
            state.queueHead = 0
            defer { state.lanes.removeAll() }
            return Array(state.lanes.values)
        }
        for lane in lanes { lane.cancel() }
    }
}
