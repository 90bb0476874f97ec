/// One `Parallel` call's handle on a backend: the engine submits batches to it and is told when
/// each ends.
///
/// The engine keeps a bounded number of batches in flight (the pre-dispatch window), so `submit`
/// may be called while earlier batches still run; a backend queues what it cannot start yet.
///
/// - Concurrency: `submit` and `abort` are called from the caller's isolation; `completion` may be
///   called from any thread.
public protocol BackendCall: Sendable {
    /// Starts (or queues) a batch and returns at once.
    ///
    /// Call `completion` exactly once when the batch ends — with its results, or with the error of
    /// the task that failed and the results of the tasks before it. After ``abort()`` a backend
    /// may drop completions; the engine ignores late ones.
    /// - Complexity: must not block; O(1) apart from queueing.
    func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void)

    /// Starts (or queues) several batches at once, in order: what the engine does when it refills
    /// the backend's queue in bulk.
    ///
    /// The default submits them one by one. A backend whose queue is behind a lock overrides it
    /// to take the lock once for all of them, so the refill does not contend with its workers
    /// once per batch.
    /// - Complexity: must not block; O(batches).
    func submit(_ submissions: [BatchSubmission])

    /// Stops the call's work now: an error, a timeout, cancellation or an abandoned generator.
    ///
    /// Synchronous so it can run from a `deinit`. In-process backends cancel their running tasks
    /// (cooperatively: a thread cannot be killed) and drop queued ones; process backends kill the
    /// workers that run this call's batches. Must be idempotent.
    func abort()

    /// Gives up on one batch whose task is stuck (it ran past the call's timeout) while the call
    /// goes on: the engine no longer waits for its completion and runs its other tasks again.
    ///
    /// A backend frees the worker for the call's other batches: a process backend kills the
    /// worker running it (and replaces it); the threading backend cancels the batch's Swift task
    /// and lets another thread take its place, so the call keeps `nJobs` workers. Calling
    /// `completion` later is allowed; the engine ignores it.
    func abandon(_ batch: TaskBatch)

    /// Publishes how far running batches have got, for progress inside a batch.
    ///
    /// The engine calls this on a short tick (a few milliseconds) only while a consumer or a
    /// progress display waits. A backend whose runners cannot publish per-task completions
    /// themselves (worker processes) reads what its workers report and calls
    /// ``BatchProgress/markTasksCompleted(_:)`` on each running batch. In-process backends have
    /// nothing to do: the engine sees their tasks complete directly.
    /// - Complexity: must not block; O(running batches).
    func refreshProgress()

    /// Ends a call whose batches have all completed; releases per-call resources.
    ///
    /// Never called after ``abort()``: a call ends by exactly one of the two.
    func finish() async
}

/// A batch and what to call when it ends, for the bulk `submit(_:)` of a ``BackendCall``.
public struct BatchSubmission: Sendable {
    /// The batch.
    public var batch: TaskBatch
    /// Called exactly once when the batch ends, as for `submit(_:completion:)`.
    public var completion: @Sendable (BatchOutcome) -> Void

    /// Pairs a batch with its completion.
    public init(batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
        self.batch = batch
        self.completion = completion
    }
}

extension BackendCall {
    /// Defaults to submitting the batches one by one.
    public func submit(_ submissions: [BatchSubmission]) {
        for submission in submissions { submit(submission.batch, completion: submission.completion) }
    }

    /// Defaults to doing nothing.
    public func finish() async {}

    /// Defaults to doing nothing: the backend reports completions only with each batch's outcome.
    public func refreshProgress() {}

    /// Defaults to asking the batch to stop before its next task: a backend that cannot free the
    /// worker keeps it busy until the stuck task returns.
    public func abandon(_ batch: TaskBatch) {
        batch.progress.requestAbort()
    }
}

/// What a backend is told when a call starts.
public struct BackendCallContext: Sendable {
    /// The number of workers for this call (already passed through
    /// ``ParallelBackend/effectiveNJobs(_:)``), 2 or more.
    public var nJobs: Int
    /// The call's verbosity (joblib's `verbose`).
    public var verbose: Int
    /// The per-task timeout, if any. The engine enforces it; a backend that can kill a stuck
    /// worker does so in ``BackendCall/abort()``.
    public var timeout: Duration?
    /// Where large arrays are shared with worker processes, if the caller named a folder.
    public var tempFolder: String?
    /// Arrays of plain values larger than this many bytes travel through shared memory; `nil`
    /// turns that off.
    public var maxNbytes: Int?
    /// How workers map shared arrays.
    public var mmapMode: MmapMode
    /// Thread limit for native thread pools inside workers, when the scope set one.
    public var innerMaxNumThreads: Int?

    /// Creates a context.
    public init(
        nJobs: Int, verbose: Int = 0, timeout: Duration? = nil, tempFolder: String? = nil,
        maxNbytes: Int? = 1_048_576, mmapMode: MmapMode = .r, innerMaxNumThreads: Int? = nil
    ) {
        self.nJobs = nJobs
        self.verbose = verbose
        self.timeout = timeout
        self.tempFolder = tempFolder
        self.maxNbytes = maxNbytes
        self.mmapMode = mmapMode
        self.innerMaxNumThreads = innerMaxNumThreads
    }
}
