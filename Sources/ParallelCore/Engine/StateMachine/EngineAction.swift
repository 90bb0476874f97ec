/// What the engine's state machine asks its driver to do. The driver carries actions out in the
/// order they come and reports what happened as events.
package enum EngineAction: Sendable, Equatable {
    /// Take up to `count` more inputs, then report ``CallStateMachine/inputsTaken(_:)``.
    case take(count: Int)
    /// Take every input that is left (their tasks will not run), then report
    /// ``CallStateMachine/inputsTaken(_:)``.
    case takeRest
    /// Hand the tasks `range` (submission indices) to the backend as batch `batchID`.
    case submit(batchID: Int, range: Range<Int>)
    /// Ask running batches to stop before their next task (tasks already running finish).
    case stopBatchesBeforeNextTask
    /// Give up on batch `batchID`: it holds a stuck task. Its late outcome is ignored.
    case abandon(batchID: Int)
    /// Print a line (with the call's prefix).
    case print(ProgressLine)
    /// Deliver a ``EngineTimer`` event at `deadline` (monotonic nanoseconds); replaces any
    /// earlier request.
    case wakeUp(at: UInt64)
    /// Inputs below this submission index will not be asked for again: their memory can go.
    case releaseInputs(below: Int)
    /// Stop everything now: an error, cancellation, or a consumer that went away.
    case abortCall
    /// Every task is settled: end the backend's call normally.
    case finishCall
    /// Tell the call's progress display (only when the call reports progress).
    case progress(ProgressNote)
}

/// What the machine tells a call's progress display: counts, not snapshots (the display keeps the
/// clock and the rate).
package enum ProgressNote: Sendable, Equatable {
    /// `count` more tasks completed successfully.
    case completed(count: Int)
    /// A task's attempt failed; `willRetry` says whether it runs again.
    case failed(TaskFailure, willRetry: Bool)
    /// The input ended after `total` tasks.
    case totalKnown(Int)

    package static func == (lhs: ProgressNote, rhs: ProgressNote) -> Bool {
        switch (lhs, rhs) {
        case (.completed(let a), .completed(let b)): return a == b
        case (.failed(let a, let b), .failed(let c, let d)):
            // Errors cannot be compared: the task, its attempts and the decision can.
            return a.taskIndex == c.taskIndex && a.attempts == c.attempts && b == d
        case (.totalKnown(let a), .totalKnown(let b)): return a == b
        default: return false
        }
    }
}

/// One line of joblib's verbose output, typed so that the engine never decides anything from
/// the text of a line.
package struct ProgressLine: Sendable, Equatable {
    /// Where the line goes.
    package enum Destination: Sendable, Equatable {
        /// Standard error, or standard output from verbose 50 (joblib's rule).
        case progress
        /// Standard output, always (joblib prints its backend substitution notice there).
        case standardOutput
    }

    /// The text after the `[Parallel(n_jobs=…)]: ` prefix.
    package var text: String
    package var destination: Destination

    package init(_ text: String, destination: Destination = .progress) {
        self.text = text
        self.destination = destination
    }
}
