import ParallelConfiguration
import ParallelCore

/// Readable parallel mapping: joblib's `Parallel`, in Swift.
///
/// Describe each piece of work as a task — a ``Delayed`` from `delayed(f)(args…)`, or a
/// ``ParallelJob`` to cross process boundaries — and call a `Parallel` value with them:
///
/// ```swift
/// let roots = try await Parallel(nJobs: 2)((0..<10).map { i in delayed(sqrt)(Double(i * i)) })
/// // [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
/// ```
///
/// The value only holds arguments; `init` never fails. Bad arguments make the call throw a
/// ``ParallelError`` before any input is taken. Calls on one value are independent and may
/// overlap; workers are reused across calls.
///
/// - Concurrency: the input sequence is consumed lazily on the caller's isolation; tasks run
///   wherever the backend runs them. Results come back in submission order (or completion order
///   from ``generatorUnordered(_:isolation:)``). A task's error is rethrown as the same value and
///   stops the dispatch of the rest; cancelling the calling task stops everything and throws
///   `CancellationError`.
public struct Parallel: Sendable {
    /// Workers; `nil` is 1 unless a ``withParallelConfig(backend:nJobs:verbose:tempFolder:maxNbytes:mmapMode:prefer:require:innerMaxNumThreads:isolation:_:)`` scope sets it.
    public var nJobs: Int?
    /// The backend; `nil` follows the scope, the hints and the registered default.
    public var backend: BackendChoice?
    /// joblib's progress messages; `nil` follows the scope, else 0.
    public var verbose: Int?
    /// Per-task time limit; not applied when `nJobs` resolves to 1.
    public var timeout: Duration?
    /// Tasks taken before the first result is in.
    public var preDispatch: PreDispatch
    /// Tasks per batch.
    public var batchSize: BatchSize
    /// Where large arrays are shared with worker processes.
    public var tempFolder: String?
    /// The size above which arrays travel to workers through shared memory.
    public var maxNbytes: MaxNbytes?
    /// How workers map shared arrays.
    public var mmapMode: MmapMode?
    /// A soft hint: threads or processes.
    public var prefer: Prefer?
    /// A hard constraint: shared memory.
    public var require: Require?

    /// Creates a parallel map with joblib's parameters. See the README's table for each one.
    ///
    /// - Parameters:
    ///   - nJobs: workers; `nil`: 1 unless a scope says otherwise; -1 all CPUs; -2 all but one.
    ///   - backend: a string literal (`"threading"`, `"process"`, …), `.named(someString)` or
    ///     `.instance(b)`.
    ///   - verbose: joblib's progress messages, same format and frequency rule.
    ///   - timeout: per task; not applied when `nJobs` resolves to 1.
    ///   - preDispatch: `"all"`, an `Int`, or `"K*n_jobs"` with `K` an integer or decimal.
    ///   - batchSize: `.auto` or an integer literal.
    ///   - tempFolder: where large arrays are shared with worker processes.
    ///   - maxNbytes: `nil`: `"1M"` unless configured; `"500K"`, `"2G"`, an `Int`, or `.disabled`.
    ///   - mmapMode: `nil`: `.r` unless configured.
    ///   - prefer: `.processes` or `.threads`: a soft hint.
    ///   - require: `.sharedMemory`: a hard constraint.
    public init(
        nJobs: Int? = nil,
        backend: BackendChoice? = nil,
        verbose: Int? = nil,
        timeout: Duration? = nil,
        preDispatch: PreDispatch = "2*n_jobs",
        batchSize: BatchSize = .auto,
        tempFolder: String? = nil,
        maxNbytes: MaxNbytes? = nil,
        mmapMode: MmapMode? = nil,
        prefer: Prefer? = nil,
        require: Require? = nil
    ) {
        self.nJobs = nJobs
        self.backend = backend
        self.verbose = verbose
        self.timeout = timeout
        self.preDispatch = preDispatch
        self.batchSize = batchSize
        self.tempFolder = tempFolder
        self.maxNbytes = maxNbytes
        self.mmapMode = mmapMode
        self.prefer = prefer
        self.require = require
    }

    // MARK: - return_as="list"

    /// Runs the tasks and returns their results in submission order (joblib's `return_as="list"`).
    ///
    /// - Throws: the first task error as itself; ``ParallelError`` for bad arguments (before any
    ///   input is taken), timeouts and crashed workers; `CancellationError` when the calling task
    ///   is cancelled.
    /// - Complexity: the tasks' cost divided among the workers, plus a per-batch hand-off of a
    ///   few microseconds; an `Array` input is never copied task by task.
    @inlinable
    public func callAsFunction<R, S: Sequence>(
        _ tasks: S, isolation: isolated (any Actor)? = #isolation
    ) async throws -> [R] where S.Element == Delayed<R> {
        try await runList(TaskSource(tasks), makeDelayedKernel(R.self), isolation: isolation)
    }

