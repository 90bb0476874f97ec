import Dispatch
import Foundation
import ParallelCore

/// A `TaskExecutor` whose worker threads are the iterations of `DispatchQueue.concurrentPerform`.
///
/// Executor jobs (the pieces of a Swift task between suspensions) queue here. When the first one
/// arrives, a session starts: a thread calls `concurrentPerform(iterations: nJobs)`, and each
/// iteration runs queued executor jobs until none is queued *and* no batch is active. While a batch is suspended (its next
/// job not yet enqueued) idle iterations park on a semaphore instead of leaving, so a second batch
/// that starts meanwhile gets a worker at once. When the call's last batch ends every iteration
/// returns, `concurrentPerform` returns, and the session ends; a later job starts a new one.
///
/// - Concurrency: all state is behind one `Locked` value; parked iterations wait on their own
///   `DispatchSemaphore`, and every semaphore taken out of `parked` is signalled exactly once, so
///   no wake-up is lost or left over.
final class ConcurrentPerformExecutor: TaskExecutor {
    private struct State {
        /// Executor jobs (pieces of Swift tasks between suspensions) waiting for an iteration.
        var executorJobs = FIFOQueue<UnownedJob>()
        /// Iterations waiting for a job while batches are active.
        var parked: [DispatchSemaphore] = []
        /// Batches that may still enqueue jobs.
        var activeBatches = 0
        var sessionRunning = false
    }

    private enum Step {
        case run(UnownedJob)
        case park
        case leave
    }

    private let nJobs: Int
    private let onSessionStart: @Sendable () -> Void
    private let state = Locked(State())

    /// - Parameters:
    ///   - nJobs: the number of `concurrentPerform` iterations, that is, of workers.
    ///   - onSessionStart: called each time a `concurrentPerform` session starts.
    init(nJobs: Int, onSessionStart: @escaping @Sendable () -> Void) {
        self.nJobs = max(1, nJobs)
        self.onSessionStart = onSessionStart
    }

    /// Queues a job; wakes a parked iteration, or starts a session if none runs.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let (wake, start) = state.withLock { state -> (DispatchSemaphore?, Bool) in
            state.executorJobs.append(job)
            if !state.sessionRunning {
                state.sessionRunning = true
                return (nil, true)
            }
            return (state.parked.popLast(), false)
        }
        wake?.signal()
        if start { startSession() }
    }

    /// A batch is about to start: keep the iterations until it ends.
    func batchWillStart() {
        state.withLock { $0.activeBatches += 1 }
    }

    /// A batch ended; when it was the last, parked iterations wake up and leave.
    func batchDidEnd() {
        let parked = state.withLock { state -> [DispatchSemaphore] in
            state.activeBatches -= 1
            guard state.activeBatches == 0 else { return [] }
            defer { state.parked.removeAll() }
            return state.parked
        }
        for semaphore in parked { semaphore.signal() }
    }

    /// Calls `concurrentPerform` from a thread of its own (it blocks until every iteration
    /// returns), again if jobs arrived while the iterations were leaving.
    private func startSession() {
        onSessionStart()
        Thread.detachNewThread { [self] in
            while true {
                DispatchQueue.concurrentPerform(iterations: nJobs) { iteration in
                    work(iteration: iteration)
                }
                let again = state.withLock { state -> Bool in
                    if !state.executorJobs.isEmpty { return true }
                    state.sessionRunning = false
                    return false
                }
                if !again { return }
            }
        }
    }

    /// One iteration: run jobs; park while batches are active but nothing is queued; leave when
    /// no batch is active and nothing is queued.
    private func work(iteration: Int) {
        let executor = asUnownedTaskExecutor()
        let parking = DispatchSemaphore(value: 0)
        WorkerMark.set(iteration)
        defer { WorkerMark.clear() }
        while true {
            let step = state.withLock { state -> Step in
                if let job = state.executorJobs.popFirst() { return .run(job) }
                if state.activeBatches == 0 { return .leave }
                state.parked.append(parking)
                return .park
            }
            switch step {
            case .run(let job): job.runSynchronously(on: executor)
            case .park: parking.wait()
            case .leave: return
            }
        }
    }
}
