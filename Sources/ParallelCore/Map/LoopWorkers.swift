/// The workers a parallel loop runs on, as a call resolved them: how many participants, how the
/// batches are sized, the scope the items run under, and how to start one worker.
///
/// Built by the front end for an in-process backend whose workers are threads of this process;
/// the loop itself knows nothing of backends.
@usableFromInline
package struct LoopWorkers: Sendable {
    /// How many take part at once: the call's `nJobs`.
    @usableFromInline package let participants: Int
    private let fixedBatchSize: Int?
    private let scope: ScopeValues
    private let startWorker:
        @Sendable (_ work: @escaping @Sendable () -> Void, _ ended: @escaping @Sendable ((any Error)?) -> Void) -> Void

    /// - Parameters:
    ///   - participants: the call's worker count (2 or more).
    ///   - fixedBatchSize: the call's fixed `batchSize`, or `nil` for `.auto` (guided batch sizes).
    ///   - scope: the configuration scope the items run under (joblib's nesting rule applied).
    ///   - startWorker: runs `work` once on a worker of the backend, under `scope`, soon, then
    ///     calls `ended(nil)` once that worker holds nothing of the call any more (its thread
    ///     reservation given back); or calls `ended(error)` when it cannot start the worker (a
    ///     refused thread). Must not block.
    package init(
        participants: Int, fixedBatchSize: Int?, scope: ScopeValues,
        startWorker:
            @escaping @Sendable (
                _ work: @escaping @Sendable () -> Void, _ ended: @escaping @Sendable ((any Error)?) -> Void
            ) -> Void
    ) {
        self.participants = participants
        self.fixedBatchSize = fixedBatchSize
        self.scope = scope
        self.startWorker = startWorker
    }

    /// A loop over `0..<count` sized for these workers.
    @usableFromInline
    package func makeLoop(count: Int, recordsCompletedBatches: Bool) -> BatchedLoop {
        BatchedLoop(
            count: count, participants: participants, fixedBatchSize: fixedBatchSize,
            recordsCompletedBatches: recordsCompletedBatches)
    }

    /// Runs the loop with the calling thread as one participant, and blocks until it is finished.
    ///
    /// Starts `participants - 1` workers (fewer when there are fewer items), then works on batches
    /// here until none is left, then waits for the workers still inside a batch — at most about
    /// one batch's duration, since batches shrink towards the end. Safe on a thread of Swift's
    /// cooperative pool: the workers are dedicated threads, never that pool, so the wait cannot
    /// starve the threads it waits for.
    @usableFromInline
    package func runJoined(_ loop: BatchedLoop, count: Int, _ body: @escaping @Sendable (Range<Int>) -> BatchEnd) {
        let workers = min(participants, count) - 1
        loop.expectParticipants(workers + 1)
        for _ in 0..<workers {
            startWorker({ loop.participate(body) }, { if let refusal = $0 { loop.participantRefused(refusal) } })
        }
        ScopeStorage.$current.withValue(scope) { loop.participate(body) }
        loop.waitBlocking()
    }

    /// Runs the loop on `participants` workers (fewer when there are fewer items) and suspends
    /// until it is finished and every worker has ended: for a caller isolated to an actor, which
    /// must not be blocked, and for a small `callAsFunction`, whose return (as the engine's) means
    /// that the call holds no thread of the pool any more.
    @usableFromInline
    package nonisolated(nonsending) func runAwaiting(
        _ loop: BatchedLoop, count: Int, _ body: @escaping @Sendable (Range<Int>) -> BatchEnd
    ) async {
        let workers = min(participants, count)
        loop.expectParticipants(workers)
        let ends = WorkerEnds(workers)
        for _ in 0..<workers {
            startWorker(
                { loop.participate(body) },
                { refusal in
                    if let refusal { loop.participantRefused(refusal) }
                    ends.oneEnded()
                })
        }
        // Every worker ends after it left the loop (or was refused), so once all have ended the
        // loop is finished too: one suspension instead of two (a second wake-up of the caller).
        await ends.wait()
    }
}

/// The configuration scope a loop that runs in the calling task (nJobs resolved to 1) binds
/// around its items, so nested calls inside them see joblib's nesting rule.
@usableFromInline
package struct LoopScope: Sendable {
    private let scope: ScopeValues

    /// - Parameter scope: the scope the items run under.
    package init(_ scope: ScopeValues) { self.scope = scope }

    /// Runs `body` here with the scope bound.
    @usableFromInline
    package func run<T>(_ body: () throws -> T) rethrows -> T {
        try ScopeStorage.$current.withValue(scope, operation: body)
    }
}