    /// Runs the jobs and returns their outputs in submission order. Jobs run on every backend,
    /// worker processes included.
    @inlinable
    public func callAsFunction<J: ParallelJob, S: Sequence>(
        _ jobs: S, isolation: isolated (any Actor)? = #isolation
    ) async throws -> [J.Output] where S.Element == J {
        try await runList(TaskSource(jobs), makeJobKernel(J.self), isolation: isolation)
    }

    // MARK: - return_as="generator" / "generator_unordered"

    /// The results in submission order, each as soon as it and those before it are done
    /// (joblib's `return_as="generator"`). Nothing starts before the first `next()`.
    @inlinable
    public func generator<R, S: Sequence>(
        _ tasks: S, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<R> where S.Element == Delayed<R> {
        makeResults(TaskSource(tasks), makeDelayedKernel(R.self), unordered: false)
    }

    /// The results in completion order (joblib's `return_as="generator_unordered"`).
    @inlinable
    public func generatorUnordered<R, S: Sequence>(
        _ tasks: S, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<R> where S.Element == Delayed<R> {
        makeResults(TaskSource(tasks), makeDelayedKernel(R.self), unordered: true)
    }

    /// The jobs' outputs in submission order, each as soon as it and those before it are done.
    @inlinable
    public func generator<J: ParallelJob, S: Sequence>(
        _ jobs: S, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<J.Output> where S.Element == J {
        makeResults(TaskSource(jobs), makeJobKernel(J.self), unordered: false)
    }

    /// The jobs' outputs in completion order.
    @inlinable
    public func generatorUnordered<J: ParallelJob, S: Sequence>(
        _ jobs: S, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<J.Output> where S.Element == J {
        makeResults(TaskSource(jobs), makeJobKernel(J.self), unordered: true)
    }

    // MARK: - The unspecialised part

    var arguments: CallArguments {
        CallArguments(
            nJobs: nJobs, backend: backend, verbose: verbose, timeout: timeout, preDispatch: preDispatch,
            batchSize: batchSize, tempFolder: tempFolder, maxNbytes: maxNbytes, mmapMode: mmapMode,
            prefer: prefer, require: require)
    }

    @usableFromInline
    func runList<Element: Sendable, Output: Sendable>(
        _ source: TaskSource<Element>, _ kernel: TaskKernel<Element, Output>,
        isolation: isolated (any Actor)?
    ) async throws -> [Output] {
        try await beginCall(arguments, source, kernel, delivery: .list).collect(isolation: isolation)
    }

    @usableFromInline
    func makeResults<Element: Sendable, Output: Sendable>(
        _ source: TaskSource<Element>, _ kernel: TaskKernel<Element, Output>,
        unordered: Bool
    ) -> ParallelResults<Output> {
        ParallelResults(starter: CallStarter(
            arguments: arguments, source: source, kernel: kernel, delivery: unordered ? .unordered : .ordered))
    }
}

/// Resolves a call and starts it: in the calling task when nJobs resolves to 1, else on the
/// backend's workers. Runs before any input is taken, so bad arguments throw first.
func beginCall<Element: Sendable, Output: Sendable>(
    _ arguments: CallArguments, _ source: TaskSource<Element>, _ kernel: TaskKernel<Element, Output>,
    delivery: ParallelCall<Element, Output>.Delivery, isolation: isolated (any Actor)? = #isolation
) async throws -> any ResultProducer<Output> {
    BuiltinBackends.ensureRegistered()
    let plan = try CallResolution.plan(
        arguments, scope: ScopeStorage.current, tasksArePortable: kernel.portable != nil, jobType: kernel.jobType)
    if plan.isSequential {
        return SequentialCall(plan: plan, source: source, kernel: kernel)
    }
    let call = try await plan.backend.startCall(plan.context)
    return ParallelCall(plan: plan, call: call, source: source, kernel: kernel, delivery: delivery)
}

/// What a ``ParallelResults`` needs to start its call on the first `next()`.
final class CallStarter<Element: Sendable, Output: Sendable>: ResultStarter {
    private let arguments: CallArguments
    private let source: TaskSource<Element>
    private let kernel: TaskKernel<Element, Output>
    private let delivery: ParallelCall<Element, Output>.Delivery

    init(
        arguments: CallArguments, source: TaskSource<Element>, kernel: TaskKernel<Element, Output>,
        delivery: ParallelCall<Element, Output>.Delivery
    ) {
        self.arguments = arguments
        self.source = source
        self.kernel = kernel
        self.delivery = delivery
    }

    func start(isolation: isolated (any Actor)?) async throws -> any ResultProducer<Output> {
        try await beginCall(arguments, source, kernel, delivery: delivery)
    }
}

/// Starts the call behind a ``ParallelResults``.
@usableFromInline
protocol ResultStarter<Output>: AnyObject {
    associatedtype Output
    func start(isolation: isolated (any Actor)?) async throws -> any ResultProducer<Output>
}
