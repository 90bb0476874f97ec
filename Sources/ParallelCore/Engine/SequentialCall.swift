/// Runs a call whose worker count resolved to 1: in the calling task, with no threads and no
/// backend, the same code path whichever backend was named (joblib's `_get_sequential_output`).
///
/// Tasks run one at a time as the consumer asks. With a fixed `batchSize` of k, k inputs are
/// taken before any of them runs, as joblib does; with `.auto` inputs and tasks strictly
/// interleave. An array input with no progress output is run in one pass, since taking from an
/// array has no observable effect. Progress lines follow joblib's rules; a task's error is
/// rethrown as itself; cancellation is checked between tasks.
package final class SequentialCall<Element: Sendable, Output: Sendable>: ResultProducer {
    private let plan: CallPlan
    private let source: TaskSource<Element>
    private let kernel: TaskKernel<Element, Output>
    private var reporter: ProgressReporter
    private var counters = ProgressReporter.Counters(iterating: true)
    private var pending: ArraySlice<Element> = []
    private var drained = false
    private var finished = false
    private var failed = false

    package init(plan: CallPlan, source: TaskSource<Element>, kernel: TaskKernel<Element, Output>) {
        self.plan = plan
        self.source = source
        self.kernel = kernel
        self.reporter = ProgressReporter(
            verbose: plan.verbose, nJobsLabel: plan.nJobsLabel, totalTasks: source.knownCount,
            preDispatchAmount: 0, startTime: MonotonicClock.now())
        for notice in plan.notices { reporter.emit(notice, toStandardOutput: true) }
    }

    /// Runs every task and returns the results in order.
    package func collect(isolation: isolated (any Actor)? = #isolation) async throws -> [Output] {
        if source.isInert && !reporter.isEnabled {
            // Taking from an array has no observable effect, so run it in chunks: no per-task
            // bookkeeping, and cancellation is still noticed every `chunk` tasks.
            let chunk = 4096
            var results: [Output] = []
            if let count = source.knownCount { results.reserveCapacity(count) }
            while true {
                if Task.isCancelled { throw CancellationError() }
                let slice = source.take(chunk)
                if slice.isEmpty { break }
                counters.dispatchedTasks += slice.count
                let outcome = await runSlice(slice)
                if let values = outcome.values { results.append(contentsOf: values as! [Output]) }
                if let error = outcome.failure { throw error }
                if slice.count < chunk { break }
            }
            return results
        }
        var results: [Output] = []
        if let count = source.knownCount { results.reserveCapacity(count) }
        // One scope binding for the whole call rather than one per task.
        try await ScopeStorage.$current.withValue(plan.taskScope) {
            _ = isolation  // keeps the closure on the caller's actor (see `next`)
            while let value = try await step(isolation: isolation) { results.append(value) }
        }
        return results
    }

    /// Runs the next task and returns its result alone: the tasks run one at a time as the
    /// consumer asks, as in joblib.
    package func nextBatch(isolation: isolated (any Actor)?) async throws -> [Output]? {
        try await next(isolation: isolation).map { [$0] }
    }

    /// Runs the next task and returns its result.
    package func next(isolation: isolated (any Actor)?) async throws -> Output? {
        try await ScopeStorage.$current.withValue(plan.taskScope) {
            // Capturing `isolation` keeps this closure on the caller's actor; a closure that does
            // not is nonisolated and would hop to the global executor and back for every task.
            _ = isolation
            return try await step(isolation: isolation)
        }
    }

    /// Takes and runs the next task; the caller has bound the tasks' scope.
    private func step(isolation: isolated (any Actor)?) async throws -> Output? {
        guard !finished else { return nil }
        do {
            if Task.isCancelled { throw CancellationError() }
            let next: Element?
            if case .fixed(let size) = plan.batchSize, size > 1 {
                // joblib takes a fixed batch's inputs before running any of them.
                if pending.isEmpty && !drained {
                    pending = source.take(size)
                    if pending.count < size { drained = true }
                }
                next = pending.popFirst()
            } else {
                next = drained ? nil : source.takeOne()
            }
            guard let element = next else {
                finish()
                return nil
            }
            counters.dispatchedBatches += 1
            counters.dispatchedTasks += 1
            // One task, straight through the kernel: no batch, no allocation, and no executor
            // hop (the kernel runs on this caller's executor).
            let value: Output
            do {
                value = try await kernel.runOne(element)
            } catch {
                if plan.verbose > 0 && !(error is CancellationError) {
                    reporter.emit("Task \(counters.dispatchedTasks - 1) failed: \(String(describing: error))")
                }
                throw error
            }
            counters.completedTasks += 1
            if reporter.isEnabled, let line = reporter.progressLine(counters, now: MonotonicClock.now()) {
                reporter.emit(line)
            }
            return value
        } catch {
            failed = true
            finished = true
            counters.aborting = true
            throw error
        }
    }

    private func runSlice(
        _ slice: ArraySlice<Element>, isolation: isolated (any Actor)? = #isolation
    ) async -> BatchOutcome {
        let run = kernel.run
        let progress = BatchProgress()
        let batch = TaskBatch(
            firstIndex: counters.dispatchedTasks - slice.count, count: slice.count, progress: progress,
            portable: nil, tracksEachTask: false, scope: plan.taskScope,
            runner: { progress, track in await run(slice, progress, track) })
        // The kernel checks one atomic flag between tasks; cancelling the calling task raises it,
        // so a cancelled call stops before its next task without a runtime call per task.
        return await withTaskCancellationHandler {
            await batch.run()
        } onCancel: {
            progress.requestAbort()
        }
    }

    private func finish() {
        finished = true
        counters.iterating = false
        if let line = reporter.progressLine(counters, now: MonotonicClock.now()) { reporter.emit(line) }
    }
}
