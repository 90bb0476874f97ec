import ParallelCore

/// The checks `Parallel` and `withParallelConfig` share, with one message each, so the two entry
/// points cannot drift apart.
package enum ArgumentChecks {
    /// The largest `nJobs`: 2^20 (1,048,576) workers, far above what any machine runs at once
    /// (Linux's default pid_max is 4,194,304 for threads and processes together). Above it the
    /// number is a mistake, and arithmetic on it (pre-dispatch amounts, batch windows) could
    /// overflow, so it is rejected rather than clamped. Negative values follow
    /// joblib (`cpuCount + 1 + nJobs`, at least 1) and need no limit.
    package static let maxNJobs = 1 << 20

    /// `nJobs` 0 has no meaning (joblib's ValueError); above ``maxNJobs`` it is a mistake.
    package static func nJobs(_ nJobs: Int?) throws {
        if nJobs == 0 {
            throw ParallelError.invalid(
                "nJobs", "0 has no meaning", fix: "Use a positive count, -1 for all CPUs, or -2 for all but one.")
        }
        if let nJobs, nJobs > maxNJobs {
            throw ParallelError.invalid(
                "nJobs", "\(nJobs) is above the limit of \(maxNJobs) workers",
                fix:
                    "Use a count the machine can run (often the CPU count, or a few hundred threads for I/O), or -1 for all CPUs."
            )
        }
    }

    /// `verbose` is 0 or more.
    package static func verbose(_ verbose: Int?) throws {
        if let verbose, verbose < 0 {
            throw ParallelError.invalid("verbose", "\(verbose) is below 0", fix: "Use 0 (silent) or more.")
        }
    }

    /// `prefer: .processes` with `require: .sharedMemory` is inconsistent, as in joblib.
    package static func hints(prefer: Prefer?, require: Require?) throws {
        if prefer == .processes && require == .sharedMemory {
            throw ParallelError.invalid(
                "prefer/require", "prefer: .processes and require: .sharedMemory are inconsistent settings",
                fix: "Worker processes cannot share the caller's memory; drop one of the two.")
        }
    }
}
