import ParallelConfiguration
import ParallelCore
import ParallelThreading

/// One function over many inputs: the most common joblib pattern, without a closure per task.
///
/// `parallel.map(inputs) { f($0) }` returns what `parallel(inputs.map { delayed(f)($0) })`
/// returns, with the same options, scopes, errors, verbose output, timeouts, retries,
/// cancellation and nesting rules, but the function is taken once and the inputs are split into batches of consecutive indices.
///
/// How a call runs:
/// - On the built-in `"threading"` backend, with no `timeout`, no `verbose` output, no retry policy
///   and no progress display, and a synchronous function over a `RandomAccessCollection`: the workers (and the calling thread,
///   when the caller is not isolated to an actor) claim batches from one atomic counter —
///   large batches first, smaller ones towards the end, or exactly `batchSize` when it is fixed —
///   and write each result once, in place, into the returned array.
/// - When `nJobs` resolves to 1 (any backend, as joblib does), with the same exceptions: in the
///   calling task, in order,
///   on the caller's executor (an actor's caller runs the function on that actor, as the one-worker
///   path of `callAsFunction` does, with no executor hop), written once into the returned array.
/// - Otherwise (an `async` function, any other `Collection`, a timeout, verbose output, a retry
///   policy, a progress display, a `preDispatch` below `nJobs`, or another in-process backend):
///   through the general engine, with each input as one task.
///
/// A process backend with `nJobs` above 1 fails with `.notSerializable` before anything runs: the
/// function is a closure and cannot leave this process.
extension Parallel {
    /// `inputs.map(transform)` on the workers, results in input order.
    ///
    /// - Throws: the first error `transform` threw, as itself (the rest stop before their next
    ///   item); ``ParallelError`` for bad arguments (before anything runs), a process backend
    ///   (`.notSerializable`) and timeouts; `CancellationError` when the calling task is cancelled.
    ///   Results already computed are destroyed, never leaked.
    /// - Complexity: O(n) calls of `transform` divided among the workers, plus about
    ///   4·nJobs·ln(n) atomic batch claims and one allocation for the result.
    /// - Concurrency: `transform` runs on the backend's worker threads (and on the calling thread
    ///   when the caller is not isolated to an actor), concurrently; it must be safe to call so.
    @inlinable
    public func map<C: RandomAccessCollection, R: Sendable>(
        _ inputs: C, isolation: isolated (any Actor)? = #isolation,
        _ transform: @escaping @Sendable (C.Element) throws -> R
    ) async throws -> [R] where C: Sendable, C.Element: Sendable {
        switch try await mapRoute(allowWorkers: true, isolation: isolation) {
        case .engine:
            return try await runList(TaskSource(inputs), makeMapKernel(transform), isolation: isolation)
        case .callingTask(let scope):
            let stop = StopFlag()
            return try await withTaskCancellationHandler {
                _ = isolation  // runs the closure on the caller's actor: no executor hop
                return try scope.run { try mapInCallingTask(inputs, stop: stop, transform) }
            } onCancel: {
                stop.raise()
            }
        case .workers(let workers):
            return try await mapOnWorkers(inputs, on: workers, callerJoins: isolation == nil, transform)
        }
    }

    /// `inputs.map(transform)` on the workers, results in input order, for any `Collection`: the
    /// inputs are taken in order, lazily, as tasks of the general engine (or in the calling task
    /// when `nJobs` resolves to 1). The rules are those of the `RandomAccessCollection` overload.
    @inlinable
    public func map<C: Collection, R: Sendable>(
        _ inputs: C, isolation: isolated (any Actor)? = #isolation,
        _ transform: @escaping @Sendable (C.Element) throws -> R
    ) async throws -> [R] where C: Sendable, C.Element: Sendable {
        switch try await mapRoute(allowWorkers: false, isolation: isolation) {
        case .engine, .workers:
            return try await runList(TaskSource(inputs), makeMapKernel(transform), isolation: isolation)
        case .callingTask(let scope):
            let stop = StopFlag()
            return try await withTaskCancellationHandler {
                _ = isolation  // runs the closure on the caller's actor: no executor hop
                return try scope.run { try mapInCallingTask(inputs, stop: stop, transform) }
            } onCancel: {
                stop.raise()
            }
        }
    }

    /// `inputs.map(transform)` with an `async` transform: each input is a task of the general
    /// engine, run on the workers (in the calling task when `nJobs` resolves to 1).
    ///
    /// Disfavoured so that a closure with no `await` picks a synchronous overload, which runs
    /// without an async call per item.
    @inlinable
    @_disfavoredOverload
    public func map<C: Collection, R: Sendable>(
        _ inputs: C, isolation: isolated (any Actor)? = #isolation,
        _ transform: @escaping @Sendable (C.Element) async throws -> R
    ) async throws -> [R] where C: Sendable, C.Element: Sendable {
        try await runList(TaskSource(inputs), makeAsyncMapKernel(transform), isolation: isolation)
    }

