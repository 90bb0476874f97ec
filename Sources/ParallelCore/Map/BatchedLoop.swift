import Synchronization

/// One parallel loop over `0..<count`: its participants (worker threads, and the caller when it
/// joins) claim batches — runs of consecutive indices — and run a batch body on each until none
/// is left, an item throws, or the calling task is cancelled.
///
/// The loop is finished when every participant that entered it has left: a participant enters
/// (``participate(_:)`` counts it) *before* it claims, and leaves only once claims are exhausted
/// or the loop is stopped, so when the count of those inside drops to zero no batch is being
/// worked on and none will be. A worker that arrives after that finds nothing to claim and never
/// touches the results. This is what makes it safe for the caller to free or hand out the result
/// storage as soon as the loop is finished, even if some workers have not started yet.
///
/// A participant that was started but could not run (its thread was refused) is reported with
/// ``participantRefused(_:)``: it stops the loop with that error, and when no participant entered
/// at all, that report is what finishes the loop — a loop whose every worker was refused would
/// otherwise never finish. ``expectParticipants(_:)`` counts them in before they start.
///
/// - Concurrency: every member is an atomic or behind a lock; participants run on any thread.
@usableFromInline
package final class BatchedLoop: Sendable {
    private let claimer: BatchClaimer
    @usableFromInline let stopFlag = Atomic<Bool>(false)
    private let inside = Atomic<Int>(0)
    /// Participants counted in by ``expectParticipants(_:)`` that have neither entered nor been refused.
    private let notYetEntered = Atomic<Int>(0)
    private let completion = LoopCompletion()
    private let recordsCompletedBatches: Bool
    private let firstFailure = LockedValue<(any Error)?>(nil)
    private let completed = LockedValue<[Range<Int>]>([])

    /// - Parameters:
    ///   - count: the loop's indices are `0..<count`.
    ///   - participants: how many claim at once (sizes the guided batches).
    ///   - fixedBatchSize: a fixed batch size, or `nil` for guided sizes.
    ///   - recordsCompletedBatches: keep the index ranges of the batches that completed, to undo them after a failure.
    package init(count: Int, participants: Int, fixedBatchSize: Int?, recordsCompletedBatches: Bool) {
        claimer = BatchClaimer(count: count, participants: participants, fixedBatchSize: fixedBatchSize)
        self.recordsCompletedBatches = recordsCompletedBatches
    }

    /// Whether the loop was stopped (an item threw or the caller was cancelled); batch bodies
    /// check it between items.
    /// - Complexity: one relaxed atomic load.
    @inlinable
    package var isStopped: Bool { stopFlag.load(ordering: .relaxed) }

    /// The error that stopped the loop (the first one), if any.
    @usableFromInline
    package var failure: (any Error)? { firstFailure.withLock { $0 } }

    /// The index ranges of the batches that completed (only if the loop records them); read after the finish.
    @usableFromInline
    package var completedBatches: [Range<Int>] { completed.withLock { $0 } }

    /// Stops the loop with `error`, unless an earlier error already did; batches not yet claimed
    /// are never handed out, and running batches stop before their next item.
    @usableFromInline
    package func stop(_ error: any Error) {
        firstFailure.withLock { if $0 == nil { $0 = error } }
        stopFlag.store(true, ordering: .relaxed)
        claimer.close()
    }

    /// Counts in `count` participants about to be started (workers, and the caller when it joins),
    /// so that ``participantRefused(_:)`` can tell when none of them will come.
    @usableFromInline
    package func expectParticipants(_ count: Int) {
        notYetEntered.add(count, ordering: .sequentiallyConsistent)
    }

    /// A participant counted in by ``expectParticipants(_:)`` will never come (its thread was
    /// refused): the loop stops with `error`, and finishes now if nobody is inside and nobody else
    /// is still to come.
    @usableFromInline
    package func participantRefused(_ error: any Error) {
        stop(error)
        let stillToCome = notYetEntered.subtract(1, ordering: .sequentiallyConsistent).newValue
        // A participant enters (`inside` + 1) before it stops being expected, so reading 0 for
        // both means nobody is or will be inside.
        if stillToCome == 0 && inside.load(ordering: .sequentiallyConsistent) == 0 { completion.finish() }
    }

    /// Claims batches and runs `body` on each until none is left or the loop stops. Call it from
    /// each participant; the last to leave marks the loop finished.
    @usableFromInline
    package func participate(_ body: (Range<Int>) -> BatchEnd) {
        inside.add(1, ordering: .sequentiallyConsistent)
        notYetEntered.subtract(1, ordering: .sequentiallyConsistent)
        defer {
            if inside.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 { completion.finish() }
        }
        while !isStopped, let batch = claimer.claim() {
            switch body(batch) {
            case .completed:
                if recordsCompletedBatches { completed.withLock { $0.append(batch) } }
            case .stopped:
                return
            case .failed(let error):
                stop(error)
                return
            }
        }
    }

    /// Blocks this thread until the loop is finished (for a caller that took part in it).
    @usableFromInline
    package func waitBlocking() { completion.waitBlocking() }

    /// Suspends until the loop is finished (for a caller that only waits for it).
    @usableFromInline
    package nonisolated(nonsending) func wait() async { await completion.wait() }
}
