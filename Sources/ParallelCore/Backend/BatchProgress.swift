import Synchronization

/// Live stamps of one batch, shared by the engine and the backend that runs it.
///
/// The runner stamps when the batch starts and ends, and — when the call has a timeout — when each
/// task starts, so the engine's watchdog can name the exact task that overruns. The engine sets
/// the abort flag; runners check it between tasks.
///
/// - Concurrency: every field is an `Atomic` with relaxed ordering: readers need a recent value,
///   not a happens-before edge (results travel through the completion callback, which is
///   synchronised).
public final class BatchProgress: Sendable {
    private let batchStart = Atomic<UInt64>(0)
    private let batchEnd = Atomic<UInt64>(0)
    private let taskStart = Atomic<UInt64>(0)
    private let taskOffset = Atomic<Int>(0)
    private let abortFlag = Atomic<Bool>(false)
    private let completed = Atomic<Int>(0)

    /// Creates stamps for a batch that has not started.
    public init() {}

    /// Records that the task at `offset` within the batch starts now (the first call also marks
    /// the batch as started).
    /// - Complexity: one clock read and three relaxed atomic stores.
    @inlinable
    public func markTaskStarted(offset: Int) {
        markTaskStarted(offset: offset, at: MonotonicClock.now())
    }

    /// Records that the task at `offset` started at `time` (monotonic nanoseconds).
    public func markTaskStarted(offset: Int, at time: UInt64) {
        if offset == 0 { batchStart.store(time, ordering: .relaxed) }
        taskOffset.store(offset, ordering: .relaxed)
        taskStart.store(time, ordering: .relaxed)
    }

    /// Records that the batch started now, without per-task detail; only the first call counts.
    ///
    /// The first call only, because the workers that share one batch (the engine's `SharedBatch`) each mark
    /// it for every chunk they claim: after the first, a load of a line every worker keeps in its
    /// cache, instead of a clock read and a store that takes the line from the others.
    public func markBatchStarted() {
        guard batchStart.load(ordering: .relaxed) == 0 else { return }
        batchStart.store(MonotonicClock.now(), ordering: .relaxed)
    }

    /// Records that the batch's last task ended now.
    public func markFinished() {
        batchEnd.store(MonotonicClock.now(), ordering: .relaxed)
        taskStart.store(0, ordering: .relaxed)
    }

    /// Records that the first `count` tasks of the batch have completed, while it still runs.
    ///
    /// Backends that cannot hand over results before the batch ends (worker processes) call this
    /// when ``BackendCall/refreshProgress()`` is called, so progress counts move per task; the
    /// results themselves still arrive with the batch's outcome. Counts only grow: a smaller
    /// value than one already recorded is ignored.
    /// - Complexity: one relaxed atomic read-modify-write.
    public func markTasksCompleted(_ count: Int) {
        completed.max(count, ordering: .relaxed)
    }

    /// How many tasks at the start of the batch a backend reported completed while it ran.
    package var completedTasks: Int { completed.load(ordering: .relaxed) }

    /// Whether the engine asked this batch to stop; runners check it between tasks.
    public var isAbortRequested: Bool { abortFlag.load(ordering: .relaxed) }

    /// Asks the runner to stop before its next task.
    package func requestAbort() { abortFlag.store(true, ordering: .relaxed) }

    /// When the batch started, or `nil` if it has not.
    package var startedAt: UInt64? {
        let t = batchStart.load(ordering: .relaxed)
        return t == 0 ? nil : t
    }

    /// When the batch ended, or `nil`.
    package var endedAt: UInt64? {
        let t = batchEnd.load(ordering: .relaxed)
        return t == 0 ? nil : t
    }

    /// The running task's offset in the batch and its start time, or `nil` when none runs.
    package var runningTask: (offset: Int, startedAt: UInt64)? {
        let start = taskStart.load(ordering: .relaxed)
        guard start != 0 else { return nil }
        return (taskOffset.load(ordering: .relaxed), start)
    }
}
