/// A way to run batches of tasks: joblib's `ParallelBackendBase`, in Swift.
///
/// A backend only runs batches and reports when they end. Everything else — which inputs to take,
/// how to batch them, ordering, pre-dispatch, progress messages, timeouts, cancellation, nesting —
/// is the engine's, so every backend behaves the same and a third-party backend gets all of it by
/// implementing ``startCall(_:)`` and ``BackendCall``. Every other requirement has a default.
///
/// ```swift
/// final class ConcurrentPerformBackend: ParallelBackend {
///     func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
///         ConcurrentPerformCall(nJobs: context.nJobs, backend: self)
///     }
/// }
/// registerParallelBackend("concurrent-perform") { ConcurrentPerformBackend() }
/// ```
///
/// Backends are reference types so that a `.instance(b)` choice names one pool, and so a backend
/// may keep workers alive between calls (the `"process"` backend does).
///
/// - Concurrency: `startCall` may be called for overlapping calls from any task; a backend must be
///   safe to share.
public protocol ParallelBackend: AnyObject, Sendable {
    /// The name shown in verbose messages, such as `ThreadingBackend`.
    var displayName: String { get }

    /// What this backend can do; the front end checks these before it runs anything.
    var capabilities: BackendCapabilities { get }

    /// How `batchSize: .auto` sizes batches for this backend.
    var autoBatching: AutoBatchingPolicy { get }

    /// How many tasks can really run at once when `requested` workers are asked for.
    /// - Parameter requested: the resolved `nJobs`, always 1 or more.
    /// - Returns: the worker count for this call, 1 or more. A result of 1 makes the call run in
    ///   the calling task, as joblib's fallback to the sequential backend does.
    func effectiveNJobs(_ requested: Int) -> Int

    /// Starts (or reuses) workers for one `Parallel` call and returns the handle the engine submits
    /// batches to. Called once per call whose worker count is above 1, before any input is taken.
    ///
    /// - Concurrency: called on the caller's executor (`nonisolated(nonsending)`): a call made
    ///   from an actor does not leave it to start. A conformance may declare its witness as a
    ///   plain `async` function; it then runs on the global executor, which costs a caller on an
    ///   actor two executor hops per call. Declare it `nonisolated(nonsending)` when starting a
    ///   call is cheap and does not block, as the built-in threading backend does.
    nonisolated(nonsending) func startCall(_ context: BackendCallContext) async throws -> any BackendCall

    /// Checks, before a call takes any input or starts any worker, that jobs of this type can
    /// run on this backend; throws a ``ParallelError`` (typically `.notSerializable`) if not.
    /// Called only for calls of ``ParallelJob``s with more than one worker.
    func validate(jobType: any ParallelJob.Type) throws
}

extension ParallelBackend {
    /// Defaults to the type's name, as joblib prints the backend's class name.
    public var displayName: String { String(describing: type(of: self)) }

    /// Defaults to an in-process, thread-based backend that shares the caller's memory.
    public var capabilities: BackendCapabilities { BackendCapabilities() }

    /// Defaults to the policy for in-process backends.
    public var autoBatching: AutoBatchingPolicy { .inProcess }

    /// Defaults to `requested`.
    public func effectiveNJobs(_ requested: Int) -> Int { requested }

    /// Defaults to accepting every job type.
    public func validate(jobType: any ParallelJob.Type) throws {}
}

/// What a backend can do. The front end reads these to resolve `prefer` and `require`, to refuse
/// `Delayed` tasks on out-of-process backends before anything runs, and to apply thread limits.
public struct BackendCapabilities: Hashable, Sendable {
    /// Runs tasks on threads of this process (affects `prefer: .threads`/`.processes`).
    public var usesThreads: Bool
    /// Tasks see the caller's memory (required by `require: .sharedMemory`).
    public var supportsSharedMemory: Bool
    /// Tasks run in other processes, so only ``ParallelJob``s (found by type name) can run there.
    public var runsOutOfProcess: Bool
    /// Honours `innerMaxNumThreads` (sets OMP_NUM_THREADS and friends in its workers).
    public var supportsInnerMaxNumThreads: Bool

    /// Creates a capability set; the defaults describe an in-process thread pool.
    public init(
        usesThreads: Bool = true,
        supportsSharedMemory: Bool = true,
        runsOutOfProcess: Bool = false,
        supportsInnerMaxNumThreads: Bool = false
    ) {
        self.usesThreads = usesThreads
        self.supportsSharedMemory = supportsSharedMemory
        self.runsOutOfProcess = runsOutOfProcess
        self.supportsInnerMaxNumThreads = supportsInnerMaxNumThreads
    }
}
