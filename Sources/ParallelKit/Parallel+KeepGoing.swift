import ParallelConfiguration
import ParallelCore

// The results modes: every task's fate as a value, so a long run is never all-or-nothing.

extension Parallel {
    /// Runs the tasks and returns every task's fate in submission order: its output, or a
    /// ``TaskFailure`` saying how it failed (its own error, `.timeout`, `.workerCrashed`,
    /// `.remoteTaskFailed`, or `.notRun`).
    ///
    /// A task's failure never ends the call: the other tasks run and keep their results. A crash
    /// of a worker process fails only the task that caused it (its batch-mates run again on a
    /// fresh worker); a task past the `timeout` fails alone (a stuck worker process is killed and
    /// replaced; a blocked thread is abandoned and replaced). The call's ``RetryPolicy`` applies
    /// before a failure counts.
    ///
    /// ```swift
    /// let fates = try await Parallel(nJobs: 4, backend: "process").results(jobs)
    /// let failed = fates.indices.filter { if case .failure = fates[$0] { true } else { false } }
    /// ```
    ///
    /// - Parameters:
    ///   - tasks: the tasks, consumed lazily on the caller's isolation.
    ///   - maxFailures: after this many final failures no new task starts; the tasks not started
    ///     are `.notRun` failures with 0 attempts, and tasks already running finish and keep their
    ///     results. `nil`: no limit.
    ///   - isolation: where the input is consumed and the call is driven: the caller's, by default.
    /// - Throws: only ``ParallelError`` for bad arguments (before any input is taken) and
    ///   `CancellationError`.
    @inlinable
    public func results<R, S: Sequence>(
        _ tasks: S, maxFailures: Int? = nil, isolation: isolated (any Actor)? = #isolation
    ) async throws -> [Result<R, TaskFailure>] where S.Element == Delayed<R> {
        Self.fates(
            try await settledRuns(
                TaskSource(tasks), makeDelayedKernel(R.self), maxFailures: maxFailures, isolation: isolation))
    }

    /// Runs the jobs and returns every job's fate in submission order; see
    /// ``results(_:maxFailures:isolation:)-(S,_,_)``. Jobs run on every backend, worker
    /// processes included.
    @inlinable
    public func results<J: ParallelJob, S: Sequence>(
        _ jobs: S, maxFailures: Int? = nil, isolation: isolated (any Actor)? = #isolation
    ) async throws -> [Result<J.Output, TaskFailure>] where S.Element == J {
        Self.fates(
            try await settledRuns(
                TaskSource(jobs), makeJobKernel(J.self), maxFailures: maxFailures, isolation: isolation))
    }

    /// Each task's fate in submission order, as soon as it and those before it are settled.
    /// Iteration throws only for bad arguments and cancellation. Nothing starts before the first
    /// `next()`.
    @inlinable
    public func resultGenerator<R, S: Sequence>(
        _ tasks: S, maxFailures: Int? = nil, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<Result<R, TaskFailure>> where S.Element == Delayed<R> {
        makeFateResults(TaskSource(tasks), makeDelayedKernel(R.self), maxFailures: maxFailures)
    }

    /// Each job's fate in submission order, as soon as it and those before it are settled.
    @inlinable
    public func resultGenerator<J: ParallelJob, S: Sequence>(
        _ jobs: S, maxFailures: Int? = nil, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<Result<J.Output, TaskFailure>> where S.Element == J {
        makeFateResults(TaskSource(jobs), makeJobKernel(J.self), maxFailures: maxFailures)
    }

    /// Each task's fate with its index, in completion order. Iteration throws only for bad
    /// arguments and cancellation.
    @inlinable
    public func resultGeneratorUnordered<R, S: Sequence>(
        _ tasks: S, maxFailures: Int? = nil, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<IndexedResult<R>> where S.Element == Delayed<R> {
        makeIndexedFateResults(TaskSource(tasks), makeDelayedKernel(R.self), maxFailures: maxFailures)
    }

    /// Each job's fate with its index, in completion order.
    @inlinable
    public func resultGeneratorUnordered<J: ParallelJob, S: Sequence>(
        _ jobs: S, maxFailures: Int? = nil, isolation: isolated (any Actor)? = #isolation
    ) -> ParallelResults<IndexedResult<J.Output>> where S.Element == J {
        makeIndexedFateResults(TaskSource(jobs), makeJobKernel(J.self), maxFailures: maxFailures)
    }

    // MARK: - The unspecialised part

    /// Runs the call and returns its settled runs in submission order.
    @usableFromInline
    func settledRuns<Element: Sendable, Output: Sendable>(
        _ source: TaskSource<Element>, _ kernel: TaskKernel<Element, Output>, maxFailures: Int?,
        isolation: isolated (any Actor)?
    ) async throws -> [SettledRun<Output>] {
        let started = try await beginCall(arguments, source, kernel, mode: .fatesAtEnd(maxFailures: maxFailures))
        var runs: [SettledRun<Output>] = []
        while let next = try await started.runs.nextRun(isolation: isolation) { runs.append(next.run) }
        return runs
    }

    /// Flattens settled runs into one fate per task. Inlined where `results` is called, so the
    /// per-task wrapping is specialised for the output type.
    @inlinable
    static func fates<Output>(_ runs: [SettledRun<Output>]) -> [Result<Output, TaskFailure>] {
        var total = 0
        for run in runs { total &+= run.count }
        var fates: [Result<Output, TaskFailure>] = []
        fates.reserveCapacity(total)
        for run in runs {
            switch run {
            case .succeeded(let values): for value in values { fates.append(.success(value)) }
            case .failed(let failure): fates.append(.failure(failure))
            }
        }
        return fates
    }

    @usableFromInline
    func makeFateResults<Element: Sendable, Output: Sendable>(
        _ source: TaskSource<Element>, _ kernel: TaskKernel<Element, Output>, maxFailures: Int?
    ) -> ParallelResults<Result<Output, TaskFailure>> {
        ParallelResults(
            starter: CallStarter(arguments: arguments, mode: .fates(maxFailures: maxFailures)) {
                FateResults(try await beginCall($0, source, kernel, mode: $1).runs)
            })
    }

    @usableFromInline
    func makeIndexedFateResults<Element: Sendable, Output: Sendable>(
        _ source: TaskSource<Element>, _ kernel: TaskKernel<Element, Output>, maxFailures: Int?
    ) -> ParallelResults<IndexedResult<Output>> {
        ParallelResults(
            starter: CallStarter(arguments: arguments, mode: .indexedFates(maxFailures: maxFailures)) {
                IndexedFateResults(try await beginCall($0, source, kernel, mode: $1).runs)
            })
    }
}
