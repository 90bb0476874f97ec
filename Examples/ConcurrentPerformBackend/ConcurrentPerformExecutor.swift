import Dispatch
import Foundation
import Synchronization

/// A `TaskExecutor` whose worker threads are the iterations of `DispatchQueue.concurrentPerform`.
///
/// Jobs (the pieces of a Swift task between suspensions) queue here. When the first job arrives,
/// a session starts: a thread calls `concurrentPerform(iterations: width)`, and each iteration runs
/// queued jobs until none is queued *and* no batch is active. While a batch is suspended (its next
/// job not yet enqueued) idle iterations park on a semaphore instead of leaving, so a second batch
/// that starts meanwhile gets a worker at once. When the call's last batch ends every iteration
/// returns, `concurrentPerform` returns, and the session ends; a later job starts a new one.
///
/// - Concurrency: all state is behind one `Mutex`; parked iterations wait on their own
///   `DispatchSemaphore`, and every semaphore taken out of `parked` is signalled exactly once, so
///   no wake-up is lost or left over.
final class ConcurrentPerformExecutor: TaskExecutor {
    private struct State {
        var jobs: [UnownedJob] = []
        var jobsHead = 0
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

    private let width: Int
    private let onSessionStart: @Sendable () -> Void
    private let state = Mutex(State())

    /// - Parameters:
    ///   - width: the number of `concurrentPerform` iterations, that is, of workers.
    ///   - onSessionStart: called each time a `concurrentPerform` session starts.
    init(width: Int, onSessionStart: @escaping @Sendable () -> Void) {
        self.width = max(1, width)
        self.onSessionStart = onSessionStart
    }

    /// Queues a job; wakes a parked iteration, or starts a session if none runs.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let (wake, start) = state.withLock { state -> (DispatchSemaphore?, Bool) in
            state.jobs.append(job)
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
                DispatchQueue.concurrentPerform(iterations: width) { iteration in
                    work(iteration: iteration)
                }
                let again = state.withLock { state -> Bool in
                    if state.jobsHead < state.jobs.count { return true }
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
                if state.jobsHead < state.jobs.count {
                    let job = state.jobs[state.jobsHead]
                    state.jobsHead += 1
                    if state.jobsHead == state.jobs.count {
                        state.jobs.removeAll(keepingCapacity: true)
                        state.jobsHead = 0
                    }
                    return .run(job)
                }
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
