import Synchronization

/// One batch of the state machine that several workers run at once, each claiming the next
/// *chunk* of `claimSize` tasks from a shared counter until none is left.
///
/// Why: with a small fixed batch size (joblib's `batch_size=1` habit on threads), a batch per
/// chunk costs the driver a batch's bookkeeping — objects, the machine's records, a completion
/// through the inbox — for every task or few tasks, and that bookkeeping, not the tasks, then
/// bounds the call. A shared batch covers many chunks: the machine and the driver see one batch,
/// while each worker still takes `claimSize` tasks at a time, which is what a batch size means to
/// a thread backend — how finely the work is balanced across the workers.
///
/// The driver submits one copy (a ``TaskBatch`` of its own, all sharing one ``BatchProgress``)
/// per worker; each copy's run claims chunks (``runClaims()``) until the batch is exhausted, a
/// task fails, or the engine asks it to stop. The copy that ends last assembles the batch's
/// outcome (``runEnded(_:)``), so the driver receives one completion, as for any batch.
///
/// Results: a chunk publishes into a view of the batch's slots (``LiveResults/init(viewing:capacity:)``),
/// and a chunk is all or nothing — the claimer that sees a task fail destroys what its chunk
/// wrote. A batch that succeeds publishes every slot at once; one that fails, stops, or is
/// dropped by an aborted call destroys the chunks that completed. Each output is destroyed
/// exactly once whatever happens.
///
/// Used only where nothing can tell a shared batch from many small ones: a throwing list call
/// over an input already in memory, in this process, with no timeout, retry, verbose output or
/// `maxFailures` (``ParallelCall`` decides). A progress display still counts per chunk: each
/// completed chunk adds its tasks to the shared ``BatchProgress``'s count, which the driver reads
/// while the batch runs.
///
/// - Complexity: per chunk, one atomic increment on a counter the workers share (two with a
///   progress display), a view object, and the kernel's call; per batch, one lock round trip per
///   copy.
/// - Concurrency: the counter hands each chunk to exactly one claimer, so the slots of a chunk have
///   one writer; the slots are read (published, moved or destroyed) only by the copy that ends
///   last — every copy's writes happen before its decrement of `runsLeft`, which that last copy
///   observes with acquiring ordering — or in `deinit`, when no copy can run any more. The
///   failure record is guarded by a lock.
package final class SharedBatch<Element: Sendable, Output: Sendable>: Sendable {
    /// The batch's tasks, in submission order.
    private let tasks: ArraySlice<Element>
    /// Tasks per chunk: the call's batch size.
    private let claimSize: Int
    /// How many chunks the batch holds (the last may be short).
    private let chunkCount: Int
    /// Every slot of the batch; chunks write into views of it.
    package let results: LiveResults<Output>
    /// The kernel's per-slice loop.
    private let run:
        nonisolated(nonsending) @Sendable (ArraySlice<Element>, BatchProgress, Bool, LiveResults<Output>) async ->
            BatchOutcome
    /// Shared by every copy: the engine's stop request reaches all claimers.
    private let progress: BatchProgress
    private let nextChunk = Atomic<Int>(0)
    /// Whether completed chunks are counted into `progress` (the call has a progress display).
    private let countsCompletedTasks: Bool
    /// Tasks of completed chunks, when counted.
    private let completedTasks = Atomic<Int>(0)
    /// Copies whose run has not ended.
    private let runsLeft: Atomic<Int>
    private let ending = LockedValue(Ending())

    private struct Ending: Sendable {
        /// The first failure, with the offset of its task in the batch; a failure the backend
        /// reported for a copy (a worker that could not start) may not be the task's.
        var failure: (offset: Int, error: any Error, isAttributed: Bool)?
        /// Chunks whose claimer stopped inside them and destroyed what they wrote.
        var undoneChunks: [Int] = []
        /// The slots were handed over or destroyed by ``runEnded(_:)``.
        var settled = false
    }

    /// A batch of `tasks` run by `copies` concurrent claimers, `claimSize` tasks at a time; with
    /// `countsCompletedTasks`, each completed chunk adds its tasks to `progress`'s completed count
    /// (for a progress display: how many, not which).
    package init(
        tasks: ArraySlice<Element>, claimSize: Int, copies: Int, progress: BatchProgress,
        countsCompletedTasks: Bool = false,
        run:
            nonisolated(nonsending) @escaping @Sendable (
                ArraySlice<Element>, BatchProgress, Bool, LiveResults<Output>
            ) async -> BatchOutcome
    ) {
        precondition(claimSize > 0 && copies > 0)
        self.tasks = tasks
        self.claimSize = claimSize
        self.chunkCount = (tasks.count + claimSize - 1) / claimSize
        self.results = LiveResults(capacity: tasks.count)
        self.run = run
        self.progress = progress
        self.countsCompletedTasks = countsCompletedTasks
        self.runsLeft = Atomic(copies)
    }

    deinit {
        // Dropped before the last copy ended (an aborted call discards queued copies): what the
        // claimers finished is destroyed here, once no claimer can run.
        let undone = ending.withLock { $0.settled ? nil : $0.undoneChunks }
        if let undone { destroyCompletedChunks(except: undone) }
    }

    /// How many chunks the batch holds.
    package var chunks: Int { chunkCount }

    /// Claims and runs chunks until none is left, a task fails, or the engine asks the batch to
    /// stop. Runs once per copy, on the copy's worker.
    package nonisolated(nonsending) func runClaims() async {
        let tasks = self.tasks
        let claimSize = self.claimSize
        let chunkCount = self.chunkCount
        let slots = results.slots
        let progress = self.progress
        while !progress.isAbortRequested {
            let chunk = nextChunk.wrappingAdd(1, ordering: .relaxed).oldValue
            guard chunk < chunkCount else { return }
            let start = chunk &* claimSize
            let count = min(claimSize, tasks.count &- start)
            let first = tasks.startIndex &+ start
            let view = LiveResults<Output>(viewing: slots + start, capacity: count)
            let outcome = await run(tasks[first..<(first &+ count)], progress, false, view)
            if let failure = outcome.failure {
                let offset = start &+ view.publishedCount
                view.discardPublished()
                ending.withLock { ending in
                    ending.undoneChunks.append(chunk)
                    if ending.failure == nil { ending.failure = (offset, failure, true) }
                }
                // The call fails with this task's error: the other claimers stop before their
                // next task, as the engine would stop them.
                progress.requestAbort()
                return
            }
            if countsCompletedTasks {
                // Counts only grow (a maximum), so two claimers' totals may arrive in any order.
                progress.markTasksCompleted(completedTasks.add(count, ordering: .relaxed).newValue)
            }
        }
    }

    /// Records that one copy's run ended with `outcome`, the backend's report of it. Returns the
    /// batch's outcome when it was the last: every output published on success; on a failure
    /// (or a stop before every chunk ran), the completed chunks destroyed and the failure
    /// reported at its task.
    ///
    /// A copy's own run always reports success (its failures are recorded as they happen), so a
    /// failure in `outcome` is the backend's: a copy it could not run, such as a worker thread the
    /// system refused. That fails the batch as it would fail a batch of its own.
    package func runEnded(_ outcome: BatchOutcome) -> BatchOutcome? {
        if let failure = outcome.failure {
            progress.requestAbort()
            ending.withLock { ending in
                if ending.failure == nil {
                    ending.failure = (outcome.completedCount, failure, outcome.isFailureAttributed)
                }
            }
        }
        guard runsLeft.subtract(1, ordering: .acquiringAndReleasing).newValue == 0 else { return nil }
        let (failure, undone) = ending.withLock { ending in
            ending.settled = true
            return (ending.failure, ending.undoneChunks)
        }
        if let failure {
            destroyCompletedChunks(except: undone)
            return BatchOutcome(
                failure: failure.error, completedCount: failure.offset, isFailureAttributed: failure.isAttributed)
        }
        guard nextChunk.load(ordering: .relaxed) >= chunkCount else {
            // Stopped from outside between chunks: like a batch stopped before its next task.
            destroyCompletedChunks(except: undone)
            return BatchOutcome(failure: CancellationError(), completedCount: 0)
        }
        results.markPublished(tasks.count)
        return BatchOutcome(publishedCount: tasks.count, failure: nil)
    }

    /// Destroys the outputs of every claimed chunk but `undone` (whose claimers destroyed theirs).
    private func destroyCompletedChunks(except undone: [Int]) {
        let claimed = min(nextChunk.load(ordering: .relaxed), chunkCount)
        for chunk in 0..<claimed where !undone.contains(chunk) {
            let start = chunk * claimSize
            (results.slots + start).deinitialize(count: min(claimSize, tasks.count - start))
        }
    }
}
