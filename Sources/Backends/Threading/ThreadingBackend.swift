import ParallelCore

/// Runs batches on dedicated threads of this process: joblib's `threading` backend, and the
/// default (Swift has no GIL, so threads run tasks truly in parallel).
///
/// A call with `nJobs` workers runs at most `nJobs` batches at once, each as a task that prefers
/// a shared pool of dedicated threads (`WorkerThreadPool`), so blocking work never starves
/// Swift's cooperative pool and `nJobs` above the core count oversubscribes, as joblib does for
/// I/O. Unlike joblib, batches are sized adaptively: a hand-off costs a few microseconds, and
/// batching makes a million trivial tasks cost little more than a plain loop.
///
/// Threads cannot be killed: on an error, a timeout or cancellation, queued batches are dropped
/// and running ones are cancelled and stop before their next task; a task stuck in a call that
/// never returns keeps its thread until it does.
public final class ThreadingBackend: ParallelBackend {
    private let pool: WorkerThreadPool

    /// Creates the backend on the process-wide thread pool.
    public init() {
        pool = .shared
    }

    /// A backend on its own pool (tests: a pool with a simulated thread limit).
    init(pool: WorkerThreadPool) {
        self.pool = pool
    }

    /// `ThreadingBackend`.
    public var displayName: String { "ThreadingBackend" }

    /// Threads of this process, sharing its memory.
    public var capabilities: BackendCapabilities {
        BackendCapabilities(usesThreads: true, supportsSharedMemory: true, runsOutOfProcess: false)
    }

    /// Starts a call that runs up to `context.nJobs` batches at once, on the caller's executor
    /// (nothing here blocks or suspends).
    public nonisolated(nonsending) func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        ThreadingCall(pool: pool, nJobs: context.nJobs)
    }
}
