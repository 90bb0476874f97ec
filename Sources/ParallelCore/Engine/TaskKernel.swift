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
/// Synchronous tasks run in place, read from the batch's buffer through ``BorrowedDelayedWork``:
/// a plain call of the borrowed closure, with no retain and release of its context (which is most
/// of the cost of a trivial task otherwise). An asynchronous task ends that loop, is awaited
/// outside the buffer's scope, and the loop resumes after it.
///
/// - Complexity: per synchronous task, one relaxed atomic load, the call, one store and one
///   releasing atomic store.
@inlinable
package nonisolated(nonsending) func runDelayed<Output: Sendable>(
    _ slice: ArraySlice<Delayed<Output>>, progress: BatchProgress, tracksEachTask: Bool,
    into results: LiveResults<Output>
) async -> BatchOutcome {
    guard borrowedDelayedWorkMatchesLayout(Output.self) else {
        return await runEach(slice, progress: progress, tracksEachTask: tracksEachTask, into: results) {
            try await $0.run()
        }
    }
    if !tracksEachTask { progress.markBatchStarted() }
    var offset = 0
    while true {
        let stop = runSynchronousDelayed(
            slice, from: offset, progress: progress, tracksEachTask: tracksEachTask, into: results)
        switch stop {
        case .ended(let outcome):
            return outcome
        case .asynchronousTask(let at):
            offset = at
        }
        // The task at `offset` is asynchronous: run it here, where awaiting is allowed.
        if tracksEachTask { progress.markTaskStarted(offset: offset) }
        do {
            results.publish(try await slice[slice.startIndex + offset].run(), at: offset)
        } catch {
            return BatchOutcome(publishedCount: offset, failure: error)
        }
        offset &+= 1
    }
}

/// Where ``runSynchronousDelayed(_:from:progress:tracksEachTask:into:)`` stopped.
@usableFromInline
enum SynchronousDelayedStop {
    /// The batch ended: every task ran, one threw, or the engine asked it to stop.
    case ended(BatchOutcome)
    /// The task at this offset is asynchronous; every task before it ran.
    case asynchronousTask(at: Int)
}

/// Runs the batch's synchronous tasks from `start` on, borrowed in place, until the batch ends or
/// an asynchronous task comes next.
@inlinable
func runSynchronousDelayed<Output: Sendable>(
    _ slice: ArraySlice<Delayed<Output>>, from start: Int, progress: BatchProgress, tracksEachTask: Bool,
    into results: LiveResults<Output>
) -> SynchronousDelayedStop {
    slice.withUnsafeBufferPointer { tasks in
        tasks.withMemoryRebound(to: BorrowedDelayedWork<Output>.self) { views in
            var offset = start
            while offset < views.count {
                if progress.isAbortRequested {
                    return .ended(BatchOutcome(publishedCount: offset, failure: CancellationError()))
                }
                switch views[offset] {
                case .asynchronous:
                    return .asynchronousTask(at: offset)
                case .synchronous(let body):
                    if tracksEachTask { progress.markTaskStarted(offset: offset) }
                    do {
                        results.publish(try body(), at: offset)
                    } catch {
                        return .ended(BatchOutcome(publishedCount: offset, failure: error))
                    }
                }
                offset &+= 1
            }
            return .ended(BatchOutcome(publishedCount: offset, failure: nil))
        }
    }
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
