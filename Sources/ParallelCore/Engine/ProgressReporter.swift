import Foundation

/// joblib's `verbose` output as a pure value: counters and a time in, the exact lines out.
///
/// Lines look like `[Parallel(n_jobs=2)]: Done   4 tasks      | elapsed:    0.8s`. While the
/// input is still being taken, lines appear at quadratically spaced batch counts
/// (``isFiltered(batchIndex:verbose:)``; every batch above verbose 10); once it is exhausted,
/// about `verbose` lines with a "remaining" estimate; and one final "finished" line. They go to
/// standard error, or standard output from verbose 50.
package struct ProgressReporter: Sendable {
    /// The counters a progress decision reads.
    package struct Counters: Sendable, Equatable {
        package var completedTasks = 0
        package var dispatchedTasks = 0
        package var dispatchedBatches = 0
        /// Whether inputs may still be taken (joblib's `_original_iterator is not None`).
        package var iterating = true
        package var aborting = false
        /// Retries started (not printed by joblib's lines; counted for progress events).
        package var retried = 0

        package init(
            completedTasks: Int = 0, dispatchedTasks: Int = 0, dispatchedBatches: Int = 0,
            iterating: Bool = true, aborting: Bool = false
        ) {
            self.completedTasks = completedTasks
            self.dispatchedTasks = dispatchedTasks
            self.dispatchedBatches = dispatchedBatches
            self.iterating = iterating
            self.aborting = aborting
        }
    }

    package let verbose: Int
    /// The `nJobs` shown in the prefix, as the caller wrote it (`-1` stays `-1`).
    package let nJobsLabel: Int
    /// The number of tasks when the input's length is known.
    package let totalTasks: Int?
    /// The pre-dispatch window in tasks (0 for "all" and for sequential calls).
    package let preDispatchAmount: Int
    package var startTime: UInt64

    package init(verbose: Int, nJobsLabel: Int, totalTasks: Int?, preDispatchAmount: Int, startTime: UInt64) {
        self.verbose = verbose
        self.nJobsLabel = nJobsLabel
        self.totalTasks = totalTasks
        self.preDispatchAmount = preDispatchAmount
        self.startTime = startTime
    }

    /// Whether any line is ever printed.
    package var isEnabled: Bool { verbose > 0 }

    /// Whether ``progressLine(_:now:)`` would print joblib's last ("finished") line for these
    /// counters: every dispatched task completed and nothing more will be taken.
    package func reportsFinished(_ c: Counters) -> Bool {
        c.completedTasks == c.dispatchedTasks && !(c.iterating || c.aborting)
    }

    /// The line to print after a batch (or a sequential task) completes, if any.
    package func progressLine(_ c: Counters, now: UInt64) -> String? {
        guard verbose > 0 else { return nil }
        let width = totalTasks.map { $0 > 0 ? Int(log10(Double($0))) + 1 : 3 } ?? 3
        let elapsed = Double(now &- startTime) / 1e9
        if reportsFinished(c) {
            return "Done \(pad(c.completedTasks, width)) out of \(pad(c.completedTasks, width)) | elapsed: "
                + "\(Self.shortTime(elapsed)) finished"
        }
        if c.iterating {
            if Self.isFiltered(batchIndex: c.dispatchedBatches, verbose: verbose) { return nil }
            let time = "| elapsed: \(Self.shortTime(elapsed))"
            if let totalTasks {
                return "Done \(pad(c.completedTasks, width)) out of \(pad(totalTasks, width)) \(time)"
            }
            return "Done \(pad(c.completedTasks, width)) tasks \(String(repeating: " ", count: width + 2))\(time)"
        }
        let index = c.completedTasks
        let total = c.dispatchedTasks
        if index != 0 {
            let cursor = total - index + 1 - preDispatchAmount
            let frequency = total / verbose + 1
            // Python's modulo: the result takes the divisor's sign.
            let remainder = ((cursor % frequency) + frequency) % frequency
            if index + 1 == total || remainder != 0 { return nil }
        }
        let remaining = elapsed / Double(max(index, 1)) * Double(total - index)
        return "Done \(pad(index, width)) out of \(pad(total, width)) | elapsed: \(Self.shortTime(elapsed)) "
            + "remaining: \(Self.shortTime(remaining))"
    }

    /// Prefixes a message as joblib does: `[Parallel(n_jobs=2)]: message`.
    package func format(_ message: String) -> String {
        "[Parallel(n_jobs=\(nJobsLabel))]: \(message)"
    }

    /// Writes a message (prefixed) to standard error, or to standard output from verbose 50
    /// (or always, with `toStandardOutput`, as joblib prints its backend substitution notice).
    package func emit(_ message: String, toStandardOutput: Bool = false) {
        VerboseOutput.write(
            ProgressLine(message, destination: toStandardOutput ? .standardOutput : .progress),
            verbose: verbose, nJobsLabel: nJobsLabel)
    }

    /// joblib's `_verbosity_filter`: whether the progress line for `batchIndex` is skipped.
    package static func isFiltered(batchIndex: Int, verbose: Int) -> Bool {
        if verbose == 0 { return true }
        if verbose > 10 { return false }
        if batchIndex == 0 { return false }
        let scale = 0.5 * Double((11 - verbose) * (11 - verbose))
        return Int((Double(batchIndex + 1) / scale).squareRoot()) == Int((Double(batchIndex) / scale).squareRoot())
    }

    /// joblib's `short_format_time`: `"  0.6s"` with a leading space, or `"1.5min"` past a minute.
    package static func shortTime(_ seconds: Double) -> String {
        if seconds > 60 { return String(format: "%4.1fmin", seconds / 60) }
        return String(format: " %5.1fs", seconds)
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
    }
}
