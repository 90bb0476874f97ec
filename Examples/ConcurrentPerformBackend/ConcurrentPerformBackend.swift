// A third-party-style backend for ParallelKit. It imports `ParallelCore` alone — the module a
// backend author needs — and registers itself only when asked to.
import ParallelCore

/// Runs a call's batches on the iterations of `DispatchQueue.concurrentPerform`.
///
/// `concurrentPerform` is Dispatch's parallel `for`: it blocks its caller and runs a synchronous
/// closure once per iteration, on up to one thread per CPU. A ParallelKit batch, though, is async
/// (``TaskBatch/run()`` may suspend, for instance in `Task.sleep`). So this backend does not call
/// `run()` from inside an iteration and block on it. Instead each batch runs as a Swift task that
/// prefers a small `TaskExecutor` (SE-0417), and the iterations of `concurrentPerform` *are* that
/// executor's worker threads: each iteration runs the tasks' jobs until no batch of the call is
/// left. A batch that suspends frees its iteration for another batch, and resumes on whichever
/// iteration is free. Sessions of `concurrentPerform` start when work arrives and end when the
/// call's batches are done, so no thread is held between calls.
///
/// Like `concurrentPerform` itself, it is meant for CPU-bound work: it never runs more workers
/// than CPUs (``effectiveNJobs(_:)``), and a task that blocks its thread holds one of them.
/// Everything else — batching, ordering, pre-dispatch, progress, timeouts, cancellation, nesting —
/// comes from ParallelKit's engine.
///
/// ```swift
/// import ParallelKit
/// import ConcurrentPerformBackend
///
/// registerConcurrentPerformBackend()
/// let roots = try await Parallel(nJobs: 2, backend: "concurrent-perform")(
///     (0..<10).map { i in delayed(sqrt)(Double(i * i)) })
/// ```
public final class ConcurrentPerformBackend: ParallelBackend {
    /// What this backend has run so far, for tests and curious users.
    public struct Statistics: Hashable, Sendable {
        /// Calls started (calls whose nJobs resolved to 1 run in the caller and are not counted).
        public var calls = 0
        /// Batches that ran to their end (completed or failed).
        public var batches = 0
        /// Tasks that completed in those batches.
        public var tasks = 0
        /// `concurrentPerform` sessions started.
        public var sessions = 0
    }

    private let counters = Locked(Statistics())

    /// Creates a backend. Calls on one instance are independent; each gets its own workers.
    public init() {}

    /// `ConcurrentPerformBackend`, as shown in verbose messages.
    public var displayName: String { "ConcurrentPerformBackend" }

    /// A snapshot of what the backend has run.
    public var statistics: Statistics { counters.withLock { $0 } }

    /// At most one worker per CPU: `concurrentPerform` runs no more iterations at once than that.
    /// - Parameter requested: the resolved `nJobs`, 1 or more.
    /// - Returns: `min(requested, cpuCount())`. A result of 1 makes the call run in the caller.
    public func effectiveNJobs(_ requested: Int) -> Int {
        max(1, min(requested, cpuCount()))
    }

    /// Starts a call that runs up to `context.nJobs` batches at once.
    public func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        counters.withLock { $0.calls += 1 }
        return ConcurrentPerformCall(nJobs: context.nJobs, backend: self)
    }

    /// The `concurrentPerform` iteration running the current code, or `nil` when the current
    /// thread is not one of this backend's workers. Tasks of a call on this backend see a value in
    /// `0..<nJobs`; after a suspension they may resume on another iteration.
    public static var currentWorker: Int? { WorkerMark.current }

    func recordSession() {
        counters.withLock { $0.sessions += 1 }
    }

    func recordBatch(completedTasks: Int) {
        counters.withLock {
            $0.batches += 1
            $0.tasks += completedTasks
        }
    }
}

/// Registers ``ConcurrentPerformBackend`` with ParallelKit under `name`.
///
/// Registration is explicit, never a side effect of importing the module: call this once, early
/// (for instance first thing in `main`), before a `Parallel` call or a `withParallelConfig` scope
/// names the backend.
///
/// - Parameters:
///   - name: the name users write in `Parallel(backend:)`; `"concurrent-perform"` by default.
///   - makeDefault: also make it the backend used when nothing names one.
/// - Returns: the registered instance (every call by this name uses it), so you can read its
///   ``ConcurrentPerformBackend/statistics``.
@discardableResult
public func registerConcurrentPerformBackend(
    name: String = "concurrent-perform", makeDefault: Bool = false
) -> ConcurrentPerformBackend {
    let backend = ConcurrentPerformBackend()
    registerParallelBackend(name, makeDefault: makeDefault) { backend }
    return backend
}
