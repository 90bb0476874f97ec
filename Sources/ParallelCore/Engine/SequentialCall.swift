/// The driver of a call whose worker count resolved to 1: it runs the tasks in the calling task,
/// with no threads and no backend, the same code path whichever backend was named (joblib's
/// `_get_sequential_output`).
///
/// Tasks run one at a time as the consumer asks. With a fixed `batchSize` of k, k inputs are
/// taken before any of them runs, as joblib does; with `.auto` inputs and tasks strictly
/// interleave. An array input with no progress output and no retries is run in one pass, since
/// taking from an array has no observable effect. Progress lines follow joblib's rules; a task's
/// error is rethrown as itself (or, in the results modes, recorded as a ``TaskFailure``); the
/// call's ``RetryPolicy`` applies as with workers; cancellation is checked between tasks.
///
/// With one task at a time there is nothing to batch, re-run or bisect, so this driver applies
/// the per-task rules itself rather than through ``CallStateMachine``: the rules are the same
/// (``RetryPolicy/delay(beforeRetry:)``, `maxFailures`, `.notRun`), and the one-worker path keeps
/// its cost of a plain call per task.
package final class SequentialCall<Element: Sendable, Output: Sendable>: ResultProducer, SettledRunSource {
    private let plan: CallPlan
    private let source: TaskSource<Element>
    private let kernel: TaskKernel<Element, Output>
    private let keepsGoing: Bool
    private let maxFailures: Int?
    private var reporter: ProgressReporter
    private var counters = ProgressReporter.Counters(iterating: true)
    private var pending: ArraySlice<Element> = []
    private var drained = false
    private var finished = false
    private var finalFailures = 0
    /// Set once `maxFailures` is reached: the remaining inputs settle as `.notRun`.
    private var stopped = false
    /// The call's progress display, when it has one; started with the first task.
    private let progress: ProgressChannel?
    private var progressStarted = false

    package init(
        plan: CallPlan, source: TaskSource<Element>, kernel: TaskKernel<Element, Output>,
        keepsGoing: Bool = false, maxFailures: Int? = nil
    ) {
        self.plan = plan
        self.source = source
        self.kernel = kernel
        self.keepsGoing = keepsGoing
        self.maxFailures = maxFailures
        self.reporter = ProgressReporter(
            verbose: plan.verbose, nJobsLabel: plan.nJobsLabel, totalTasks: source.knownCount,
            preDispatchAmount: 0, startTime: MonotonicClock.now())
        let progress = plan.reportsProgress ? ProgressChannel(plan.progress) : nil
        self.progress = progress?.isActive == true ? progress : nil
        for notice in plan.notices { reporter.emit(notice, toStandardOutput: true) }
    }

    deinit {
        // A generator dropped early: `finished` still comes, once.
        progress?.finish(now: MonotonicClock.now())
    }

    /// One task's end.
    private enum Fate {
        case succeeded(Output)
        case failed(TaskFailure)
    }

    /// Runs every task and returns the results in order (the throwing list mode).
    package func collect(isolation: isolated (any Actor)? = #isolation) async throws -> [Output] {
        if source.isInert && !reporter.isEnabled && plan.retry.maxAttempts == 1 && progress == nil {
            // Taking from an array has no observable effect, so run it in chunks: no per-task
            // bookkeeping, and cancellation is still noticed every `chunk` tasks.
            let chunk = 4096
            var results: [Output] = []
            if let count = source.knownCount { results.reserveCapacity(count) }
            // One scope binding for the whole call; the closure captures `isolation` so that it
            // and the kernel it calls run on the caller's actor (see `next`).
            try await ScopeStorage.$current.withValue(plan.taskScope) {
                _ = isolation
                while true {
                    if Task.isCancelled { throw CancellationError() }
                    let slice = source.take(chunk)
                    if slice.isEmpty { break }
                    counters.dispatchedTasks += slice.count
                    let (values, failure) = await runSlice(slice)
                    results.append(contentsOf: values)
                    if let failure { throw failure }
                    if slice.count < chunk { break }
                }
            }
            return results
        }
        var results: [Output] = []
        if let count = source.knownCount { results.reserveCapacity(count) }
        // One scope binding for the whole call rather than one per task.
        try await ScopeStorage.$current.withValue(plan.taskScope) {
            _ = isolation  // keeps the closure on the caller's actor (see `next`)
            while let fate = try await step(isolation: isolation) {
                if case .succeeded(let value) = fate { results.append(value) }
            }
        }
        return results
    }

    /// Runs the next task and returns its result alone: the tasks run one at a time as the
    /// consumer asks, as in joblib.
    package func nextResults(isolation: isolated (any Actor)?) async throws -> [Output]? {
        try await next(isolation: isolation).map { [$0] }
    }

    /// Runs the next task and returns its result (the throwing modes).
    package func next(isolation: isolated (any Actor)?) async throws -> Output? {
        try await ScopeStorage.$current.withValue(plan.taskScope) {
            // Capturing `isolation` keeps this closure on the caller's actor; a closure that does
            // not is nonisolated and would hop to the global executor and back for every task.
            _ = isolation
            guard case .succeeded(let value)? = try await step(isolation: isolation) else { return nil }
            return value
        }
    }

    /// Runs the next task and returns its fate (the results modes).
    package func nextRun(isolation: isolated (any Actor)?) async throws -> (firstIndex: Int, run: SettledRun<Output>)? {
        try await ScopeStorage.$current.withValue(plan.taskScope) {
            _ = isolation
            let index = counters.dispatchedTasks
            switch try await step(isolation: isolation) {
            case .succeeded(let value)?: return (index, .succeeded([value]))
            case .failed(let failure)?: return (index, .failed(failure))
            case nil: return nil
            }
        }
    }

    /// Takes and runs the next task; the caller has bound the tasks' scope.
    private func step(isolation: isolated (any Actor)?) async throws -> Fate? {
        guard !finished else { return nil }
        if let progress, !progressStarted {
            progressStarted = true
            progress.start(
                total: source.knownCount, backend: plan.backend.displayName, nJobs: 1, now: MonotonicClock.now())
        }
        do {
            if Task.isCancelled { throw CancellationError() }
            guard let element = try await takeNext(isolation: isolation) else {
                finish()
                if let progress {
                    if source.knownCount == nil { progress.totalBecameKnown(counters.dispatchedTasks) }
                    progress.finish(now: MonotonicClock.now())
                    await progress.waitUntilDelivered()
                }
                return nil
            }
            let index = counters.dispatchedTasks
            counters.dispatchedBatches += 1
            counters.dispatchedTasks += 1
            if stopped {
                counters.completedTasks += 1
                let failure = Self.notRun(index, limit: maxFailures ?? 0)
                progress?.taskFailed(failure, willRetry: false, now: MonotonicClock.now())
                return .failed(failure)
            }
            let fate = try await run(element, index: index)
            counters.completedTasks += 1
            if let progress, case .succeeded = fate { progress.tasksCompleted(count: 1, now: MonotonicClock.now()) }
            if reporter.isEnabled, let line = reporter.progressLine(counters, now: MonotonicClock.now()) {
                reporter.emit(line)
            }
            return fate
        } catch {
            finished = true
            counters.aborting = true
            if let progress {
                progress.finish(now: MonotonicClock.now())
                await progress.waitUntilDelivered()
            }
            throw error
        }
    }

    private func takeNext(isolation: isolated (any Actor)? = #isolation) async throws -> Element? {
        if case .fixed(let size) = plan.batchSize, size > 1 {
            // joblib takes a fixed batch's inputs before running any of them.
            if pending.isEmpty && !drained {
                pending = try await source.take(size, isolation: isolation)
                if pending.count < size { drained = true }
            }
            return pending.popFirst()
        }
        if drained { return nil }
        if source.asyncInput != nil {
            let next = try await source.take(1, isolation: isolation).first
            if next == nil { drained = true }
            return next
        }
        return source.takeOne()
    }

    /// Runs one task under the retry policy: straight through the kernel, with no batch, no
    /// allocation and no executor hop (the kernel runs on this caller's executor).
    private func run(_ element: Element, index: Int, isolation: isolated (any Actor)? = #isolation) async throws -> Fate
    {
        var attempt = 0
        while true {
            do {
                return .succeeded(try await kernel.runOne(element))
            } catch {
                if error is CancellationError && Task.isCancelled { throw error }
                attempt += 1
                let record = TaskFailure(taskIndex: index, error: error, attempts: attempt)
                if attempt < plan.retry.maxAttempts && plan.retry.shouldRetry(record) {
                    counters.retried += 1
                    progress?.taskFailed(record, willRetry: true, now: MonotonicClock.now())
                    let delay = plan.retry.delay(beforeRetry: attempt)
                    if plan.verbose >= 10 {
                        reporter.emit(
                            "Task \(index) failed (attempt \(attempt) of \(plan.retry.maxAttempts)), retrying: \(error)"
                        )
                    }
                    if delay > .zero { try await Task.sleep(for: delay) }
                    continue
                }
                if plan.verbose > 0 && !(error is CancellationError) {
                    reporter.emit("Task \(index) failed: \(String(describing: error))")
                }
                progress?.taskFailed(record, willRetry: false, now: MonotonicClock.now())
                guard keepsGoing else { throw error }
                finalFailures += 1
                if let maxFailures, finalFailures >= maxFailures { stopped = true }
                return .failed(record)
            }
        }
    }

    static func notRun(_ index: Int, limit: Int) -> TaskFailure {
        TaskFailure(
            taskIndex: index,
            error: ParallelError(
                .notRun, taskIndex: index,
                "task \(index) was not started: the call stopped after \(limit) tasks failed (maxFailures: \(limit)). "
                    + "Raise maxFailures, or fix the failures and run again."),
            attempts: 0)
    }

    /// Runs `slice` here, in the caller's scope binding (``collect(isolation:)`` binds the
    /// call's scope once); returns the outputs of the tasks that completed and the error that
    /// stopped it, if any.
    ///
    /// The kernel is called directly, not through a ``TaskBatch``: a batch binds the scope
    /// around its tasks in a closure of its own, and that closure, entered from an actor, is
    /// nonisolated — two executor hops (two thread wake-ups) per chunk, which were half of a
    /// 1M-task call from the main actor.
    private func runSlice(
        _ slice: ArraySlice<Element>, isolation: isolated (any Actor)? = #isolation
    ) async -> (values: [Output], failure: (any Error)?) {
        let progress = BatchProgress()
        let results = LiveResults<Output>(capacity: slice.count)
        // The kernel checks one atomic flag between tasks; cancelling the calling task raises it,
        // so a cancelled call stops before its next task without a runtime call per task.
        let outcome = await withTaskCancellationHandler {
            _ = isolation
            return await kernel.run(slice, progress, false, results)
        } onCancel: {
            progress.requestAbort()
        }
        return (results.moveOut(0..<results.publishedCount), outcome.failure)
    }

    private func finish() {
        finished = true
        counters.iterating = false
        if let line = reporter.progressLine(counters, now: MonotonicClock.now()) { reporter.emit(line) }
    }
}
