/// The per-task loop of a call, built where the task type is concrete.
///
/// The closures are `nonisolated(nonsending)`: they run on the executor of whoever calls them (the
/// caller's actor on the one-worker path, a pool thread of a worker), so running a batch never
/// hops executors; a plain `async` closure called from the main actor would cost a round trip to
/// the global executor, a thread wake-up (figures in Benchmarks/RESULTS.md).
///
/// `Parallel`'s entry points are `@inlinable`, so the closures made here are compiled in the
/// caller's module, specialised for its task and output types: running a task is a direct call
/// and storing its result a plain store, with no generic witness calls per task. Everything the
/// engine does per *batch* stays unspecialised in the library.
@usableFromInline
package struct TaskKernel<Element: Sendable, Output: Sendable>: Sendable {
    /// Runs a slice of tasks in order, publishing each output into the batch's slots; see
    /// ``runEach(_:progress:tracksEachTask:into:_:)``.
    @usableFromInline package let run:
        nonisolated(nonsending) @Sendable (ArraySlice<Element>, BatchProgress, Bool, LiveResults<Output>) async ->
            BatchOutcome
    /// Packs a slice for a worker process; `nil` when the tasks cannot leave this process.
    @usableFromInline package let portable: (@Sendable (ArraySlice<Element>) -> PortableBatch)?
    /// The job type, for tasks that are ``ParallelJob``s.
    @usableFromInline package let jobType: (any ParallelJob.Type)?
    /// Runs one task: the one-worker path's per-task step, with no batch around it.
    @usableFromInline package let runOne: nonisolated(nonsending) @Sendable (Element) async throws -> Output

    @inlinable
    package init(
        run:
            nonisolated(nonsending) @escaping @Sendable (
                ArraySlice<Element>, BatchProgress, Bool, LiveResults<Output>
            ) async -> BatchOutcome,
        runOne: nonisolated(nonsending) @escaping @Sendable (Element) async throws -> Output,
        portable: (@Sendable (ArraySlice<Element>) -> PortableBatch)?,
        jobType: (any ParallelJob.Type)? = nil
    ) {
        self.run = run
        self.runOne = runOne
        self.portable = portable
        self.jobType = jobType
    }
}

/// The kernel for ``Delayed`` tasks: in-process only.
@inlinable
package func makeDelayedKernel<Output: Sendable>(_: Output.Type) -> TaskKernel<Delayed<Output>, Output> {
    TaskKernel(
        run: { slice, progress, track, results in
            await runDelayed(slice, progress: progress, tracksEachTask: track, into: results)
        },
        runOne: { try await $0.run() },
        portable: nil)
}

/// The kernel for ``ParallelJob``s: runnable here, and portable to worker processes.
@inlinable
package func makeJobKernel<Job: ParallelJob>(_: Job.Type) -> TaskKernel<Job, Job.Output> {
    TaskKernel(
        run: { slice, progress, track, results in
            await runEach(slice, progress: progress, tracksEachTask: track, into: results) { try await $0.run() }
        },
        runOne: { try await $0.run() },
        portable: { slice in PortableBatch(jobs: Array(slice)) },
        jobType: Job.self)
}

/// Runs ``Delayed`` tasks in order until one throws or the engine asks the batch to stop, writing
/// each output into `results` as it completes.
///
/// Written out rather than shared with ``runEach(_:progress:tracksEachTask:into:_:)`` so that a
/// synchronous task is a plain call: going through an `async` closure parameter costs several
/// times the work of a trivial task. Each task's closure is still retained and released around
/// its call (reading it through the slice's buffer in place does not avoid that: the compiler
/// cannot prove the closure outlives an opaque call); that pair is most of the per-task cost of
/// a trivial task, which is why `map` exists.
@inlinable
package nonisolated(nonsending) func runDelayed<Output: Sendable>(
    _ slice: ArraySlice<Delayed<Output>>, progress: BatchProgress, tracksEachTask: Bool,
    into results: LiveResults<Output>
) async -> BatchOutcome {
    if !tracksEachTask { progress.markBatchStarted() }
    var offset = 0
    for task in slice {
        if progress.isAbortRequested {
            return BatchOutcome(publishedCount: offset, failure: CancellationError())
        }
        if tracksEachTask { progress.markTaskStarted(offset: offset) }
        do {
            switch task.work {
            case .synchronous(let body): results.publish(try body(), at: offset)
            case .asynchronous(let body): results.publish(try await body(), at: offset)
            }
        } catch {
            return BatchOutcome(publishedCount: offset, failure: error)
        }
        offset &+= 1
    }
    return BatchOutcome(publishedCount: offset, failure: nil)
}

/// Runs tasks in order until one throws or the engine asks the batch to stop, writing each output
/// into `results` as it completes.
///
/// - Complexity: per task, one relaxed atomic load, the task itself, one store and one releasing
///   atomic store; with `tracksEachTask` (the call has a timeout) also one clock read and three
///   atomic stores.
@inlinable
package nonisolated(nonsending) func runEach<Element, Output: Sendable>(
    _ slice: ArraySlice<Element>, progress: BatchProgress, tracksEachTask: Bool, into results: LiveResults<Output>,
    _ body: nonisolated(nonsending) (Element) async throws -> Output
) async -> BatchOutcome {
    if !tracksEachTask { progress.markBatchStarted() }
    var offset = 0
    for element in slice {
        if progress.isAbortRequested {
            return BatchOutcome(publishedCount: offset, failure: CancellationError())
        }
        if tracksEachTask { progress.markTaskStarted(offset: offset) }
        do {
            results.publish(try await body(element), at: offset)
        } catch {
            return BatchOutcome(publishedCount: offset, failure: error)
        }
        offset &+= 1
    }
    return BatchOutcome(publishedCount: offset, failure: nil)
}
