import Synchronization

/// A flag that cancellation raises and a loop in the calling task checks between items: one
/// relaxed atomic load per item instead of a runtime call to `Task.isCancelled`.
///
/// - Concurrency: an atomic; raised from the cancelling thread, read by the loop.
@usableFromInline
package final class StopFlag: Sendable {
    @usableFromInline let raised = Atomic<Bool>(false)

    /// A flag that is not raised.
    @inlinable
    package init() {}

    /// Whether the flag was raised.
    @inlinable
    package var isRaised: Bool { raised.load(ordering: .relaxed) }

    /// Raises the flag.
    @inlinable
    package func raise() { raised.store(true, ordering: .relaxed) }
}
