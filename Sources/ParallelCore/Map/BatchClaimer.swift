import Synchronization

/// Hands out the batches of one parallel loop over `0..<count` — runs of consecutive indices — to
/// its participants, from one atomic counter: no queue, no lock, one compare-and-swap per batch.
///
/// With a fixed batch size every batch has that size (the last may be shorter). Otherwise batches
/// are *guided*: each is the remaining count divided by four times the number of participants, so the
/// first batches are large (few claims for cheap items) and they shrink towards the end, down to a
/// single index, so participants finish within about one item of each other (balance for costly
/// items, and a participant that the scheduler pauses holds back at most a quarter of its share).
/// For n items and p participants that is about 4p·ln(n/4p) claims.
///
/// - Concurrency: safe from any thread. A claim that succeeds is ordered after every earlier claim
///   (acquire/release on the counter), which is what lets the loop decide it is finished.
package final class BatchClaimer: Sendable {
    /// The number of indices to hand out.
    package let count: Int
    private let fixedBatchSize: Int?
    private let divisor: Int
    private let next = Atomic<Int>(0)

    /// - Parameters:
    ///   - count: indices `0..<count`.
    ///   - participants: how many claim concurrently (guided sizing divides by four times this).
    ///   - fixedBatchSize: a fixed batch size (the call's `batchSize`), or `nil` for guided sizes.
    package init(count: Int, participants: Int, fixedBatchSize: Int?) {
        self.count = count
        self.fixedBatchSize = fixedBatchSize.map { max($0, 1) }
        self.divisor = 4 * max(participants, 1)
    }

    /// The next batch's index range, or `nil` once every index has been handed out (or after ``close()``).
    /// - Complexity: O(1); one atomic load and one compare-and-swap when uncontended.
    package func claim() -> Range<Int>? {
        var current = next.load(ordering: .acquiring)
        while current < count {
            let remaining = count - current
            let size = fixedBatchSize.map { min($0, remaining) } ?? max(1, remaining / divisor)
            let (exchanged, original) = next.compareExchange(
                expected: current, desired: current + size, ordering: .acquiringAndReleasing)
            if exchanged { return current..<(current + size) }
            current = original
        }
        return nil
    }

    /// Hands out nothing more (an error or cancellation stopped the loop). A read-modify-write, not
    /// a store, so a later claim that reads it is still ordered after every earlier claim.
    package func close() {
        _ = next.exchange(count, ordering: .acquiringAndReleasing)
    }
}
