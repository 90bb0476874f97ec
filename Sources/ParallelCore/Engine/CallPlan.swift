/// Everything one call needs once its arguments, the scope and the registry have been resolved:
/// the input of the engine, computed before any input is taken.
package struct CallPlan: Sendable {
    /// The backend that runs the batches.
    package var backend: any ParallelBackend
    /// The number of workers after `effectiveNJobs`; 1 means the call runs in the calling task.
    package var nJobs: Int
    /// `nJobs` as the caller (or scope) gave it, for the `Parallel(n_jobs=…)` prefix.
    package var nJobsLabel: Int
    package var verbose: Int
    package var timeout: Duration?
    /// The pre-dispatch window in tasks, or `nil` for "all".
    package var preDispatch: Int?
    package var batchSize: BatchSize
    /// The context handed to the backend when the call starts.
    package var context: BackendCallContext
    /// The scope the tasks run under (joblib's nesting rule applied).
    package var taskScope: ScopeValues
    /// Messages printed (with the prefix) when the call starts, such as a backend substitution.
    package var notices: [String]
    /// Whether and how failed tasks are started again.
    package var retry: RetryPolicy
    /// How the call reports its progress.
    package var progress: ParallelProgress

    package init(
        backend: any ParallelBackend, nJobs: Int, nJobsLabel: Int, verbose: Int, timeout: Duration?,
        preDispatch: Int?, batchSize: BatchSize, context: BackendCallContext, taskScope: ScopeValues,
        notices: [String] = [], retry: RetryPolicy = .never, progress: ParallelProgress = .none
    ) {
        self.backend = backend
        self.nJobs = nJobs
        self.nJobsLabel = nJobsLabel
        self.verbose = verbose
        self.timeout = timeout
        self.preDispatch = preDispatch
        self.batchSize = batchSize
        self.context = context
        self.taskScope = taskScope
        self.notices = notices
        self.retry = retry
        self.progress = progress
    }

    /// Whether the call has a progress display (a handler, or a bar that is drawn).
    package var reportsProgress: Bool {
        if case .none = progress.mode { return false }
        return true
    }

    /// Whether the call runs in the calling task, without workers.
    package var isSequential: Bool { nJobs == 1 }
}
