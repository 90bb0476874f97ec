/// The per-task loop of a call, built where the task type is concrete.
///
/// The closures are `nonisolated(nonsending)`: they run on the executor of whoever calls them (the
/// caller's actor on the one-worker path, a pool thread in a lane), so running a batch never hops
/// executors; a plain `async` closure called from the main actor costs a round trip to the global
/// executor, about 18 µs here.
///
/// `Parallel`'s entry points are `@inlinable`, so the closures made here are compiled in the
/// caller's module, specialised for its task and output types: running a task is a direct call
/// and storing its result a plain store, with no generic witness calls per task. Everything the
/// engine does per *batch* stays unspecialised in the library.
@usableFromInline
package struct TaskKernel<Element: Sendable, Output: Sendable>: Sendable {
    /// Runs a slice of tasks in order; see ``runEach(_:progress:tracksEachTask:_:)``.
    @usableFromInline package let run:
        nonisolated(nonsending) @Sendable (ArraySlice<Element>, BatchProgress, Bool) async -> BatchOutcome
    /// Packs a slice for a worker process; `nil` when the tasks cannot leave this process.
    @usableFromInline package let portable: (@Sendable (ArraySlice<Element>) -> PortableBatch)?
    /// The job type, for tasks that are ``ParallelJob``s.
    @usableFromInline package let jobType: (any ParallelJob.Type)?
    /// Runs one task: the one-worker path's per-task step, with no batch around it.
    @usableFromInline package let runOne: nonisolated(nonsending) @Sendable (Element) async throws -> Output

    @inlinable
    package init(
        run:
            nonisolated(nonsending) @escaping @Sendable (ArraySlice<Element>, BatchProgress, Bool) async -> BatchOutcome,
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
        run: { slice, progress, track in
            await runDelayed(slice, progress: progress, tracksEachTask: track)
        },
        runOne: { try await $0.run() },
        portable: nil)
}

/// The kernel for ``ParallelJob``s: runnable here, and portable to worker processes.
@inlinable
package func makeJobKernel<Job: ParallelJob>(_: Job.Type) -> TaskKernel<Job, Job.Output> {
    TaskKernel(
        run: { slice, progress, track in
            await runEach(slice, progress: progress, tracksEachTask: track) { try await $0.run() }
        },
        runOne: { try await $0.run() },
        portable: { slice in PortableBatch(jobs: Array(slice)) },
        jobType: Job.self)
}

/// Runs ``Delayed`` tasks in order until one throws or the engine asks the batch to stop.
///
/// Written out rather than shared with ``runEach(_:progress:tracksEachTask:_:)`` so that a
/// synchronous task is a plain call: going through an `async` closure parameter costs about
/// 40 ns per task here, several times the work of a trivial task.
@inlinable
package nonisolated(nonsending) func runDelayed<Output: Sendable>(
    _ slice: ArraySlice<Delayed<Output>>, progress: BatchProgress, tracksEachTask: Bool
) async -> BatchOutcome {
    var results = [Output]()
    results.reserveCapacity(slice.count)
    if !tracksEachTask { progress.markBatchStarted() }
    var offset = 0
    for task in slice {
        if progress.isAbortRequested {
            return BatchOutcome(values: results, failure: CancellationError())
        }
        if tracksEachTask { progress.markTaskStarted(offset: offset) }
        do {
            switch task.work {
            case .synchronous(let body): results.append(try body())
            case .asynchronous(let body): results.append(try await body())
            }
        } catch {
            return BatchOutcome(values: results, failure: error)
        }
        offset &+= 1
    }
    return BatchOutcome(values: results, failure: nil)
}

/// Runs tasks in order until one throws or the engine asks the batch to stop.
///
/// - Complexity: per task, one relaxed atomic load, the task itself and one array append; with
///   `tracksEachTask` (the call has a timeout) also one clock read and three atomic stores.
@inlinable
package nonisolated(nonsending) func runEach<Element, Output: Sendable>(
    _ slice: ArraySlice<Element>, progress: BatchProgress, tracksEachTask: Bool,
    _ body: nonisolated(nonsending) (Element) async throws -> Output
) async -> BatchOutcome {
    var results = [Output]()
    results.reserveCapacity(slice.count)
    if !tracksEachTask { progress.markBatchStarted() }
    var offset = 0
    for element in slice {
        if progress.isAbortRequested {
            return BatchOutcome(values: results, failure: CancellationError())
        }
        if tracksEachTask { progress.markTaskStarted(offset: offset) }
        do {
            results.append(try await body(element))
        } catch {
            return BatchOutcome(values: results, failure: error)
        }
        offset &+= 1
    }
    return BatchOutcome(values: results, failure: nil)
}