    /// Runs `body` on every input on the workers, in no particular order across workers.
    ///
    /// The same rules as `map`, without results.
    /// - Throws: the first error `body` threw, as itself; ``ParallelError``; `CancellationError`.
    @inlinable
    public func forEach<C: RandomAccessCollection>(
        _ inputs: C, isolation: isolated (any Actor)? = #isolation,
        _ body: @escaping @Sendable (C.Element) throws -> Void
    ) async throws where C: Sendable, C.Element: Sendable {
        switch try await mapRoute(allowWorkers: true, isolation: isolation) {
        case .engine:
            _ = try await runList(TaskSource(inputs), makeMapKernel(body), isolation: isolation)
        case .callingTask(let scope):
            let stop = StopFlag()
            try await withTaskCancellationHandler {
                _ = isolation  // runs the closure on the caller's actor: no executor hop
                return try scope.run { try forEachInCallingTask(inputs, stop: stop, body) }
            } onCancel: {
                stop.raise()
            }
        case .workers(let workers):
            try await forEachOnWorkers(inputs, on: workers, callerJoins: isolation == nil, body)
        }
    }

    /// Runs `body` on every input of any `Collection`, each input a task of the general engine.
    @inlinable
    public func forEach<C: Collection>(
        _ inputs: C, isolation: isolated (any Actor)? = #isolation,
        _ body: @escaping @Sendable (C.Element) throws -> Void
    ) async throws where C: Sendable, C.Element: Sendable {
        switch try await mapRoute(allowWorkers: false, isolation: isolation) {
        case .engine, .workers:
            _ = try await runList(TaskSource(inputs), makeMapKernel(body), isolation: isolation)
        case .callingTask(let scope):
            let stop = StopFlag()
            try await withTaskCancellationHandler {
                _ = isolation  // runs the closure on the caller's actor: no executor hop
                return try scope.run { try forEachInCallingTask(inputs, stop: stop, body) }
            } onCancel: {
                stop.raise()
            }
        }
    }

    /// Runs an `async` `body` on every input, each input a task of the general engine.
    @inlinable
    @_disfavoredOverload
    public func forEach<C: Collection>(
        _ inputs: C, isolation: isolated (any Actor)? = #isolation,
        _ body: @escaping @Sendable (C.Element) async throws -> Void
    ) async throws where C: Sendable, C.Element: Sendable {
        _ = try await runList(TaskSource(inputs), makeAsyncMapKernel(body), isolation: isolation)
    }

    // MARK: - Which path a call takes

    /// Where a `map`/`forEach` call runs.
    @usableFromInline
    enum MapRoute: Sendable {
        /// Through the general engine, each input a task.
        case engine
        /// Here, in the calling task (nJobs resolved to 1), under the call's scope.
        case callingTask(LoopScope)
        /// On the threading backend's workers, by batches of consecutive indices.
        case workers(LoopWorkers)
    }

    /// Resolves the call as `callAsFunction` does (same checks, same errors, before anything
    /// runs) and picks its path.
    ///
    /// The timeout is left out of this resolution and any call that has one goes to the engine,
    /// which resolves it again with the timeout: its warning for nJobs 1 is printed once. So does
    /// a call with a retry policy (from `Parallel` or the scope), verbose output, a progress
    /// display or a pre-dispatch window smaller than its workers: the engine applies them.
    @usableFromInline
    func mapRoute(allowWorkers: Bool, isolation: isolated (any Actor)?) async throws -> MapRoute {
        BuiltinBackends.ensureRegistered()
        var withoutTimeout = arguments
        withoutTimeout.timeout = nil
        let plan = try CallResolution.plan(withoutTimeout, scope: ScopeStorage.current, tasksArePortable: false)
        // Retries are the engine's (a task re-run after its failure, with the policy's delays and
        // progress events); the index loops run each input once.
        guard timeout == nil, plan.verbose == 0, !plan.reportsProgress, plan.retry.maxAttempts == 1 else {
            return .engine
        }
        if plan.isSequential { return .callingTask(LoopScope(plan.taskScope)) }
        // The index loops keep every worker busy from the start, each reading its next input right
        // before running it: that respects a pre-dispatch window of nJobs tasks or more (the
        // default is twice that), but a smaller one limits the tasks in flight, which only the
        // engine applies.
        let windowFitsWorkers = plan.preDispatch.map { $0 >= plan.nJobs } ?? true
        guard allowWorkers, plan.backend is ThreadingBackend, windowFitsWorkers else { return .engine }
        let call = try await plan.backend.startCall(plan.context)
        let fixedBatchSize: Int? = if case .fixed(let size) = plan.batchSize { size } else { nil }
        let scope = plan.taskScope
        return .workers(
            LoopWorkers(participants: plan.nJobs, fixedBatchSize: fixedBatchSize, scope: scope) { work, ended in
                let batch = TaskBatch(
                    firstIndex: 0, count: 0, progress: BatchProgress(), portable: nil, tracksEachTask: false,
                    scope: scope,
                    runner: { _, _ in
                        work()
                        return BatchOutcome(values: [Int](), failure: nil)
                    })
                // The batch reports a failure only when it never ran: its thread was refused. A
                // worker reports its last batch after it gave its thread reservation back.
                call.submit(batch) { outcome in ended(outcome.failure) }
            })
    }
}
