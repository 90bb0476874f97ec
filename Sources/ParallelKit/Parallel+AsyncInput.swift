import ParallelConfiguration
import ParallelCore

// Inputs that arrive over time: every entry point also takes an `AsyncSequence` of tasks or jobs,
// consumed lazily on the caller's isolation under the same pre-dispatch rule. Its length is
// unknown until it ends (progress totals are `nil` until then). An error the sequence throws ends
// the call with that error, in every mode: it is not a task's failure.

extension Parallel {
    /// Runs the tasks of an `AsyncSequence` and returns their results in submission order.
    /// - Throws: the first task error as itself, the sequence's own error, a ``ParallelError``,
    ///   or `CancellationError`.
    @inlinable
    public func callAsFunction<R, S: AsyncSequence>(
        _ tasks: S, isolation: isolated (any Actor)? = #isolation
    ) async throws -> [R] where S.Element == Delayed<R> {
        try await runList(TaskSource(async: tasks), makeDelayedKernel(R.self), isolation: isolation)
    }

    /// Runs the jobs of an `AsyncSequence` and returns their outputs in submission order.
    @inlinable
    public func callAsFunction<J: ParallelJob, S: AsyncSequence>(
        _ jobs: S, isolation: isolated (any Actor)? = #isolation
    ) async throws -> [J.Output] where S.Element == J {
        try await runList(TaskSource(async: jobs), makeJobKernel(J.self), isolation: isolation)
    }

    /// The results of an `AsyncSequence`'s tasks in submission order, each as soon as it and
    /// those before it are done.
    @inlinable
    public func generator<R, S: AsyncSequence>(
        _ tasks: S, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<R> where S.Element == Delayed<R> {
        makeResults(TaskSource(async: tasks), makeDelayedKernel(R.self), unordered: false)
    }

    /// The results of an `AsyncSequence`'s tasks in completion order.
    @inlinable
    public func generatorUnordered<R, S: AsyncSequence>(
        _ tasks: S, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<R> where S.Element == Delayed<R> {
        makeResults(TaskSource(async: tasks), makeDelayedKernel(R.self), unordered: true)
    }

    /// The outputs of an `AsyncSequence`'s jobs in submission order.
    @inlinable
    public func generator<J: ParallelJob, S: AsyncSequence>(
        _ jobs: S, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<J.Output> where S.Element == J {
        makeResults(TaskSource(async: jobs), makeJobKernel(J.self), unordered: false)
    }

    /// The outputs of an `AsyncSequence`'s jobs in completion order.
    @inlinable
    public func generatorUnordered<J: ParallelJob, S: AsyncSequence>(
        _ jobs: S, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<J.Output> where S.Element == J {
        makeResults(TaskSource(async: jobs), makeJobKernel(J.self), unordered: true)
    }

    /// Every fate of an `AsyncSequence`'s tasks, in submission order; see
    /// ``results(_:maxFailures:isolation:)-(S,_,_)``.
    @inlinable
    public func results<R, S: AsyncSequence>(
        _ tasks: S, maxFailures: Int? = nil, isolation: isolated (any Actor)? = #isolation
    ) async throws -> [Result<R, TaskFailure>] where S.Element == Delayed<R> {
        Self.fates(
            try await settledRuns(
                TaskSource(async: tasks), makeDelayedKernel(R.self), maxFailures: maxFailures, isolation: isolation))
    }

    /// Every fate of an `AsyncSequence`'s jobs, in submission order.
    @inlinable
    public func results<J: ParallelJob, S: AsyncSequence>(
        _ jobs: S, maxFailures: Int? = nil, isolation: isolated (any Actor)? = #isolation
    ) async throws -> [Result<J.Output, TaskFailure>] where S.Element == J {
        Self.fates(
            try await settledRuns(
                TaskSource(async: jobs), makeJobKernel(J.self), maxFailures: maxFailures, isolation: isolation))
    }

    /// Each fate of an `AsyncSequence`'s tasks in submission order, as soon as it is settled.
    @inlinable
    public func resultGenerator<R, S: AsyncSequence>(
        _ tasks: S, maxFailures: Int? = nil, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<Result<R, TaskFailure>> where S.Element == Delayed<R> {
        makeFateResults(TaskSource(async: tasks), makeDelayedKernel(R.self), maxFailures: maxFailures)
    }

    /// Each fate of an `AsyncSequence`'s jobs in submission order, as soon as it is settled.
    @inlinable
    public func resultGenerator<J: ParallelJob, S: AsyncSequence>(
        _ jobs: S, maxFailures: Int? = nil, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<Result<J.Output, TaskFailure>> where S.Element == J {
        makeFateResults(TaskSource(async: jobs), makeJobKernel(J.self), maxFailures: maxFailures)
    }

    /// Each fate of an `AsyncSequence`'s tasks with its index, in completion order.
    @inlinable
    public func resultGeneratorUnordered<R, S: AsyncSequence>(
        _ tasks: S, maxFailures: Int? = nil, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<IndexedResult<R>> where S.Element == Delayed<R> {
        makeIndexedFateResults(TaskSource(async: tasks), makeDelayedKernel(R.self), maxFailures: maxFailures)
    }

    /// Each fate of an `AsyncSequence`'s jobs with its index, in completion order.
    @inlinable
    public func resultGeneratorUnordered<J: ParallelJob, S: AsyncSequence>(
        _ jobs: S, maxFailures: Int? = nil, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<IndexedResult<J.Output>> where S.Element == J {
        makeIndexedFateResults(TaskSource(async: jobs), makeJobKernel(J.self), maxFailures: maxFailures)
    }

    /// `transform` over the inputs of an `AsyncSequence`, results in input order. The inputs are
    /// taken lazily as tasks of the general engine; the rules are those of `map` over a
    /// collection.
    @inlinable
    public func map<S: AsyncSequence, R: Sendable>(
        _ inputs: S, isolation: isolated (any Actor)? = #isolation,
        _ transform: @escaping @Sendable (S.Element) throws -> R
    ) async throws -> [R] where S.Element: Sendable {
        try await runList(TaskSource(async: inputs), makeMapKernel(transform), isolation: isolation)
    }

    /// An `async` `transform` over the inputs of an `AsyncSequence`, results in input order.
    @inlinable
    @_disfavoredOverload
    public func map<S: AsyncSequence, R: Sendable>(
        _ inputs: S, isolation: isolated (any Actor)? = #isolation,
        _ transform: @escaping @Sendable (S.Element) async throws -> R
    ) async throws -> [R] where S.Element: Sendable {
        try await runList(TaskSource(async: inputs), makeAsyncMapKernel(transform), isolation: isolation)
    }

    /// `body` on each input of an `AsyncSequence`.
    @inlinable
    public func forEach<S: AsyncSequence>(
        _ inputs: S, isolation: isolated (any Actor)? = #isolation,
        _ body: @escaping @Sendable (S.Element) throws -> Void
    ) async throws where S.Element: Sendable {
        _ = try await runList(TaskSource(async: inputs), makeMapKernel(body), isolation: isolation)
    }

    /// An `async` `body` on each input of an `AsyncSequence`.
    @inlinable
    @_disfavoredOverload
    public func forEach<S: AsyncSequence>(
        _ inputs: S, isolation: isolated (any Actor)? = #isolation,
        _ body: @escaping @Sendable (S.Element) async throws -> Void
    ) async throws where S.Element: Sendable {
        _ = try await runList(TaskSource(async: inputs), makeAsyncMapKernel(body), isolation: isolation)
    }
}
