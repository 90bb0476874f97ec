import ParallelCore

/// The `"multiprocessing"` backend: worker processes started for one call and ended with it, as
/// joblib's multiprocessing backend does.
///
/// Like ``ProcessBackend`` it runs ``ParallelJob``s in crash-isolated workers that re-run this
/// executable, but nothing is kept between calls: each call pays the start-up (a few milliseconds
/// per worker) and leaves no process behind when it returns. Workers get no thread limits, as in
/// joblib.
///
/// - Concurrency: thread-safe; overlapping calls each get their own workers.
public final class MultiprocessingBackend: ParallelBackend {
    /// The program workers run; nil means this executable.
    public let workerExecutable: String?

    /// Creates a backend.
    /// - Parameter workerExecutable: a ParallelKit program to run as workers, or nil for this
    ///   executable.
    public init(workerExecutable: String? = nil) {
        self.workerExecutable = workerExecutable
    }

    /// `MultiprocessingBackend`.
    public var displayName: String { "MultiprocessingBackend" }

    /// Out of process, no shared memory, no thread limits.
    public var capabilities: BackendCapabilities {
        WorkerLaunch.capabilities(threadLimits: false)
    }

    /// Batches of 20 ms to 0.5 s (see `AutoBatchingPolicy.workerProcesses`).
    public var autoBatching: AutoBatchingPolicy { .workerProcesses }

    /// Refuses job types a worker cannot find by name (private, fileprivate or local types), before
    /// the call takes any input or starts a worker.
    public func validate(jobType: any ParallelJob.Type) throws {
        try WorkerLaunch.validate(jobType: jobType)
    }

    /// Starts `nJobs` workers for this call and waits until one is ready.
    public func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        try WorkerLaunch.checkMayStartWorkers()
        try WorkerLaunch.checkTempFolder(context)
        let pool = WorkerPool(
            configuration: WorkerLaunch.configuration(
                executable: workerExecutable, overrides: [:], idleTimeout: nil))
        return try await WorkerLaunch.startCall(on: pool, context: context, ownsPool: true)
    }
}
