/// A contiguous run of tasks the engine hands to a backend, in submission order.
///
/// In-process backends call ``run()``, which runs the tasks in order on the current executor
/// under the batch's configuration scope, stops at the first error, and checks the abort flag
/// between tasks. Out-of-process backends send ``portable`` (present for ``ParallelJob`` tasks)
/// with `scope` to a worker.
///
/// A class, not a struct, though nothing in it changes: a batch is handed from the engine to the
/// backend's queue to a worker and back in the completion, and copying a reference is one retain
/// where copying the fields (the configuration scope alone holds several strings) was many.
/// - Concurrency: immutable; safe to share across threads.
public final class TaskBatch: Sendable {
    /// The submission index of the first task.
    public let firstIndex: Int
    /// How many tasks the batch holds.
    public let count: Int
    /// Live stamps the runner updates and the engine reads.
    public let progress: BatchProgress
    /// The jobs in a form that can cross a process boundary, when the tasks are ``ParallelJob``s.
    public let portable: PortableBatch?
    /// Whether the runner must stamp every task's start (the call has a timeout).
    public let tracksEachTask: Bool
    /// The configuration scope the tasks run under, with joblib's nesting rule applied.
    package let scope: ScopeValues
    private let runner: nonisolated(nonsending) @Sendable (BatchProgress, Bool) async -> BatchOutcome

    package init(
        firstIndex: Int, count: Int, progress: BatchProgress, portable: PortableBatch?,
        tracksEachTask: Bool, scope: ScopeValues,
        runner: nonisolated(nonsending) @escaping @Sendable (BatchProgress, Bool) async -> BatchOutcome
    ) {
        self.firstIndex = firstIndex
        self.count = count
        self.progress = progress
        self.portable = portable
        self.tracksEachTask = tracksEachTask
        self.scope = scope
        self.runner = runner
    }

    /// The submission indices of the batch's tasks.
    public var indices: Range<Int> { firstIndex..<(firstIndex + count) }

    /// Runs the tasks here, in order, under the batch's configuration scope.
    ///
    /// Stops at the first task that throws (its error is in the outcome) or when the engine
    /// aborts the call (the outcome then holds a `CancellationError`).
    /// - Complexity: the tasks' own cost plus a few nanoseconds per task.
    /// - Concurrency: runs on the caller's executor (`nonisolated(nonsending)`): a backend's
    ///   thread, or the calling actor on the one-worker path.
    public nonisolated(nonsending) func run() async -> BatchOutcome {
        let outcome = await ScopeStorage.$current.withValue(scope) {
            await runner(progress, tracksEachTask)
        }
        progress.markFinished()
        return outcome
    }
}
