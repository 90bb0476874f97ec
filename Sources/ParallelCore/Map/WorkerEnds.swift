import Synchronization

/// Counts down the workers of a loop as they end, for a caller that returns only once none of
/// them holds anything of the call.
///
/// - Concurrency: the count is an atomic; the wait is a ``LoopCompletion``.
@usableFromInline
package final class WorkerEnds: Sendable {
    private let remaining: Atomic<Int>
    private let allEnded = LoopCompletion()

    @usableFromInline
    package init(_ count: Int) {
        remaining = Atomic(count)
        if count == 0 { allEnded.finish() }
    }

    /// One worker ended; the last one wakes the waiter.
    @usableFromInline
    package func oneEnded() {
        if remaining.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 { allEnded.finish() }
    }

    /// Suspends until every worker has ended.
    @usableFromInline
    package nonisolated(nonsending) func wait() async { await allEnded.wait() }
}
