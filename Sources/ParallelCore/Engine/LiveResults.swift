import Synchronization

/// The result slots of one batch that runs in this process: the runner writes each task's output
/// in place as the task completes and publishes how many are done; the driver reads the finished
/// prefix while the batch still runs (for a generator's consumer or a progress display) and
/// moves the rest out once the batch has ended.
///
/// This is what makes results visible per task rather than per batch, at the cost of one store
/// and one releasing atomic store per task, with no lock.
///
/// - Concurrency: one writer (the batch's runner, on a backend's thread) and one reader (the
///   driver, on the caller's isolation). A slot is written once, before the published count
///   passes it (a releasing store); the reader copies only slots below a count it loaded with
///   acquiring ordering, so it never reads a slot being written. Slots are moved out only after
///   the batch's completion reached the driver through the ``CompletionInbox`` (whose lock orders
///   the writer's last store before the read), or never, for an abandoned batch. That protocol is
///   what makes the `@unchecked Sendable` sound; the reader-side fields are touched by the reader
///   only.
///
/// A *view* (``init(viewing:capacity:)``) is one claimed chunk of a ``SharedBatch``'s slots: the
/// kernel that runs the chunk publishes into it exactly as into a batch of its own, and the
/// shared batch, which owns the slots, decides what becomes of them.
@usableFromInline
package final class LiveResults<Output>: @unchecked Sendable {
    @usableFromInline let slots: UnsafeMutablePointer<Output>
    @usableFromInline let capacity: Int
    @usableFromInline let published = Atomic<Int>(0)
    /// Slots moved out by ``moveOut(_:)`` (reader only): they are no longer initialised.
    private var moved: Range<Int> = 0..<0
    /// Whether the slots were allocated here (and are freed here), or belong to a shared batch.
    private let ownsSlots: Bool

    /// Slots for a batch of `capacity` tasks.
    package init(capacity: Int) {
        self.capacity = capacity
        self.slots = .allocate(capacity: max(capacity, 1))
        self.ownsSlots = true
    }

    /// A view of `capacity` slots owned by someone else: its published outputs are neither
    /// destroyed nor freed here (``discardPublished()`` destroys them on request).
    package init(viewing slots: UnsafeMutablePointer<Output>, capacity: Int) {
        self.capacity = capacity
        self.slots = slots
        self.ownsSlots = false
    }

    deinit {
        guard ownsSlots else { return }
        let count = published.load(ordering: .acquiring)
        if moved.isEmpty {
            slots.deinitialize(count: count)
        } else {
            slots.deinitialize(count: moved.lowerBound)
            if count > moved.upperBound {
                (slots + moved.upperBound).deinitialize(count: count - moved.upperBound)
            }
        }
        slots.deallocate()
    }

    /// Writes the output of the task at `offset` (which must be the number published so far) and
    /// publishes it.
    /// - Complexity: O(1): one store and one releasing atomic store.
    @inlinable
    package func publish(_ value: consuming Output, at offset: Int) {
        precondition(offset < capacity, "a batch published more results than it has tasks")
        (slots + offset).initialize(to: value)
        published.store(offset &+ 1, ordering: .releasing)
    }

    /// How many tasks at the start of the batch have published their output.
    package var publishedCount: Int { published.load(ordering: .acquiring) }

    /// Copies of the published outputs from `start` on (the batch may still be running).
    /// - Complexity: O(number copied).
    package func copyPublished(from start: Int) -> [Output] {
        let end = published.load(ordering: .acquiring)
        guard end > start else { return [] }
        return Array(UnsafeBufferPointer(start: slots + start, count: end - start))
    }

    /// Destroys the published outputs and publishes none (the writer, once it stopped writing).
    package func discardPublished() {
        slots.deinitialize(count: published.load(ordering: .relaxed))
        published.store(0, ordering: .relaxed)
    }

    /// Publishes the first `count` slots, which the caller initialised by other means (the
    /// claimers of a ``SharedBatch``, whose end orders their writes before this).
    package func markPublished(_ count: Int) {
        precondition(count <= capacity && published.load(ordering: .relaxed) == 0)
        published.store(count, ordering: .releasing)
    }

    /// Moves the outputs `range` out; only once the batch has ended, and only once.
    /// - Complexity: O(range.count), with no copy of the outputs' storage.
    package func moveOut(_ range: Range<Int>) -> [Output] {
        precondition(moved.isEmpty && range.upperBound <= published.load(ordering: .acquiring))
        guard !range.isEmpty else { return [] }
        moved = range
        return [Output](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            buffer.baseAddress!.moveInitialize(from: slots + range.lowerBound, count: range.count)
            initialized = range.count
        }
    }
}
