import ParallelCore

// A batch on its way to a worker: the encoded request, and how to report its end. Built on the
// submitting thread (encoding happens there, off the I/O thread), then owned by the pool.

/// How a batch ended, as the pool sees it; the call turns it into a `BatchOutcome`.
enum BatchReply: Sendable {
    /// The body of a `.batchResult` frame (results after `BatchResultHeader`).
    case finished(ByteStorage)
    /// A task threw.
    case failed(BatchFailureReport)
    /// The worker could not run the batch.
    case fault(String)
    /// The worker died while running it; the error names the task, the signal and the stderr tail.
    case crashed(ParallelError, completedCount: Int)
    /// No worker could be started to run it.
    case couldNotStart(ParallelError)
}

/// A batch queued in or running on a `WorkerPool`.
struct QueuedBatch: Sendable {
    let batchID: UInt64
    /// The `ProcessCall` it belongs to (for per-call limits and abort).
    let callID: Int
    /// Submission index of its first task, and its size.
    let firstIndex: Int
    let count: Int
    /// The complete `.runBatch` frame.
    let frame: [UInt8]
    /// The engine's live stamps.
    let progress: BatchProgress
    /// Whether the worker sends a notice per task (the call has a timeout).
    let tracksEachTask: Bool
    /// The call's `verbose`: above 0, a crashed worker's report is also copied to our stderr and
    /// a stopped worker is pointed out.
    var verbose: Int = 0
    /// Where the worker that takes it notes it, so the call can read its progress from the
    /// worker's status board (nil: nobody reads it).
    var runningBoards: RunningBoards? = nil
    /// Put back in the queue once already, after a worker lost it before running any of its tasks.
    var requeued = false
    /// Called exactly once with the end of the batch, unless the call is aborted first.
    let complete: @Sendable (BatchReply) -> Void
}
