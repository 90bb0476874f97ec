/// How a batch ended: the results of the tasks that completed (a prefix of the batch, in order)
/// and, if one failed, its error.
///
/// Backends get outcomes from ``TaskBatch/run()`` (in process) or build a failure with
/// ``init(failure:completedCount:)`` when they cannot report results (a crashed worker).
public struct BatchOutcome: Sendable {
    /// `[Output]` of the completed prefix, type-erased once per batch (not per task).
    @usableFromInline package let values: (any Sendable)?
    /// How many tasks at the start of the batch completed.
    public let completedCount: Int
    /// The error of the task at offset `completedCount`, if the batch did not complete.
    public let failure: (any Error)?

    /// An outcome with results.
    @inlinable
    package init<Output: Sendable>(values: [Output], failure: (any Error)?) {
        self.values = values
        self.completedCount = values.count
        self.failure = failure
    }

    /// A batch that failed without results, for example because its worker died.
    /// - Parameters:
    ///   - failure: what went wrong; it is rethrown to the caller as is.
    ///   - completedCount: ignored for results (none are kept); recorded to name the failing task.
    public init(failure: any Error, completedCount: Int = 0) {
        self.values = nil
        self.completedCount = completedCount
        self.failure = failure
    }

    /// Whether every task of the batch completed.
    public var succeeded: Bool { failure == nil }
}
