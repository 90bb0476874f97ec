/// How one task failed for good, after any retries: a value in the results modes
/// (``IndexedResult``, `Result<Output, TaskFailure>`), never thrown by them.
///
/// ```swift
/// for (index, fate) in try await Parallel(nJobs: 4).results(jobs).enumerated() {
///     if case .failure(let failure) = fate { print("input \(index): \(failure)") }
/// }
/// ```
public struct TaskFailure: Error, Sendable, CustomStringConvertible {
    /// The fields, behind one immutable reference: a `Result<Output, TaskFailure>` is then no
    /// larger than `Output` and one word, which halves the array `results` returns for small
    /// outputs (32 to 16 bytes per `Int` task). A setter makes a new record; failures are rare and
    /// seldom changed.
    private final class Record: Sendable {
        let taskIndex: Int
        let error: any Error
        let attempts: Int

        init(taskIndex: Int, error: any Error, attempts: Int) {
            self.taskIndex = taskIndex
            self.error = error
            self.attempts = attempts
        }
    }

    private var record: Record

    /// The task's position in submission order.
    public var taskIndex: Int {
        get { record.taskIndex }
        set { record = Record(taskIndex: newValue, error: record.error, attempts: record.attempts) }
    }
    /// The task's own error as itself, or a ``ParallelError``: `.timeout`, `.workerCrashed`,
    /// `.remoteTaskFailed`, or `.notRun` (the call stopped before the task started).
    public var error: any Error {
        get { record.error }
        set { record = Record(taskIndex: record.taskIndex, error: newValue, attempts: record.attempts) }
    }
    /// How many times the task was started and failed (0 for a task that never ran).
    public var attempts: Int {
        get { record.attempts }
        set { record = Record(taskIndex: record.taskIndex, error: record.error, attempts: newValue) }
    }

    /// Creates a failure record.
    public init(taskIndex: Int, error: any Error, attempts: Int) {
        record = Record(taskIndex: taskIndex, error: error, attempts: attempts)
    }

    /// Says which task failed, how often it was tried, and why.
    public var description: String {
        let tries: String
        switch attempts {
        case 0: tries = "never started"
        case 1: tries = "after 1 attempt"
        default: tries = "after \(attempts) attempts"
        }
        return "task \(taskIndex) failed (\(tries)): \(error)"
    }
}

/// One task's fate with its position: the element of
/// `Parallel.resultGeneratorUnordered(_:maxFailures:isolation:)`, which yields fates in
/// completion order.
public struct IndexedResult<Output: Sendable>: Sendable {
    /// The task's position in submission order.
    public var index: Int
    /// The task's output, or how it failed.
    public var result: Result<Output, TaskFailure>

    /// Creates an indexed fate.
    public init(index: Int, result: Result<Output, TaskFailure>) {
        self.index = index
        self.result = result
    }
}
