/// How a batch ended: the results of the tasks that completed (a prefix of the batch, in order)
/// and, if one failed, its error.
///
/// Backends get outcomes from ``TaskBatch/run()`` (in process) or build a failure with
/// ``init(failure:completedCount:isFailureAttributed:)`` when they cannot report results (a crashed worker).
public struct BatchOutcome: Sendable {
    /// `[Output]` of the completed prefix, type-erased once per batch (not per task).
    @usableFromInline package let values: (any Sendable)?
    /// How many tasks at the start of the batch completed.
    public let completedCount: Int
    /// The error of the task at offset `completedCount`, if the batch did not complete.
    public let failure: (any Error)?
    /// Whether ``failure`` belongs to the task at offset ``completedCount``. `false` for a worker
    /// that died while the backend could not tell which task it ran: the engine then re-runs the
    /// batch in halves until one task crashes alone, and never blames a bystander.
    public let isFailureAttributed: Bool
    /// Whether the completed prefix's outputs were written in place into the batch's
    /// `LiveResults` by an in-process runner (``values`` is then `nil`).
    @usableFromInline package let resultsArePublished: Bool

    /// An outcome with results.
    @inlinable
    package init<Output: Sendable>(values: [Output], failure: (any Error)?) {
        self.values = values
        self.completedCount = values.count
        self.failure = failure
        self.isFailureAttributed = true
        self.resultsArePublished = false
    }

    /// An outcome whose `completedCount` outputs an in-process runner published in place.
    @inlinable
    package init(publishedCount: Int, failure: (any Error)?) {
        self.values = nil
        self.completedCount = publishedCount
        self.failure = failure
        self.isFailureAttributed = true
        self.resultsArePublished = true
    }

    /// A batch that failed without results, for example because its worker died.
    ///
    /// The tasks before `completedCount` lost their results and run again; so do the tasks after
    /// it. The task at `completedCount` is the one that failed.
    /// - Parameters:
    ///   - failure: what went wrong; it is rethrown to the caller as is (or retried).
    ///   - completedCount: the offset of the task that failed within the batch.
    ///   - isFailureAttributed: `false` when the backend cannot tell which task was running
    ///     (the engine then bisects the batch to find it).
    public init(failure: any Error, completedCount: Int = 0, isFailureAttributed: Bool = true) {
        self.values = nil
        self.completedCount = completedCount
        self.failure = failure
        self.isFailureAttributed = isFailureAttributed
        self.resultsArePublished = false
    }

    /// Whether every task of the batch completed.
    public var succeeded: Bool { failure == nil }
}
