/// One thing that happened during a call, in the order a ``ParallelProgress/handler(_:)`` gets it.
///
/// Every call with a handler produces exactly one ``started(_:)`` first and exactly one
/// ``finished(_:)`` last, also when the call throws or is cancelled. In between come
/// ``progressed(_:)`` as tasks complete (counted per task, at most about 20 a second: more
/// frequent updates are merged into the newest) and one ``taskFailed(_:willRetry:)`` per failed
/// attempt of a task.
public enum ProgressEvent: Sendable {
    /// The call is about to run its first task; `completed` is 0.
    case started(ProgressSnapshot)
    /// Tasks completed since the last event; at most about 20 per second.
    case progressed(ProgressSnapshot)
    /// A task failed; `willRetry` says whether the ``RetryPolicy`` runs it again (if not, it
    /// counts in ``ProgressSnapshot/failed``).
    case taskFailed(TaskFailure, willRetry: Bool)
    /// The call is over (done, failed or cancelled); nothing comes after it.
    case finished(ProgressSnapshot)
}

/// The state of a call at one moment: counts, times and a smoothed rate.
///
/// `tasksPerSecond` is an exponentially weighted average over time (data older than 15 s weigh 10 %
/// together, older than 30 s 1 %), so it follows a call whose speed changes without jumping at
/// every batch; `estimatedRemaining` divides the tasks left by it.
public struct ProgressSnapshot: Sendable, Equatable {
    /// The backend's display name, as verbose prints it.
    public var backend: String
    /// The number of workers the call uses.
    public var nJobs: Int
    /// The number of tasks, or nil while the input's length is unknown.
    public var total: Int?
    /// Tasks finished successfully, counted per task (not per batch).
    public var completed: Int
    /// Tasks failed for good (after any retries).
    public var failed: Int
    /// Attempts that failed and were started again.
    public var retried: Int
    /// Time since the call started.
    public var elapsed: Duration
    /// Smoothed tasks (completed or failed for good) per second; nil until there is a measure.
    public var tasksPerSecond: Double?
    /// Time left at the smoothed rate; nil when `total` is unknown or there is no rate yet.
    public var estimatedRemaining: Duration?

    /// Creates a snapshot (for backends and tests that produce events of their own).
    public init(
        backend: String, nJobs: Int, total: Int?, completed: Int = 0, failed: Int = 0, retried: Int = 0,
        elapsed: Duration = .zero, tasksPerSecond: Double? = nil, estimatedRemaining: Duration? = nil
    ) {
        self.backend = backend
        self.nJobs = nJobs
        self.total = total
        self.completed = completed
        self.failed = failed
        self.retried = retried
        self.elapsed = elapsed
        self.tasksPerSecond = tasksPerSecond
        self.estimatedRemaining = estimatedRemaining
    }

    /// Tasks that will not run again: completed plus failed for good.
    public var settled: Int { completed + failed }
}
