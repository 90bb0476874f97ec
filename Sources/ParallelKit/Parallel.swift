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
///   from `generatorUnordered(_:isolation:)`). A task's error is rethrown as the same value and
///   stops the dispatch of the rest; cancelling the calling task stops everything and throws
///   `CancellationError`.
public struct Parallel: Sendable {
    /// The call's options, as given; resolved against the scope and the registry at each call.
    var arguments: CallArguments

    /// Workers; `nil` is 1 unless a `withParallelConfig` scope sets it (see ``ParallelConfig``).
    public var nJobs: Int? {
        get { arguments.nJobs }
        set { arguments.nJobs = newValue }
    }
    /// The backend; `nil` follows the scope, the hints and the registered default.
    public var backend: BackendChoice? {
        get { arguments.backend }
        set { arguments.backend = newValue }
    }
    /// joblib's progress messages; `nil` follows the scope, else 0.
    public var verbose: Int? {
        get { arguments.verbose }
        set { arguments.verbose = newValue }
    }
    /// Per-task time limit; not applied when `nJobs` resolves to 1.
    public var timeout: Duration? {
        get { arguments.timeout }
        set { arguments.timeout = newValue }
    }
    /// Tasks taken before the first result is in.
    public var preDispatch: PreDispatch {
        get { arguments.preDispatch }
        set { arguments.preDispatch = newValue }
    }
    /// Tasks per batch.
    public var batchSize: BatchSize {
        get { arguments.batchSize }
        set { arguments.batchSize = newValue }
    }
    /// Where large arrays are shared with worker processes.
    public var tempFolder: String? {
        get { arguments.tempFolder }
        set { arguments.tempFolder = newValue }
    }
    /// The size above which arrays travel to workers through shared memory.
    public var maxNbytes: MaxNbytes? {
        get { arguments.maxNbytes }
        set { arguments.maxNbytes = newValue }
    }
    /// How workers map shared arrays.
    public var mmapMode: MmapMode? {
        get { arguments.mmapMode }
        set { arguments.mmapMode = newValue }
    }
    /// A soft hint: threads or processes.
    public var prefer: Prefer? {
        get { arguments.prefer }
        set { arguments.prefer = newValue }
    }
    /// A hard constraint: shared memory.
    public var require: Require? {
        get { arguments.require }
        set { arguments.require = newValue }
    }
    /// Whether and how failed tasks are started again; `nil` follows the scope, else `.never`.
    public var retry: RetryPolicy? {
        get { arguments.retry }
        set { arguments.retry = newValue }
    }
    /// How calls report progress; `nil` follows the scope, else `.none`.
    public var progress: ParallelProgress? {
        get { arguments.progress }
        set { arguments.progress = newValue }
    }

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
    ///   - retry: re-runs failed tasks before their failure counts; `nil`: the scope's, else
    ///     `.never`. Applies in every mode.
    ///   - progress: `.bar`, `.handler { event in … }` or `.none`; `nil`: the scope's, else
    ///     `.none`. Independent of `verbose`, which keeps printing joblib's lines.
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
        require: Require? = nil,
        retry: RetryPolicy? = nil,
        progress: ParallelProgress? = nil
    ) {
        arguments = CallArguments(
            nJobs: nJobs, backend: backend, verbose: verbose, timeout: timeout, preDispatch: preDispatch,
            batchSize: batchSize, tempFolder: tempFolder, maxNbytes: maxNbytes, mmapMode: mmapMode,
            prefer: prefer, require: require, retry: retry, progress: progress)
    }

    // MARK: - return_as="list"

    /// Runs the tasks and returns their results in submission order (joblib's `return_as="list"`).
    ///
    /// - Throws: the first task error as itself; ``ParallelError`` for bad arguments (before any
    ///   input is taken), timeouts and crashed workers; `CancellationError` when the calling task
    ///   is cancelled.
    /// - Complexity: the tasks' cost divided among the workers, plus a per-batch hand-off of a
    ///   few microseconds; an `Array` input is never copied task by task. A small call (up to 64
    ///   synchronous tasks in an `Array`) on the threading backend runs as `map` does, with no
    ///   per-batch hand-off (see `smallSynchronousCall`).
    @inlinable
    public func callAsFunction<R, S: Sequence>(
        _ tasks: S, isolation: isolated (any Actor)? = #isolation
    ) async throws -> [R] where S.Element == Delayed<R> {
        if let bodies = Self.smallSynchronousCall(tasks) {
            switch try await mapRoute(allowWorkers: true, isolation: isolation) {
            case .workers(let workers):
                // Never on the calling task: the threading backend runs tasks on its threads.
                return try await mapOnWorkers(bodies, on: workers, callerJoins: false) { try $0() }
            case .callingTask(let scope):
                let stop = StopFlag()
                return try await withTaskCancellationHandler {
                    _ = isolation  // runs the tasks on the caller's actor, as the one-worker path does
                    return try scope.run { try mapInCallingTask(bodies, stop: stop) { try $0() } }
                } onCancel: {
                    stop.raise()
                }
            case .engine:
                break
            }
        }
        return try await runList(TaskSource(tasks), makeDelayedKernel(R.self), isolation: isolation)
    }

    /// The most tasks a call may have to run as a small call (see ``smallSynchronousCall(_:)``).
    @usableFromInline static let smallCallLimit = 64

    /// The closures of a small call of synchronous tasks held in contiguous memory (an `Array`,
    /// an `ArraySlice`), or `nil` when the call is larger, lazy, or has an `async` task.
    ///
    /// Such a call runs as `map` runs a synchronous function over a collection when there is no
    /// timeout, verbose output, retry policy, progress display or `preDispatch` below nJobs: on the threading backend the
    /// workers claim tasks from one counter and write each result in place, with no engine driver
    /// (the caller only waits, so tasks still never run on the calling task), and the call returns
    /// once every worker has ended; with nJobs 1 the tasks run in the calling task, on the
    /// caller's executor. Results, the first error, cancellation and the nesting rule are those of
    /// the engine's path. Only small calls: collecting the closures copies each one (a retain),
    /// which a large call's batches avoid by reading tasks in place.
    /// - Complexity: O(1) for a lazy or a large input; O(n) for a small one.
    @inlinable
    static func smallSynchronousCall<R, S: Sequence>(
        _ tasks: S
    ) -> [@Sendable () throws -> R]? where S.Element == Delayed<R> {
        let collected = tasks.withContiguousStorageIfAvailable { buffer -> [@Sendable () throws -> R]? in
            guard (1...smallCallLimit).contains(buffer.count) else { return nil }
            var bodies: [@Sendable () throws -> R] = []
            bodies.reserveCapacity(buffer.count)
            for task in buffer {
                guard let body = task.synchronousBody else { return nil }
                bodies.append(body)
            }
            return bodies
        }
        return collected ?? nil
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

    @usableFromInline
    func runList<Element: Sendable, Output: Sendable>(
        _ source: TaskSource<Element>, _ kernel: TaskKernel<Element, Output>,
        isolation: isolated (any Actor)?
    ) async throws -> [Output] {
        try await beginCall(arguments, source, kernel, mode: .list).producer.collect(isolation: isolation)
    }

    @usableFromInline
    func makeResults<Element: Sendable, Output: Sendable>(
        _ source: TaskSource<Element>, _ kernel: TaskKernel<Element, Output>,
        unordered: Bool
    ) -> ParallelResults<Output> {
        ParallelResults(
            starter: CallStarter(arguments: arguments, mode: unordered ? .unordered : .ordered) {
                try await beginCall($0, source, kernel, mode: $1).producer
            })
    }
}
